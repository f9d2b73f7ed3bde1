"""Vietnamese text helpers shared by classification and extraction."""

from __future__ import annotations

import re
import unicodedata

_NON_ALNUM = re.compile(r"[^0-9A-Z]+")


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def fold(text: str) -> str:
    """Uppercase ASCII skeleton: 'Giấy khai sinh' -> 'GIAY KHAI SINH'.

    OCR often loses or swaps Vietnamese tone marks; matching on the skeleton keeps a title
    recognisable when its diacritics are damaged.
    """
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return stripped.upper()


def squash(text: str) -> str:
    """Skeleton without spaces or punctuation, so words OCR split apart still match."""
    return _NON_ALNUM.sub("", fold(text))


def title_name(text: str) -> str:
    """Names as printed, in title case (NFC): 'NGUYỄN THỊ MAI ANH' -> 'Nguyễn Thị Mai Anh'."""
    words = nfc(text).split()
    return " ".join(w[:1].upper() + w[1:].lower() for w in words)
