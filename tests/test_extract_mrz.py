"""The ID card's machine-readable zone in extraction: fills fields, exposes contradictions."""

from __future__ import annotations

from pipeline.flow import review_reasons
from pipeline.steps.classify import classify
from pipeline.steps.extract import extract
from pipeline.types import OcrPage, OcrWord
from tests.test_mrz import vn_card


def _page(lines: list[str]) -> OcrPage:
    words = tuple(
        OcrWord(text, 10 + 60 * j, 40 * i, 50, 30, 91.0, f"1.1.{i}")
        for i, line in enumerate(lines) for j, text in enumerate(line.split()))
    return OcrPage(0, 1000, 640, 0, words, 91.0, "tesseract")


def test_mrz_fills_missing_fields() -> None:
    page = _page(["CĂN CƯỚC CÔNG DÂN", *vn_card()])
    extraction = extract([page], "citizen_id")
    got = {f.name: f.value for f in extraction.fields}
    assert got["id_number"] == "001195012345"
    assert got["date_of_birth"] == "1995-03-15" and got["sex"] == "F"
    assert got["expiry_date"] == "2035-03-15"
    assert extraction.warnings == ()


def test_printed_text_contradicting_the_mrz_goes_to_review() -> None:
    page = _page(["CĂN CƯỚC CÔNG DÂN", "Số / No.: 001195012345",
                  "Ngày sinh / Date of birth: 16/03/1995", "Giới tính / Sex: Nữ", *vn_card()])
    extraction = extract([page], "citizen_id")
    assert any(w.startswith("conflict: date_of_birth") for w in extraction.warnings)
    reasons = review_reasons([page], classify([page]), extraction, "001195012345")
    assert "field_conflict" in reasons


def test_mrz_with_a_broken_check_digit_is_ignored() -> None:
    line1, line2, line3 = vn_card()
    broken = line2[:6] + str((int(line2[6]) + 1) % 10) + line2[7:]  # DOB check digit
    extraction = extract([_page([line1, broken, line3])], "citizen_id")
    assert "date_of_birth" not in {f.name for f in extraction.fields}


def test_name_line_ocr_garbled_still_gives_the_checked_fields() -> None:
    """Real OCR of a card back: an accent hung on a letter of the name line ("NÑG0C"), which
    no check digit covers; lines 1-2 verify, so their fields count."""
    extraction = extract([_page(["IDVNM1915958248079191595824<<<",
                                 "9108208F3108206VNM<<<<<<<<<<<2",
                                 "TRAN<<NÑG0C<THU<<<<<<<<<<<<<<<<"])], "citizen_id")
    got = {f.name: f.value for f in extraction.fields}
    assert got["id_number"] == "079191595824" and got["sex"] == "F"
    assert got["date_of_birth"] == "1991-08-20" and got["expiry_date"] == "2031-08-20"
    missing_name = extract([_page(["IDVNM1915958248079191595824<<<",
                                   "9108208F3108206VNM<<<<<<<<<<<2", "£€ Ì¿ ~1"])],
                           "citizen_id")
    assert {f.name: f.value for f in missing_name.fields}["id_number"] == "079191595824"
