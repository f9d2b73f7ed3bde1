"""ICAO 9303 TD1 zones: the ICAO specimen, Vietnamese-shaped cards, broken check digits, OCR."""

from __future__ import annotations

from datetime import date
from itertools import cycle

import pytest

from pipeline.vn.mrz import check_digit, find_td1, parse_td1

REF = date(2025, 6, 30)

SPECIMEN = (
    "I<UTOD231458907<<<<<<<<<<<<<<<",
    "7408122F1204159UTO<<<<<<<<<<<6",
    "ERIKSSON<<ANNA<MARIA<<<<<<<<<<",
)


def icao_check(data: str) -> str:
    """ICAO 9303 Part 3 §4.9, written out independently of the code under test."""
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    total = sum((0 if c == "<" else alphabet.index(c)) * w for c, w in zip(data, cycle((7, 3, 1))))
    return str(total % 10)


def vn_card(
    doc: str | None = None,  # the card's number: the last nine digits of the ID
    pid: str = "001195012345",
    dob: str = "950315",
    sex: str = "F",
    expiry: str = "350315",
    names: str = "NGUYEN<<THI<MAI<ANH",
) -> tuple[str, str, str]:
    doc = pid[3:] if doc is None else doc
    line1 = "IDVNM" + doc + icao_check(doc) + (pid + "<<<")
    line2_head = dob + icao_check(dob) + sex + expiry + icao_check(expiry) + "VNM" + "<" * 11
    composite = icao_check(line1[5:30] + line2_head[0:7] + line2_head[8:15] + line2_head[18:29])
    line2 = line2_head + composite
    line3 = names.ljust(30, "<")
    assert len(line1) == len(line2) == len(line3) == 30
    return line1, line2, line3


def with_char(lines: tuple[str, str, str], row: int, col: int, ch: str) -> tuple[str, ...]:
    out = list(lines)
    out[row] = out[row][:col] + ch + out[row][col + 1 :]
    return tuple(out)


def test_check_digit_matches_icao_rule() -> None:
    for data in ("D23145890", "740812", "120415", "L898902C3", "<<<<<<", "AB12<Z9", "001195012"):
        assert str(check_digit(data)) == icao_check(data)
    assert check_digit("D23145890") == 7
    with pytest.raises(ValueError):
        check_digit("AB-12")


def test_icao_specimen() -> None:
    mrz = parse_td1(SPECIMEN, reference=REF)
    assert mrz is not None
    assert mrz.valid, mrz.problems
    assert mrz.checks.all_ok
    assert mrz.document_code == "I"
    assert mrz.issuing_state == "UTO"
    assert mrz.document_number == "D23145890"
    assert mrz.date_of_birth == date(1974, 8, 12)
    assert mrz.sex == "F"
    assert mrz.expiry_date == date(2012, 4, 15)
    assert mrz.nationality == "UTO"
    assert mrz.surname == "ERIKSSON"
    assert mrz.given_names == "ANNA MARIA"
    assert mrz.full_name == "ERIKSSON ANNA MARIA"
    assert mrz.optional_data_1 == ""
    assert mrz.corrections == ()
    # the same zone as one block of text
    assert parse_td1("\n".join(SPECIMEN), reference=REF) == mrz


def test_vietnamese_card() -> None:
    mrz = parse_td1(vn_card(), reference=REF)
    assert mrz is not None
    assert mrz.valid, mrz.problems
    assert mrz.document_code == "ID"
    assert mrz.issuing_state == "VNM"
    assert mrz.document_number == "195012345"
    assert mrz.personal_id == "001195012345"
    assert mrz.optional_data_1 == "001195012345"
    assert mrz.date_of_birth == date(1995, 3, 15)
    assert mrz.sex == "F"
    assert mrz.expiry_date == date(2035, 3, 15)
    assert mrz.nationality == "VNM"
    assert mrz.surname == "NGUYEN"
    assert mrz.given_names == "THI MAI ANH"
    assert mrz.full_name == "NGUYEN THI MAI ANH"
    assert not mrz.corrected


def test_vietnamese_card_born_in_2000s() -> None:
    mrz = parse_td1(vn_card(pid="079205001234", dob="050101", sex="M", expiry="300101"),
                    reference=REF)
    assert mrz is not None and mrz.valid, mrz and mrz.problems
    assert mrz.date_of_birth == date(2005, 1, 1)


@pytest.mark.parametrize(("row", "col", "failing"), [
    (0, 14, "document_number"),  # the document number's own check digit
    (0, 9, "document_number"),  # a digit of the number itself
    (1, 6, "date_of_birth"),
    (1, 3, "date_of_birth"),
    (1, 14, "expiry_date"),
    (1, 12, "expiry_date"),
    (1, 29, "composite"),
    (0, 20, "composite"),  # the personal ID in optional data: only the composite covers it
])
def test_each_corrupted_check_fails(row: int, col: int, failing: str) -> None:
    good = vn_card()
    old = good[row][col]
    bad = with_char(good, row, col, "7" if old != "7" else "3")
    mrz = parse_td1(bad, reference=REF)
    assert mrz is not None
    assert getattr(mrz.checks, failing) is False
    assert not mrz.valid
    assert any(failing.replace("_", " ") in p for p in mrz.problems)
    if failing == "composite":
        assert mrz.checks.document_number and mrz.checks.date_of_birth
        assert mrz.checks.expiry_date
    else:  # every field check digit is also covered by the composite
        assert mrz.checks.composite is False


def test_specimen_check_digits_each_fail_when_changed() -> None:
    for row, col, name in ((0, 14, "document_number"), (1, 6, "date_of_birth"),
                           (1, 14, "expiry_date"), (1, 29, "composite")):
        mrz = parse_td1(with_char(SPECIMEN, row, col, "0"), reference=REF)
        assert mrz is not None
        assert getattr(mrz.checks, name) is False
        assert not mrz.valid


def test_ocr_confusions_fixed_only_where_digits_belong() -> None:
    good = vn_card(names="HOANG<<BAO<LINH", pid="001095012345", sex="M")  # card no. 095012345
    l1, l2, l3 = good
    # O for 0 in the document number, I/L for 1 in the ID, S for 5 and B for 8 in dates,
    # Z for 2 in a check digit position
    assert l1[5] == "0" and l1[17] == "1"
    noisy1 = l1[:5] + "O" + l1[6:17] + "I" + l1[18:]
    noisy2 = l2.replace("95", "9S", 1)
    noisy = (noisy1, noisy2, l3)
    mrz = parse_td1(noisy, reference=REF)
    assert mrz is not None
    assert mrz.valid, mrz.problems
    assert mrz.corrected
    assert mrz.lines == good
    assert set(mrz.corrections) == {"line 1 col 6: O->0", "line 1 col 18: I->1",
                                    "line 2 col 2: S->5"}
    # letters in the name line are left alone
    assert mrz.full_name == "HOANG BAO LINH"


def test_confusion_in_check_digit_and_country() -> None:
    good = vn_card(dob="880808", pid="001088012345", sex="M", expiry="280808")
    l1, l2, l3 = good
    assert l2[0:2] == "88"
    noisy2 = "BB" + l2[2:15] + "VN" + "M" + l2[18:]
    noisy1 = "1D" + l1[2:]  # the document code must be letters: 1 -> I
    mrz = parse_td1((noisy1, noisy2, l3), reference=REF)
    assert mrz is not None and mrz.valid, mrz and mrz.problems
    assert mrz.date_of_birth == date(1988, 8, 8)
    assert mrz.document_code == "ID"
    assert "line 2 col 1: B->8" in mrz.corrections
    assert "line 1 col 1: 1->I" in mrz.corrections


def test_uncorrectable_noise_is_not_valid() -> None:
    l1, l2, l3 = vn_card()
    mrz = parse_td1((l1, "X" + l2[1:], l3), reference=REF)
    assert mrz is not None
    assert not mrz.checks.date_of_birth
    assert mrz.date_of_birth is None
    assert not mrz.valid


def test_personal_id_contradicting_the_zone_is_flagged() -> None:
    # check digits all verify, but the ID's century/sex digit says a man born in the 1900s
    mrz = parse_td1(vn_card(pid="001095012345", sex="F"), reference=REF)
    assert mrz is not None
    assert mrz.checks.all_ok
    assert not mrz.valid
    assert "personal ID does not match date of birth/sex" in mrz.problems


@pytest.mark.parametrize("lines", [
    SPECIMEN[:2],
    (SPECIMEN[0], SPECIMEN[1][:-1], SPECIMEN[2]),
    (SPECIMEN[0], SPECIMEN[1].replace("F", "f#"), SPECIMEN[2]),
])
def test_not_td1_shaped(lines: tuple[str, ...]) -> None:
    assert parse_td1(lines, reference=REF) is None


def test_find_block_in_noisy_ocr_text() -> None:
    l1, l2, l3 = vn_card()
    text = "\n".join([
        "Đặc điểm nhân dạng: Nốt ruồi cách 2cm dưới mép trái",
        "Ngày, tháng, năm: 15/03/2021",
        "CỤC TRƯỞNG CỤC CẢNH SÁT QUẢN LÝ HÀNH CHÍNH VỀ TRẬT TỰ XÃ HỘI",
        "",
        " ".join([l1[:10], l1[10:22], l1[22:]]),  # OCR split the line into words
        "",
        l2[:15] + "  " + l2[15:],
        l3[:22].lower(),  # trailing fillers lost, lower case
        "xxxxx",
    ])
    mrz = find_td1(text, reference=REF)
    assert mrz is not None
    assert mrz.valid, mrz.problems
    assert mrz.personal_id == "001195012345"
    assert mrz.full_name == "NGUYEN THI MAI ANH"
    assert mrz.lines == (l1, l2, l3)


def test_find_prefers_the_verifying_block() -> None:
    l1, l2, l3 = vn_card()
    decoy = "IDVNM" + "1" * 25
    text = "\n".join([decoy, l1, l2, l3])
    mrz = find_td1(text, reference=REF)
    assert mrz is not None and mrz.valid
    assert mrz.lines[0] == l1


def test_find_merged_lines_and_guillemets() -> None:
    text = "MRZ:\n" + SPECIMEN[0].replace("<<<<", "«<<") + SPECIMEN[1] + "\n" + SPECIMEN[2]
    mrz = find_td1(text, reference=REF)
    assert mrz is not None and mrz.valid
    assert mrz.document_number == "D23145890"


def test_find_nothing_in_plain_text() -> None:
    assert find_td1("CĂN CƯỚC CÔNG DÂN\nSố: 001195012345\nHọ và tên: NGUYỄN THỊ MAI ANH") is None
    assert find_td1("") is None


def test_find_reports_a_broken_block_as_invalid() -> None:
    l1, l2, l3 = vn_card()
    broken = with_char((l1, l2, l3), 1, 29, "0" if l2[29] != "0" else "1")
    mrz = find_td1("\n".join(broken), reference=REF)
    assert mrz is not None
    assert not mrz.valid
    assert not mrz.checks.composite


def test_find_repairs_miscounted_filler_runs() -> None:
    l1, l2, l3 = vn_card()
    short2 = l2.replace("<" * 11, "<" * 9)  # OCR lost two fillers before the composite digit
    long1 = l1 + "<"  # and read one filler too many at the end of line 1
    mrz = find_td1("\n".join([long1, short2, l3]), reference=REF)
    assert mrz is not None and mrz.valid, mrz and mrz.problems
    assert mrz.lines == (l1, l2, l3)
    # a miscount that moves real characters cannot verify
    shifted = "\n".join([l1, l2[:7] + l2[8:], l3])
    found = find_td1(shifted, reference=REF)
    assert found is None or not found.valid


def test_a_document_number_that_is_not_the_ids_last_nine_digits_is_not_valid() -> None:
    """Every check digit holds (they are computed over what is printed), yet the card number
    is not its holder's ID: a made-up or mixed-up zone (legal brief requirement 25)."""
    mrz = parse_td1(vn_card(doc="095012345"), reference=REF)
    assert mrz is not None and mrz.checks.all_ok
    assert not mrz.valid
    assert "document number is not the last 9 digits of the personal ID" in mrz.problems
