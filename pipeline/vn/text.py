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


# A Vietnamese syllable, folded: optional onset, a vowel nucleus, optional coda. Loose on
# purpose (it accepts some non-words); what it rejects is text that is not Vietnamese at all,
# such as tesseract's output for a page read upside down ("Aebu", "Buouy", "HOiL").
_SYLLABLE = re.compile(
    r"^(NGH|NG|GH|GI|KH|NH|PH|TH|TR|CH|QU|[BCDGHKLMNPRSTVX])?"
    r"(UYE|UYA|OAI|OAY|OEO|UOI|UOU|UYU|IEU|YEU|UAY|UAO|UE|UY|UO|UA|UI|UU|IE|IA|IU|YE|OA|OE|OI|"
    r"OO|AI|AO|AU|AY|EO|EU|[AEIOUY])"
    r"(NG|NH|CH|[CMNPT])?$")
_LETTERS = re.compile(r"[A-Z]{2,}")


def readable_ratio(text: str) -> float:
    """Share of the words (two letters or more) that are Vietnamese syllables, 0..1.

    Good OCR of Vietnamese papers scores above 0.6 even on bilingual cards (English labels
    count against it); a page OCR read in the wrong orientation scores below 0.3.
    """
    words = _LETTERS.findall(fold(text))
    if not words:
        return 0.0
    return sum(1 for w in words if _SYLLABLE.match(w)) / len(words)
