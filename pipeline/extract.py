"""Extract the basic fields: full name, 12-digit ID, date of birth, sex, dates.

Labels are found on the diacritic-free skeleton of each OCR line; values are taken from the
original (NFC) words so names keep their diacritics. Every field keeps its page, box and the
lowest word confidence it rests on.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pipeline.dates import parse_date_iso
from pipeline.idnumber import is_valid_personal_id, parse_personal_id
from pipeline.mrz import find_td1
from pipeline.types import FIELD_NAMES, Extraction, Field, OcrPage, OcrWord
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
    page_height: int = 0
    text_right: int = 0  # the right edge of the page's widest text, for spotting wrapped lines

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
    def top_share(self) -> float:
        return self.box[1] / self.page_height if self.page_height else 0.0

    @property
    def right(self) -> int:
        return self.box[0] + self.box[2]

    def centre_y(self) -> float:
        return self.box[1] + self.box[3] / 2

    @property
    def conf(self) -> float:
        return min(w.conf for w in self.words) / 100


def _lines(pages: Sequence[OcrPage]) -> list[_Line]:
    out = []
    for page in pages:
        grouped: dict[str, list[OcrWord]] = {}
        for w in page.words:
            grouped.setdefault(w.line_id, []).append(w)
        right = max((w.left + w.width for w in page.words), default=0)
        out.extend(_Line(page.index, tuple(ws), page.height_px, right)
                   for ws in grouped.values())
    return out


def _wrapped(previous: _Line, value: str, nxt: _Line) -> bool:
    """Does ``nxt`` carry on a value that ``previous`` ended? Yes when the previous line ran
    to the right margin, or its value stops on a comma or a lowercase word ("thành phố"), or
    ``nxt`` opens with a fragment ("An, tỉnh Quảng Nam") or a lowercase word."""
    if previous.text_right and previous.right >= previous.text_right * 0.85:
        return True
    words = value.split()
    first = nxt.text.split()[0] if nxt.text.split() else ""
    return (value.endswith(",") or (words and words[-1][:1].islower())
            or first.endswith(",") or first[:1].islower())


def _beside(lines: Sequence[_Line], label_line: _Line, used: set[int]) -> _Line | None:
    """In two-column layouts OCR returns labels and values as separate blocks: the value is
    the unlabelled line on the same row, right of the label."""
    for i, other in enumerate(lines):
        if (i not in used and other.page == label_line.page
                and other.box[0] > label_line.right
                and abs(other.centre_y() - label_line.centre_y()) < label_line.box[3] * 0.6
                and _find_label(fold(other.text)) is None):
            used.add(i)
            return other
    return None


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


# Labels on the diacritic-free skeleton (pipeline.vntext.fold), longest first where one is the
# start of another. Each maps to a field name; `section` labels switch whose fields follow.
_LABELS: tuple[tuple[str, str], ...] = (
    # people in a section of their own (the main person's fields stop there)
    ("HO, CHU DEM, TEN NGUOI ME", "section:mother_"),
    ("HO, CHU DEM, TEN NGUOI CHA", "section:father_"),
    ("HO, CHU DEM, TEN NGUOI DI KHAI", "section:declarant_"),
    ("HO VA TEN ME", "section:mother_"),
    ("HO VA TEN CHA", "section:father_"),
    ("THONG TIN NGUOI CHONG", "section:husband_"),
    ("THONG TIN NGUOI VO", "section:wife_"),
    # document-level
    ("NGAY, THANG, NAM DANG KY", "issue_date"),
    ("NGAY, THANG, NAM CAP", "issue_date"),
    ("DATE OF ISSUE", "issue_date"),
    ("NGAY CAP", "issue_date"),
    ("DANG KY LAN DAU", "issue_date"),
    ("NOI DANG KY KHAI SINH / PLACE OF BIRTH", "place_of_birth"),
    ("NOI DANG KY KHAI SINH", "issuer"),
    ("NOI DANG KY KET HON", "issuer"),
    ("NOI DANG KY KHAI TU", "issuer"),
    ("SO VAO SO CAP BANG", "register_number"),
    ("SO VAO SO CAP GCN", "register_number"),
    ("SO VAO SO", "register_number"),
    ("SO HIEU", "serial_number"),
    ("MA SO DOANH NGHIEP", "enterprise_code"),
    ("TEN CONG TY VIET BANG TIENG VIET", "company_name"),
    ("TEN DOANH NGHIEP", "company_name"),
    ("XEP LOAI TOT NGHIEP", "grade"),
    ("NGANH", "major"),
    ("HANG/CLASS", "license_class"),
    ("HANG / CLASS", "license_class"),
    ("THUA DAT SO", "parcel_number"),
    ("TO BAN DO SO", "map_sheet_number"),
    ("DIEN TICH", "area_m2"),
    ("CO GIA TRI DEN", "expiry_date"),
    ("NGAY, THANG, NAM HET HAN", "expiry_date"),
    ("DATE OF EXPIRY", "expiry_date"),
    ("EXPIRES", "expiry_date"),
    ("DA CHET VAO LUC", "date_of_death"),
    ("NGAY CHET", "date_of_death"),
    # a person
    ("HO, CHU DEM VA TEN KHAI SINH", "full_name"),
    ("HO, CHU DEM VA TEN", "full_name"),
    ("HO, CHU DEM, TEN", "full_name"),
    ("HO VA TEN", "full_name"),
    ("HO TEN", "full_name"),
    ("FULL NAME", "full_name"),
    ("CHO: ONG", "full_name"),
    ("CHO: BA", "full_name"),
    ("ONG:", "full_name"),
    ("BA:", "full_name"),
    ("NGAY, THANG, NAM SINH", "date_of_birth"),
    ("NGAY THANG NAM SINH", "date_of_birth"),
    ("SINH NGAY", "date_of_birth"),
    ("NGAY SINH", "date_of_birth"),
    ("DATE OF BIRTH", "date_of_birth"),
    ("GIOI TINH", "sex"),
    ("SEX", "sex"),
    ("SO DINH DANH CA NHAN", "id_number"),
    ("PERSONAL IDENTIFICATION NUMBER", "id_number"),
    ("CAN CUOC CONG DAN SO", "id_number"),
    ("SO GIAY TO PHAP LY CUA CA NHAN", "id_number"),
    ("NOI SINH", "place_of_birth"),
    ("PLACE OF BIRTH", "place_of_birth"),
    ("QUE QUAN", "place_of_origin"),
    ("PLACE OF ORIGIN", "place_of_origin"),
    ("NOI THUONG TRU", "place_of_residence"),
    ("NOI CU TRU CUOI CUNG", "last_residence"),
    ("NOI CU TRU", "place_of_residence"),
    ("PLACE OF RESIDENCE", "place_of_residence"),
    ("DIA CHI THUONG TRU", "place_of_residence"),
    ("ADDRESS", "place_of_residence"),
)
# labels that end a value printed on the same line ("Giới tính: Nam  Dân tộc: Kinh")
_STOPS = ("DAN TOC", "QUOC TICH", "NAM SINH", "GIOI TINH", "TO BAN DO SO", "CHUC DANH",
          "SEX", "NATIONALITY", "DATE OF BIRTH", "NGAY SINH")
# fields that belong to the document, not to whichever person's section they follow
_PREFIXES = ("mother_", "father_", "declarant_", "husband_", "wife_")
_DOCUMENT_FIELDS = {"issue_date", "issuer", "register_number", "serial_number"}
_CIVIL = {"birth_cert", "marriage_cert", "death_extract", "marital_status"}
_HONORIFIC = re.compile(r"^(ÔNG|BÀ|ONG|BA|MR\.?|MS\.?|MRS\.?)\s+", re.IGNORECASE)
# "Số: 236", "Số/No.: 0123", "søNo: 1932…" (OCR), also after a header on the same line
_NUMBER_LINE = re.compile(r"(?:^|\s)\W{0,3}S[OØ0]?\W{0,2}(?:/?\s*NO\.?)?\s*:\s*(\S+)")
_PLACE_DATE = re.compile(r",\s*NGAY\s+\d{1,2}\s+THANG\s+\d{1,2}\s+NAM\s+\d{4}")
_SERIAL = re.compile(r"(?<![A-Z0-9])([A-Z]{2})\s?(\d{8})(?!\d)")


def _find_label(folded: str, start: int = 0) -> tuple[int, str, str] | None:
    """The earliest label at or after ``start``: (position, label, field)."""
    best = None
    for label, field in _LABELS:
        pos = folded.find(label, start)
        if pos >= 0 and (pos == 0 or not folded[pos - 1].isalpha()) and (
                best is None or pos < best[0] or (pos == best[0] and len(label) > len(best[1]))):
            best = (pos, label, field)
    return best


def _value_after(line: _Line, pos: int, label: str) -> str:
    text, folded = line.text, fold(line.text)
    rest_start = pos + len(label)
    # skip the colon, and an English translation before it: "Họ và tên / Full name: X"
    colon = text.find(":", rest_start, rest_start + 40)
    between = text[rest_start:colon] if colon >= 0 else ""
    if colon >= 0 and (not between.strip() or between.lstrip().startswith("/")):
        rest_start = colon + 1
    end = len(text)
    for stop in (*_STOPS, *(lab for lab, _ in _LABELS)):
        at = folded.find(stop, rest_start)
        if at > rest_start and at < end and not folded[at - 1].isalpha():
            end = at
    return text[rest_start:end].strip(" :;,./|\t")


def _clean(field: str, value: str) -> str | None:
    """A raw value made into the field's form, or None when it is not one."""
    base = field  # without a section prefix
    if not value:
        return None
    if base.endswith("full_name"):
        value = _HONORIFIC.sub("", value)
        return _name_value(value)
    if base.endswith(("date_of_birth", "date", "date_of_death")):
        return parse_date(value)
    if base == "sex":
        first = fold(value).split()[0].strip(",/") if value.split() else ""
        return {"NAM": "M", "MALE": "M", "NU": "F", "FEMALE": "F"}.get(first)
    if base.endswith("id_number"):
        digits = re.sub(r"\D", "", value)
        return digits if is_valid_personal_id(digits) else None
    if base == "enterprise_code":
        digits = re.sub(r"\D", "", value)
        return digits if len(digits) == 10 else None
    if base in ("parcel_number", "map_sheet_number"):
        m = re.match(r"\d+", value)
        return m.group(0) if m else None
    if base == "area_m2":
        m = re.match(r"(\d+(?:[.,]\d+)?)", value)
        return m.group(1).replace(",", ".") if m else None
    if base in ("register_number", "serial_number", "license_class", "license_number",
                "document_number"):
        token = value.split()[0] if value.split() else ""
        return token.strip(" .,;") or None
    return value


def extract(pages: Sequence[OcrPage], doc_type: str) -> Extraction:
    """Fields by their printed labels, values on the same line or the next ones.

    Sections ("người mẹ", "người chồng", …) prefix the fields that follow them, so a parent's
    or a spouse's data never lands on the main person; only prefixed names that domain.md
    defines are kept. Wrapped values (addresses, issuers, company names) continue on
    indented lines.
    """
    lines = _lines(pages)
    fields: dict[str, Field] = {}
    section = ""
    pending: tuple[str, _Line] | None = None  # a label whose value is on the next line(s)
    continuing: tuple[str, _Line] | None = None  # a text value that may wrap

    def put(name: str, value: str | None, line: _Line) -> None:
        if value and name in FIELD_NAMES and name not in fields:
            fields[name] = _field(name, value, line)

    used: set[int] = set()  # lines already taken as a value beside their label
    for index, line in enumerate(lines):
        if index in used:
            continue
        folded = fold(line.text)
        found = _find_label(folded)
        if found is None:
            if pending is not None:  # the value under its label
                name, label_line = pending
                pending = None
                value = _clean(name.split("_", 1)[-1] if name.startswith(_PREFIXES) else name,
                               line.text.strip())
                put(name, value, label_line)
                if value and _wraps(name):
                    continuing = (name, line)
                continue
            if continuing is not None and continuing[0] in fields and _wrapped(
                    continuing[1], fields[continuing[0]].value, line):
                name, _ = continuing
                old = fields[name]
                fields[name] = Field(name, f"{old.value} {line.text.strip()}",
                                     min(old.confidence, round(line.conf, 3)), old.page, old.box)
                continuing = (name, line)
                continue
            continuing = None
            _unlabelled(line, folded, doc_type, fields, put)
            continue
        continuing = None
        pending = None
        while found is not None:
            at, label, field = found
            if field.startswith("section:"):
                section = field.split(":", 1)[1]
                if "THONG TIN" not in label:  # "tên người mẹ: X" names the section's person
                    raw = _value_after(line, at, label)
                    if not raw:
                        beside = _beside(lines, line, used)
                        raw = beside.text if beside is not None else ""
                    put(f"{section}full_name", _clean("full_name", raw), line)
                found = _find_label(folded, at + len(label))
                continue
            name = field if field in _DOCUMENT_FIELDS else f"{section}{field}"
            raw = _value_after(line, at, label)
            if not raw:
                beside = _beside(lines, line, used)
                if beside is not None:
                    raw = beside.text
            value = _clean(field, raw)
            if value is None and not raw:
                pending = (name, line)
            else:
                put(name, value, line)
                if _wraps(field):
                    continuing = (name, line)
            found = _find_label(folded, at + len(label))
    _document_level(lines, doc_type, fields, put)
    warnings = _cross_check(fields)
    warnings += _from_mrz(pages, fields)
    return Extraction(tuple(fields.values()), tuple(warnings))


def _wraps(field: str) -> bool:
    return field.endswith(("issuer", "place_of_birth", "place_of_origin",
                           "place_of_residence", "company_name", "last_residence"))


def _unlabelled(line: _Line, folded: str, doc_type: str, fields: dict[str, Field],
                put: Callable[[str, str | None, _Line], None]) -> None:
    """Values printed without a label: numbers at the top, bare 12-digit IDs, serials."""
    # a paper's own number sits in its header; a card's anywhere
    anywhere = doc_type in ("driving_license", "citizen_id")
    m = _NUMBER_LINE.search(folded) if anywhere or line.top_share < 0.3 else None
    if m:
        value = line.text[m.start(1):].split()[0].strip(" ._") if line.text[m.start(1):].split() \
            else ""
        if doc_type in _CIVIL:
            put("register_number", value, line)
        elif doc_type == "driving_license":
            put("license_number", re.sub(r"\D", "", value) or None, line)
        elif doc_type == "citizen_id":
            put("id_number", _clean("id_number", value), line)
        else:
            put("document_number", value, line)
    if doc_type not in ("driving_license",) and "id_number" not in fields:
        compact = re.sub(r"(?<=\d)[ .](?=\d)", "", line.text)
        for hit in _ID12.finditer(compact):
            if is_valid_personal_id(hit.group(1)):
                put("id_number", hit.group(1), line)
                break
    if doc_type == "land_use_cert":
        hit = _SERIAL.search(folded)
        if hit:
            put("serial_number", hit.group(1) + hit.group(2), line)


def _document_level(lines: Sequence[_Line], doc_type: str, fields: dict[str, Field],
                    put: Callable[[str, str | None, _Line], None]) -> None:
    """The place-and-date line above the signature ("Hà Nội, ngày 20 tháng 12 năm 2017") is
    the issue date when the paper prints no other."""
    if "issue_date" in fields:
        return
    for line in lines:
        folded = fold(line.text)
        if _PLACE_DATE.search(folded):
            put("issue_date", parse_date(line.text), line)
            return


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
