"""Names: what counts as one, and which diacritic repairs rest on evidence."""

from __future__ import annotations

import pytest

from pipeline.steps.extract import extract
from pipeline.vn.names import (
    NO_MARKS_CONF,
    REPAIRED_CONF,
    best_spelling,
    looks_like_name,
    repair_name,
    restore_surname,
)
from tests.test_extract_fields import _page


@pytest.mark.parametrize(("printed", "restored"), [
    ("Nguyen Ngọc Duy", "Nguyễn Ngọc Duy"),
    ("Tran Ngọc Oanh", "Trần Ngọc Oanh"),
    ("Bui Mạnh Hiếu", "Bùi Mạnh Hiếu"),
    ("Le Mỹ Linh", "Lê Mỹ Linh"),
    ("Nguyên Thùy Hoa", "Nguyễn Thùy Hoa"),  # a wrong mark, not only a missing one
    ("Huynh Khanh Ha Tram", "Huỳnh Khanh Ha Tram"),  # given names are never guessed
])
def test_a_surname_with_one_possible_spelling_is_restored(printed: str, restored: str) -> None:
    assert restore_surname(printed) == (restored, True)


@pytest.mark.parametrize("printed", [
    "Vu Văn Nam", "Vo Thị Sáu", "Do Minh Khôi", "Ha Thu Trang", "Duong Văn Hải",
    "Trinh Công Sơn", "Nguyễn Văn An", "Mai Phương Thúy",
])
def test_ambiguous_or_correct_surnames_are_left_alone(printed: str) -> None:
    assert restore_surname(printed) == (printed, False)


def test_the_paper_s_own_spelling_beats_the_damaged_one() -> None:
    texts = ["Họ, chữ đệm, tên người cha: PHAM MẠNH HÙNG LỘC",
             "Họ, chữ đệm, tên người đi khai sinh: Phạm Mạnh Hùng Lộc"]
    assert best_spelling("Pham Mạnh Hùng Lộc", texts) == "Phạm Mạnh Hùng Lộc"
    assert best_spelling("Hoàng Thị Thu Tram", texts) == "Hoàng Thị Thu Tram"
    assert repair_name("Pham Mạnh Hùng Lộc", texts, 0.9) == ("Phạm Mạnh Hùng Lộc", 0.9)


def test_repaired_or_markless_names_lose_confidence() -> None:
    assert repair_name("Nguyen Ngọc Duy", [], 0.93) == ("Nguyễn Ngọc Duy", REPAIRED_CONF)
    assert repair_name("Quach Bao Anh", [], 0.93) == ("Quách Bao Anh", NO_MARKS_CONF)
    assert repair_name("Mai Văn Hải", [], 0.93) == ("Mai Văn Hải", 0.93)


@pytest.mark.parametrize(("text", "ok"), [
    ("Nguyễn Văn An", True), ("Độc Lập - Tự Do - Hạnh Phúc", False),
    ("Dân Tộc: Thái Quốc Tịch: Việt Nam", False), ("Led Hà — Tc No Ac Pac", False),
    ("An", False), ("Số 12 Lê Lợi", False),
])
def test_what_looks_like_a_name(text: str, ok: bool) -> None:
    assert looks_like_name(text) is ok


def test_extraction_repairs_from_the_declarant_line_and_marks_doubt() -> None:
    extraction = extract([_page([
        (200, 882, "Họ, chữ đệm, tên người mẹ: PHAN THUY HANG"),
        (200, 1100, "Họ, chữ đệm, tên người cha: PHAM CÔNG THÀNH"),
        (200, 1264, "Họ, chữ đệm, tên người đi khai sinh: Phạm Công Thành"),
    ])], "birth_cert")
    got = {f.name: f for f in extraction.fields}
    assert got["father_full_name"].value == "Phạm Công Thành"
    assert got["father_full_name"].confidence == 0.9
    assert got["mother_full_name"].value == "Phan Thuy Hang"  # Phan needs no mark
    assert got["mother_full_name"].confidence == NO_MARKS_CONF
