"""Extract the basic fields: full name, 12-digit ID, date of birth, sex, dates.

Labels are found on the diacritic-free skeleton of each OCR line; values are taken from the
original (NFC) words so names keep their diacritics. Every field keeps its page, box and the
lowest word confidence it rests on.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from pipeline.dates import parse_date_iso
from pipeline.idnumber import is_valid_personal_id, parse_personal_id
from pipeline.mrz import find_td1
from pipeline.types import Extraction, Field, OcrPage, OcrWord
from pipeline.vntext import fold, title_name

_ID12 = re.compile(r"(?<!\d)(\d{12})(?!\d)")

NAME_LABELS = (
    "HO, CHU DEM, TEN",
    "HO, CHU DEM VA TEN",
    "HO VA TEN",
    "HO TEN",
    "FULL NAME",
    "HO, CHU DEM, TEN NGUOI",
)
DOB_LABELS = ("NGAY, THANG, NAM SINH", "NGAY THANG NAM SINH", "NGAY SINH", "DATE OF BIRTH")
SEX_LABELS = ("GIOI TINH", "SEX")
ID_CONTRADICTS_BIRTH = "id_number does not match date_of_birth/sex"
CONFLICT_PREFIX = "conflict: "  # an Extraction warning that sends the document to review
EXPIRY_LABELS = ("CO GIA TRI DEN", "DATE OF EXPIRY", "GIA TRI DEN")


@dataclass(frozen=True)
class _Line:
    page: int
    words: tuple[OcrWord, ...]

    @property
    def text(self) -> str:
        return " ".join(w.text for w in self.words)

    @property
    def box(self) -> tuple[int, int, int, int]:
        left = min(w.left for w in self.words)
        top = min(w.top for w in self.words)
        right = max(w.left + w.width for w in self.words)
        bottom = max(w.top + w.height for w in self.words)
        return left, top, right - left, bottom - top

    @property
    def conf(self) -> float:
        return min(w.conf for w in self.words) / 100


def _lines(pages: Sequence[OcrPage]) -> list[_Line]:
    out = []
    for page in pages:
        grouped: dict[str, list[OcrWord]] = {}
        for w in page.words:
            grouped.setdefault(w.line_id, []).append(w)
        out.extend(_Line(page.index, tuple(ws)) for ws in grouped.values())
    return out


def _after_label(line: _Line, labels: Sequence[str]) -> str | None:
    """The text after a label on the same line, in original spelling, or None."""
    folded = fold(line.text)
    for label in labels:
        pos = folded.find(label)
        if pos < 0:
            continue
        # fold() keeps string length for Vietnamese (one base letter per letter), so positions map
        rest = line.text[pos + len(label) :]
        rest = rest.split(":", 1)[1] if ":" in rest[:12] else rest
        return rest.strip(" :./-\t")
    return None


def parse_date(text: str) -> str | None:
    """The first date in text as ISO 8601, in any form papers use (see pipeline.dates)."""
    return parse_date_iso(text)


def _field(name: str, value: str, line: _Line) -> Field:
    return Field(name, value, round(line.conf, 3), line.page, line.box)


def _name_value(raw: str) -> str | None:
    # stop at a following label printed on the same line ("... Giới tính: Nữ")
    cut = re.split(r"\s{2,}|Giới tính|Ngày sinh|Sex|Date", raw, maxsplit=1)[0]
    letters = [c for c in cut if c.isalpha()]
    if len(letters) < 4 or any(c.isdigit() for c in cut):
        return None
    return title_name(cut.strip(" :,.-/"))


def extract(pages: Sequence[OcrPage], doc_type: str) -> Extraction:
    lines = _lines(pages)
    fields: dict[str, Field] = {}
    for i, line in enumerate(lines):
        nxt = lines[i + 1] if i + 1 < len(lines) else None
        if "full_name" not in fields:
            raw = _after_label(line, NAME_LABELS)
            if raw is not None:
                value = _name_value(raw) or (nxt and _name_value(nxt.text))
                if value:
                    fields["full_name"] = _field("full_name", value, line)
        if "date_of_birth" not in fields:
            raw = _after_label(line, DOB_LABELS)
            if raw is not None:
                value = parse_date(raw) or (nxt and parse_date(nxt.text))
                if value:
                    fields["date_of_birth"] = _field("date_of_birth", value, line)
        if "sex" not in fields:
            raw = _after_label(line, SEX_LABELS)
            if raw:
                first = fold(raw).split()[0] if raw.split() else ""
                sex = {"NAM": "M", "MALE": "M", "NU": "F", "FEMALE": "F"}.get(first.strip(",/"))
                if sex:
                    fields["sex"] = _field("sex", sex, line)
        if "expiry_date" not in fields:
            raw = _after_label(line, EXPIRY_LABELS)
            value = parse_date(raw) if raw else None
            if value:
                fields["expiry_date"] = _field("expiry_date", value, line)
        if "id_number" not in fields:
            compact = re.sub(r"(?<=\d)[ .](?=\d)", "", line.text)
            for m in _ID12.finditer(compact):
                if is_valid_personal_id(m.group(1)):
                    fields["id_number"] = _field("id_number", m.group(1), line)
                    break
    warnings = _cross_check(fields)
    warnings += _from_mrz(pages, fields)
    return Extraction(tuple(fields.values()), tuple(warnings))


def _from_mrz(pages: Sequence[OcrPage], fields: dict[str, Field]) -> list[str]:
    """The machine-readable zone of an ID card's back: its check digits verified, it fills
    what the printed text did not give and contradicts what it got wrong (for review)."""
    for page in pages:
        mrz = find_td1(page.text)
        if mrz is None or not mrz.valid:
            continue
        found = {"id_number": mrz.personal_id, "sex": mrz.sex,
                 "date_of_birth": mrz.date_of_birth.isoformat() if mrz.date_of_birth else None,
                 "expiry_date": mrz.expiry_date.isoformat() if mrz.expiry_date else None}
        conflicts = []
        for name, value in found.items():
            if not value:
                continue
            if name not in fields:
                fields[name] = Field(name, value, 1.0, page.index)  # check digits verified
            elif fields[name].value != value:
                conflicts.append(f"{CONFLICT_PREFIX}{name}: printed {fields[name].value}, "
                                 f"MRZ {value}")
        return conflicts
    return []


def _cross_check(fields: dict[str, Field]) -> list[str]:
    """An ID that contradicts the printed birth year or sex is flagged, never silently fixed."""
    if "id_number" not in fields or "date_of_birth" not in fields:
        return []
    pid = parse_personal_id(fields["id_number"].value)
    year = int(fields["date_of_birth"].value[:4])
    sex = fields["sex"].value if "sex" in fields else None
    if not pid.matches_birth(year, sex):
        return [ID_CONTRADICTS_BIRTH]
    return []
