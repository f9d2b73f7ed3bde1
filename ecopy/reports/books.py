"""Register books: a commune's register (Mẫu số 19) for a month or a year, as CSV and PDF.

The register itself is the chain of entries in storage.evidence.register; a book is a
printable view of it. Entries are never deleted: a number that was claimed but never became a
copy appears with its void note in column 9, and a cancelled copy with its cancellation
decision. The period's entries are found through the catalogue (storage.db.catalogue: no
listing of the store) and each is read back from the store and checked against the hash the
catalogue recorded; the year's chain (numbers without gaps, each entry naming the hash of the
one before) is checked on the catalogue. The status is printed at the end of the PDF so a
reader of paper knows whether the register was intact. `ecopy register check` checks the
evidence itself, object by object (chain_status).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from pipeline.csvcells import safe_row
from pipeline.steps import pdfa
from storage.backends import ObjectStore
from storage.db.catalogue import (
    cancellations_of,
    chain_problems,
    refusals_between,
    register_chain,
    register_period,
)
from storage.db.paging import MAX_PAGE
from storage.db.schema import register_entries
from storage.evidence.register import RegisterEntry, check_chain, entry_key, find_entry
from storage.state import State

FONT_DIR = Path("/usr/share/fonts/truetype/liberation2")
FONT_PATH = FONT_DIR / "LiberationSerif-Regular.ttf"
BOLD_FONT_PATH = FONT_DIR / "LiberationSerif-Bold.ttf"

# Mẫu số 19 of Decree 280/2025, word for word: the motto, the title, the nine columns
MOTTO = ("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc")
TITLE = "SỔ CHỨNG THỰC BẢN SAO TỪ BẢN CHÍNH"
COLUMNS = (
    "Số thứ tự/số chứng thực",
    "Ngày, tháng, năm chứng thực",
    "Họ tên của người yêu cầu chứng thực",
    "Tên của bản chính giấy tờ, văn bản",
    "Họ tên, chức danh người ký chứng thực",
    "Số lượng bản sao đã được chứng thực",
    "Phí chứng thực",
    "Bản sao điện tử từ bản chính",
    "Ghi chú",
)
VOID_NOTE = "Số không sử dụng: không tạo được bản sao (ký số không thành công)"
OPEN_DATE = "... tháng ... năm ..."  # a book not closed yet: the line stays to be filled in


@dataclass(frozen=True)
class BookRow:
    entry: RegisterEntry
    void_note: dict | None = None
    cancellation: dict | None = None

    def cells(self) -> list[str]:
        """The 9 columns of Mẫu số 19, as printed."""
        e = self.entry
        return [
            str(e.number),
            vn_date(e.date),
            e.requester_name,
            e.document_name,
            e.signer,
            str(e.copies),
            f"{e.fee_vnd:,}".replace(",", "."),
            "X" if e.electronic else "",
            self.note_text(),
        ]

    def note_text(self) -> str:
        parts = [self.entry.notes] if self.entry.notes else []
        if self.void_note is not None:  # its technical cause stays in the note's object
            parts.append(VOID_NOTE)
        if self.cancellation is not None:
            c = self.cancellation
            parts.append(f"Đã hủy theo Quyết định số {c.get('decision_ref', '')} "
                         f"ngày {vn_date(str(c.get('decision_date', '')))}: "
                         f"{c.get('reason', '')}")
        return "; ".join(parts)


@dataclass(frozen=True)
class BookSpan:
    """One register book (quyển) of the year: opened on the day of its first entry, closed
    on the day of its last once a later book was opened or the year is over."""

    label: str  # "01/2026-SCT/BS"
    opened: str  # ISO date
    closed: str | None  # ISO date; None while the book is in use

    def lines(self) -> tuple[str, str, str]:
        """The cover lines (B), (C), (D) of Mẫu số 19."""
        return (f"Quyển số: {self.label}", f"Mở ngày {words_date(self.opened)}",
                f"Khóa ngày {words_date(self.closed) if self.closed else OPEN_DATE}")


@dataclass(frozen=True)
class Book:
    """One period of one commune's register."""

    agency_code: str
    agency_name: str
    year: int
    month: int | None
    rows: tuple[BookRow, ...]
    chain_problems: tuple[str, ...]
    unreadable: tuple[str, ...] = field(default=())  # keys whose entry could not be parsed
    spans: tuple[BookSpan, ...] = field(default=())  # the books the period's entries are in
    refusals: tuple[dict, ...] = field(default=())  # Art 22 refusals made in the period

    @property
    def books(self) -> list[str]:
        """Book labels in order of first use ("01/2026-SCT/BS")."""
        seen: dict[str, None] = {}
        for r in self.rows:
            seen.setdefault(r.entry.book_label, None)
        return list(seen)

    @property
    def book_label(self) -> str:
        return ", ".join(self.books) or f"01/{self.year}-SCT/BS"

    @property
    def period(self) -> str:
        if self.month is None:
            return f"Năm {self.year}"
        return f"Tháng {self.month:02d} năm {self.year}"


    @property
    def chain_ok(self) -> bool:
        return not self.chain_problems


def words_date(iso: str) -> str:
    """2026-02-05 -> "05 tháng 02 năm 2026" (as "ngày … tháng … năm …" is filled in)."""
    d = date.fromisoformat(iso)
    return f"{d.day:02d} tháng {d.month:02d} năm {d.year}"


def vn_date(iso: str) -> str:
    """2026-02-05 -> 05/02/2026; anything else unchanged."""
    try:
        d = date.fromisoformat(iso)
    except (TypeError, ValueError):
        return iso
    return f"{d.day:02d}/{d.month:02d}/{d.year}"


def chain_status(store: ObjectStore, agency_code: str, year: int) -> list[str]:
    """check_chain, but an unreadable entry is a problem, not a crash."""
    try:
        return check_chain(store, agency_code, year)
    except Exception as exc:  # a damaged entry (bad JSON, missing column) is a finding
        return [f"register unreadable: {type(exc).__name__}: {exc}"[:300]]


def load_book(state: State, agency_code: str, year: int, month: int | None = None, *,
              today: date | None = None) -> Book:
    """Entries of (commune, year[, month]) in number order, with void notes and cancellations;
    the period's objects read back from the store and checked against the catalogue; and the
    books they are in, with the days each was opened and closed (``today``, Vietnam time,
    tells whether the year is over)."""
    if month is not None and not 1 <= month <= 12:
        raise ValueError(f"month must be 1..12, not {month}")
    indexed, cursor = [], ""
    with state.db.read() as s:
        while True:
            page = register_period(s, (agency_code,), year, month, cursor=cursor,
                                   limit=MAX_PAGE)
            indexed += page.items
            if not page.next_cursor:
                break
            cursor = page.next_cursor
        problems = chain_problems(register_chain(s, agency_code, year))
        cancelled = cancellations_of(s, [row.copy_id for row in indexed])
        spans = book_spans(s, agency_code, year, today=today)
        start, end = _period_bounds(year, month)
        refused = refusals_between(s, agency_code, start, end)
    rows: list[BookRow] = []
    unreadable: list[str] = []
    for row in indexed:
        key = entry_key(agency_code, year, row.number)
        raw = find_entry(state.store, agency_code, year, row.number)
        if raw is None or hashlib.sha256(raw).hexdigest() != row.entry_sha256:
            why = "missing" if raw is None else "differs from the catalogue"
            unreadable.append(f"{key}: {why}")
            continue
        entry = RegisterEntry.from_dict(json.loads(raw))
        void = {"reason": row.void_reason} if row.void_reason is not None else None
        rows.append(BookRow(entry, void, cancelled.get(entry.copy_id)))
    agency_name = rows[0].entry.agency_name if rows else ""
    used = {row.entry.book_label for row in rows}
    return Book(agency_code=agency_code, agency_name=agency_name, year=year, month=month,
                rows=tuple(rows), chain_problems=tuple(problems), unreadable=tuple(unreadable),
                spans=tuple(span for span in spans if span.label in used),
                refusals=tuple(refused))


def _period_bounds(year: int, month: int | None) -> tuple[datetime, datetime]:
    """The period's first instant and the next period's, in Vietnam time."""
    from pipeline.vn.tz import VN_TZ

    if month is None:
        return datetime(year, 1, 1, tzinfo=VN_TZ), datetime(year + 1, 1, 1, tzinfo=VN_TZ)
    nxt = (year + 1, 1) if month == 12 else (year, month + 1)
    return datetime(year, month, 1, tzinfo=VN_TZ), datetime(*nxt, 1, tzinfo=VN_TZ)


REFUSAL_TITLE = "Các trường hợp từ chối chứng thực trong kỳ (Điều 22 Nghị định 23/2015/NĐ-CP)"
REFUSAL_COLUMNS = ("Ngày, tháng, năm", "Tên của bản chính giấy tờ, văn bản", "Lý do từ chối",
                   "Người thực hiện")


def refusal_cells(record: dict) -> list[str]:
    """One refusal as the book prints it: the day, the paper, the ground as the requester was
    told it (Vietnamese, made at the time), who refused."""
    when = str(record.get("time", ""))[:10]
    by_hand = record.get("ground") == "refused_by_clerk"  # the Art 22 ground and its detail
    ground = str((record.get("ground_detail") if by_hand else record.get("message"))
                 or record.get("ground") or "")
    return [vn_date(when), str(record.get("document_name", "")), ground,
            str(record.get("actor", ""))]


def book_spans(s: Any, agency_code: str, year: int, *, today: date | None = None
               ) -> list[BookSpan]:
    """Every book of the commune's year in the order it was opened (one aggregate query)."""
    from pipeline.vn.tz import VN_TZ

    r = register_entries.c
    found = s.execute(select(r.book, func.min(r.number), func.min(r.date), func.max(r.date))
                      .where(r.agency == agency_code, r.year == year)
                      .group_by(r.book).order_by(func.min(r.number))).all()
    today = today or datetime.now(VN_TZ).date()
    year_over = today > date(year, 12, 31)
    spans = []
    for i, (book, _first, opened, last) in enumerate(found):
        closed = last if (i + 1 < len(found) or year_over) else None
        spans.append(BookSpan(f"{book}-SCT/BS", opened, closed))
    return spans


# --- CSV -----------------------------------------------------------------------------------


def book_csv(book: Book) -> bytes:
    """UTF-8 with a BOM so Excel reads the diacritics; one header row, one row per entry;
    no cell a spreadsheet would run as a formula (pipeline.csvcells)."""
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for row in book.rows:
        writer.writerow(safe_row(row.cells()))
    return buf.getvalue().encode("utf-8-sig")


def export_csv(book: Book, out: Path) -> Path:
    out = Path(out)
    out.write_bytes(book_csv(book))
    return out


# --- PDF -----------------------------------------------------------------------------------

_REGULAR, _BOLD = "EcopyBookSerif", "EcopyBookSerif-Bold"
_COL_WIDTHS_MM = (20, 24, 38, 45, 45, 20, 20, 16, 49)  # sum 277 = A4 landscape minus margins


def _register_fonts(font_path: Path, bold_font_path: Path) -> None:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    registered = pdfmetrics.getRegisteredFontNames()
    if _REGULAR not in registered:
        pdfmetrics.registerFont(TTFont(_REGULAR, str(font_path)))
    if _BOLD not in registered:
        pdfmetrics.registerFont(TTFont(_BOLD, str(bold_font_path)))


def _numbered_canvas(label: str):
    from reportlab.pdfgen.canvas import Canvas

    class NumberedCanvas(Canvas):
        """Two passes over the pages so each can say "Trang n/N"."""

        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            self._pages: list[dict] = []

        def showPage(self) -> None:
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self) -> None:
            total = len(self._pages)
            for state in self._pages:
                self.__dict__.update(state)
                width, _height = self._pagesize
                self.setFont(_REGULAR, 9)
                self.drawRightString(width - 10 * 2.8346, 7 * 2.8346,
                                     f"Trang {self._pageNumber}/{total}")
                self.drawString(10 * 2.8346, 7 * 2.8346, label)
                super().showPage()
            super().save()

    return NumberedCanvas


def book_pdf(
    book: Book, *, font_path: Path = FONT_PATH, bold_font_path: Path = BOLD_FONT_PATH
) -> bytes:
    """Landscape A4, embedded Liberation Serif, the 9 numbered columns repeated on each page."""
    from xml.sax.saxutils import escape

    from reportlab.lib import colors
    from reportlab.lib.enums import TA_CENTER
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import LongTable, Paragraph, SimpleDocTemplate, Spacer, TableStyle

    _register_fonts(font_path, bold_font_path)
    body = ParagraphStyle("body", fontName=_REGULAR, fontSize=9, leading=11)
    center = ParagraphStyle("center", parent=body, alignment=TA_CENTER)
    head = ParagraphStyle("head", parent=center, fontName=_BOLD)
    title = ParagraphStyle("title", parent=head, fontSize=16, leading=20, spaceAfter=4)
    sub = ParagraphStyle("sub", parent=center, fontSize=11, leading=14)

    def p(text: str, style: ParagraphStyle = body) -> Paragraph:
        return Paragraph(escape(text).replace("\n", "<br/>"), style)

    story: list = [p(MOTTO[0], head), p(MOTTO[1], head), p("-" * 17, center),
                   Spacer(1, 3 * mm), p(TITLE, title)]
    if book.agency_name:
        story.append(p(book.agency_name, sub))  # (A)
    for span in book.spans or (BookSpan(book.book_label, "", None),):
        cover = span.lines() if span.opened else (f"Quyển số: {span.label}",)
        story += [p(line, sub) for line in cover]  # (B), (C), (D)
    story += [p(f"Kỳ: {book.period}", sub), Spacer(1, 5 * mm)]
    data: list[list] = [
        [p(c, head) for c in COLUMNS],
        [p(f"({i})", head) for i in range(1, len(COLUMNS) + 1)],
    ]
    for row in book.rows:
        cells = row.cells()
        data.append([p(c, center) if i in (0, 1, 5, 6, 7) else p(c)
                     for i, c in enumerate(cells)])
    if not book.rows:
        data.append([p("Không có mục nào trong kỳ này.")] + [""] * (len(COLUMNS) - 1))
    table = LongTable(data, colWidths=[w * mm for w in _COL_WIDTHS_MM], repeatRows=2)
    style = [
        ("GRID", (0, 0), (-1, -1), 0.5, colors.black),
        ("FONTNAME", (0, 0), (-1, -1), _REGULAR),  # the default would be Helvetica
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("VALIGN", (0, 0), (-1, 1), "MIDDLE"),
        ("BACKGROUND", (0, 0), (-1, 1), colors.HexColor("#EEEEEE")),
    ]
    if not book.rows:
        style.append(("SPAN", (0, 2), (-1, 2)))
    table.setStyle(TableStyle(style))
    story += [table, Spacer(1, 6 * mm)]
    if book.refusals:
        rows = [[p(c, head) for c in REFUSAL_COLUMNS]]
        rows += [[p(c) for c in refusal_cells(r)] for r in book.refusals]
        refused = LongTable(rows, colWidths=[w * mm for w in (30, 70, 137, 40)], repeatRows=1)
        refused.setStyle(TableStyle(style[:4]))
        story += [p(REFUSAL_TITLE, head), Spacer(1, 2 * mm), refused, Spacer(1, 6 * mm)]
    story.append(p(f"Tổng số mục trong kỳ: {len(book.rows)}", body))
    # what was checked: every entry printed here against the object kept in the store, and
    # the year's chain on the catalogue (`ecopy register check` reads every entry of the year)
    if book.chain_ok and not book.unreadable:
        story.append(p(f"Tình trạng sổ: NGUYÊN VẸN — các mục in trong sổ này khớp với bản lưu; "
                       f"chuỗi sổ năm {book.year} liền mạch, không phát hiện mục bị sửa, xóa "
                       "hoặc chèn.", body))
    else:
        story.append(p(f"Tình trạng sổ năm {book.year}: CÓ VẤN ĐỀ", body))
        for problem in (*book.chain_problems, *(f"unreadable: {k}" for k in book.unreadable)):
            story.append(p(f"– {problem}", body))

    out = io.BytesIO()
    doc = SimpleDocTemplate(
        out,
        pagesize=landscape(A4),
        leftMargin=10 * mm,
        rightMargin=10 * mm,
        topMargin=10 * mm,
        bottomMargin=14 * mm,
        title=f"{TITLE} — Quyển số {book.book_label} — {book.period}",
        author=book.agency_name or "ecopy",
        creator="ecopy",
        initialFontName=_REGULAR,  # else the canvas selects a non-embedded Helvetica
    )
    label = f"Quyển số {book.book_label} — {book.period}"
    doc.build(story, canvasmaker=_numbered_canvas(label))
    # books are kept permanently (legal brief, "Electronic register"): PDF/A-2b
    return pdfa.archival(out.getvalue(), title=f"{TITLE} — Quyển số {book.book_label} — "
                         f"{book.period}", lang="vi-VN", when=datetime.now(UTC), part="2")


def export_pdf(book: Book, out: Path, **fonts: Path) -> Path:
    out = Path(out)
    out.write_bytes(book_pdf(book, **fonts))
    return out


def export_book(
    state: State,
    agency_code: str,
    year: int,
    *,
    month: int | None = None,
    fmt: str,
    out: Path,
    fonts: Sequence[Path] = (),
    today: date | None = None,
) -> Book:
    """Load the period and write it as ``fmt`` ("csv" or "pdf") to ``out``."""
    book = load_book(state, agency_code, year, month, today=today)
    if fmt == "csv":
        export_csv(book, out)
    elif fmt == "pdf":
        kwargs = dict(zip(("font_path", "bold_font_path"), fonts, strict=False))
        export_pdf(book, out, **kwargs)
    else:
        raise ValueError(f"unknown format {fmt!r}: csv or pdf")
    return book
