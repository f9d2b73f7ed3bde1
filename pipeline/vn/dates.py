"""Dates as Vietnamese papers print them, turned into calendar dates.

Papers write one date many ways: cards use dd/mm/yyyy, certificates "ngày 05 tháng 02 năm
2024", civil-status papers repeat the date of birth in words ("ngày mười lăm tháng ba năm hai
nghìn không trăm hai mươi tư"), the card QR code packs ddmmyyyy and the MRZ YYMMDD. Every form
ends as a `datetime.date` that exists in the calendar and lies in a plausible year range, so
a misread digit yields no date rather than a wrong one.

Matching runs on the diacritic-free skeleton (`vntext.fold`) because OCR damages tone marks
("ngáy", "thảng"); spans are mapped back to the original text.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Literal

from pipeline.vn.text import fold

MIN_YEAR = 1900
MAX_YEAR = 2100

# OCR reads these letters where a digit must be; only used where the position is numeric.
_DIGIT_LOOKALIKES = str.maketrans({"O": "0", "I": "1", "L": "1"})


@dataclass(frozen=True)
class DateMatch:
    """A date found in a line: `text[start:end]` is the span it was read from."""

    value: date
    start: int
    end: int
    form: str  # "numeric" | "iso" | "labelled" (ngày 05 tháng 02 năm 2024) | "words"

    @property
    def iso(self) -> str:
        return self.value.isoformat()


def make_date(
    year: int, month: int, day: int, *, min_year: int = MIN_YEAR, max_year: int = MAX_YEAR
) -> date | None:
    """The date if it exists in the calendar and the year is plausible, else None."""
    if not min_year <= year <= max_year:
        return None
    try:
        return date(year, month, day)
    except ValueError:
        return None


# --- Vietnamese number words ------------------------------------------------------------------

# Folded (diacritic-free, upper case) spellings. Folding merges một/mốt (1), mười/mươi (10) and
# năm (5) with the year label "năm"; the grammar below resolves each by position.
_UNITS = {"KHONG": 0, "MOT": 1, "HAI": 2, "BA": 3, "BON": 4, "TU": 4, "NAM": 5, "SAU": 6}
_UNITS |= {"BAY": 7, "TAM": 8, "CHIN": 9}
_FIVE_AFTER_TENS = {"LAM", "NHAM"}  # "lăm"/"nhăm": 5 only after mười/mươi
_TEN = "MUOI"
_ZERO_TENS = {"LINH", "LE"}  # "linh"/"lẻ": no tens digit (2005 = hai nghìn không trăm linh năm)
_HUNDRED = "TRAM"
_THOUSAND = {"NGHIN", "NGAN"}
_NUMBER_WORDS = {*_UNITS, *_FIVE_AFTER_TENS, _TEN, *_ZERO_TENS, _HUNDRED, *_THOUSAND}


def _unit(token: str | None, *, after_tens: bool = False) -> int | None:
    if token is None:
        return None
    if after_tens and token in _FIVE_AFTER_TENS:
        return 5
    return _UNITS.get(token)


def parse_vietnamese_number(words: Sequence[str] | str) -> int | None:
    """Value of a number written in Vietnamese words, 0–9999, or None if it is not one.

    Accepts "mười lăm" (15), "hai mươi mốt" (21), "hai mươi tư" (24), "một nghìn chín trăm
    chín mươi lăm" (1995), "hai nghìn không trăm linh năm" (2005) and the spoken "hai nghìn
    linh năm" / "hai nghìn hai mươi tư", with or without diacritics, in any case.
    """
    tokens = fold(words).split() if isinstance(words, str) else [fold(w) for w in words]
    if not tokens or any(t not in _NUMBER_WORDS for t in tokens):
        return None
    pos = 0
    total = 0
    scaled = False  # a thousands or hundreds part was read

    def at(i: int) -> str | None:
        return tokens[i] if i < len(tokens) else None

    if at(pos + 1) in _THOUSAND:
        digit = _unit(at(pos))
        if not digit:
            return None
        total += digit * 1000
        pos += 2
        scaled = True
    if at(pos + 1) == _HUNDRED:
        digit = _unit(at(pos))
        if digit is None:
            return None
        total += digit * 100
        pos += 2
        scaled = True
    rest = tokens[pos:]
    if not rest:
        return total if scaled else None
    tail = _tens_and_units(rest, scaled=scaled)
    return None if tail is None else total + tail


def _tens_and_units(tokens: Sequence[str], *, scaled: bool) -> int | None:
    """The last two digits: "linh năm", "mười lăm", "hai mươi mốt", or a bare unit."""
    first = tokens[0]
    if first in _ZERO_TENS:
        unit = _unit(tokens[1]) if len(tokens) == 2 else None
        return unit if scaled and unit else None
    if first == _TEN:  # mười, mười một … mười chín
        if len(tokens) == 1:
            return 10
        unit = _unit(tokens[1], after_tens=True)
        return 10 + unit if len(tokens) == 2 and unit else None
    tens = _unit(first)
    if len(tokens) == 1:
        # a bare unit after "nghìn"/"trăm" is a spoken shorthand for hundreds/tens; refuse it
        return tens if tens is not None and not scaled else None
    if tens is None or tens < 2 or tokens[1] != _TEN or len(tokens) > 3:
        return None
    if len(tokens) == 2:
        return tens * 10
    unit = _unit(tokens[2], after_tens=True)
    return tens * 10 + unit if unit else None


# --- tokens on the folded text ----------------------------------------------------------------


@dataclass(frozen=True)
class _Token:
    text: str
    start: int  # in the folded string
    end: int
    digits: bool


_TOKEN = re.compile(r"[OIL]?\d[\dOIL]*|[A-Z]+")
_DAY_LABEL = re.compile(r"N[GQ]A[YV]|NGY")
_MONTH_LABEL = re.compile(r"[TI]H[AI]N[GQ]|THNG")
_YEAR_LABEL = re.compile(r"N[AE]M|NARN|NAN")
_DAY_PREFIX = {"MONG", "MUNG"}  # "ngày mồng một", "ngày mùng 5"
_MONTH_NAMES = {"GIENG": 1}  # "tháng Giêng"


def _folded_with_map(text: str) -> tuple[str, list[int]]:
    """Folded text and, per folded character, the index of the original character."""
    out: list[str] = []
    origin: list[int] = []
    for i, ch in enumerate(text):
        for f in fold(ch):
            out.append(f)
            origin.append(i)
    return "".join(out), origin


def _span(text: str, origin: list[int], start: int, end: int) -> tuple[int, int]:
    lo = origin[start]
    hi = origin[end - 1] + 1
    while hi < len(text) and unicodedata.combining(text[hi]):
        hi += 1
    return lo, hi


def _component(tokens: Sequence[_Token]) -> tuple[int, bool] | None:
    """A day, month or year written as one digit group or as number words; (value, in_words)."""
    if not tokens:
        return None
    if len(tokens) == 1 and tokens[0].digits:
        return int(tokens[0].text.translate(_DIGIT_LOOKALIKES)), False
    if len(tokens) == 1 and tokens[0].text in _MONTH_NAMES:
        return _MONTH_NAMES[tokens[0].text], True
    value = parse_vietnamese_number([t.text for t in tokens])
    return None if value is None else (value, True)


def _is_number(tok: _Token) -> bool:
    return tok.digits or tok.text in _NUMBER_WORDS or tok.text in _MONTH_NAMES


def _labelled_at(
    toks: Sequence[_Token], i: int, min_year: int, max_year: int
) -> tuple[date, int, bool] | None:
    """Read "ngày D tháng M năm Y" starting at the day label toks[i]; (date, last token, words)."""
    j = i + 1
    if j < len(toks) and toks[j].text in _DAY_PREFIX:
        j += 1
    k = j
    while k < len(toks) and not _MONTH_LABEL.fullmatch(toks[k].text):
        if not _is_number(toks[k]) or k - j >= 3:
            return None
        k += 1
    day = _component(toks[j:k])
    if day is None or k >= len(toks):
        return None
    m0 = k + 1
    # the month may itself be "năm" (5), so try each split before the year label
    for m_len in (1, 2, 3):
        label = m0 + m_len
        if label >= len(toks) or not _YEAR_LABEL.fullmatch(toks[label].text):
            continue
        if not all(_is_number(t) for t in toks[m0:label]):
            break
        month = _component(toks[m0:label])
        if month is None:
            continue
        end = label + 1
        while end < len(toks) and _is_number(toks[end]) and end - label <= 8:
            end += 1
        for y_end in range(end, label + 1, -1):  # longest year reading first
            year = _component(toks[label + 1 : y_end])
            if year is None:
                continue
            value = make_date(year[0], month[0], day[0], min_year=min_year, max_year=max_year)
            if value is not None:
                return value, y_end - 1, day[1] or month[1] or year[1]
    return None


def _find_labelled(
    folded: str, min_year: int, max_year: int
) -> list[tuple[date, int, int, str]]:
    toks = [
        _Token(m.group(), m.start(), m.end(), any(c.isdigit() for c in m.group()))
        for m in _TOKEN.finditer(folded)
    ]
    found = []
    i = 0
    while i < len(toks):
        hit = None
        if _DAY_LABEL.fullmatch(toks[i].text):
            hit = _labelled_at(toks, i, min_year, max_year)
        if hit is None:
            i += 1
            continue
        value, last, words = hit
        found.append((value, toks[i].start, toks[last].end, "words" if words else "labelled"))
        i = last + 1
    return found


# --- numeric forms ----------------------------------------------------------------------------

_DD = r"(?:(?<![0-9A-Z])[OIL]\d|(?<!\d)\d[\dOIL]?)"
_SEP = r"\s*[/.\-|\\]\s*"
_DMY = re.compile(rf"({_DD}){_SEP}({_DD}){_SEP}(\d[\dOIL]{{3}})(?!\d)")
_YMD = re.compile(r"(?<!\d)(?<!\d\.)(\d{4})\s*([-/.])\s*(\d{1,2})\s*\2\s*(\d{1,2})(?!\.?\d)")


def _digits(group: str) -> int:
    return int(group.translate(_DIGIT_LOOKALIKES))


def find_dates(
    text: str, *, min_year: int = MIN_YEAR, max_year: int = MAX_YEAR
) -> list[DateMatch]:
    """Every date in a line of text, in reading order, with its span in `text`.

    Reads dd/mm/yyyy (separators / . - with stray spaces), yyyy-mm-dd, and "ngày … tháng …
    năm …" with digits or words. Bare digit runs (QR ddmmyyyy, MRZ YYMMDD) are not dates in
    free text; use `parse_ddmmyyyy` / `parse_yymmdd` where the position says they are.
    Spans index the NFC form of `text` (the same string when the text is already NFC).
    """
    text = unicodedata.normalize("NFC", text)
    folded, origin = _folded_with_map(text)
    spans: list[tuple[date, int, int, str]] = _find_labelled(folded, min_year, max_year)
    for m in _DMY.finditer(folded):
        year, month, day = _digits(m.group(3)), _digits(m.group(2)), _digits(m.group(1))
        value = make_date(year, month, day, min_year=min_year, max_year=max_year)
        if value is not None:
            spans.append((value, m.start(), m.end(), "numeric"))
    for m in _YMD.finditer(folded):
        value = make_date(
            int(m.group(1)), int(m.group(3)), int(m.group(4)), min_year=min_year, max_year=max_year
        )
        if value is not None:
            spans.append((value, m.start(), m.end(), "iso"))
    spans.sort(key=lambda s: (s[1], -s[2]))
    out: list[DateMatch] = []
    covered = -1
    for value, start, end, form in spans:
        if start < covered:
            continue  # a digit date inside an already read "ngày … năm …" phrase
        lo, hi = _span(text, origin, start, end)
        out.append(DateMatch(value, lo, hi, form))
        covered = end
    return out


def parse_date(text: str, *, min_year: int = MIN_YEAR, max_year: int = MAX_YEAR) -> date | None:
    """The first date in `text` in any printed form (see `find_dates`), or None."""
    found = find_dates(text, min_year=min_year, max_year=max_year)
    return found[0].value if found else None


def parse_date_iso(
    text: str, *, min_year: int = MIN_YEAR, max_year: int = MAX_YEAR
) -> str | None:
    """`parse_date` as ISO 8601 text, the form fields carry."""
    value = parse_date(text, min_year=min_year, max_year=max_year)
    return value.isoformat() if value else None


# --- fixed-position machine forms -------------------------------------------------------------


def parse_ddmmyyyy(
    text: str, *, min_year: int = MIN_YEAR, max_year: int = MAX_YEAR
) -> date | None:
    """The card QR date: exactly 8 digits, day first ("05022024")."""
    s = text.strip()
    if len(s) != 8 or not s.isascii() or not s.isdigit():
        return None
    return make_date(int(s[4:]), int(s[2:4]), int(s[:2]), min_year=min_year, max_year=max_year)


def parse_iso(text: str, *, min_year: int = MIN_YEAR, max_year: int = MAX_YEAR) -> date | None:
    """Strict YYYY-MM-DD."""
    m = re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})", text.strip())
    if not m:
        return None
    return make_date(
        int(m.group(1)), int(m.group(2)), int(m.group(3)), min_year=min_year, max_year=max_year
    )


def parse_yymmdd(
    text: str,
    *,
    rule: Literal["birth", "expiry"],
    reference: date | None = None,
    min_year: int = MIN_YEAR,
    max_year: int = MAX_YEAR,
) -> date | None:
    """An MRZ date (YYMMDD) with the century the field implies.

    "birth": the latest century that does not put the date after `reference` (a person is
    not born in the future); `reference` defaults to today. "expiry": always 20YY, since
    chip cards were first issued in 2021.
    """
    s = text.strip()
    if len(s) != 6 or not s.isascii() or not s.isdigit():
        return None
    yy, month, day = int(s[:2]), int(s[2:4]), int(s[4:])
    if rule == "expiry":
        return make_date(2000 + yy, month, day, min_year=min_year, max_year=max_year)
    ref = reference or date.today()
    century = ref.year - ref.year % 100
    for year in (century + yy, century - 100 + yy):
        value = make_date(year, month, day, min_year=min_year, max_year=max_year)
        if value is not None and value <= ref:
            return value
    return None
