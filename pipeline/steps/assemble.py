"""Assemble the unsigned PDF/A-3b e-copy: original scans, invisible OCR text, statement, QR.

Two well-kept libraries split the work. reportlab draws everything that is text or vector
(the invisible OCR layer, the certification statement of Mẫu số 01, the QR code, the test
marking) because it embeds and subsets TrueType fonts with a correct ToUnicode map, which is
what makes Vietnamese survive `pdftotext`. pikepdf then opens that drawing and slides the
original image data under each page's content, so JPEG bytes go into the file untouched
(reportlab would also pass JPEGs through, but gives no control over 1-bit/16-bit PNGs or the
rotation matrix), and does the PDF/A plumbing in `pipeline.steps.pdfa`.

The signature appearances are drawn later by the signer (pyHanko, incremental update), so
this stage only reserves their rectangles and returns them in `AssembledCopy`.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import json
import math
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import pikepdf
from pikepdf import Name
from reportlab.graphics.barcode import qrencoder
from reportlab.lib.colors import Color, black, red, white
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.lib.utils import simpleSplit
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

from pipeline.steps import pdfa
from pipeline.types import Certification, OcrPage, OcrWord, PageScan
from pipeline.vn.tz import VN_TZ

Box = tuple[float, float, float, float]  # x1, y1, x2, y2 in PDF points, origin bottom-left

# Mẫu số 01 of Decree 280/2025, word for word: the statement, its number line and its date
# line; under them the certifier signs, with their position above and full name below
STATEMENT_TITLE = "Chứng thực bản sao đúng với bản chính"


def statement_number(number: int | str, book: str) -> str:
    """Mẫu số 01's second line: "Số chứng thực 12 quyển số 01/2026 - SCT/BS"."""
    return f"Số chứng thực {number} quyển số {book} - SCT/BS"


def statement_date(day: date) -> str:
    return f"Ngày {day.day:02d} tháng {day.month:02d} năm {day.year:04d}"


def signer_position(title: str) -> str:
    """The position printed above the signature, in capitals as Vietnamese papers sign."""
    return " ".join(title.split()).upper()
QR_CAPTION = "Mã xác thực"
TEST_MARK = "BẢN THỬ NGHIỆM — KHÔNG CÓ GIÁ TRỊ PHÁP LÝ / TEST — not legally valid"
TEST_MARK_BOX = "BẢN THỬ NGHIỆM — KHÔNG CÓ GIÁ TRỊ PHÁP LÝ"

BOX_W, PAD = 80 * mm, 3 * mm
SIG_W, SIG_H = 60 * mm, 18 * mm
QR_GAP = 3 * mm
FONT_SIZE, LEADING = 10.0, 1.3
AGENCY_W = 60 * mm  # the agency box's least width
MARK_SIZE, MARK_MARGIN = 7.0, 2.5 * mm
# The band ecopy adds above a scan for what it prints on the page (the QR at the top left, the
# agency's signature at the top right, the TEST line): nothing is ever drawn over the
# original. QR modules of 0.6 mm (Circular 01/2023 asks at least 0.4 mm) with the 4-module
# quiet zone of ISO/IEC 18004: 3.5 pixels a module in a 150-dpi rendering. At 0.5 mm (2.95
# pixels) OpenCV's decoders missed one page-1 QR in six at 150 dpi; at 0.6 mm none of 60
# missed at 120, 144, 150 or 200 dpi (random payloads of copy QRs, scripts/bench_qr.py).
BAND_PAD, QR_MODULE, QR_QUIET = 3 * mm, 0.6 * mm, 4
# the agency signature (signing.sign): 10 pt lines, 10 pt leading, 10 pt margins; a little
# slack for the signer's own rounding
STAMP_SIZE, STAMP_MARGIN, STAMP_SLACK = 10.0, 10.0, 4.0


@dataclass(frozen=True)
class AssembledCopy:
    """The written file and where the signer must draw: (0-based page index, box in points)."""

    path: Path
    page_count: int
    certifier_box: tuple[int, Box]
    agency_box: tuple[int, Box]


@dataclass(frozen=True)
class _Fonts:
    regular: str
    bold: str


@dataclass(frozen=True)
class _Line:
    text: str
    font: str
    size: float
    baseline: float  # below the top of the statement content, positive downwards
    color: Color


@dataclass(frozen=True)
class _Statement:
    """Statement content laid out relative to its box's top edge, before placing it."""

    scale: float
    width: float
    height: float
    lines: tuple[_Line, ...]
    sig_top: float  # offset of the reserved signature rectangle's top edge below the box top


def build_ecopy(
    pages: Sequence[tuple[PageScan, OcrPage]],
    certification: Certification,
    manifest: Mapping[str, Any],
    out_path: Path,
    *,
    font_path: Path,
    bold_font_path: Path | None = None,
    agency_stamp: Sequence[str],
) -> AssembledCopy:
    """Write the unsigned, unencrypted PDF/A-3b e-copy of `pages` to `out_path`.

    The last page (A4) carries the statement and QR; the attached manifest is `manifest` plus
    the copy's `page_count` (scans + that page).
    """
    if not pages:
        raise ValueError("an e-copy needs at least one page")
    fonts = _Fonts(_register_font(font_path), _register_font(bold_font_path or _bold_of(font_path)))
    scans = [_page_size(scan) for scan, _ in pages]
    stamp = _stamp_size(agency_stamp, fonts.regular)
    layouts = [_band(w, h, scan.dpi, first=i == 0, cert=certification, stamp=stamp)
               for i, ((scan, _), (w, h)) in enumerate(zip(pages, scans, strict=True))]
    agency = layouts[0].agency
    # The statement has a page of its own at the end: drawn over a scan it would hide part of
    # the original (body text, a seal), and a certified copy must show all of it.
    statement = _layout_statement(certification, fonts, 1.0)

    buf = io.BytesIO()
    canvas = Canvas(buf, pagesize=layouts[0].size, initialFontName=fonts.regular,
                    pageCompression=1)
    for (_, ocr), (w, h), band in zip(pages, scans, layouts, strict=True):
        canvas.setPageSize(band.size)
        canvas.saveState()
        canvas.translate(band.dx, 0)
        _draw_words(canvas, ocr, w, h, fonts.regular)
        canvas.restoreState()
        _draw_band(canvas, band, certification, fonts.regular)
        canvas.showPage()
    canvas.setPageSize(A4)
    if certification.test_mode:
        _draw_test_mark(canvas, A4[0], A4[1], fonts.regular)
    _draw_page_footer(canvas, certification, len(pages), fonts)
    sig_box = _draw_statement(canvas, statement, certification, A4[0], fonts)
    canvas.showPage()
    canvas.save()

    when = datetime.now(VN_TZ).replace(microsecond=0)
    with pikepdf.open(io.BytesIO(buf.getvalue())) as pdf:
        pdfa.drop_empty_page_keys(pdf)
        for (scan, _), pdf_page, (w, h), band in zip(pages, pdf.pages, scans, layouts,
                                                      strict=False):
            _underlay_image(pdf, pdf_page, scan, w, h, band.dx)
        pdfa.add_output_intent(pdf)
        # only the assembler knows whether a statement page was added: it records the count
        recorded = {**manifest, "page_count": len(pages) + 1}
        data = json.dumps(recorded, sort_keys=True, ensure_ascii=False, indent=2).encode("utf-8")
        pdfa.attach_file(
            pdf,
            "manifest.json",
            data,
            mime_type="application/json",
            when=when,
            description="ecopy manifest: source hash, document type, metadata, register entry",
        )
        title = _nfc(certification.entry.document_name) or "Bản sao điện tử"
        pdfa.set_metadata(pdf, title=title, lang="vi-VN", when=when)
        page_count = len(pdf.pages)
        pdfa.save(pdf, out_path)
    assert agency is not None  # the first page's band always holds it
    return AssembledCopy(out_path, page_count, (page_count - 1, sig_box), (0, agency))


# --- fonts and small helpers -------------------------------------------------------------


@lru_cache(maxsize=8)
def _register_font(path: Path) -> str:
    """Parse a TTF once per process; reportlab subsets and embeds it per document."""
    name = "ecopy-" + hashlib.sha1(str(Path(path).resolve()).encode()).hexdigest()[:12]
    pdfmetrics.registerFont(TTFont(name, str(path)))
    return name


def _bold_of(font_path: Path) -> Path:
    """Liberation ships *-Bold.ttf beside *-Regular.ttf; fall back to the regular face."""
    candidate = font_path.with_name(font_path.name.replace("-Regular", "-Bold"))
    return candidate if candidate != font_path and candidate.is_file() else font_path


def _nfc(text: str) -> str:
    """NFC and single spaces: Vietnamese precomposed letters map to one glyph and one code."""
    return " ".join(unicodedata.normalize("NFC", text).split())


def _page_size(scan: PageScan) -> tuple[float, float]:
    if scan.dpi <= 0:
        raise ValueError(f"page {scan.index}: dpi must be positive, got {scan.dpi}")
    if scan.rotation % 90:
        raise ValueError(
            f"page {scan.index}: rotation must be a multiple of 90, got {scan.rotation}"
        )
    w_px, h_px = scan.upright_size_px
    return w_px / scan.dpi * 72.0, h_px / scan.dpi * 72.0


@dataclass(frozen=True)
class _Band:
    """A page: the scan at the bottom, at 100 % (shifted right by ``dx`` when the band needs
    a wider page), and above it the band of what ecopy prints."""

    size: tuple[float, float]  # the whole page
    dx: float
    qr: Box | None  # first page: the QR at the top left
    agency: Box | None  # first page: the agency's signature at the top right
    mark_h: float  # the TEST line's row at the top of the band (0 outside test mode)


def qr_side(text: str) -> float:
    """The printed side of a QR of `text`, quiet zone included (QR_MODULE a module)."""
    return (_qr_matrix(text)[0] + 2 * QR_QUIET) * QR_MODULE


def _stamp_size(lines: Sequence[str], font: str) -> tuple[float, float]:
    """The agency signature's box at its natural size: pyHanko's text stamp sets each line
    at 10 pt with 10 pt leading inside a 10 pt margin, and shrinks whatever does not fit."""
    longest = max(pdfmetrics.stringWidth(_nfc(line), font, STAMP_SIZE) for line in lines)
    return (max(AGENCY_W, longest + 2 * STAMP_MARGIN + STAMP_SLACK),
            len(lines) * STAMP_SIZE + 2 * STAMP_MARGIN + STAMP_SLACK)


def _band(scan_w: float, scan_h: float, dpi: float, *, first: bool,
          cert: Certification, stamp: tuple[float, float]) -> _Band:
    """The band above a scan. Its height and the scan's shift are whole pixels of the scan,
    so a rendering at the scan's resolution shows every original pixel unmoved."""
    pixel = 72.0 / dpi

    def whole(points: float) -> float:
        return math.ceil(points / pixel - 1e-6) * pixel

    mark_h = MARK_SIZE * 1.6 if cert.test_mode else 0.0
    if not first:  # only a TEST line, when there is one
        band_h = whole(mark_h + 2 * BAND_PAD) if mark_h else 0.0
        return _Band((scan_w, scan_h + band_h), 0.0, None, None, mark_h)
    side = qr_side(cert.verify_ref)
    stamp_w, stamp_h = stamp
    page_w = scan_w + 2 * whole(max(0.0, 3 * BAND_PAD + side + stamp_w - scan_w) / 2)
    band_h = whole(2 * BAND_PAD + mark_h + max(side, stamp_h))
    page_h = scan_h + band_h
    top = page_h - BAND_PAD - mark_h
    qr = (BAND_PAD, top - side, BAND_PAD + side, top)
    agency = (page_w - BAND_PAD - stamp_w, top - stamp_h, page_w - BAND_PAD, top)
    return _Band((page_w, page_h), (page_w - scan_w) / 2, qr, agency, mark_h)


def _draw_band(canvas: Canvas, band: _Band, cert: Certification, font: str) -> None:
    page_w, page_h = band.size
    if band.mark_h:
        _draw_test_mark(canvas, page_w, page_h, font, margin=BAND_PAD)
    if band.qr is not None:
        x1, y1, x2, _ = band.qr
        canvas.saveState()
        canvas.setFillColor(black)
        _draw_qr(canvas, cert.verify_ref, x1, y1, x2 - x1)
        canvas.restoreState()


# --- invisible OCR text ------------------------------------------------------------------


def _draw_words(canvas: Canvas, ocr: OcrPage, page_w: float, page_h: float, font: str) -> None:
    """Render mode 3 text, one word per OCR box, so search/copy/pdftotext hit the right spot.

    Each line gets one font size so that the font's ascent-to-descent span equals the line's
    height, its baseline sits the font's descent above the line's bottom, and every word is
    stretched with Tz to its box width. Between words a space is drawn stretched to fill the
    gap, so text extractors see real spaces and keep the words of a line together.
    OCR may have run on a rescaled image: boxes are mapped with the OcrPage's own size.
    """
    if not ocr.words or ocr.width_px <= 0 or ocr.height_px <= 0:
        return
    sx, sy = page_w / ocr.width_px, page_h / ocr.height_px
    face = pdfmetrics.getFont(font).face
    ascent, descent = face.ascent / 1000.0, -abs(face.descent) / 1000.0
    lines: dict[str, list[tuple[str, OcrWord]]] = {}
    for word in ocr.words:
        text = _nfc(word.text)
        if text and word.width > 0 and word.height > 0:
            lines.setdefault(word.line_id, []).append((text, word))
    canvas.saveState()  # q/Q so render mode 3 cannot leak into the visible statement
    obj = canvas.beginText()
    obj.setTextRenderMode(3)
    for words in lines.values():
        top = min(w.top for _, w in words)
        bottom = max(w.top + w.height for _, w in words)
        size = (bottom - top) * sy / (ascent - descent)
        baseline = page_h - bottom * sy - descent * size
        obj.setFont(font, size)
        space_w = pdfmetrics.stringWidth(" ", font, size)
        for k, (text, w) in enumerate(words):
            x, width = w.left * sx, w.width * sx
            natural = pdfmetrics.stringWidth(text, font, size)
            obj.setHorizScale(100.0 * width / natural if natural > 0 else 100.0)
            obj.setTextOrigin(x, baseline)
            obj.textOut(text)
            if k + 1 < len(words):
                gap = words[k + 1][1].left * sx - (x + width)
                obj.setHorizScale(max(1.0, 100.0 * gap / space_w))
                obj.textOut(" ")
    canvas.drawText(obj)
    canvas.restoreState()


# --- statement, QR and test marking ------------------------------------------------------


def _layout_statement(cert: Certification, fonts: _Fonts, scale: float) -> _Statement:
    """Lines of Mẫu số 01 with sizes shrunk to fit the box; the title wraps if long."""
    entry, who = cert.entry, cert.certifier
    day = date.fromisoformat(entry.date[:10])
    inner = (BOX_W - 2 * PAD) * scale
    size = FONT_SIZE * scale
    rows: list[tuple[str, str, float, Color] | None] = []  # None marks the signature space
    if cert.test_mode:
        rows.append((TEST_MARK_BOX, fonts.bold, MARK_SIZE * scale * 1.1, red))
    rows += [
        (STATEMENT_TITLE, fonts.bold, size, black),
        (statement_number(entry.number, entry.book), fonts.regular, size, black),
        (statement_date(day), fonts.regular, size, black),
    ]
    for form_line in who.form or (signer_position(who.title),):
        rows += [(t, fonts.bold, size, black)
                 for t in simpleSplit(_nfc(form_line), fonts.bold, size, inner)]
    rows += [None, (_nfc(who.full_name), fonts.bold, size, black)]
    lines: list[_Line] = []
    y = PAD * scale
    sig_top = 0.0
    for row in rows:
        if row is None:
            sig_top = y + 0.5 * size
            y = sig_top + SIG_H * scale
            continue
        text, font, fsize, color = row
        natural = pdfmetrics.stringWidth(text, font, fsize)
        if natural > inner:
            fsize *= inner / natural
        y += fsize * LEADING
        lines.append(_Line(text, font, fsize, y - 0.3 * fsize, color))
    height = y + PAD * scale
    return _Statement(scale, BOX_W * scale, height, tuple(lines), sig_top)


def _qr_panel_size(st: _Statement, text: str) -> tuple[float, float, float]:
    """QR side, caption size and whole panel height (QR plus caption under it)."""
    side = qr_side(text) * st.scale
    caption = 7.0 * st.scale
    return side, caption, side + caption * 1.6


# The statement page holds Mẫu số 01 and nothing above it: the box in the page's top right
# inside the margins of Decree 30/2020 Annex I (top 20-25 mm, right 15-20 mm), the QR left
# of it. What the page belongs to is said in a footer line, in the bottom margin.
STATEMENT_TOP, STATEMENT_RIGHT = 25 * mm, 20 * mm
FOOTER_LEFT, FOOTER_BOTTOM, FOOTER_SIZE = 30 * mm, 12 * mm, 8.0


def _draw_page_footer(canvas: Canvas, cert: Certification, scan_pages: int,
                      fonts: _Fonts) -> None:
    """One small line in the bottom margin: the copy, its paper and page count, so a reader
    holding only this page knows what it certifies."""
    entry = cert.entry
    text = (f"Bản sao điện tử {entry.copy_id} — {_nfc(entry.document_name)}, {scan_pages} "
            f"trang bản chính — {_nfc(entry.agency_name)}")
    width = A4[0] - FOOTER_LEFT - STATEMENT_RIGHT
    size = FOOTER_SIZE * min(1.0, width / pdfmetrics.stringWidth(text, fonts.regular,
                                                                 FOOTER_SIZE))
    canvas.saveState()
    canvas.setFont(fonts.regular, size)
    canvas.drawString(FOOTER_LEFT, FOOTER_BOTTOM, text)
    canvas.restoreState()


def _draw_statement(
    canvas: Canvas, st: _Statement, cert: Certification, page_w: float, fonts: _Fonts
) -> Box:
    """White, thin-bordered box in the top right of the page, QR left of it.

    Returns the box reserved for the certifier's signature.
    """
    x2, y2 = page_w - STATEMENT_RIGHT * st.scale, A4[1] - STATEMENT_TOP * st.scale
    x1, y1 = x2 - st.width, y2 - st.height
    canvas.saveState()
    canvas.setFillColor(white)
    canvas.setStrokeColor(black)
    canvas.setLineWidth(0.6 * st.scale)
    canvas.rect(x1, y1, st.width, st.height, stroke=1, fill=1)
    cx = (x1 + x2) / 2
    for line in st.lines:
        canvas.setFillColor(line.color)
        canvas.setFont(line.font, line.size)
        canvas.drawCentredString(cx, y2 - line.baseline, line.text)

    side, caption, panel_h = _qr_panel_size(st, cert.verify_ref)
    qx2 = x1 - QR_GAP * st.scale
    qx1 = qx2 - side
    canvas.setFillColor(white)
    canvas.rect(qx1, y1, side, panel_h, stroke=0, fill=1)
    canvas.setFillColor(black)
    _draw_qr(canvas, cert.verify_ref, qx1, y1 + caption * 1.6, side)
    canvas.setFont(fonts.regular, caption)
    canvas.drawCentredString(qx1 + side / 2, y1 + caption * 0.5, QR_CAPTION)
    canvas.restoreState()

    sig_w, sig_h = SIG_W * st.scale, SIG_H * st.scale
    top = y2 - st.sig_top
    return (cx - sig_w / 2, top - sig_h, cx + sig_w / 2, top)


@lru_cache(maxsize=16)
def _qr_matrix(text: str) -> tuple[int, tuple[tuple[bool, ...], ...]]:
    """Module count and dark modules of the QR of `text` (level M), made once per text."""
    qr = qrencoder.QRCode(None, qrencoder.QRErrorCorrectLevel.M)
    qr.addData(text)
    qr.make()
    return qr.getModuleCount(), tuple(tuple(bool(v) for v in row) for row in qr.modules)


def _draw_qr(canvas: Canvas, text: str, x: float, y: float, side: float) -> None:
    """QR modules as filled rectangles, with the QR_QUIET-module quiet zone inside `side`.

    reportlab's encoder makes the symbol; its graphics renderer is not used because it
    selects the non-embedded Helvetica, which PDF/A forbids.
    """
    count, modules = _qr_matrix(text)
    quiet = QR_QUIET
    unit = side / (count + 2 * quiet)
    path = canvas.beginPath()
    for r, row in enumerate(modules):
        c = 0
        for dark, run in itertools.groupby(row):
            n = len(list(run))
            if dark:
                path.rect(x + (c + quiet) * unit, y + side - (r + quiet + 1) * unit,
                          n * unit, unit)
            c += n
    canvas.drawPath(path, stroke=0, fill=1)


def _draw_test_mark(canvas: Canvas, page_w: float, page_h: float, font: str,
                    margin: float = MARK_MARGIN) -> None:
    """Red line at top left, `margin` from the edges; shrinks to fit the page's width."""
    natural = pdfmetrics.stringWidth(TEST_MARK, font, MARK_SIZE)
    size = MARK_SIZE * min(1.0, (page_w - 2 * margin) / natural)
    canvas.saveState()
    canvas.setFillColor(red)
    canvas.setFont(font, size)
    canvas.drawString(margin, page_h - margin - size, TEST_MARK)
    canvas.restoreState()


# --- original image data -----------------------------------------------------------------


def _underlay_image(
    pdf: pikepdf.Pdf, page: pikepdf.Page, scan: PageScan, page_w: float, page_h: float,
    dx: float = 0.0,
) -> None:
    """Draw the scan (`page_w` x `page_h` upright, `dx` from the left, at the bottom of the
    page) under the page's text, with a matrix that also turns it upright."""
    image = pdfa.image_xobject(
        pdf, Path(scan.image_path), scan.image_format, (scan.width_px, scan.height_px)
    )
    name = page.add_resource(image, Name.XObject, prefix="Im")
    a, b, c, d, e, f = _image_matrix(scan.rotation, page_w, page_h)
    ops = (f"q 1 0 0 1 {dx:.4f} 0 cm {a:.4f} {b:.4f} {c:.4f} {d:.4f} {e:.4f} {f:.4f} cm "
           f"{name} Do Q\n")
    page.contents_add(pdf.make_stream(ops.encode("ascii")), prepend=True)


def _image_matrix(rotation: int, page_w: float, page_h: float) -> tuple[float, ...]:
    """`cm` mapping the unit image square onto the upright page, turning it clockwise.

    The stored image is (sw x sh) points: (page_w x page_h) for 0/180 degrees, swapped for
    90/270. Each matrix sends the stored top-left corner to where a clockwise turn puts it.
    """
    rot = rotation % 360
    if rot == 0:
        return (page_w, 0, 0, page_h, 0, 0)
    if rot == 180:
        return (-page_w, 0, 0, -page_h, page_w, page_h)
    if rot == 90:  # stored top edge becomes the right edge
        return (0, -page_h, page_w, 0, 0, page_h)
    if rot == 270:  # stored top edge becomes the left edge
        return (0, page_h, -page_w, 0, page_w, 0)
    raise ValueError(f"rotation must be a multiple of 90 degrees, got {rotation}")
