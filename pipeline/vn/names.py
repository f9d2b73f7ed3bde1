"""Personal names as printed: checks that a value is a name, and diacritic repair from evidence.

OCR drops Vietnamese tone marks most often on upper-case names ("NGUYEN NGỌC DUY"). Given
names cannot be repaired without guessing (Hà/Hạ/Hả are all names), so only two repairs are
made, each resting on evidence:

* the same name printed elsewhere on the paper with more marks (a parent's name is repeated as
  the declarant's, a requester's in the body text): that spelling is taken;
* a surname whose diacritic-free form belongs to exactly one common Vietnamese surname
  (Nguyen → Nguyễn, Tran → Trần). Forms shared by several surnames (Vu: Vũ/Võ in regional
  spellings, Do: Đỗ/Đô, Ha: Hà/Hạ …) are left alone.

A repaired name, or one that still shows no mark at all, gets a lower confidence so a clerk
looks at it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence

from pipeline.vn.text import fold, nfc, title_name

# The common Vietnamese family names (họ), as printed. Common knowledge, not a register.
COMMON_SURNAMES = (
    "Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ",
    "Hồ", "Ngô", "Dương", "Lý", "Đào", "Đoàn", "Đinh", "Lâm", "Lương", "Mai", "Trịnh",
    "Trương", "Tô", "Tạ", "Hà", "Cao", "Chu", "Châu", "Quách", "Kiều", "Lưu", "Từ", "Thái",
    "Tăng", "Văn", "Vương", "Thân", "Triệu", "Phùng", "Nghiêm", "Lại", "La", "Diệp", "Khổng",
    "Kim", "Khúc", "Hứa", "Hầu", "Lạc", "Lò", "Mạc", "Nông", "Ông", "Phí", "Phó", "Quan",
    "Tống", "Tiêu", "Thạch", "Trình", "Vi", "Viên", "Bạch", "Biện", "Cù", "Cung", "Đàm",
    "Đồng", "Giang", "Giáp", "Hàn", "Khương", "Khuất", "Kha", "Lã", "Lữ", "Lục", "Mã", "Mẫn",
    "Ninh", "Nhâm", "Phương", "Quang", "Sầm", "Tôn", "Trang", "Ứng", "Âu", "Bế", "Chung",
    "Doãn", "Đường", "Hình", "Lều", "Nhữ", "Ôn", "Thiều", "Tiết", "Tòng", "Uông", "Xa",
)
# Spellings that share a diacritic-free form with a listed surname, so that form is ambiguous.
_SHARED_FORMS = ("Vu", "Vo", "Đô", "Hạ", "Ma", "Lư", "Tả", "Tà", "Cú", "Lô")

REPAIRED_CONF = 0.6  # a surname whose marks were restored
NO_MARKS_CONF = 0.5  # a name with no diacritic at all: most likely lost in OCR

_NAME_CHARS = re.compile(r"^[^\W\d_]+(?:[ '.][^\W\d_]+)*$")


def _surname_index() -> dict[str, str | None]:
    """Diacritic-free form -> the one surname it names, or None when several share it."""
    index: dict[str, str | None] = {}
    for name in (*COMMON_SURNAMES, *_SHARED_FORMS):
        key = fold(name)
        index[key] = None if key in index and index[key] != name else name
    for name in _SHARED_FORMS:
        index[fold(name)] = None
    return index


_SURNAMES = _surname_index()


def marks(text: str) -> int:
    """How many Vietnamese letter marks (tones, hats, horns, đ) the text carries."""
    decomposed = unicodedata.normalize("NFD", text)
    return sum(1 for c in decomposed if unicodedata.combining(c)) + sum(
        1 for c in text if c in "đĐ")


def looks_like_name(text: str) -> bool:
    """Two to seven words of letters only: no digits, colons, dashes or other punctuation."""
    words = text.split()
    return 2 <= len(words) <= 7 and bool(_NAME_CHARS.match(" ".join(words)))


def restore_surname(name: str) -> tuple[str, bool]:
    """The name with its first word replaced by the one common surname it can only be.

    Returns (name, repaired).
    """
    words = name.split()
    if not words:
        return name, False
    proper = _SURNAMES.get(fold(words[0]))
    if proper is None or nfc(words[0]).lower() == proper.lower():
        return name, False
    return " ".join((proper, *words[1:])), True


def _windows(lines: Iterable[str], size: int) -> Iterable[str]:
    for line in lines:
        words = [w.strip(",.;:()") for w in line.split()]
        for i in range(len(words) - size + 1):
            yield " ".join(words[i : i + size])


def best_spelling(name: str, texts: Sequence[str]) -> str:
    """The spelling of ``name`` with the most marks among its occurrences in ``texts``.

    An occurrence is a run of words with the same diacritic-free form, in any letter case.
    """
    target = fold(name)
    best, best_marks = name, marks(name)
    for candidate in _windows(texts, len(name.split())):
        if fold(candidate) == target and marks(candidate) > best_marks:
            best, best_marks = title_name(candidate), marks(candidate)
    return best


def repair_name(name: str, texts: Sequence[str], confidence: float) -> tuple[str, float]:
    """The name with diacritics restored from evidence, and the confidence it deserves."""
    better = best_spelling(name, texts)
    restored, repaired = restore_surname(better)
    if repaired:
        confidence = min(confidence, REPAIRED_CONF)
    if marks(better) == 0:
        confidence = min(confidence, NO_MARKS_CONF)
    return restored, confidence
