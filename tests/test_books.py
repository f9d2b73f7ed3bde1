"""Register books (Mẫu số 19): monthly/yearly CSV and printable PDF, and `register check`."""

from __future__ import annotations

import csv
import io
import json
import subprocess
from datetime import date
from pathlib import Path

import pytest

from ecopy.reports.books import (
    COLUMNS,
    MOTTO,
    TITLE,
    VOID_NOTE,
    book_csv,
    export_book,
    load_book,
)
from storage.backends import LocalStore
from storage.db.rebuild import sync_catalogue
from storage.evidence.audit import append_event
from storage.evidence.register import (
    RegisterEntry,
    allocate_register_number,
    entry_key,
    head_key,
)
from storage.state import State
from tests.conftest import open_state, run_cli

AGENCY, YEAR = "26734", 2026
NAMES = ["Trần Văn Bình", "Nguyễn Thị Ánh Tuyết", "Lê Hoàng Đức", "Phạm Thị Hường",
         "Đặng Quốc Việt"]


def _fill(store: LocalStore) -> list[RegisterEntry]:
    """15 entries: 9 in October, 6 in November; one long note to spill onto a second page."""
    entries = []
    for i in range(15):
        month, day = (10, 1 + i * 3) if i < 9 else (11, 2 + (i - 9) * 4)

        def make(n: int, h: str, i: int = i, month: int = month, day: int = day) -> RegisterEntry:
            return RegisterEntry(
                agency_code=AGENCY, agency_name="Ủy ban nhân dân phường Bến Thành", year=YEAR,
                book=f"01/{YEAR}" if i < 12 else f"02/{YEAR}", number=n,
                date=f"{YEAR}-{month:02d}-{day:02d}", requester_name=NAMES[i % len(NAMES)],
                document_name="Giấy khai sinh" if i % 2 else "Căn cước công dân",
                signer="Nguyễn Văn Thử, Phó Chủ tịch Ủy ban nhân dân phường", copies=1 + i % 3,
                fee_vnd=2000 * (1 + i % 3), electronic=i % 4 != 3,
                notes=("Ghi chú dài về hồ sơ. " * 30) if i == 4 else "",
                copy_id=f"copy{i:04d}", prev_hash=h)

        entry = allocate_register_number(store, agency_code=AGENCY, year=YEAR,
                                         make_entry=make)
        append_event(store, actor="cert", action="register",  # as certify records a claim
                     object=entry_key(AGENCY, YEAR, entry.number),
                     object_sha256=entry.entry_hash,
                     details={"number": entry.number, "book": entry.book,
                              "copy_id": entry.copy_id, "original_sha256": "0" * 64})
        entries.append(entry)
    return entries


@pytest.fixture
def state(tmp_path: Path) -> State:
    s = LocalStore(tmp_path / "store")
    _fill(s)
    # number 7 was claimed but never became a copy: its void note belongs in column 9
    s.put(f"register-notes/{AGENCY}/{YEAR}/000007.json",
          json.dumps({"number": 7, "void": True, "reason": "SigningError: HSM offline"}).encode())
    state = open_state(s)
    sync_catalogue(s, state.db, repair=True)  # the rows certify writes beside each entry
    return state


def test_monthly_csv_has_bom_nine_columns_and_the_month_only(state: State,
                                                              tmp_path: Path) -> None:
    out = tmp_path / "oct.csv"
    book = export_book(state, AGENCY, YEAR, month=10, fmt="csv", out=out)
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert tuple(rows[0]) == COLUMNS
    assert len(rows[0]) == 9
    data = rows[1:]
    assert [r[0] for r in data] == [str(n) for n in range(1, 10)]
    assert all(len(r) == 9 for r in data)
    assert data[0][1] == "01/10/2026" and data[0][2] == "Trần Văn Bình"
    assert data[0][7] == "X" and data[3][7] == ""  # entry 4 is a paper copy
    # the void note of number 7, in Vietnamese (its technical cause stays in its object)
    assert data[6][8] == VOID_NOTE and "HSM" not in raw.decode("utf-8-sig")
    assert [(s.label, s.opened) for s in book.spans] == [("01/2026-SCT/BS", "2026-10-01")]
    assert book.chain_ok


def test_yearly_csv_has_every_entry_and_both_books(state: State) -> None:
    book = load_book(state, AGENCY, YEAR)
    rows = list(csv.reader(io.StringIO(book_csv(book).decode("utf-8-sig"))))
    assert len(rows) == 16
    assert book.books == ["01/2026-SCT/BS", "02/2026-SCT/BS"]
    assert [r[0] for r in rows[1:]] == [str(n) for n in range(1, 16)]


def test_books_open_and_close_as_mau_so_19_says(state: State) -> None:
    """A book opens with its first entry and closes with its last once the next book is
    opened or the year is over; a book in use has its closing line left to fill in."""
    december = load_book(state, AGENCY, YEAR, today=date(YEAR, 12, 7))
    assert [s.lines() for s in december.spans] == [
        ("Quyển số: 01/2026-SCT/BS", "Mở ngày 01 tháng 10 năm 2026",
         "Khóa ngày 10 tháng 11 năm 2026"),
        ("Quyển số: 02/2026-SCT/BS", "Mở ngày 14 tháng 11 năm 2026",
         "Khóa ngày ... tháng ... năm ..."),
    ]
    january = load_book(state, AGENCY, YEAR, today=date(YEAR + 1, 1, 2))
    assert january.spans[1].closed == "2026-11-22"
    # a month in one book names that book only, with its dates for the whole year
    october = load_book(state, AGENCY, YEAR, month=10, today=date(YEAR, 12, 7))
    assert [s.lines()[2] for s in october.spans] == ["Khóa ngày 10 tháng 11 năm 2026"]


def test_the_printed_book_follows_mau_so_19_word_for_word(state: State,
                                                           tmp_path: Path) -> None:
    out = tmp_path / "2026.pdf"
    export_book(state, AGENCY, YEAR, fmt="pdf", out=out, today=date(YEAR, 12, 7))
    lines = [" ".join(x.split()) for x in _pdftotext(out).splitlines() if x.strip()]
    head = lines[:lines.index("Kỳ: Năm 2026")]
    assert head == [*MOTTO, "-" * 17, TITLE, "Ủy ban nhân dân phường Bến Thành",
                    "Quyển số: 01/2026-SCT/BS", "Mở ngày 01 tháng 10 năm 2026",
                    "Khóa ngày 10 tháng 11 năm 2026", "Quyển số: 02/2026-SCT/BS",
                    "Mở ngày 14 tháng 11 năm 2026", "Khóa ngày ... tháng ... năm ..."]
    # the nine headings, word for word (the table wraps them: compare the words in order)
    words = " ".join(_pdftotext(out, "-raw").split())
    for heading in COLUMNS:
        assert heading in words, heading


def _pdftotext(path: Path, *extra: str) -> str:
    return subprocess.run(["pdftotext", "-layout", *extra, str(path), "-"], check=True,
                          capture_output=True, text=True).stdout


def test_pdf_is_printable_with_embedded_fonts(state: State, tmp_path: Path) -> None:
    out = tmp_path / "2026.pdf"
    export_book(state, AGENCY, YEAR, fmt="pdf", out=out)
    text = _pdftotext(out)
    assert TITLE in text
    assert "Quyển số 01/2026-SCT/BS" in text
    assert "Nguyễn Thị Ánh Tuyết" in text
    assert "Năm 2026" in text and "01/10/2026" in text and "22/11/2026" in text
    assert "NGUYÊN VẸN" in text
    info = subprocess.run(["pdfinfo", str(out)], check=True, capture_output=True,
                          text=True).stdout
    assert "841.89 x 595.276" in info.replace("842 x 595", "841.89 x 595.276")  # landscape A4
    pages = int(next(line.split()[-1] for line in info.splitlines()
                     if line.startswith("Pages:")))
    assert pages >= 2
    for page in range(1, pages + 1):
        page_text = _pdftotext(out, "-f", str(page), "-l", str(page))
        assert "(9)" in page_text and "Ghi chú" in page_text  # header repeated on each page
        assert f"Trang {page}/{pages}" in page_text
    fonts = subprocess.run(["pdffonts", str(out)], check=True, capture_output=True,
                           text=True).stdout.splitlines()[2:]
    assert fonts and all(line.split()[-5] == "yes" for line in fonts)  # emb column
    assert any("LiberationSerif" in line for line in fonts)


def _check(state: State, env: dict[str, str]) -> subprocess.CompletedProcess:
    return run_cli(["register", "check", "--commune", AGENCY, "--year", str(YEAR),
                    "--store", str(state.store.root)], env, timeout=60)


def test_register_check_sees_the_last_entries_deleted_with_their_rows(
        state: State, env: dict[str, str]) -> None:
    """What is left of a chain whose tail was cut is a whole chain, and the catalogue rows can
    go with it: the audit log's register events and the head still name the lost numbers."""
    from sqlalchemy import delete

    from storage.db.schema import copies, register_entries

    assert _check(state, env).returncode == 0
    for n in (14, 15):
        state.store.path_of(entry_key(AGENCY, YEAR, n)).unlink()
    with state.db.write() as s:
        s.execute(delete(register_entries).where(register_entries.c.number >= 14))
        s.execute(delete(copies).where(copies.c.register_number >= 14))
    bad = _check(state, env)
    assert bad.returncode == 1, bad.stdout
    assert "number 14: registered in the audit log" in bad.stdout
    assert "number 15: registered in the audit log" in bad.stdout
    assert "head of the register names number 15, the last entry is 13" in bad.stdout
    assert "nguyên vẹn" not in bad.stdout


def test_register_check_sees_an_entry_replaced_with_the_chain_rewritten(
        state: State, env: dict[str, str]) -> None:
    """The last entry rewritten with a valid link to its predecessor: the chain holds, the
    bytes the audit log registered do not."""
    path = state.store.path_of(entry_key(AGENCY, YEAR, 15))
    data = json.loads(path.read_bytes())
    data["requester_name"] = "Người Khác"
    path.write_bytes(RegisterEntry.from_dict(data).canonical_bytes())
    bad = _check(state, env)
    assert bad.returncode == 1, bad.stdout
    assert "number 15: differs from the entry the audit log registered" in bad.stdout
    assert state.store.exists(head_key(AGENCY, YEAR))


def test_register_check_reports_a_tampered_entry(state: State, tmp_path: Path,
                                                 env: dict[str, str]) -> None:
    store = state.store
    root = str(store.root)
    ok = run_cli(["register", "check", "--commune", AGENCY, "--year", str(YEAR),
                  "--store", root], env, timeout=60)
    assert ok.returncode == 0, ok.stderr
    path = store.path_of(entry_key(AGENCY, YEAR, 5))
    data = json.loads(path.read_bytes())
    data["requester_name"] = "Người Khác"
    path.write_bytes(json.dumps(data, ensure_ascii=False).encode())
    bad = run_cli(["register", "check", "--commune", AGENCY, "--year", str(YEAR),
                   "--store", root], env, timeout=60)
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "number 6" in bad.stdout
    # the October book prints its entries from the store, checked against the catalogue
    out = tmp_path / "oct.pdf"
    exported = run_cli(["register", "export", "--commune", AGENCY, "--year", str(YEAR),
                        "--month", "10", "--format", "pdf", "--out", str(out), "--store", root],
                       env, timeout=60)
    assert exported.returncode == 0, exported.stderr
    text = _pdftotext(out)
    assert "CÓ VẤN ĐỀ" in text and "000005.json" in text and "differs" in text
    assert "Tháng 10 năm 2026" in text and "Người Khác" not in text
    # November's entries are untouched and chained to the catalogue's October
    out = tmp_path / "nov.pdf"
    exported = run_cli(["register", "export", "--commune", AGENCY, "--year", str(YEAR),
                        "--month", "11", "--format", "pdf", "--out", str(out), "--store", root],
                       env, timeout=60)
    assert exported.returncode == 0, exported.stderr
    text = _pdftotext(out)
    assert "NGUYÊN VẸN" in text and "02/11/2026" in text


def test_the_printed_book_is_pdfa_2b(state: State, tmp_path: Path) -> None:
    """Books are kept permanently: the printed book is an archival PDF (ISO 19005-2 level B),
    checked by pikepdf's PDF/A checker, with its page numbers on every page."""
    import pikepdf
    from pikepdf import pdfa

    for month in (None, 11):
        out = tmp_path / f"book-{month}.pdf"
        export_book(state, AGENCY, YEAR, month=month, fmt="pdf", out=out)
        report = pdfa.validate_written(out, "2b")
        assert report.passed, [str(f) for f in report.findings]
        with pikepdf.open(out) as pdf:
            meta = pdf.open_metadata()
            assert (meta["pdfaid:part"], meta["pdfaid:conformance"]) == ("2", "B")
            assert str(pdf.Root.Lang) == "vi-VN" and TITLE in meta["dc:title"]
            total = len(pdf.pages)
        for n in range(1, total + 1):
            assert f"Trang {n}/{total}" in _pdftotext(out, "-f", str(n), "-l", str(n))
