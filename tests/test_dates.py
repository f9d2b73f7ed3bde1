"""Vietnamese dates in every printed form, read into calendar dates; impossible ones refused."""

from __future__ import annotations

from datetime import date

import pytest

from pipeline.vn.dates import (
    find_dates,
    make_date,
    parse_date,
    parse_date_iso,
    parse_ddmmyyyy,
    parse_iso,
    parse_vietnamese_number,
    parse_yymmdd,
)


@pytest.mark.parametrize(("words", "value"), [
    ("một", 1),
    ("năm", 5),
    ("tư", 4),
    ("mười", 10),
    ("mười một", 11),
    ("mười lăm", 15),
    ("mười năm", 15),
    ("mười chín", 19),
    ("hai mươi", 20),
    ("hai mươi mốt", 21),
    ("hai mươi tư", 24),
    ("hai mươi bốn", 24),
    ("hai mươi lăm", 25),
    ("hai mươi nhăm", 25),
    ("ba mươi mốt", 31),
    ("chín mươi chín", 99),
    ("một trăm linh một", 101),
    ("một nghìn chín trăm chín mươi lăm", 1995),
    ("MỘT NGHÌN CHÍN TRĂM CHÍN MƯƠI LĂM", 1995),
    ("mot nghin chin tram chin muoi lam", 1995),
    ("một ngàn chín trăm bảy mươi", 1970),
    ("một nghìn chín trăm lẻ tám", 1908),
    ("hai nghìn", 2000),
    ("hai nghìn không trăm linh năm", 2005),
    ("hai nghìn không trăm lẻ năm", 2005),
    ("hai nghìn không trăm mười", 2010),
    ("hai nghìn không trăm hai mươi tư", 2024),
    ("hai nghìn linh năm", 2005),
    ("hai nghìn hai mươi tư", 2024),
])
def test_vietnamese_number_words(words: str, value: int) -> None:
    assert parse_vietnamese_number(words) == value


@pytest.mark.parametrize("words", [
    "", "lăm", "một mươi", "hai mươi mươi", "linh năm", "hai nghìn năm",
    "không nghìn", "trăm", "hai mươi ba bốn", "ngày", "mười lăm tháng",
])
def test_not_vietnamese_numbers(words: str) -> None:
    assert parse_vietnamese_number(words) is None


@pytest.mark.parametrize(("text", "iso"), [
    # digits, as cards and forms print them, with OCR noise
    ("05/02/2024", "2024-02-05"),
    ("5/2/2024", "2024-02-05"),
    ("05-02-2024", "2024-02-05"),
    ("05.02.2024", "2024-02-05"),
    ("05 / 02 / 2024", "2024-02-05"),
    ("05 /02- 2024", "2024-02-05"),
    ("Ngày sinh / Date of birth: 29/02/2000", "2000-02-29"),
    ("Có giá trị đến: 15/03/2035.", "2035-03-15"),
    ("O5/O2/2O24", "2024-02-05"),
    ("Ngày, tháng, năm sinh: 01/01/1900", "1900-01-01"),
    # ISO
    ("2024-02-05", "2024-02-05"),
    ("issued 2021-7-1", "2021-07-01"),
    ("hết hạn 2039-02-05.", "2039-02-05"),
    ("Valid until 2039/02/05", "2039-02-05"),
    # "ngày … tháng … năm …" with digits
    ("ngày 05 tháng 02 năm 2024", "2024-02-05"),
    ("Hà Nội, ngày 5 tháng 2 năm 2024", "2024-02-05"),
    ("NGÀY 05 THÁNG 02 NĂM 2024", "2024-02-05"),
    ("ngay 05 thang 02 nam 2024", "2024-02-05"),
    ("ngáy 05 thảng 02 nãm 2024", "2024-02-05"),
    ("Ngày: 05, tháng: 02, năm: 2024.", "2024-02-05"),
    ("ngày05tháng02năm2024", "2024-02-05"),
    ("ngày 3l tháng l2 năm 2O23", "2023-12-31"),
    ("ngày 30 tháng 4 năm 1975", "1975-04-30"),
    # words, as civil-status papers repeat the date of birth
    ("Ngày mười lăm tháng ba năm hai nghìn không trăm hai mươi tư", "2024-03-15"),
    ("NGÀY MƯỜI LĂM THÁNG BA NĂM HAI NGHÌN KHÔNG TRĂM HAI MƯƠI TƯ", "2024-03-15"),
    ("ngay muoi lam thang ba nam hai nghin khong tram hai muoi tu", "2024-03-15"),
    ("Ngày hai mươi mốt tháng mười hai năm một nghìn chín trăm chín mươi lăm", "1995-12-21"),
    ("ngày ba mươi mốt tháng năm năm hai nghìn không trăm linh năm", "2005-05-31"),
    ("ngày năm tháng năm năm hai nghìn", "2000-05-05"),
    ("ngày mồng một tháng giêng năm hai nghìn không trăm lẻ năm", "2005-01-01"),
    ("Ngày hai mươi tư tháng tư năm một nghìn chín trăm tám mươi", "1980-04-24"),
    ("Ngày mười tháng mười năm hai nghìn không trăm mười", "2010-10-10"),
    ("Ngày mười một tháng mười một năm hai nghìn hai mươi tư", "2024-11-11"),
    ("Bằng chữ: ngày mười lăm, tháng ba, năm hai nghìn không trăm hai mươi tư.", "2024-03-15"),
    ("ngáy mười lăm thảng ba nãm hai nghìn không trăm hai mươi tư", "2024-03-15"),
    # words mixed with digits
    ("ngày 15 tháng ba năm 2024", "2024-03-15"),
])
def test_printed_forms(text: str, iso: str) -> None:
    assert parse_date_iso(text) == iso
    assert parse_date(text) == date.fromisoformat(iso)


@pytest.mark.parametrize("text", [
    "31/02/2024",  # no such day
    "29/02/2023",  # not a leap year
    "00/01/2024",
    "15/13/2024",
    "32/01/2024",
    "2024-02-30",
    "05/02/1850",  # outside the plausible years
    "05/02/2150",
    "ngày 31 tháng 04 năm 2024",
    "ngày ba mươi tháng hai năm hai nghìn không trăm hai mươi tư",
    "ngày … tháng … năm 20…",  # an unfilled template
    "ngày mười lăm tháng ba",  # no year
    "Số CCCD: 001095012345",
    "Điện thoại 0912.345.678",
    "phiên bản 1.2024.02.05.7",
    "",
])
def test_impossible_or_missing_dates(text: str) -> None:
    assert parse_date(text) is None


def test_year_range_is_configurable() -> None:
    assert parse_date("05/02/1850") is None
    assert parse_date("05/02/1850", min_year=1800) == date(1850, 2, 5)
    assert parse_date("05/02/2024", max_year=2020) is None
    assert make_date(2024, 2, 29) == date(2024, 2, 29)
    assert make_date(2023, 2, 29) is None
    assert make_date(1899, 1, 1) is None


def test_find_dates_gives_every_date_with_its_span() -> None:
    text = "Cấp ngày 05 tháng 02 năm 2024, hết hạn 2039-02-05; sinh 7/8/1999 tại Huế."
    found = find_dates(text)
    assert [(d.iso, d.form) for d in found] == [
        ("2024-02-05", "labelled"), ("2039-02-05", "iso"), ("1999-08-07", "numeric"),
    ]
    assert [text[d.start : d.end] for d in found] == [
        "ngày 05 tháng 02 năm 2024", "2039-02-05", "7/8/1999",
    ]


def test_spans_point_into_the_original_text_even_when_decomposed() -> None:
    # NFD input (combining marks as separate code points) is normalised, spans index the NFC text
    import unicodedata

    nfd = unicodedata.normalize("NFD", "Hà Nội, ngày mười lăm tháng ba năm hai nghìn")
    found = find_dates(nfd)
    assert len(found) == 1 and found[0].form == "words"
    nfc_text = unicodedata.normalize("NFC", nfd)
    assert nfc_text[found[0].start : found[0].end] == "ngày mười lăm tháng ba năm hai nghìn"
    assert found[0].value == date(2000, 3, 15)


def test_words_and_digits_of_the_same_birth_both_read() -> None:
    line = "Sinh ngày: 15/03/2024 (Bằng chữ: Ngày mười lăm tháng ba năm hai nghìn không trăm hai " \
           "mươi tư)"
    found = find_dates(line)
    assert [d.value for d in found] == [date(2024, 3, 15), date(2024, 3, 15)]
    assert [d.form for d in found] == ["numeric", "words"]


@pytest.mark.parametrize(("text", "value"), [
    ("05022024", date(2024, 2, 5)),
    ("15031995", date(1995, 3, 15)),
    (" 01011990 ", date(1990, 1, 1)),
    ("31022024", None),
    ("0502202", None),
    ("O5022024", None),
    ("050220245", None),
])
def test_qr_ddmmyyyy(text: str, value: date | None) -> None:
    assert parse_ddmmyyyy(text) == value


def test_iso_strict() -> None:
    assert parse_iso("2024-02-05") == date(2024, 2, 5)
    assert parse_iso("2024-2-5") is None
    assert parse_iso("2024-02-30") is None


def test_mrz_birth_dates_never_lie_in_the_future() -> None:
    ref = date(2025, 6, 30)
    assert parse_yymmdd("950315", rule="birth", reference=ref) == date(1995, 3, 15)
    assert parse_yymmdd("050315", rule="birth", reference=ref) == date(2005, 3, 15)
    assert parse_yymmdd("250630", rule="birth", reference=ref) == date(2025, 6, 30)
    assert parse_yymmdd("250701", rule="birth", reference=ref) == date(1925, 7, 1)
    assert parse_yymmdd("740812", rule="birth", reference=date(2012, 1, 1)) == date(1974, 8, 12)
    assert parse_yymmdd("000229", rule="birth", reference=ref) == date(2000, 2, 29)
    assert parse_yymmdd("010229", rule="birth", reference=ref) is None


def test_mrz_expiry_dates_are_in_the_2000s() -> None:
    assert parse_yymmdd("350315", rule="expiry") == date(2035, 3, 15)
    assert parse_yymmdd("990101", rule="expiry") == date(2099, 1, 1)
    assert parse_yymmdd("120415", rule="expiry") == date(2012, 4, 15)
    assert parse_yymmdd("351315", rule="expiry") is None
    assert parse_yymmdd("<<<<<<", rule="expiry") is None
    assert parse_yymmdd("3503", rule="expiry") is None
