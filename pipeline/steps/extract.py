"""Extract the fields of domain.md from OCR lines: names, IDs, dates, numbers, places.

Labels are found on the diacritic-free skeleton of each OCR line; values are taken from the
original (NFC) words so names keep their diacritics. Every field keeps its page, box and the
lowest word confidence it rests on. Cross-checks (ID vs birth date and sex, the card's MRZ and
QR code vs the printed text) end as warnings that send the document to review.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from statistics import median

from pipeline.types import FIELD_NAMES, Extraction, Field, OcrPage, OcrWord
from pipeline.vn.adminunits import PLACE_FIELDS, normalise_place
from pipeline.vn.cardqr import CardQr
from pipeline.vn.dates import parse_date_iso
from pipeline.vn.idnumber import is_valid_personal_id, parse_personal_id
from pipeline.vn.mrz import find_td1
from pipeline.vn.names import looks_like_name, repair_name
from pipeline.vn.text import fold, squash, title_name

_ID12 = re.compile(r"(?<!\d)(\d{12})(?!\d)")
ID_CONTRADICTS_BIRTH = "id_number does not match date_of_birth/sex"
CONFLICT_PREFIX = "conflict: "  # an Extraction warning that sends the document to review


def parse_date(text: str) -> str | None:
    """The first date in text as ISO 8601, in any form papers use (see pipeline.vn.dates)."""
    return parse_date_iso(text)


# --------------------------------------------------------------------------- line geometry


@dataclass(frozen=True)
class Line:
    """One OCR text line with where it lies on its page."""

    page: int
    words: tuple[OcrWord, ...]
    page_height: int = 0
    text_right: int = 0  # the right edge of the page's widest text, for spotting wrapped lines
    slope: float = 0.0  # the page's text skew, dy/dx, for pairing labels with values

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


def _skew(lines: Sequence[Sequence[OcrWord]]) -> float:
    """The page's text slope (dy/dx): the median over lines of three words or more."""
    slopes = []
    for words in lines:
        if len(words) < 3:
            continue
        xs = [w.left + w.width / 2 for w in words]
        ys = [w.top + w.height / 2 for w in words]
        mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
        var = sum((x - mx) ** 2 for x in xs)
        if var > 0:
            slopes.append(sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / var)
    return median(slopes) if slopes else 0.0


def page_lines(pages: Sequence[OcrPage]) -> list[Line]:
    out = []
    for page in pages:
        grouped: dict[str, list[OcrWord]] = {}
        for w in page.words:
            grouped.setdefault(w.line_id, []).append(w)
        right = max((w.left + w.width for w in page.words), default=0)
        slope = _skew(list(grouped.values()))
        out.extend(Line(page.index, tuple(ws), page.height_px, right, slope)
                   for ws in grouped.values())
    return out


def _centre(w: OcrWord) -> tuple[float, float]:
    return w.left + w.width / 2, w.top + w.height / 2


def beside(lines: Sequence[Line], label: Line, used: set[int], accept: Callable[[str], bool]
           ) -> tuple[int, Line] | None:
    """In two-column layouts OCR returns labels and values as separate blocks: the value is
    the nearest acceptable line on the same row right of the label, the row followed along
    the page's skew."""
    lx, ly = _centre(label.words[-1])
    best: tuple[float, int, Line] | None = None
    for i, other in enumerate(lines):
        if i in used or other.page != label.page or other.box[0] <= label.right:
            continue
        ox, oy = _centre(other.words[0])
        off = abs(oy - (ly + label.slope * (ox - lx)))
        if off < 0.8 * max(label.words[-1].height, other.words[0].height) and (
                best is None or off < best[0]) and accept(other.text):
            best = (off, i, other)
    return (best[1], best[2]) if best else None


def below(lines: Sequence[Line], line: Line, used: set[int]) -> tuple[int, Line] | None:
    """The line right under ``line`` in the same column (a wrapped value's next part)."""
    x, bottom = line.box[0], line.box[1] + line.box[3]
    height = line.words[0].height
    best: tuple[float, int, Line] | None = None
    for i, other in enumerate(lines):
        if i in used or other.page != line.page or other is line:
            continue
        gap = other.box[1] - bottom
        if -0.3 * height < gap < 1.5 * height and abs(other.box[0] - x) < 3 * height and (
                best is None or gap < best[0]):
            best = (gap, i, other)
    return (best[1], best[2]) if best else None


def words_after(line: Line, start: int) -> tuple[OcrWord, ...]:
    """The words of ``line`` that begin at or after character ``start`` of its text."""
    out, pos = [], 0
    for w in line.words:
        if pos >= start:
            out.append(w)
        pos += len(w.text) + 1
    return tuple(out)


def pair_tables(lines: Sequence[Line]) -> list[tuple[int, int, int, int]]:
    """Two-column husband/wife tables: (page, top, bottom, x where the wife's column starts).

    The table's head row names the columns ("CHỒNG", "VỢ"); it ends at the first
    document-level label under it (the registration place).
    """
    heads = []
    words = [(line, w) for line in lines for w in line.words]
    for line, w in words:
        if squash(w.text) != "CHONG" or len(line.words) > 4:  # a head row, not a sentence
            continue
        for other_line, v in words:
            if (other_line.page == line.page and squash(v.text) == "VO" and v.left > w.left
                    and abs(_centre(v)[1] - _centre(w)[1]) < max(w.height, v.height)):
                heads.append((line.page, w.top, v.left))
                break
    tables = []
    for page, top, split in heads:
        ends = [line.box[1] for line in lines if line.page == page and line.box[1] > top
                and (found := _find_label(_skeleton(line.text))) is not None
                and (found[2] in _DOCUMENT_FIELDS or found[2].startswith("section:"))]
        tables.append((page, top, min(ends, default=10**9), split))
    return tables


def split_pair(words: Sequence[OcrWord], split: int) -> tuple[list[OcrWord], list[OcrWord]]:
    """Cut a row of the husband/wife table at its widest word gap near the wife's column."""
    if not words:
        return [], []
    height = max(w.height for w in words)
    best, cut = -1.0, len(words)
    for i in range(1, len(words)):  # the wife's values start at her column's head
        gap = words[i].left - (words[i - 1].left + words[i - 1].width)
        if -0.5 * height < words[i].left - split < 1.5 * height and gap > best:
            best, cut = gap, i
    if cut == len(words):
        cut = next((i for i, w in enumerate(words) if w.left >= split - height), len(words))
    return list(words[:cut]), list(words[cut:])


# Labels on the diacritic-free skeleton (pipeline.vn.text.fold), longest first where one is the
# start of another. Each maps to a field name; `section` labels switch whose fields follow.
_LABELS: tuple[tuple[str, str], ...] = (
    # people in a section of their own (the main person's fields stop there)
    ("HO, CHU DEM, TEN NGUOI ME", "section:mother_"),
    ("HO, CHU DEM, TEN NGUOI CHA", "section:father_"),
    ("HO, CHU DEM, TEN NGUOI DI KHAI", "section:declarant_"),
    ("HO VA TEN ME", "section:mother_"),
    ("HO VA TEN CHA", "section:father_"),
    ("HO VA TEN BO", "section:father_"),
    ("THONG TIN NGUOI CHONG", "section:husband_"),
    ("THONG TIN NGUOI VO", "section:wife_"),
    # document-level
    ("NGAY, THANG, NAM DANG KY", "issue_date"),
    ("NGAY, THANG, NAM CAP", "issue_date"),
    ("DATE OF ISSUE", "issue_date"),
    ("NGAY CAP", "issue_date"),
    ("DANG KY LAN DAU", "issue_date"),
    ("NOI DANG KY KHAI SINH / PLACE OF BIRTH", "place_of_birth"),
    ("NOI DANG KY KHAI SINH", "birth_registration"),
    ("NOI DANG KY KET HON", "issuer"),
    ("NOI DANG KY KHAI TU", "issuer"),
    ("SO VAO SO CAP BANG", "register_number"),
    ("SO VAO SO CAP GCN", "register_number"),
    ("SO VAO SO", "register_number"),
    ("SO HIEU", "serial_number"),
    ("MA SO DOANH NGHIEP", "enterprise_code"),
    ("TEN CONG TY VIET BANG TIENG VIET", "company_name"),
    ("TEN CONG TY VIET BANG TIENG VIE", "company_name"),  # OCR drops the last letter
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
    ("NGAY, THANG, NAM CHET", "date_of_death"),
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
_DOCUMENT_FIELDS = {"issue_date", "issuer", "register_number", "serial_number", "expiry_date",
                    "birth_registration"}
# an authority, as opposed to a place: "Ủy ban nhân dân xã …", "UBND phường …"
_AUTHORITY = re.compile(r"^(?:UY BAN|UBND|SO TU PHAP|PHONG TU PHAP|DAI SU QUAN|LANH SU QUAN)")
_HONORIFIC = re.compile(r"^(ÔNG|BÀ|ONG|BA|MR\.?|MS\.?|MRS\.?)\s+", re.IGNORECASE)
# "Số: 236", "Số/No.: 0123", "søNo: 1932…", "sø/o.:" (OCR), also after a header on the line
_NUMBER_LINE = re.compile(r"(?:^|\s)\W{0,3}S\S?\W{0,2}(?:/?\s*N?O\.?)?\s*:\s*(\S+)")
_PLACE_DATE = re.compile(r",\s*NGAY\s+\d{1,2}\s+THANG\s+\d{1,2}\s+NAM\s+\d{4}")
_SERIAL = re.compile(r"(?<![A-Z0-9])([A-Z]{2})\s?(\d{8})(?!\d)")
# a label of our list or not: "Tên công ty viết bằng tiếng nước ngoài: …", "Điện thoại:"
_LABEL_LIKE = re.compile(r"^\W{0,2}(?:\d+\.\s*)?[^\W\d_][^:\d]{0,60}:")
# the classes of Vietnamese driving licences, before and after the 2025 law
LICENSE_CLASSES = frozenset({
    "A1", "A2", "A3", "A4", "A", "B1", "B2", "B", "C", "C1", "D", "D1", "D2", "E", "F",
    "FB2", "FC", "FD", "FE", "BE", "C1E", "CE", "D1E", "D2E", "DE"})
_CLASS_LOOKALIKES = str.maketrans({"l": "1", "I": "1", "|": "1", "i": "1", "O": "0"})
# the province-level unit that ends an address: "tỉnh Nghệ An", "Thành phố Hồ Chí Minh"
_ENDS_AT_PROVINCE = re.compile(r"(?:TINH|THANH PHO)\s+[A-Z]+\s+[A-Z]+(?:\s+[A-Z]+)?$")


_SO_MISREAD = re.compile(r"(?<![A-Z0-9])S[60ØE](?![A-Z0-9])")


def _skeleton(text: str) -> str:
    """The diacritic-free skeleton labels are matched on, with OCR's readings of "Số" ("S6",
    "Sé", "Sø") put back; every replacement keeps the length, so positions still map."""
    return _SO_MISREAD.sub("SO", fold(text))


def _find_label(folded: str, start: int = 0) -> tuple[int, str, str] | None:
    """The earliest label at or after ``start``: (position, label, field)."""
    best = None
    for label, field in _LABELS:
        pos = folded.find(label, start)
        if pos >= 0 and (pos == 0 or not folded[pos - 1].isalpha()) and (
                best is None or pos < best[0] or (pos == best[0] and len(label) > len(best[1]))):
            best = (pos, label, field)
    return best


def _is_labelled(text: str) -> bool:
    """Does the line open with, or hold, a label (ours, or any "Words:" heading)?"""
    folded = _skeleton(text)
    return (_find_label(folded) is not None or _LABEL_LIKE.match(text) is not None
            or any(folded.startswith(stop) for stop in _STOPS))


def _qualifier(text: str) -> bool:
    """Words between a label and its colon that narrow it ("Họ và tên người chết:", "Ngành
    đào tạo:"): up to four lower-case words of letters."""
    words = text.split()
    return 0 < len(words) <= 4 and words[0][:1].islower() and all(w.isalpha() for w in words)


def _value_start(line: Line, pos: int, label: str) -> int:
    """Where the value after a label starts: past the colon, and past an English translation
    ("Họ và tên / Full name:") or a qualifier ("Họ và tên người chết:") before it."""
    text = line.text
    start = pos + len(label)
    colon = text.find(":", start, start + 40)
    between = text[start:colon] if colon >= 0 else ""
    if colon >= 0 and (not between.strip() or between.lstrip().startswith("/")
                       or _qualifier(between)):
        return colon + 1
    return start


def _value_after(line: Line, pos: int, label: str) -> str:
    text, folded = line.text, _skeleton(line.text)
    rest_start = _value_start(line, pos, label)
    end = len(text)
    for stop in (*_STOPS, *(lab for lab, _ in _LABELS)):
        at = folded.find(stop, rest_start)
        if at > rest_start and at < end and not folded[at - 1].isalpha():
            end = at
    return text[rest_start:end].strip(" :;,./|\t")


def _name_value(raw: str) -> str | None:
    # stop at a following label printed on the same line ("... Giới tính: Nữ")
    cut = re.split(r"\s{2,}|Giới tính|Ngày sinh|Sex|Date", raw, maxsplit=1)[0]
    cut = _HONORIFIC.sub("", cut.strip(" :,.-/"))
    return title_name(cut) if looks_like_name(cut) else None


def _license_class(value: str) -> str | None:
    """A class of the closed list, with OCR's l/I/| for 1 and O for 0 read back."""
    token = value.split()[0].strip(" .,;:") if value.split() else ""
    fixed = token[:1].upper() + token[1:].translate(_CLASS_LOOKALIKES).upper()
    return fixed if fixed in LICENSE_CLASSES else None


def _document_number(value: str) -> str | None:
    """A paper's number: OCR reads the slashes of "374/TB-UBND" as I, l or |; a look-alike
    between a number and an upper-case symbol (or the reverse) can only be a slash."""
    token = value.split()[0].strip(" .,;") if value.split() else ""
    token = re.sub(r"(?<=\d)[Il|](?=[A-ZĐ])", "/", token)
    token = re.sub(r"(?<=[A-ZĐ]{2})[Il|](?=\d)", "/", token)
    return token or None


_SERIAL_PREFIX = re.compile(r"^[A-ZĐ]{1,4}$")


def _serial(value: str) -> str | None:
    """A serial or register number kept whole: a series of letters printed apart from its
    digits ("QH 1872343", "CS 08459") stays with them, spelled as printed."""
    parts = value.split()
    if (len(parts) > 1 and _SERIAL_PREFIX.match(parts[0].strip(" .,;:"))
            and parts[1][:1].isdigit()):
        return f"{parts[0].strip(' .,;:')} {_document_number(parts[1]) or parts[1]}"
    return _document_number(value)


def _clean(field: str, value: str) -> str | None:
    """A raw value made into the field's form, or None when it is not one."""
    base = field.split("_", 1)[-1] if field.startswith(_PREFIXES) else field
    if not value:
        return None
    if base == "full_name":
        return _name_value(value)
    if base.endswith(("date_of_birth", "date", "date_of_death")):
        return parse_date(value)
    if base == "sex":
        first = fold(value).split()[0].strip(",/") if value.split() else ""
        return {"NAM": "M", "MALE": "M", "NU": "F", "FEMALE": "F"}.get(first)
    if base == "id_number":
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
    if base == "license_class":
        return _license_class(value)
    if base in ("register_number", "serial_number"):
        return _serial(value)
    if base in ("license_number", "document_number"):
        return _document_number(value)
    return _without_rules(value)


# Table borders and underlines OCR reads as words: "|", "_|", "—___", "=".
_RULE_TOKEN = re.compile(r"^[|_—–=~¦]+$")


def _without_rules(value: str) -> str | None:
    """A text value without the table borders and underlines read into it."""
    kept = " ".join(w for w in value.split() if not _RULE_TOKEN.match(w))
    return kept or None


def _wraps(field: str) -> bool:
    return field.endswith(("issuer", "birth_registration", "place_of_birth", "place_of_origin",
                           "place_of_residence", "company_name", "last_residence", "major"))


def _continues(previous: Line, value: str, nxt: Line) -> bool:
    """Does ``nxt`` carry on a value that ``previous`` ended?

    Yes when the previous line ran to the right margin, ended on a comma or a lowercase word
    ("thành phố"), or ``nxt`` opens with a fragment ("An, tỉnh Quảng Nam") or a lowercase word.
    Never into a label ("Điện thoại:"), the place-and-date line above the signature, or a new
    sentence after an address already complete up to its province.
    """
    text = nxt.text.strip()
    words = text.split()
    if not words or _is_labelled(text) or _PLACE_DATE.search(fold(text)):
        return False
    if (_ENDS_AT_PROVINCE.search(fold(value)) and words[0][:1].isupper()
            and not words[0].endswith(",") and len(words) >= 4):
        return False
    if previous.text_right and previous.right >= previous.text_right * 0.85:
        return True
    last = value.split()[-1] if value.split() else ""
    return (previous.text.rstrip().endswith(",") or last[:1].islower()
            or words[0].endswith(",") or words[0][:1].islower())


def _joined(value: str, previous: Line, more: str) -> str:
    comma = previous.text.rstrip().endswith(",") and not value.endswith(",")
    return f"{value}{',' if comma else ''} {more}"


class _Reader:
    """One pass over a document's lines; fields are filled first come, first kept."""

    def __init__(self, pages: Sequence[OcrPage], doc_type: str) -> None:
        self.lines = page_lines(pages)
        self.doc_type = doc_type
        self.fields: dict[str, Field] = {}
        self.used: set[int] = set()  # lines already taken as a value beside their label
        self.tables = pair_tables(self.lines)
        self.alias: dict[str, str] = {}  # a label's field once its value told which it is

    def put(self, name: str, value: str | None, line: Line, conf: float | None = None) -> None:
        if value and name == "birth_registration":  # an office registers, a place is a birth
            self.alias[name] = "issuer" if _AUTHORITY.match(fold(value)) else "place_of_birth"
        name = self.alias.get(name, name)
        if value and name in FIELD_NAMES and name not in self.fields:
            score = line.conf if conf is None else conf
            self.fields[name] = Field(name, value, round(score, 3), line.page, line.box)

    def _field(self, name: str) -> Field | None:
        return self.fields.get(self.alias.get(name, name))

    def extend(self, name: str, line: Line) -> None:
        """Add a wrapped line to a text value, keeping the comma OCR put at the line end."""
        previous = self._last_part.get(name)
        name = self.alias.get(name, name)
        old = self.fields[name]
        previous = previous or self._last_part.get(name)
        value = _joined(old.value, previous, line.text.strip()) if previous else \
            f"{old.value} {line.text.strip()}"
        self.fields[name] = Field(name, value, min(old.confidence, round(line.conf, 3)),
                                  old.page, old.box)
        self._last_part = {k: v for k, v in self._last_part.items()
                           if self.alias.get(k, k) != name}
        self._last_part[name] = line

    _last_part: dict[str, Line]

    def read(self) -> None:
        self._last_part = {}
        section = ""
        pending: tuple[str, str, Line] | None = None  # (field, name): value on the next line
        continuing: tuple[str, Line] | None = None  # a text value that may wrap
        for index, line in enumerate(self.lines):
            if index in self.used:
                continue
            folded = _skeleton(line.text)
            found = _find_label(folded)
            if found is None:
                if pending is not None:  # the value under its label
                    field, name, label_line = pending
                    pending = None
                    value = _clean(field, line.text.strip())
                    self.put(name, value, label_line)
                    if value and _wraps(name):
                        continuing = (name, line)
                        self._last_part[name] = line
                    continue
                known = self._field(continuing[0]) if continuing else None
                if continuing is not None and known and _continues(continuing[1], known.value,
                                                                   line):
                    self.extend(continuing[0], line)
                    continuing = (continuing[0], line)
                    continue
                continuing = None
                self._unlabelled(line, folded)
                continue
            continuing = None
            pending = None
            table = self._table_of(line)
            while found is not None:
                at, label, field = found
                if field.startswith("section:"):
                    section = field.split(":", 1)[1]
                    if "THONG TIN" not in label:  # "tên người mẹ: X" names the section's person
                        name = f"{section}full_name"
                        if self._labelled(line, at, label, "full_name", name) == "pending":
                            pending = ("full_name", name, line)
                elif table is not None and field not in _DOCUMENT_FIELDS:
                    self._pair(line, at, label, field, table)
                else:
                    name = field if field in _DOCUMENT_FIELDS else f"{section}{field}"
                    if field in _DOCUMENT_FIELDS:
                        table = None
                    outcome = self._labelled(line, at, label, field, name)
                    if outcome == "pending":
                        pending = (field, name, line)
                    elif outcome and _wraps(field):
                        continuing = (name, outcome)
                found = _find_label(folded, at + len(label))

    def _labelled(self, line: Line, at: int, label: str, field: str, name: str
                  ) -> Line | str | None:
        """The value after a label, or beside it in a two-column layout (then the lines
        under that value that carry it on). Returns the last line of the value, "pending"
        when the value must be under the label, or None."""
        raw = _value_after(line, at, label)
        if raw:
            value = _clean(field, raw)
            self.put(name, value, line)
            self._last_part[name] = line
            return line if value else None
        found = beside(self.lines, line, self.used,
                       lambda text: not _is_labelled(text) and _clean(field, text) is not None)
        if found is None:
            return "pending"
        index, value_line = found
        self.used.add(index)
        self.put(name, _clean(field, value_line.text), value_line)
        self._last_part[name] = value_line
        last = value_line
        name = self.alias.get(name, name)
        while _wraps(name) and name in self.fields:
            more = below(self.lines, last, self.used)
            if more is None or self._row_has_label(more[1]) or not _continues(
                    last, self.fields[name].value, more[1]):
                break
            self.used.add(more[0])
            self.extend(name, more[1])
            last = more[1]
        return None

    def _row_has_label(self, line: Line) -> bool:
        """A line with a label left of it on its row starts a new row of a table."""
        return any(other.page == line.page and other.right < line.box[0]
                   and abs(other.centre_y() + other.slope * (line.box[0] - other.right)
                           - line.centre_y()) < 0.8 * max(other.box[3], line.box[3])
                   and _is_labelled(other.text) for other in self.lines)

    def _table_of(self, line: Line) -> tuple[int, int, int] | None:
        for page, top, bottom, split in self.tables:
            if line.page == page and top < line.centre_y() < bottom:
                return page, top, split
        return None

    def _pair(self, line: Line, at: int, label: str, field: str,
              table: tuple[int, int, int]) -> None:
        """A row of the husband/wife table: one label, the husband's value left of the
        column split, the wife's right of it."""
        words = words_after(line, _value_start(line, at, label))
        while True:  # each column may come as a line of its own
            found = beside(self.lines, line, self.used, lambda text: not _is_labelled(text))
            if found is None:
                break
            self.used.add(found[0])
            words = tuple(sorted((*words, *found[1].words), key=lambda w: w.left))
        for prefix, part in zip(("husband_", "wife_"), split_pair(words, table[2]),
                                strict=True):
            if part:
                value = _clean(field, " ".join(w.text for w in part))
                self.put(f"{prefix}{field}", value, Line(line.page, tuple(part),
                                                         line.page_height, line.text_right))

    def _unlabelled(self, line: Line, folded: str) -> None:
        """Values printed without a label: numbers at the top, bare 12-digit IDs, serials."""
        doc_type, fields = self.doc_type, self.fields
        # a paper's own number sits in its header; a card's anywhere
        anywhere = doc_type in ("driving_license", "citizen_id")
        m = _NUMBER_LINE.search(folded) if anywhere or line.top_share < 0.3 else None
        if m:
            rest = line.text[m.start(1):].split()
            value = rest[0].strip(" ._") if rest else ""
            if doc_type == "driving_license":
                self.put("license_number", re.sub(r"\D", "", value) or None, line)
            elif doc_type == "citizen_id":
                self.put("id_number", _clean("id_number", value), line)
            else:
                self.put("document_number", _document_number(value), line)
        compact = re.sub(r"(?<=\d)[ .](?=\d)", "", line.text)
        if doc_type == "driving_license" and "license_number" not in fields:
            # licence numbers (since 2013) are 12 digits, the only such run on the card
            hit = _ID12.search(compact)
            if hit:
                self.put("license_number", hit.group(1), line)
        if doc_type != "driving_license" and "id_number" not in fields:
            for hit in _ID12.finditer(compact):
                if is_valid_personal_id(hit.group(1)):
                    self.put("id_number", hit.group(1), line)
                    break
        if doc_type == "land_use_cert":
            hit = _SERIAL.search(folded)
            if hit:
                self.put("serial_number", hit.group(1) + hit.group(2), line)

    def finish(self) -> None:
        """The place-and-date line above the signature ("Hà Nội, ngày 20 tháng 12 năm
        2017") is the issue date when the paper prints no other; names get the diacritics
        the paper itself shows elsewhere (see pipeline.vn.names)."""
        if "issue_date" not in self.fields:
            for line in self.lines:
                if _PLACE_DATE.search(fold(line.text)):
                    self.put("issue_date", parse_date(line.text), line)
                    break
        texts = [line.text for line in self.lines]
        for name, f in list(self.fields.items()):
            if name.endswith("full_name"):
                value, conf = repair_name(f.value, texts, f.confidence)
                self.fields[name] = Field(name, value, round(conf, 3), f.page, f.box)
            elif _wraps(name):
                self.fields[name] = Field(name, f.value.rstrip(" ,;"), f.confidence, f.page,
                                          f.box)


def extract(pages: Sequence[OcrPage], doc_type: str, card: CardQr | None = None,
            card_page: int = 0) -> Extraction:
    """Fields by their printed labels, values on the same line, beside or under them.

    Sections ("người mẹ", "người chồng", …) prefix the fields that follow them, so a parent's
    or a spouse's data never lands on the main person; only prefixed names that domain.md
    defines are kept. Wrapped values (addresses, issuers, company names) continue on the
    following lines. ``card`` is a chip-card QR code read from page ``card_page``.
    """
    reader = _Reader(pages, doc_type)
    reader.read()
    reader.finish()
    fields = reader.fields
    _official_unit_names(fields)
    warnings = _cross_check(fields)
    warnings += _from_mrz(pages, fields)
    if card is not None:
        warnings += _from_card_qr(card, card_page, fields)
    return Extraction(tuple(fields.values()), tuple(warnings))


def _official_unit_names(fields: dict[str, Field]) -> None:
    """Administrative-unit names in places and issuers spelled as the official lists spell
    them (OCR loses tone marks: "tỉnh Binh Định"); the era of the address is never changed."""
    for name in PLACE_FIELDS:
        found = fields.get(name)
        fixed = normalise_place(found.value) if found else None
        if found and fixed and fixed != found.value:
            fields[name] = replace(found, value=fixed)


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


def _from_card_qr(card: CardQr, page: int, fields: dict[str, Field]) -> list[str]:
    """The chip card's QR code: Reed-Solomon protected, so its values fill missing fields at
    full confidence when its own ID agrees with its birth date and sex (half otherwise), and
    a printed or MRZ value that says otherwise is a conflict for review.

    A name or address that differs from the code only in diacritics or punctuation is OCR
    damage, not a conflict: the code's spelling replaces it.
    """
    conf = 1.0 if card.valid else 0.5
    conflicts = [f"{CONFLICT_PREFIX}QR code: {p}" for p in card.problems]
    for name, value in card.field_values().items():
        if name not in FIELD_NAMES:
            continue
        old = fields.get(name)
        if old is None or (old.value != value and name in ("full_name", "place_of_residence")
                           and squash(old.value) == squash(value)):
            fields[name] = Field(name, value, conf, page, card.box)
        elif old.value != value:
            conflicts.append(f"{CONFLICT_PREFIX}{name}: read {old.value}, QR {value}")
    return conflicts
