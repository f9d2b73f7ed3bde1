"""The machine-readable zone on the back of chip ID cards (ICAO 9303 TD1: 3 lines × 30).

The MRZ is the one part of a card whose reading can be proven: four check digits cover the
document number, both dates and the whole zone. A reading is only trusted when every check
holds. OCR confuses letters and digits, so look-alike letters are turned into digits, but only
where ICAO puts a digit, and every such change is recorded for the reviewer.

Vietnamese cards: line 1 starts "IDVNM", the 12-digit personal ID sits in the optional data of
line 1, names are written without diacritics, surname first.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from pipeline.vn.dates import parse_yymmdd
from pipeline.vn.idnumber import parse_personal_id

LINE_LEN = 30
_WEIGHTS = (7, 3, 1)
_TO_DIGIT = {"O": "0", "I": "1", "L": "1", "S": "5", "B": "8", "Z": "2"}
_TO_LETTER = {"0": "O", "1": "I", "5": "S", "8": "B", "2": "Z"}
_MRZ_LINE = re.compile(r"[A-Z0-9<]+")
# what OCR prints for the filler sign
_FILLER_LOOKALIKES = str.maketrans({"«": "<<", "‹": "<", "＜": "<", "〈": "<", "≤": "<"})


def check_digit(data: str) -> int:
    """ICAO 9303 check digit: weights 7-3-1, A=10 … Z=35, '<'=0, sum modulo 10."""
    total = 0
    for i, ch in enumerate(data):
        if ch.isdigit():
            value = int(ch)
        elif "A" <= ch <= "Z":
            value = ord(ch) - ord("A") + 10
        elif ch == "<":
            value = 0
        else:
            raise ValueError(f"character {ch!r} is not allowed in an MRZ")
        total += value * _WEIGHTS[i % 3]
    return total % 10


def _check_ok(field: str, digit: str) -> bool:
    if digit == "<":  # ICAO allows a filler check digit only over an empty field
        return set(field) == {"<"}
    return digit.isdigit() and check_digit(field) == int(digit)


@dataclass(frozen=True)
class Td1Checks:
    document_number: bool
    date_of_birth: bool
    expiry_date: bool
    composite: bool

    @property
    def all_ok(self) -> bool:
        return self.document_number and self.date_of_birth and self.expiry_date and self.composite


@dataclass(frozen=True)
class Td1Mrz:
    """A TD1 zone as read. `valid` only when every check digit holds, both dates exist and, on
    a Vietnamese card, the personal ID agrees with the birth date and sex."""

    lines: tuple[str, str, str]  # after the recorded corrections
    document_code: str
    issuing_state: str
    document_number: str
    optional_data_1: str
    date_of_birth: date | None
    sex: str | None  # "M" | "F" | None (unspecified)
    expiry_date: date | None
    nationality: str
    optional_data_2: str
    surname: str
    given_names: str
    checks: Td1Checks
    corrections: tuple[str, ...] = ()  # "line 2 col 3: O->0"

    @property
    def corrected(self) -> bool:
        return bool(self.corrections)

    @property
    def full_name(self) -> str:
        """Surname first, as Vietnamese papers print it (without diacritics)."""
        return " ".join(p for p in (self.surname, self.given_names) if p)

    @property
    def personal_id(self) -> str | None:
        """The 12-digit personal ID Vietnamese cards carry at the start of optional data 1."""
        head = self.optional_data_1[:12]
        return head if len(head) == 12 and head.isdigit() else None

    @property
    def problems(self) -> tuple[str, ...]:
        out = [
            f"{name.replace('_', ' ')} check digit fails"
            for name in ("document_number", "date_of_birth", "expiry_date", "composite")
            if not getattr(self.checks, name)
        ]
        if self.date_of_birth is None:
            out.append("date of birth is not a valid date")
        if self.expiry_date is None and set(self.lines[1][8:14]) != {"<"}:
            out.append("expiry date is not a valid date")
        if self.issuing_state == "VNM":
            out.extend(self._personal_id_problems())
        return tuple(out)

    @property
    def valid(self) -> bool:
        return not self.problems

    def _personal_id_problems(self) -> list[str]:
        if self.personal_id is None:
            return ["no 12-digit personal ID in optional data"]
        try:
            pid = parse_personal_id(self.personal_id)
        except ValueError as exc:
            return [f"personal ID: {exc}"]
        out = []
        if self.date_of_birth and not pid.matches_birth(self.date_of_birth.year, self.sex):
            out.append("personal ID does not match date of birth/sex")
        # the card's document number is the last nine digits of its holder's personal ID
        if self.document_number.rstrip("<") != self.personal_id[-9:]:
            out.append("document number is not the last 9 digits of the personal ID")
        return out


def _clean_line(line: str) -> str:
    """Upper case without spaces; an accent OCR hung on a letter ("NÑG0C") is dropped."""
    bare = "".join(c for c in unicodedata.normalize("NFD", line) if not unicodedata.combining(c))
    return "".join(bare.translate(_FILLER_LOOKALIKES).upper().split())


def _split_lines(mrz: str | Sequence[str]) -> list[str]:
    raw = mrz.splitlines() if isinstance(mrz, str) else list(mrz)
    lines = [c for c in (_clean_line(x) for x in raw) if c]
    if len(lines) == 1 and len(lines[0]) == 3 * LINE_LEN:
        lines = [lines[0][i : i + LINE_LEN] for i in range(0, 3 * LINE_LEN, LINE_LEN)]
    return lines


class _Fixer:
    """Replaces look-alike characters in positions whose kind ICAO fixes, keeping a log."""

    def __init__(self, lines: Sequence[str]) -> None:
        self.lines = [list(x) for x in lines]
        self.log: list[str] = []

    def _apply(self, row: int, start: int, end: int, table: dict[str, str]) -> None:
        for col in range(start, end):
            old = self.lines[row][col]
            new = table.get(old)
            if new is not None:
                self.lines[row][col] = new
                self.log.append(f"line {row + 1} col {col + 1}: {old}->{new}")

    def digits(self, row: int, start: int, end: int) -> None:
        self._apply(row, start, end, _TO_DIGIT)

    def letters(self, row: int, start: int, end: int) -> None:
        self._apply(row, start, end, _TO_LETTER)

    def text(self, row: int) -> str:
        return "".join(self.lines[row])


def parse_td1(mrz: str | Sequence[str], *, reference: date | None = None) -> Td1Mrz | None:
    """Read a TD1 MRZ given as three lines (or one string of them); None if not TD1-shaped.

    `reference` is the day birth dates may not lie after (default today); it picks the
    century of the two-digit birth year.
    """
    lines = _split_lines(mrz)
    if len(lines) != 3 or any(len(x) != LINE_LEN or not _MRZ_LINE.fullmatch(x) for x in lines):
        return None
    fix = _Fixer(lines)
    fix.letters(0, 0, 5)  # document code and issuing state
    long_number = fix.lines[0][14] == "<"
    if not long_number:
        fix.digits(0, 14, 15)
    if fix.text(0)[2:5] == "VNM":
        fix.digits(0, 5, 14)
        fix.digits(0, 15, 27)
    for start, end in ((0, 7), (8, 15), (29, 30)):  # dates with their checks, composite
        fix.digits(1, start, end)
    fix.letters(1, 15, 18)  # nationality
    fix.letters(2, 0, LINE_LEN)  # names hold letters only
    l1, l2, l3 = fix.text(0), fix.text(1), fix.text(2)

    number, number_check, optional_1 = l1[5:14], l1[14], l1[15:30]
    if long_number:  # ICAO: a longer number continues in optional data, then its check digit
        extension = optional_1.split("<", 1)[0]
        if extension:
            number, number_check = number + extension[:-1], extension[-1]
            optional_1 = optional_1[len(extension) :]
    composite_data = l1[5:30] + l2[0:7] + l2[8:15] + l2[18:29]
    checks = Td1Checks(
        document_number=_check_ok(number, number_check),
        date_of_birth=_check_ok(l2[0:6], l2[6]),
        expiry_date=_check_ok(l2[8:14], l2[14]),
        composite=_check_ok(composite_data, l2[29]),
    )
    surname, _, given = l3.rstrip("<").partition("<<")
    return Td1Mrz(
        lines=(l1, l2, l3),
        document_code=l1[0:2].replace("<", ""),
        issuing_state=l1[2:5].replace("<", ""),
        document_number=number.replace("<", ""),
        optional_data_1=optional_1.strip("<"),
        date_of_birth=parse_yymmdd(l2[0:6], rule="birth", reference=reference),
        sex={"M": "M", "F": "F"}.get(l2[7]),
        expiry_date=parse_yymmdd(l2[8:14], rule="expiry"),
        nationality=l2[15:18].replace("<", ""),
        optional_data_2=l2[18:29].strip("<"),
        surname=" ".join(surname.replace("<", " ").split()),
        given_names=" ".join(given.replace("<", " ").split()),
        checks=checks,
        corrections=tuple(fix.log),
    )


def _fit_length(line: str) -> str | None:
    """A line OCR made a few characters too short or long, fitted to 30 at its last filler run.

    OCR miscounts long runs of '<'; the rightmost run is the filler of the optional data (or of
    the names), so it is the one stretched or shrunk. The check digits decide afterwards.
    """
    if len(line) == LINE_LEN:
        return line
    runs = list(re.finditer(r"<+", line))
    if not runs or abs(len(line) - LINE_LEN) > 8:
        return None
    run = runs[-1]
    new_len = len(run.group()) + LINE_LEN - len(line)
    if new_len < 1:
        return None
    return line[: run.start()] + "<" * new_len + line[run.end() :]


def _candidate_lines(text: str) -> list[str | None]:
    """Each OCR line as a 30-character MRZ line, or None where a line cannot be one.

    OCR inserts spaces, merges the three lines into one and miscounts filler runs.
    """
    out: list[str | None] = []
    for raw in text.splitlines():
        line = _clean_line(raw)
        if not line:
            continue
        if not _MRZ_LINE.fullmatch(line):
            out.append(None)
        elif len(line) in (2 * LINE_LEN, 3 * LINE_LEN):
            out.extend(line[i : i + LINE_LEN] for i in range(0, len(line), LINE_LEN))
        else:
            out.append(_fit_length(line))
    return out


_NO_NAME = "<" * LINE_LEN


def find_td1(text: str, *, reference: date | None = None) -> Td1Mrz | None:
    """The TD1 zone in free OCR text: the best-verifying run of three MRZ-shaped lines."""
    lines = _candidate_lines(text)
    best: tuple[tuple[int, int], Td1Mrz] | None = None
    for i in range(len(lines) - 1):
        # no check digit covers the name line: a garbled one only costs the name
        triple = [*lines[i : i + 2], (lines[i + 2] if i + 2 < len(lines) else None) or _NO_NAME]
        if any(x is None for x in triple):
            continue
        parsed = parse_td1([x for x in triple if x is not None], reference=reference)
        if parsed is None or parsed.document_code[:1] not in ("I", "A", "C"):
            continue
        c = parsed.checks
        score = (int(parsed.valid), c.document_number + c.date_of_birth + c.expiry_date
                 + c.composite)
        if best is None or score > best[0]:
            best = (score, parsed)
    return best[1] if best else None
