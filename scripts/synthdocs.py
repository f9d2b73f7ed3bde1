"""Labelled synthetic scans of Vietnamese papers, to measure document understanding.

Why this exists: classification and field extraction need ground truth that real papers cannot
give (personal data must never enter the repository), in enough variety (layouts, fonts, scan
damage, papers that must be refused) that a figure measured on it means something. Every
person, number and seal here is invented; place names are real so addresses look plausible.

`generate()` writes the images and `labels.jsonl`, one JSON object per document:

    file          image name inside the output folder
    doc_type      the paper drawn (type codes of docs/domain.md)
    fields        what the paper shows, by domain.md field name: person names in title case
                  NFC, dates ISO 8601, sex M/F, numbers as printed (land serial without the
                  space), area_m2 with a decimal point
    expected      "ok", or "rejected:<reason code>" with a code of pipeline.reasons
    degradations  scan damage applied, as "name:parameter"
    layout, font, dpi; side ("front"/"back") for citizen_id; mrz (3 lines) on card backs,
                  qr (the text of the real QR symbol) on chip ID card fronts

Determinism: one random stream per (seed, type, index), so document k of a type is the same
whatever `per_type` is, and the files are byte-identical on the same Pillow/OpenCV build.
This file is long on purpose: ten paper types with two layouts each are data, not logic.
"""

from __future__ import annotations

import io
import json
import math
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from functools import cache
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont
from reportlab.graphics.barcode import qrencoder

Rng = np.random.Generator
RGB = tuple[int, int, int]

DOC_TYPES = (
    "birth_cert", "marriage_cert", "death_extract", "marital_status", "citizen_id",
    "driving_license", "university_diploma", "business_registration", "land_use_cert", "other",
)
CARD_TYPES = ("citizen_id", "driving_license")
# the refusals a scan can earn by itself (pipeline.reasons codes)
BAD_KINDS = ("blank_page", "classified", "illegible", "low_resolution")
SECRET_MARKS = ("MẬT", "TỐI MẬT", "TUYỆT MẬT", "KHÔNG ĐƯỢC SAO CHỤP")

A4_MM = (210.0, 297.0)
A4_LANDSCAPE_MM = (297.0, 210.0)
CARD_MM = (85.6, 53.98)
BED_MM = 4.0  # scanner glass visible around a card
PAPER_DPIS = (200, 250, 300)
CARD_DPIS = (300, 450, 600)
LOW_DPI_PAPER = (100, 120)
# card text is about half the size of A4 body text, so "low" is higher for cards
LOW_DPI_CARD = (200,)
# Refused as low_resolution: clearly below Limits.refuse_below_dpi (50). Clean type at 50 dpi
# still OCRs almost perfectly once upscaled, so 50 itself would be a wrong label.
UNREADABLE_DPI = 40

INK: RGB = (20, 20, 26)
RED: RGB = (196, 30, 40)
PEN: RGB = (28, 46, 132)
MOTTO = ("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc")
MOTTO_EN = ("SOCIALIST REPUBLIC OF VIET NAM", "Independence - Freedom - Happiness")

# --------------------------------------------------------------------------- fonts

_FONT_DIRS = (
    Path("/usr/share/fonts/truetype/liberation2"),
    Path("/usr/share/fonts/truetype/liberation"),
    Path("/usr/share/fonts/truetype/dejavu"),
)
FAMILIES: dict[str, dict[str, str]] = {
    "liberation-serif": {"regular": "LiberationSerif-Regular.ttf",
                         "bold": "LiberationSerif-Bold.ttf",
                         "italic": "LiberationSerif-Italic.ttf"},
    "liberation-sans": {"regular": "LiberationSans-Regular.ttf",
                        "bold": "LiberationSans-Bold.ttf", "italic": "LiberationSans-Italic.ttf"},
    "dejavu-serif": {"regular": "DejaVuSerif.ttf", "bold": "DejaVuSerif-Bold.ttf",
                     "italic": "DejaVuSerif-Italic.ttf"},
    "dejavu-sans": {"regular": "DejaVuSans.ttf", "bold": "DejaVuSans-Bold.ttf",
                    "italic": "DejaVuSans-Oblique.ttf"},
    "dejavu-sans-condensed": {"regular": "DejaVuSansCondensed.ttf",
                              "bold": "DejaVuSansCondensed-Bold.ttf",
                              "italic": "DejaVuSansCondensed-Oblique.ttf"},
}
MONO_FILES = ("DejaVuSansMono-Bold.ttf", "LiberationMono-Bold.ttf")
PAPER_FONTS = ("liberation-serif", "dejavu-serif", "liberation-sans", "dejavu-sans")
CARD_FONTS = ("liberation-sans", "dejavu-sans-condensed", "dejavu-sans", "liberation-serif")


@cache
def _font_file(name: str) -> str:
    for folder in _FONT_DIRS:
        if (folder / name).is_file():
            return str(folder / name)
    raise FileNotFoundError(f"{name}: install fonts-liberation2 and fonts-dejavu-core")


@cache
def _font(name: str, px: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(_font_file(name), max(px, 6))


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def ascii_fold(text: str) -> str:
    """'Nguyễn Thị Đào' -> 'Nguyen Thi Dao' (MRZ, English halves of diplomas)."""
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


class Sheet:
    """A page measured in millimetres and points and drawn at any dpi, so one layout serves
    200-dpi and 600-dpi scans alike."""

    def __init__(self, size_mm: tuple[float, float], dpi: int, family: str,
                 background: RGB = (255, 255, 255)) -> None:
        self.dpi, self.family = dpi, family
        self.ppm = dpi / 25.4
        self.w_mm, self.h_mm = size_mm
        self.img = Image.new("RGB", (round(self.w_mm * self.ppm), round(self.h_mm * self.ppm)),
                             background)
        self.draw = ImageDraw.Draw(self.img)

    def px(self, mm: float) -> int:
        return round(mm * self.ppm)

    def font(self, pt: float, style: str = "regular") -> ImageFont.FreeTypeFont:
        name = MONO_FILES[0] if style == "mono" else FAMILIES[self.family][style]
        if style == "mono" and not _has(MONO_FILES[0]):
            name = MONO_FILES[1]
        return _font(name, round(pt * self.dpi / 72))

    def width(self, text: str, pt: float, style: str = "regular") -> float:
        return self.font(pt, style).getlength(nfc(text)) / self.ppm

    def fit(self, text: str, pt: float, style: str, max_mm: float) -> float:
        """The point size at which `text` fits `max_mm` (never larger than asked)."""
        w = self.width(text, pt, style)
        return pt if w <= max_mm else pt * max_mm / w

    def text(self, x: float, y: float, text: str, pt: float, style: str = "regular",
             fill: RGB = INK, anchor: str = "ls") -> float:
        """Draw with the baseline at y; returns the x where the next run would start."""
        self.draw.text((self.px(x), self.px(y)), nfc(text), font=self.font(pt, style),
                       fill=fill, anchor=anchor)
        return x + self.width(text, pt, style)

    def centered(self, cx: float, y: float, text: str, pt: float, style: str = "bold",
                 fill: RGB = INK, max_mm: float = 170.0) -> None:
        pt = self.fit(text, pt, style, max_mm)
        self.draw.text((self.px(cx), self.px(y)), nfc(text), font=self.font(pt, style),
                       fill=fill, anchor="ms")

    def runs(self, x: float, y: float, runs: Sequence[tuple[str, float, str]],
             fill: RGB = INK, right: bool = False) -> float:
        if right:
            x -= sum(self.width(t, pt, st) for t, pt, st in runs)
        for text, pt, style in runs:
            x = self.text(x, y, text, pt, style, fill)
        return x

    def hline(self, x0: float, x1: float, y: float, width_mm: float = 0.3,
              fill: RGB = INK) -> None:
        self.draw.line([(self.px(x0), self.px(y)), (self.px(x1), self.px(y))], fill=fill,
                       width=max(1, self.px(width_mm)))

    def rect(self, x0: float, y0: float, x1: float, y1: float, width_mm: float = 0.3,
             outline: RGB | None = INK, fill: RGB | None = None) -> None:
        self.draw.rectangle([self.px(x0), self.px(y0), self.px(x1), self.px(y1)],
                            outline=outline, fill=fill, width=max(1, self.px(width_mm)))

    def wrap(self, text: str, pt: float, style: str, max_mm: float) -> list[str]:
        lines: list[str] = []
        for word in text.split():
            if lines and self.width(f"{lines[-1]} {word}", pt, style) <= max_mm:
                lines[-1] = f"{lines[-1]} {word}"
            else:
                lines.append(word)
        return lines or [""]


@cache
def _has(name: str) -> bool:
    return any((folder / name).is_file() for folder in _FONT_DIRS)


def available_families(families: Sequence[str]) -> tuple[str, ...]:
    return tuple(f for f in families if all(_has(n) for n in FAMILIES[f].values()))


# --------------------------------------------------------------------------- people and places

FAMILY_NAMES = (  # weighted roughly by frequency
    ("Nguyễn", 30), ("Trần", 10), ("Lê", 9), ("Phạm", 7), ("Hoàng", 4), ("Huỳnh", 3),
    ("Phan", 4), ("Vũ", 3), ("Võ", 3), ("Đặng", 2), ("Bùi", 2), ("Đỗ", 2), ("Hồ", 1),
    ("Ngô", 1), ("Dương", 1), ("Lý", 1), ("Đinh", 1), ("Trịnh", 1), ("Đoàn", 1),
    ("Lương", 1), ("Trương", 1), ("Mai", 1), ("Cao", 1), ("Tạ", 1), ("Lâm", 1), ("Quách", 1),
)
MIDDLE_M = ("Văn", "Hữu", "Đức", "Minh", "Quang", "Thành", "Công", "Xuân", "Gia", "Ngọc",
            "Đình", "Trọng", "Tuấn", "Hoàng", "Quốc", "Mạnh")
MIDDLE_F = ("Thị", "Ngọc", "Thu", "Thanh", "Minh", "Kim", "Phương", "Bảo", "Hồng", "Thùy",
            "Khánh", "Diệu", "Mỹ", "Hoài", "Thị Thu", "Thị Mai")
GIVEN_M = ("Anh", "Bình", "Cường", "Dũng", "Duy", "Đạt", "Hải", "Hiếu", "Hoàng", "Hùng", "Huy",
           "Khoa", "Khánh", "Long", "Minh", "Nam", "Nghĩa", "Phong", "Phúc", "Quân", "Sơn",
           "Thắng", "Thành", "Trung", "Tuấn", "Việt", "Vinh", "Lộc", "Toàn", "Kiên", "Đức",
           "Tùng", "Thịnh", "Lực")
GIVEN_F = ("An", "Anh", "Chi", "Dung", "Giang", "Hà", "Hằng", "Hạnh", "Hoa", "Hương", "Huyền",
           "Lan", "Linh", "Loan", "Mai", "My", "Nga", "Ngân", "Nhung", "Oanh", "Phương", "Quỳnh",
           "Thảo", "Thủy", "Trang", "Trâm", "Tuyết", "Uyên", "Vân", "Yến", "Ánh", "Ngọc", "Thư")
ETHNICITIES = ("Kinh", "Kinh", "Kinh", "Kinh", "Tày", "Thái", "Mường", "Khmer", "Hoa", "Nùng")
STREETS = ("Lê Lợi", "Trần Hưng Đạo", "Nguyễn Trãi", "Hai Bà Trưng", "Lý Thường Kiệt",
           "Quang Trung", "Điện Biên Phủ", "Phan Chu Trinh", "Hoàng Diệu", "Bà Triệu",
           "Nguyễn Du", "Lê Duẩn", "Võ Thị Sáu", "Hùng Vương", "Nguyễn Văn Cừ", "Trường Chinh")
VILLAGES = ("Thôn Đông", "Thôn Đoài", "Thôn Trung", "Thôn Thượng", "Xóm 3", "Ấp 2",
            "Thôn Phú Mỹ", "Thôn An Lạc", "Tổ dân phố 5")


@dataclass(frozen=True)
class Place:
    """A commune of the pre-2025 three-level map (papers naming old units stay valid)."""

    code: str  # old 63-province code used in personal IDs
    province: str  # as printed after the district: "thành phố Hà Nội", "tỉnh Nghệ An"
    district: str
    commune: str

    @property
    def short(self) -> str:
        """The province name a place-and-date line starts with ("Hà Nội, ngày ...")."""
        name = self.province.split(" ", 2)[-1] if self.province.startswith(("thành phố",
                                                                          "Thành phố")) else \
            self.province.removeprefix("tỉnh ")
        return "TP. Hồ Chí Minh" if name == "Hồ Chí Minh" else name

    @property
    def address(self) -> str:
        return cap(f"{self.commune}, {self.district}, {self.province}")

    @property
    def commune_name(self) -> str:
        return self.commune.split(" ", 1)[1]


PLACES = tuple(Place(*p) for p in (
    ("001", "thành phố Hà Nội", "quận Đống Đa", "phường Kim Liên"),
    ("001", "thành phố Hà Nội", "huyện Gia Lâm", "xã Ninh Hiệp"),
    ("001", "thành phố Hà Nội", "quận Cầu Giấy", "phường Dịch Vọng Hậu"),
    ("001", "thành phố Hà Nội", "huyện Đông Anh", "xã Uy Nỗ"),
    ("079", "Thành phố Hồ Chí Minh", "Quận 1", "phường Bến Nghé"),
    ("079", "Thành phố Hồ Chí Minh", "quận Bình Thạnh", "phường 25"),
    ("079", "Thành phố Hồ Chí Minh", "huyện Củ Chi", "xã Tân Thông Hội"),
    ("079", "Thành phố Hồ Chí Minh", "thành phố Thủ Đức", "phường Thảo Điền"),
    ("048", "thành phố Đà Nẵng", "quận Hải Châu", "phường Thạch Thang"),
    ("048", "thành phố Đà Nẵng", "huyện Hòa Vang", "xã Hòa Phong"),
    ("031", "thành phố Hải Phòng", "quận Ngô Quyền", "phường Máy Tơ"),
    ("092", "thành phố Cần Thơ", "quận Ninh Kiều", "phường Cái Khế"),
    ("040", "tỉnh Nghệ An", "thành phố Vinh", "phường Trường Thi"),
    ("040", "tỉnh Nghệ An", "huyện Nghi Lộc", "xã Nghi Phong"),
    ("038", "tỉnh Thanh Hóa", "thành phố Thanh Hóa", "phường Đông Thọ"),
    ("046", "tỉnh Thừa Thiên Huế", "thành phố Huế", "phường Vĩnh Ninh"),
    ("027", "tỉnh Bắc Ninh", "thành phố Từ Sơn", "phường Đồng Kỵ"),
    ("056", "tỉnh Khánh Hòa", "thành phố Nha Trang", "phường Lộc Thọ"),
    ("068", "tỉnh Lâm Đồng", "thành phố Đà Lạt", "phường 1"),
    ("022", "tỉnh Quảng Ninh", "thành phố Hạ Long", "phường Hồng Hải"),
    ("066", "tỉnh Đắk Lắk", "thành phố Buôn Ma Thuột", "phường Tân Lập"),
    ("075", "tỉnh Đồng Nai", "thành phố Biên Hòa", "phường Quyết Thắng"),
    ("074", "tỉnh Bình Dương", "thành phố Thủ Dầu Một", "phường Phú Cường"),
    ("034", "tỉnh Thái Bình", "thành phố Thái Bình", "phường Trần Hưng Đạo"),
    ("019", "tỉnh Thái Nguyên", "thành phố Thái Nguyên", "phường Hoàng Văn Thụ"),
    ("049", "tỉnh Quảng Nam", "thành phố Hội An", "xã Cẩm Thanh"),
    ("052", "tỉnh Bình Định", "thành phố Quy Nhơn", "phường Trần Phú"),
    ("082", "tỉnh Tiền Giang", "thành phố Mỹ Tho", "phường 7"),
    ("089", "tỉnh An Giang", "thành phố Long Xuyên", "phường Mỹ Bình"),
    ("096", "tỉnh Cà Mau", "thành phố Cà Mau", "phường 5"),
    ("037", "tỉnh Ninh Bình", "huyện Hoa Lư", "xã Trường Yên"),
    ("010", "tỉnh Lào Cai", "thị xã Sa Pa", "phường Sa Pa"),
))
# first two digits of enterprise codes (tax codes) by province, the few we draw
ENTERPRISE_PREFIX = {"001": "01", "079": "03", "048": "04", "031": "02", "092": "18",
                     "040": "29", "038": "28", "074": "37", "075": "36", "056": "42"}


def cap(text: str) -> str:
    return text[:1].upper() + text[1:]


@dataclass(frozen=True)
class Person:
    full_name: str  # title case NFC, the ground truth
    sex: str  # "M" | "F"
    dob: date
    id_number: str
    origin: Place  # birth registration: the province code of the ID
    home: Place  # where they live now
    street: str

    @property
    def upper(self) -> str:
        return self.full_name.upper()

    @property
    def sex_vn(self) -> str:
        return "Nam" if self.sex == "M" else "Nữ"

    @property
    def honorific(self) -> str:
        return "Ông" if self.sex == "M" else "Bà"

    @property
    def residence(self) -> str:
        return f"{self.street}, {self.home.address[:1].lower()}{self.home.address[1:]}"


def _pick(rng: Rng, items: Sequence):
    return items[int(rng.integers(len(items)))]


def _day(rng: Rng, first: date, last: date) -> date:
    return date.fromordinal(int(rng.integers(first.toordinal(), last.toordinal() + 1)))


def anniversary(d: date, years: int) -> date:
    try:
        return d.replace(year=d.year + years)
    except ValueError:  # 29 February
        return date(d.year + years, 2, 28)


def personal_id(code: str, dob: date, sex: str, rng: Rng) -> str:
    """Province of birth registration, century/sex digit, birth year, six serial digits."""
    digit = 2 * (dob.year // 100 - 19) + (1 if sex == "F" else 0)
    return f"{code}{digit}{dob.year % 100:02d}{int(rng.integers(0, 1_000_000)):06d}"


def make_person(rng: Rng, born: tuple[date, date], sex: str | None = None,
                family: str | None = None) -> Person:
    sex = sex or ("M" if rng.random() < 0.5 else "F")
    names, weights = zip(*FAMILY_NAMES, strict=True)
    p = np.asarray(weights, dtype=float) / sum(weights)
    family = family or names[int(rng.choice(len(names), p=p))]
    middle = _pick(rng, [m for m in (MIDDLE_M if sex == "M" else MIDDLE_F) if m != family])
    given = _pick(rng, GIVEN_M if sex == "M" else GIVEN_F)
    if rng.random() < 0.2:  # four-word names are common
        middle = f"{middle} {_pick(rng, GIVEN_M if sex == 'M' else GIVEN_F)}"
        if given in middle:
            given = _pick(rng, [g for g in (GIVEN_M if sex == "M" else GIVEN_F)
                                if g not in middle])
    dob = _day(rng, *born)
    origin = _pick(rng, PLACES)
    home = origin if rng.random() < 0.5 else _pick(rng, PLACES)
    if home.commune.startswith("xã"):
        street = _pick(rng, VILLAGES)
    else:
        street = f"Số {int(rng.integers(1, 300))} đường {_pick(rng, STREETS)}"
    return Person(nfc(f"{family} {middle} {given}"), sex, dob,
                  personal_id(origin.code, dob, sex, rng), origin, home, street)


# --------------------------------------------------------------------------- dates in words

_DIGIT_WORDS = ("không", "một", "hai", "ba", "bốn", "năm", "sáu", "bảy", "tám", "chín")


def _below_hundred(n: int) -> str:
    if n < 10:
        return _DIGIT_WORDS[n]
    tens, units = divmod(n, 10)
    head = "mười" if tens == 1 else f"{_DIGIT_WORDS[tens]} mươi"
    if units == 0:
        return head
    if units == 5:
        tail = "lăm"
    elif units == 1 and tens > 1:
        tail = "mốt"
    elif units == 4 and tens > 1:
        tail = "tư"
    else:
        tail = _DIGIT_WORDS[units]
    return f"{head} {tail}"


def number_in_words(n: int) -> str:
    """0..9999 as Vietnamese words: 2024 -> 'hai nghìn không trăm hai mươi tư'."""
    thousands, rest = divmod(n, 1000)
    hundreds, tail = divmod(rest, 100)
    parts = []
    if thousands:
        parts.append(f"{_DIGIT_WORDS[thousands]} nghìn")
    if hundreds or (thousands and tail):
        parts.append(f"{_DIGIT_WORDS[hundreds]} trăm")
    if tail:
        parts.append(f"linh {_DIGIT_WORDS[tail]}" if parts and tail < 10 else _below_hundred(tail))
    return " ".join(parts) or "không"


def date_in_words(d: date) -> str:
    month = "tư" if d.month == 4 else number_in_words(d.month)
    return f"ngày {number_in_words(d.day)} tháng {month} năm {number_in_words(d.year)}"


def long_date(d: date) -> str:
    """'ngày 05 tháng 02 năm 2024': days 1-9 and months 1-2 zero-padded (Decree 30/2020)."""
    month = f"{d.month:02d}" if d.month <= 2 else str(d.month)
    return f"ngày {d.day:02d} tháng {month} năm {d.year}"


def short_date(d: date) -> str:
    return d.strftime("%d/%m/%Y")


# --------------------------------------------------------------------------- MRZ (ICAO 9303 TD1)


def mrz_check_digit(data: str) -> str:
    total = 0
    for i, ch in enumerate(data):
        value = int(ch) if ch.isdigit() else (ord(ch) - 55 if ch.isalpha() else 0)
        total += value * (7, 3, 1)[i % 3]
    return str(total % 10)


def td1_mrz(id_number: str, name: str, dob: date, sex: str, expiry: date) -> tuple[str, ...]:
    """The back-side MRZ of a Vietnamese ID card: document number = last 9 ID digits, the full
    12-digit ID in the optional data, name without diacritics."""
    doc = id_number[3:]
    line1 = f"IDVNM{doc}{mrz_check_digit(doc)}{id_number}<<<"
    birth, until = dob.strftime("%y%m%d"), expiry.strftime("%y%m%d")
    head = f"{birth}{mrz_check_digit(birth)}{sex}{until}{mrz_check_digit(until)}VNM{'<' * 11}"
    composite = line1[5:30] + head[0:7] + head[8:15] + head[18:29]
    line2 = head + mrz_check_digit(composite)
    family, _, rest = ascii_fold(name).upper().partition(" ")
    line3 = f"{family}<<{rest.replace(' ', '<')}"[:30].ljust(30, "<")
    return line1, line2, line3


# --------------------------------------------------------------------------- paper specifications


@dataclass(frozen=True)
class Line:
    """One printed line of label/value cells ("Giới tính: Nữ   Dân tộc: Kinh")."""

    cells: tuple[tuple[str, str], ...]
    strong: bool = False


def line(label: str, value: str, strong: bool = False) -> Line:
    return Line(((label, value),), strong)


@dataclass(frozen=True)
class Heading:
    text: str


@dataclass(frozen=True)
class Para:
    text: str
    italic: bool = False


@dataclass(frozen=True)
class Center:
    text: str
    pt: float = 13.0
    style: str = "bold"
    color: RGB = INK


@dataclass(frozen=True)
class Pair:
    """A row of the two-column husband/wife table of a marriage certificate."""

    label: str
    left: str
    right: str
    strong: bool = False


Row = Line | Heading | Para | Center | Pair


@dataclass(frozen=True)
class Paper:
    """An A4 administrative paper, drawn by the "form" or the "table" layout."""

    authority: tuple[str, ...]
    title: tuple[str, ...]
    body: tuple[Row, ...]
    numbers: tuple[tuple[str, str], ...] = ()
    subtitle: tuple[str, ...] = ()
    place_date: str = ""
    signer: tuple[str, ...] = ()
    signer_name: str = ""
    seal: tuple[str, str] = ("", "")
    footer: tuple[tuple[str, str], ...] = ()  # numbers printed bottom left (diplomas)
    red_serial: str = ""  # printed red, bottom right (land certificates)
    title_color: RGB = INK
    mark: str = ""  # secret / no-copy stamp


@dataclass(frozen=True)
class Diploma:
    """A landscape bilingual diploma: English left half, Vietnamese right half."""

    left: tuple[Center, ...]
    right: tuple[Center, ...]
    footer: tuple[tuple[str, str], ...]
    signer: tuple[str, ...]
    signer_name: str
    seal: tuple[str, str]
    mark: str = ""


@dataclass(frozen=True)
class CardRow:
    label: str
    value: str = ""
    below: bool = False  # the value on its own line(s) under the label
    column: int = 0  # 1: on the previous row's line, right half
    pt: float = 0.0  # value size; 0 = the card's default


@dataclass(frozen=True)
class Card:
    palette: str  # "cccd" | "cancuoc" | "license"
    rows: tuple[CardRow, ...]
    header: tuple[str, ...] = ()
    title: tuple[str, ...] = ()
    photo: bool = True
    emblem: bool = True
    under_photo: tuple[tuple[str, bool], ...] = ()  # (text, bold)
    chip: bool = False
    fingerprints: bool = False
    qr: bool = False  # a decorative QR-like grid
    qr_payload: str = ""  # a real QR symbol holding this text (chip ID cards)
    mrz: tuple[str, ...] = ()
    signer: tuple[str, ...] = ()
    signer_name: str = ""
    mark: str = ""


Spec = Paper | Diploma | Card


@dataclass(frozen=True)
class Drawn:
    spec: Spec
    fields: dict[str, str]
    layout: str
    extra: dict = field(default_factory=dict)


# --------------------------------------------------------------------------- drawing helpers


def _multiply(base: Image.Image, layer: Image.Image, xy: tuple[int, int]) -> None:
    """Multiply an RGBA layer onto base: stamp ink darkens what is under it, like a real seal."""
    x, y = xy
    w, h = layer.size
    x0, y0 = max(x, 0), max(y, 0)
    x1, y1 = min(x + w, base.width), min(y + h, base.height)
    if x1 <= x0 or y1 <= y0:
        return
    region = np.asarray(base.crop((x0, y0, x1, y1)), dtype=np.float32)
    lay = np.asarray(layer, dtype=np.float32)[y0 - y:y1 - y, x0 - x:x1 - x] / 255.0
    alpha = lay[..., 3:4]
    out = region * (1.0 - alpha + alpha * lay[..., :3])
    base.paste(Image.fromarray(out.astype(np.uint8)), (x0, y0))


def _seal(s: Sheet, rng: Rng, cx: float, cy: float, diameter: float, ring: str,
          centre: str) -> None:
    """A round red seal with its ring text, patchy ink, multiplied over the signature."""
    d = s.px(diameter)
    layer = Image.new("RGBA", (d, d), (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    ink = (*RED, 235)
    draw.ellipse([2, 2, d - 3, d - 3], outline=ink, width=max(2, d // 45))
    draw.ellipse([d * 0.14, d * 0.14, d * 0.86, d * 0.86], outline=ink, width=max(1, d // 110))
    font = s.font(diameter * 0.085 / 0.3528, "bold")
    chars = list(nfc(ring))
    span = min(300.0, 11.5 * len(chars))
    for i, ch in enumerate(chars):
        angle = -span / 2 + span * i / max(len(chars) - 1, 1)
        g = Image.new("RGBA", (font.size * 2, font.size * 2), (0, 0, 0, 0))
        ImageDraw.Draw(g).text((font.size, font.size), ch, font=font, fill=ink, anchor="mm")
        g = g.rotate(-angle, resample=Image.Resampling.BILINEAR)
        r = d * 0.40
        gx = d / 2 + r * math.sin(math.radians(angle)) - font.size
        gy = d / 2 - r * math.cos(math.radians(angle)) - font.size
        layer.alpha_composite(g, (round(gx), round(gy)))
    star = []
    for k in range(10):
        r = d * (0.12 if k % 2 == 0 else 0.05)
        a = math.radians(-90 + 36 * k)
        star.append((d / 2 + r * math.cos(a), d * 0.44 + r * math.sin(a)))
    draw.polygon(star, fill=ink)
    draw.text((d / 2, d * 0.66), nfc(centre), font=s.font(diameter * 0.07 / 0.3528, "bold"),
              fill=ink, anchor="mm")
    alpha = np.asarray(layer.getchannel("A"), dtype=np.float32)
    patch = cv2.resize(rng.random((12, 12), dtype=np.float32), (d, d),
                       interpolation=cv2.INTER_CUBIC)
    layer.putalpha(Image.fromarray((alpha * (0.6 + 0.35 * patch.clip(0, 1))).astype(np.uint8)))
    layer = layer.rotate(float(rng.uniform(-15, 15)), resample=Image.Resampling.BILINEAR)
    _multiply(s.img, layer, (s.px(cx) - d // 2, s.px(cy) - d // 2))


def _signature(s: Sheet, rng: Rng, x: float, y: float, w: float, h: float) -> None:
    """A pen scribble from a smoothed random walk: different per seed, nobody's signature."""
    n = 90
    steps = rng.normal(0, 1, (n, 2)).cumsum(axis=0)
    steps = cv2.GaussianBlur(steps.astype(np.float32).reshape(n, 1, 2), (1, 0), 3).reshape(n, 2)
    steps -= steps.min(axis=0)
    steps /= np.maximum(steps.max(axis=0), 1e-6)
    t = np.linspace(0, 1, n)
    xs = x + w * (0.7 * t + 0.3 * steps[:, 0])
    ys = y + h * (0.2 + 0.6 * steps[:, 1] + 0.15 * np.sin(t * 18 + rng.uniform(0, 6)))
    pts = [(s.px(a), s.px(b)) for a, b in zip(xs, ys, strict=True)]
    s.draw.line(pts, fill=PEN, width=max(2, s.px(0.45)), joint="curve")


def _mark(s: Sheet, rng: Rng, x: float, y: float, text: str) -> None:
    """The secret / no-copy stamp: bold red capitals in a box, stamped slightly askew."""
    pt = 15.0 if len(text) < 10 else 11.0
    w, h = s.width(text, pt, "bold") + 6, pt * 0.3528 + 5
    layer = Image.new("RGBA", (s.px(w), s.px(h)), (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    ink = (*RED, 240)
    draw.rectangle([1, 1, s.px(w) - 2, s.px(h) - 2], outline=ink, width=max(2, s.px(0.6)))
    draw.text((s.px(w / 2), s.px(h / 2)), nfc(text), font=s.font(pt, "bold"), fill=ink,
              anchor="mm")
    layer = layer.rotate(float(rng.uniform(-2.5, 2.5)), expand=True,
                         resample=Image.Resampling.BILINEAR)
    _multiply(s.img, layer, (s.px(x), s.px(y)))


def _guilloche(s: Sheet, rng: Rng, colour: RGB, count: int) -> None:
    """Faint security-print waves: visible, yet too light for an OCR binariser to keep."""
    xs = np.linspace(0, s.w_mm, 160)
    for k in range(count):
        phase, amp = rng.uniform(0, 2 * math.pi), rng.uniform(1.0, 2.5)
        base = s.h_mm * (k + 0.5) / count
        ys = base + amp * np.sin(xs / rng.uniform(5, 11) + phase)
        s.draw.line([(s.px(a), s.px(b)) for a, b in zip(xs, ys, strict=True)], fill=colour,
                    width=max(1, s.px(0.12)))


# --------------------------------------------------------------------------- A4 layouts

LEFT, RIGHT = 25.0, 192.0


def _header_form(s: Sheet, p: Paper, rng: Rng) -> float:
    lc, rc = 57.0, 142.0
    y = 18.0
    for j, text in enumerate(p.authority):
        s.centered(lc, y, text, 12.0, "bold" if j == len(p.authority) - 1 else "regular",
                   max_mm=78)
        y += 5.6
    s.hline(lc - 12, lc + 12, y - 4.0)
    s.centered(rc, 18.0, MOTTO[0], 12.0, "bold", max_mm=100)
    s.centered(rc, 23.6, MOTTO[1], 13.0, "bold", max_mm=96)
    half = min(s.width(MOTTO[1], 13.0, "bold"), 96) / 2
    s.hline(rc - half, rc + half, 25.3)
    y = max(y, 31.0) + 3.0
    for label, value in p.numbers:
        s.runs(LEFT + 4, y, [(label, 12.0, "regular"), (value, 12.0, "bold")])
        y += 6.0
    if p.mark:
        _mark(s, rng, LEFT + 2, y, p.mark)
        y += 15.0
    return max(y + 10.0, 52.0)


def _header_table(s: Sheet, p: Paper, rng: Rng) -> float:
    s.rect(10, 10, 200, 287, 0.7)
    s.rect(11.6, 11.6, 198.4, 285.4, 0.25)
    s.centered(105, 22.0, MOTTO[0], 12.5, "bold", max_mm=150)
    s.centered(105, 28.0, MOTTO[1], 13.0, "bold", max_mm=120)
    half = s.width(MOTTO[1], 13.0, "bold") / 2
    s.hline(105 - half, 105 + half, 29.8)
    ay = 39.0
    for text in p.authority:
        s.text(18, ay, text, s.fit(text, 11.0, "bold", 100), "bold")
        ay += 5.0
    y = 39.0
    for label, value in p.numbers:
        s.runs(192, y, [(label, 11.5, "regular"), (value, 11.5, "bold")], right=True)
        y += 5.6
    y = max(y, ay, 44.0)
    if p.mark:
        _mark(s, rng, 18, y, p.mark)
        y += 15.0
    return max(y + 8.0, 52.0)


def _title(s: Sheet, p: Paper, y: float) -> float:
    for text in p.title:
        s.centered(105, y, text, 17.0, "bold", p.title_color, max_mm=165)
        y += 8.2
    for text in p.subtitle:
        s.centered(105, y, text, 12.5, "italic" if text.startswith("(") else "bold",
                   max_mm=165)
        y += 6.4
    return y + 4.0


@dataclass(frozen=True)
class _Body:
    """Sizes chosen so the body fills the space above the signature block."""

    pt: float
    pitch: float
    value_x: float  # table layout: where the value column starts


def _row_units(s: Sheet, row: Row, pt: float, layout: str) -> float:
    width = RIGHT - LEFT
    if isinstance(row, Para):
        return len(s.wrap(row.text, pt, "regular", width - 8))
    if isinstance(row, Heading | Center):
        return 1.25
    if isinstance(row, Pair):
        return max(len(s.wrap(row.left, pt, "bold", 50)), len(s.wrap(row.right, pt, "bold", 50)))
    if len(row.cells) > 1:
        return 1.0
    label, value = row.cells[0]
    start = 65.0 if layout == "table" else s.width(label, pt)
    return len(s.wrap(value, pt, "bold" if row.strong else "regular", width - start))


def _plan_body(s: Sheet, rows: Sequence[Row], y: float, bottom: float, layout: str) -> _Body:
    units = sum(_row_units(s, r, 12.5, layout) for r in rows) or 1.0
    pitch = min(9.0, max(5.4, (bottom - y) / units))
    pt = min(13.0, max(9.5, pitch / 0.64))
    return _Body(pt, pitch, LEFT + 63.0)


def _draw_value(s: Sheet, x: float, y: float, value: str, pt: float, style: str,
                width: float, pitch: float, indent_x: float) -> float:
    """A value that may wrap: first part at x, the rest from indent_x; returns the next y."""
    first_room = RIGHT - x
    words = value.split()
    head = ""
    while words and s.width(f"{head} {words[0]}".strip(), pt, style) <= first_room:
        head = f"{head} {words.pop(0)}".strip()
    if head:
        s.text(x, y, head, pt, style)
    elif words:  # nothing fits after the label: start on the next line
        y += pitch
    for part in s.wrap(" ".join(words), pt, style, width) if words else []:
        if head:
            y += pitch
        s.text(indent_x, y, part, pt, style)
        head = part
    return y + pitch


def _body(s: Sheet, rows: Sequence[Row], y: float, bottom: float, layout: str) -> float:
    plan = _plan_body(s, rows, y, bottom, layout)
    pt, pitch = plan.pt, plan.pitch
    for row in rows:
        if isinstance(row, Heading):
            y += pitch * 0.15
            if layout == "table":
                s.rect(LEFT - 2, y - pt * 0.3528 - 1.2, RIGHT, y + 1.6, outline=None,
                       fill=(232, 232, 232))
            s.text(LEFT, y, row.text, pt, "bold")
            y += pitch * 1.1
        elif isinstance(row, Center):
            s.centered(105, y, row.text, row.pt * pt / 12.5, row.style, row.color)
            y += pitch * 1.25
        elif isinstance(row, Para):
            style = "italic" if row.italic else "regular"
            for k, part in enumerate(s.wrap(row.text, pt, style, RIGHT - LEFT - 8)):
                s.text(LEFT + (8 if k == 0 else 0), y, part, pt, style)
                y += pitch
        elif isinstance(row, Pair):
            c1, c2 = LEFT + 58, LEFT + 113
            style = "bold" if row.strong else "regular"
            s.text(LEFT, y, row.label, s.fit(row.label, pt, "regular", 56), "regular")
            if row.strong:  # names: one line, smaller if need be
                size = min(s.fit(row.left, pt, style, 53), s.fit(row.right, pt, style, RIGHT - c2))
                s.text(c1, y, row.left, size, style)
                s.text(c2, y, row.right, size, style)
                y += pitch
                continue
            left = s.wrap(row.left, pt, style, 52)
            right = s.wrap(row.right, pt, style, RIGHT - c2)
            for k in range(max(len(left), len(right))):
                if k < len(left):
                    s.text(c1, y + k * pitch, left[k], pt, style)
                if k < len(right):
                    s.text(c2, y + k * pitch, right[k], pt, style)
            y += pitch * max(len(left), len(right))
            if layout == "table":
                s.hline(LEFT - 2, RIGHT, y - pitch + 1.8, 0.15)
        elif len(row.cells) > 1:
            col = (RIGHT - LEFT) / len(row.cells)
            for k, (label, value) in enumerate(row.cells):
                size = s.fit(f"{label}{value}", pt, "bold", col - 3)
                s.runs(LEFT + k * col, y, [(label, size, "regular"),
                                           (value, size, "bold" if row.strong else "regular")])
            y += pitch
        else:
            label, value = row.cells[0]
            style = "bold" if row.strong else "regular"
            if layout == "table":
                size = s.fit(label, pt, "regular", plan.value_x - LEFT - 2)
                s.text(LEFT, y, label.rstrip(), size, "regular")
                x = plan.value_x
                dots = RIGHT - 2
                for k in np.arange(x, dots, 1.4):
                    s.draw.point((s.px(k), s.px(y + 1.1)), fill=(90, 90, 90))
                y = _draw_value(s, x, y, value, pt, style, RIGHT - x, pitch, x)
            else:
                x = s.text(LEFT, y, label, pt, "regular")
                y = _draw_value(s, x, y, value, pt, style, RIGHT - LEFT - 6, pitch, LEFT + 6)
    return y


def _signature_height(p: Paper) -> float:
    lines = sum(5.6 if t.startswith("(") else 6.2 for t in p.signer)
    return (6.5 if p.place_date else 0.0) + lines + 36.0


def _signature_block(s: Sheet, p: Paper, y: float, rng: Rng, cx: float = 143.0) -> None:
    y = max(y + 4.0, 282.0 - _signature_height(p) - 12.0)
    if p.place_date:
        s.centered(cx, y, p.place_date, 12.5, "italic", max_mm=95)
        y += 6.5
    for text in p.signer:
        italic = text.startswith("(")
        s.centered(cx, y, text, 11.0 if italic else 12.5, "italic" if italic else "bold",
                   max_mm=95)
        y += 5.6 if italic else 6.2
    _signature(s, rng, cx - 20, y + 3, 40, 20)
    if p.seal[0]:
        _seal(s, rng, cx - 20, y + 12, 36, *p.seal)
    s.centered(cx, y + 33, p.signer_name, 13.0, "bold")
    fy = y + 6
    for label, value in p.footer:
        s.runs(LEFT, fy, [(label, 11.0, "regular"), (value, 11.0, "bold")])
        fy += 6.0


def render_paper(p: Paper, layout: str, family: str, dpi: int, rng: Rng) -> Image.Image:
    s = Sheet(A4_MM, dpi, family)
    y = (_header_table if layout == "table" else _header_form)(s, p, rng)
    y = _title(s, p, y)
    has_sign = bool(p.signer or p.signer_name)
    y = _body(s, p.body, y, 278.0 - _signature_height(p) if has_sign else 270.0, layout)
    if has_sign:
        _signature_block(s, p, y, rng)
    if p.red_serial:
        s.text(192, 290, p.red_serial, 15.0, "bold", RED, anchor="rs")
    s.text(LEFT if layout == "form" else 16, 291 if layout == "form" else 283,
           "Mẫu giả lập - không có giá trị pháp lý", 7.5, "italic", (110, 110, 110))
    return s.img


def render_diploma(p: Diploma, family: str, dpi: int, rng: Rng) -> Image.Image:
    s = Sheet(A4_LANDSCAPE_MM, dpi, family, background=(252, 249, 240))
    s.rect(8, 8, 289, 202, 2.2, outline=(150, 40, 45))
    s.rect(12, 12, 285, 198, 0.4, outline=(150, 40, 45))
    for cx, rows in ((75.0, p.left), (222.0, p.right)):
        y = 28.0
        for row in rows:
            if row.text:
                s.centered(cx, y, row.text, row.pt, row.style, row.color, max_mm=125)
            y += row.pt * 0.3528 * 1.75 + 1.2
    if p.mark:
        _mark(s, rng, 20, 16, p.mark)
    y = 158.0
    for text in p.signer:
        s.centered(222, y, text, 12.5, "bold")
        y += 6.0
    _signature(s, rng, 205, y + 1, 36, 16)
    _seal(s, rng, 200, y + 7, 32, *p.seal)
    s.centered(222, y + 27, p.signer_name, 13.0, "bold")
    fy = 180.0
    for label, value in p.footer:
        s.runs(24, fy, [(label, 11.0, "regular"), (value, 11.0, "bold")])
        fy += 6.0
    s.text(24, 196, "Mẫu giả lập - không có giá trị pháp lý", 7.5, "italic", (110, 110, 110))
    return s.img


# --------------------------------------------------------------------------- cards

_CARD_BACKGROUND = {"cccd": ((232, 240, 232), (214, 226, 214)),
                    "cancuoc": ((226, 236, 246), (206, 220, 236)),
                    "license": ((246, 230, 232), (234, 212, 216))}


def _card_base(s: Sheet, palette: str, rng: Rng) -> None:
    top, lines = _CARD_BACKGROUND[palette]
    w, h = s.img.size
    grad = np.linspace(0.0, 1.0, w, dtype=np.float32)[None, :, None]
    a, b = np.asarray(top, np.float32), np.asarray(lines, np.float32) * 0.25 + 0.75 * 255
    rowv = (a * (1 - grad) + b * grad * 0.97).astype(np.uint8)
    s.img.paste(Image.fromarray(np.repeat(rowv, h, axis=0)))
    s.draw = ImageDraw.Draw(s.img)
    _guilloche(s, rng, lines, 12)


def _emblem(s: Sheet, cx: float, cy: float, r: float) -> None:
    s.draw.ellipse([s.px(cx - r), s.px(cy - r), s.px(cx + r), s.px(cy + r)], fill=(214, 170, 40))
    r2 = r * 0.82
    s.draw.ellipse([s.px(cx - r2), s.px(cy - r2), s.px(cx + r2), s.px(cy + r2)],
                   fill=(200, 32, 38))
    pts = []
    for k in range(10):
        rr = r * (0.55 if k % 2 == 0 else 0.22)
        a = math.radians(-90 + 36 * k)
        pts.append((s.px(cx + rr * math.cos(a)), s.px(cy - r * 0.08 + rr * math.sin(a))))
    s.draw.polygon(pts, fill=(250, 214, 40))


def _photo(s: Sheet, x: float, y: float, w: float, h: float) -> None:
    s.rect(x, y, x + w, y + h, 0.2, outline=(120, 124, 128), fill=(178, 182, 186))
    cx = x + w / 2
    s.draw.ellipse([s.px(cx - w * 0.22), s.px(y + h * 0.16), s.px(cx + w * 0.22),
                    s.px(y + h * 0.52)], fill=(150, 154, 158))
    s.draw.pieslice([s.px(x + w * 0.06), s.px(y + h * 0.58), s.px(x + w * 0.94),
                     s.px(y + h * 1.35)], 180, 360, fill=(150, 154, 158))


def _qr_like(s: Sheet, rng: Rng, x: float, y: float, size: float) -> None:
    """A QR-looking module grid (decoration only, it encodes nothing)."""
    n = 25
    grid = rng.random((n, n)) < 0.5
    for fx, fy in ((0, 0), (n - 7, 0), (0, n - 7)):
        grid[fy:fy + 7, fx:fx + 7] = False
        grid[fy, fx:fx + 7] = grid[fy + 6, fx:fx + 7] = True
        grid[fy:fy + 7, fx] = grid[fy:fy + 7, fx + 6] = True
        grid[fy + 2:fy + 5, fx + 2:fx + 5] = True
    cell = size / n
    s.rect(x - 0.8, y - 0.8, x + size + 0.8, y + size + 0.8, outline=None, fill=(255, 255, 255))
    for r, c in zip(*np.nonzero(grid), strict=True):
        s.rect(x + c * cell, y + r * cell, x + (c + 1) * cell, y + (r + 1) * cell,
               outline=None, fill=(0, 0, 0))


def qr_symbol(text: str) -> np.ndarray:
    """The dark modules of a real QR symbol for ``text`` (UTF-8, error correction M)."""
    code = qrencoder.QRCode(None, qrencoder.QRErrorCorrectLevel.M)
    code.addData(text)
    code.make()
    return np.array([[bool(v) for v in row] for row in code.modules])


def _qr_code(s: Sheet, x: float, y: float, size: float, text: str) -> None:
    """A real, decodable QR symbol with its 4-module quiet zone inside ``size`` mm."""
    modules = np.pad(qr_symbol(text), 4, constant_values=False)
    n = modules.shape[0]
    side = s.px(size)
    sharp = Image.fromarray(np.where(modules, 0, 255).astype(np.uint8)).resize(
        (side, side), Image.Resampling.NEAREST)
    s.img.paste(sharp.convert("RGB"), (s.px(x), s.px(y)))
    assert side >= 2 * n, "QR modules would be under two pixels"


def card_qr_payload(person: Person, issued: date, old_id: str = "") -> str:
    """The chip card's QR text: ID12|CMND9|name|ddmmyyyy|Nam/Nữ|address|issue ddmmyyyy."""
    return "|".join((person.id_number, old_id, person.full_name, person.dob.strftime("%d%m%Y"),
                     person.sex_vn, person.residence, issued.strftime("%d%m%Y")))


def _fingerprint(s: Sheet, x: float, y: float, w: float, h: float, label: str) -> None:
    s.rect(x, y, x + w, y + h, 0.15, outline=(90, 90, 90))
    cx, cy = x + w / 2, y + h / 2
    for k in range(1, 9):
        rx, ry = w * 0.045 * k, h * 0.05 * k
        s.draw.ellipse([s.px(cx - rx), s.px(cy - ry), s.px(cx + rx), s.px(cy + ry)],
                       outline=(120, 120, 130), width=max(1, s.px(0.12)))
    s.centered(cx, y + h + 2.2, label, 4.6, "regular", max_mm=w + 2)


def _card_rows(s: Sheet, c: Card, x0: float, right: float, y: float, scale: float,
               draw: bool) -> float:
    """Lay out the labelled rows at `scale`; returns the last baseline. Run dry first to find
    the scale at which everything fits above the MRZ."""
    label_pt, pitch = 5.3 * scale, 2.95 * scale
    for row in c.rows:
        vpt = (row.pt or 6.6) * scale
        x = x0 if row.column == 0 else (x0 + right) / 2
        if row.column == 0:
            y += pitch
        end = x
        if row.label:
            size = s.fit(row.label, label_pt, "regular", right - x)
            end = s.text(x, y, row.label, size) if draw else x + s.width(row.label, size)
        below = row.below
        if row.value and not below:
            size = s.fit(row.value, vpt, "bold", right - end - 0.8)
            below = size < 0.8 * vpt and row.column == 0
            if draw and not below:
                s.text(end + 0.8, y, row.value, size, "bold")
        if row.value and below:
            for part in s.wrap(row.value, vpt, "bold", right - x0):
                y += max(pitch * 1.05, vpt * 0.3528 * 1.3)
                if draw:
                    s.text(x0, y, part, vpt, "bold")
    return y


def render_card(c: Card, family: str, dpi: int, rng: Rng) -> Image.Image:
    s = Sheet(CARD_MM, dpi, family)
    _card_base(s, c.palette, rng)
    if c.emblem:
        _emblem(s, 8.5, 8.5, 6.0)
    hx = 46.0 if c.qr or c.qr_payload else 50.0
    head_mm = 2 * (69.5 - hx) if c.qr_payload else 62  # clear of the QR symbol
    y = 4.6
    for k, text in enumerate(c.header):
        pt = 6.2 if k < 2 else 5.0
        s.centered(hx, y, text, pt, "bold" if k < 2 else "regular", max_mm=head_mm)
        y += 2.7
    if c.qr_payload:
        _qr_code(s, 70.5, 2.0, 13.5, c.qr_payload)
    elif c.qr:
        _qr_like(s, rng, 72.5, 3.0, 10.5)
    ty = max(y + 3.4, 8.0) if c.header else 6.5
    for k, text in enumerate(c.title):
        pt = 10.5 if k == 0 else 6.2
        s.centered(hx, ty, text, pt, "bold", RED, max_mm=58)
        ty += 4.3 if k == 0 else 3.2
    x0 = 24.5 if c.photo else 4.0
    right = 53.0 if c.fingerprints else 83.0
    if c.photo:
        _photo(s, 3.5, 19.0, 19.0, 24.0)
    if c.chip:
        s.rect(5, ty, 15, ty + 8, 0.2, outline=(150, 120, 40), fill=(214, 184, 96))
        x0 = 18.0
    if c.fingerprints:
        _fingerprint(s, 55.0, 3.0, 13.5, 17.0, "Ngón trỏ trái")
        _fingerprint(s, 70.0, 3.0, 13.5, 17.0, "Ngón trỏ phải")
    y = ty + 0.6 if c.title else ty
    bottom = CARD_MM[1] - (8.0 + 4.15 * len(c.mrz) if c.mrz else 2.2) - (12.5 if c.signer else 0)
    scale = 1.0
    while scale > 0.7 and _card_rows(s, c, x0, right, y, scale, draw=False) > bottom:
        scale -= 0.04
    y = _card_rows(s, c, x0, right, y, scale, draw=True)
    uy = 46.0
    for text, bold in c.under_photo:
        style = "bold" if bold else "regular"
        s.text(3.5, uy, text, s.fit(text, 6.4 if bold else 4.9, style, 21.0), style)
        uy += 2.5
    if c.signer:
        sy = max(y + 3.6, 25.5 if c.fingerprints else 0.0)  # below the fingerprint labels
        cx = (x0 + right) / 2
        for text in c.signer:
            s.centered(cx, sy, text, 4.8, "bold", max_mm=right - x0)
            sy += 2.3
        _signature(s, rng, cx - 8, sy - 0.5, 16, 5.5)
        s.centered(cx, sy + 7.2, c.signer_name, 5.8, "bold")
    if c.mrz:
        my = CARD_MM[1] - 3.8 - 4.15 * (len(c.mrz) - 1)
        pt = s.fit("M" * 30, 11.6, "mono", CARD_MM[0] - 7.0)
        for text in c.mrz:
            s.text(3.5, my, text, pt, "mono", (10, 10, 10))
            my += 4.15
    if c.mark:
        _mark(s, rng, 30, 14, c.mark)
    # the card lies on the scanner glass: rounded corners over a grey bed
    bed = Sheet((CARD_MM[0] + 2 * BED_MM, CARD_MM[1] + 2 * BED_MM), dpi, family,
                background=(244, 244, 241))
    mask = Image.new("L", s.img.size, 0)
    ImageDraw.Draw(mask).rounded_rectangle([0, 0, s.img.width - 1, s.img.height - 1],
                                           radius=s.px(3.2), fill=255)
    bed.img.paste(s.img, (bed.px(BED_MM), bed.px(BED_MM)), mask)
    return bed.img


def render(drawn: Drawn, family: str, dpi: int, rng: Rng) -> Image.Image:
    spec = drawn.spec
    if isinstance(spec, Card):
        return render_card(spec, family, dpi, rng)
    if isinstance(spec, Diploma):
        return render_diploma(spec, family, dpi, rng)
    return render_paper(spec, drawn.layout, family, dpi, rng)


# --------------------------------------------------------------------------- the papers

LATEST = date(2025, 12, 31)  # no paper is dated later: the set must not depend on today


def _abbrev(unit: str) -> str:
    for long, short in (("thành phố ", "TP. "), ("Thành phố ", "TP. "), ("quận ", "Q. "),
                        ("Quận ", "Q. "), ("huyện ", "H. "), ("thị xã ", "TX. "),
                        ("tỉnh ", "T. ")):
        if unit.startswith(long):
            return (short + unit[len(long):]).upper()
    return unit.upper()


def _commune_office(place: Place) -> tuple[str, ...]:
    return ("ỦY BAN NHÂN DÂN", place.commune.upper())


def _issuer(place: Place) -> str:
    return f"Ủy ban nhân dân {place.commune}, {place.district}, {place.province}"


def _seal_of(place: Place) -> tuple[str, str]:
    return f"ỦY BAN NHÂN DÂN {place.commune.upper()}", _abbrev(place.district)


def _official(rng: Rng) -> str:
    return make_person(rng, (date(1965, 1, 1), date(1985, 12, 31))).full_name


def _after(d: date, years: int, last: date = LATEST) -> date:
    return min(anniversary(d, years), last)


def _add_months(d: date, months: int) -> date:
    month = d.month - 1 + months
    year, month = d.year + month // 12, month % 12 + 1
    for day in (d.day, 30, 29, 28):
        try:
            return date(year, month, day)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def _hospital(place: Place) -> str:
    if place.province.startswith("tỉnh"):
        return f"Bệnh viện Đa khoa {place.province}"
    return f"Bệnh viện Phụ sản {place.short.replace('TP. ', 'Thành phố ')}"


def _birth_cert(rng: Rng, variant: int, index: int) -> Drawn:
    recent = rng.random() < 0.7
    born = (date(2005, 1, 1), date(2025, 6, 30)) if recent else (date(1962, 1, 1),
                                                                date(2004, 12, 31))
    dob = _day(rng, *born)
    father = make_person(rng, (anniversary(dob, -45), anniversary(dob, -20)), "M")
    mother = make_person(rng, (anniversary(dob, -40), anniversary(dob, -18)), "F")
    child = make_person(rng, (dob, dob), family=father.full_name.split()[0])
    place = child.origin
    registered = dob + timedelta(days=int(rng.integers(3, 60))) if recent else \
        _day(rng, date(2016, 1, 1), date(2025, 6, 30))
    pob = _hospital(place) if rng.random() < 0.6 else f"Trạm Y tế {place.commune}, " \
        f"{place.district}, {place.province}"
    ethnicity = _pick(rng, ETHNICITIES)
    number = str(int(rng.integers(1, 400)))
    document_number = number if variant == 0 else f"{number}/{registered.year}"
    book = "01" if variant == 0 else f"01/{registered.year}"
    words = date_in_words(dob)
    if variant == 0:
        names = ("Họ, chữ đệm, tên: ", "Họ, chữ đệm, tên người mẹ: ",
                 "Họ, chữ đệm, tên người cha: ")
        dob_rows: tuple[Row, ...] = (line("Ngày, tháng, năm sinh: ", short_date(dob)),
                                     line("ghi bằng chữ: ", cap(words)))
    else:
        names = ("Họ và tên: ", "Họ và tên mẹ: ", "Họ và tên cha: ")
        dob_rows = (line("Ngày, tháng, năm sinh: ", cap(long_date(dob))),
                    line("Bằng chữ: ", words))
    body: tuple[Row, ...] = (
        line(names[0], child.upper, True), *dob_rows,
        Line((("Giới tính: ", child.sex_vn), ("Dân tộc: ", ethnicity),
              ("Quốc tịch: ", "Việt Nam"))),
        line("Nơi sinh: ", pob),
        line("Quê quán: ", father.origin.address),
        line("Số định danh cá nhân: ", child.id_number, True),
        line(names[1], mother.upper, True),
        Line((("Năm sinh: ", str(mother.dob.year)), ("Dân tộc: ", ethnicity),
              ("Quốc tịch: ", "Việt Nam"))),
        line("Nơi cư trú: ", mother.residence),
        line(names[2], father.upper, True),
        Line((("Năm sinh: ", str(father.dob.year)), ("Dân tộc: ", ethnicity),
              ("Quốc tịch: ", "Việt Nam"))),
        line("Nơi cư trú: ", father.residence),
        line("Họ, chữ đệm, tên người đi khai sinh: ", father.full_name),
        line("Quan hệ với người được khai sinh: ", "Cha"),
        line("Nơi đăng ký khai sinh: ", _issuer(place)),
        line("Ngày, tháng, năm đăng ký: ", cap(long_date(registered))),
    )
    paper = Paper(
        authority=_commune_office(place), title=("GIẤY KHAI SINH",), body=body,
        numbers=(("Số: ", document_number), ("Quyển số: ", book)),
        subtitle=("(BẢN CHÍNH)",) if variant else (),
        place_date=f"{place.short}, {long_date(registered)}",
        signer=("NGƯỜI KÝ GIẤY KHAI SINH", "(Ký, ghi rõ họ, chữ đệm, tên, chức vụ, đóng dấu)",
                "KT. CHỦ TỊCH", "PHÓ CHỦ TỊCH"),
        signer_name=_official(rng), seal=_seal_of(place))
    fields = {
        "full_name": child.full_name, "date_of_birth": dob.isoformat(), "sex": child.sex,
        "place_of_birth": pob, "place_of_origin": father.origin.address,
        "id_number": child.id_number, "father_full_name": father.full_name,
        "mother_full_name": mother.full_name, "document_number": document_number,
        "issue_date": registered.isoformat(), "issuer": _issuer(place),
    }
    return Drawn(paper, fields, ("form", "table")[variant])


def _marriage_cert(rng: Rng, variant: int, index: int) -> Drawn:
    husband = make_person(rng, (date(1965, 1, 1), date(2003, 12, 31)), "M")
    wife = make_person(rng, (date(1968, 1, 1), date(2005, 12, 31)), "F")
    first = max(anniversary(husband.dob, 20), anniversary(wife.dob, 18), date(2016, 1, 1))
    registered = _day(rng, first, max(first, date(2025, 6, 30)))
    place = husband.home if rng.random() < 0.5 else wife.home
    number = str(int(rng.integers(1, 200)))
    eth_h, eth_w = _pick(rng, ETHNICITIES), _pick(rng, ETHNICITIES)
    if variant == 0:
        def block(p: Person, eth: str) -> tuple[Row, ...]:
            return (line("Họ, chữ đệm, tên: ", p.upper, True),
                    line("Ngày, tháng, năm sinh: ", short_date(p.dob)),
                    Line((("Dân tộc: ", eth), ("Quốc tịch: ", "Việt Nam"))),
                    line("Nơi cư trú: ", p.residence),
                    line("Số định danh cá nhân: ", p.id_number))
        people: tuple[Row, ...] = (Heading("Thông tin người chồng"), *block(husband, eth_h),
                                   Heading("Thông tin người vợ"), *block(wife, eth_w))
    else:
        people = (
            Pair("Thông tin", "CHỒNG", "VỢ", True),
            Pair("Họ, chữ đệm, tên", husband.upper, wife.upper, True),
            Pair("Ngày, tháng, năm sinh", short_date(husband.dob), short_date(wife.dob)),
            Pair("Dân tộc", eth_h, eth_w),
            Pair("Quốc tịch", "Việt Nam", "Việt Nam"),
            Pair("Nơi cư trú", husband.residence, wife.residence),
            Pair("Số định danh cá nhân", husband.id_number, wife.id_number),
        )
    body = (*people, line("Nơi đăng ký kết hôn: ", _issuer(place)),
            line("Ngày, tháng, năm đăng ký: ", cap(long_date(registered))))
    paper = Paper(
        authority=_commune_office(place), title=("GIẤY CHỨNG NHẬN KẾT HÔN",), body=body,
        numbers=(("Số: ", number), ("Quyển số: ", f"01/{registered.year}")),
        place_date=f"{place.short}, {long_date(registered)}",
        signer=("TM. ỦY BAN NHÂN DÂN", "KT. CHỦ TỊCH", "PHÓ CHỦ TỊCH"),
        signer_name=_official(rng), seal=_seal_of(place))
    fields = {
        "husband_full_name": husband.full_name, "husband_date_of_birth": husband.dob.isoformat(),
        "husband_id_number": husband.id_number, "wife_full_name": wife.full_name,
        "wife_date_of_birth": wife.dob.isoformat(), "wife_id_number": wife.id_number,
        "document_number": number, "issue_date": registered.isoformat(),
        "issuer": _issuer(place),
    }
    return Drawn(paper, fields, ("form", "table")[variant])


def _death_extract(rng: Rng, variant: int, index: int) -> Drawn:
    person = make_person(rng, (date(1925, 1, 1), date(1985, 12, 31)))
    died = _day(rng, max(anniversary(person.dob, 30), date(2016, 1, 1)), date(2025, 6, 15))
    registered = died + timedelta(days=int(rng.integers(1, 15)))
    place = person.home
    declarant = make_person(rng, (date(1960, 1, 1), date(1995, 12, 31)),
                            family=person.full_name.split()[0])
    hour, minute = int(rng.integers(0, 24)), int(rng.integers(0, 60))
    where = f"Tại nhà, {person.residence}" if rng.random() < 0.5 else _hospital(place)
    number = str(int(rng.integers(1, 150)))
    common: tuple[Row, ...] = (
        Line((("Giới tính: ", person.sex_vn), ("Dân tộc: ", _pick(rng, ETHNICITIES)),
              ("Quốc tịch: ", "Việt Nam"))),
        line("Số định danh cá nhân: ", person.id_number, True),
        line("Nơi cư trú cuối cùng: ", person.residence),
    )
    if variant == 0:
        body: tuple[Row, ...] = (
            line("Họ, chữ đệm, tên: ", person.upper, True),
            line("Ngày, tháng, năm sinh: ", short_date(person.dob)), *common,
            line("Đã chết vào lúc: ", f"{hour} giờ {minute:02d} phút, {long_date(died)}"),
        )
    else:
        body = (
            line("Họ và tên người chết: ", person.upper, True),
            line("Ngày sinh: ", short_date(person.dob)), *common,
            line("Ngày, tháng, năm chết: ", short_date(died)),
            line("Giờ chết: ", f"{hour} giờ {minute:02d} phút"),
        )
    body = (*body,
            line("Nơi chết: ", where),
            line("Nguyên nhân chết: ", _pick(rng, ("Bệnh", "Già yếu", "Tai nạn giao thông"))),
            line("Họ, chữ đệm, tên người đi khai tử: ", declarant.full_name),
            line("Quan hệ với người đã chết: ", _pick(rng, ("Con", "Vợ", "Chồng", "Cháu"))),
            line("Nơi đăng ký khai tử: ", _issuer(place)),
            line("Ngày, tháng, năm đăng ký: ", cap(long_date(registered))))
    paper = Paper(
        authority=_commune_office(place), title=("TRÍCH LỤC KHAI TỬ",), body=body,
        numbers=(("Số: ", number), ("Quyển số: ", f"01/{registered.year}")),
        subtitle=("(BẢN CHÍNH)",) if variant else (),
        place_date=f"{place.short}, {long_date(registered)}",
        signer=("NGƯỜI KÝ TRÍCH LỤC", "(Ký, ghi rõ họ, chữ đệm, tên, chức vụ, đóng dấu)",
                "KT. CHỦ TỊCH", "PHÓ CHỦ TỊCH"),
        signer_name=_official(rng), seal=_seal_of(place))
    fields = {
        "full_name": person.full_name, "date_of_birth": person.dob.isoformat(),
        "sex": person.sex, "id_number": person.id_number, "date_of_death": died.isoformat(),
        "document_number": number, "issue_date": registered.isoformat(),
        "issuer": _issuer(place),
    }
    return Drawn(paper, fields, ("form", "table")[variant])


def _marital_status(rng: Rng, variant: int, index: int) -> Drawn:
    person = make_person(rng, (date(1970, 1, 1), date(2005, 12, 31)))
    issued = _day(rng, max(anniversary(person.dob, 18), date(2018, 1, 1)), date(2025, 12, 1))
    expiry = _add_months(issued, 6)
    place = person.home
    number = f"{int(rng.integers(1, 300))}/XNTTHN" if variant == 0 else \
        f"{int(rng.integers(1, 300))}/{issued.year}/XNTTHN"
    since = max(anniversary(person.dob, 16), date(2010, 1, 1))
    body: tuple[Row, ...] = (
        Para(f"Xét đề nghị của {person.honorific.lower()} {person.full_name} về việc xác nhận "
             "tình trạng hôn nhân,"),
        Center("XÁC NHẬN:", 13.0),
        line("Họ, chữ đệm, tên: ", person.upper, True),
        line("Ngày, tháng, năm sinh: ", short_date(person.dob)),
        Line((("Giới tính: ", person.sex_vn), ("Dân tộc: ", _pick(rng, ETHNICITIES)),
              ("Quốc tịch: ", "Việt Nam"))),
        line("Số định danh cá nhân: ", person.id_number, True) if variant == 0 else
        line("Giấy tờ tùy thân: ", f"Căn cước công dân số {person.id_number}"),
        line("Nơi cư trú: ", person.residence),
        Para(f"Trong thời gian cư trú tại {place.address} từ ngày {short_date(since)} đến ngày "
             f"{short_date(issued)}"),
        line("Tình trạng hôn nhân: ", _pick(rng, (
            "Hiện tại chưa đăng ký kết hôn với ai.",
            "Đã ly hôn, hiện tại chưa đăng ký kết hôn với ai."))),
        line("Giấy này được cấp để: ", _pick(rng, (
            "Làm thủ tục đăng ký kết hôn", "Bổ sung hồ sơ vay vốn ngân hàng",
            "Làm thủ tục chuyển nhượng quyền sử dụng đất"))),
        Para("Giấy này có giá trị sử dụng trong thời hạn 6 tháng, kể từ ngày cấp.", True)
        if variant == 0 else line("Giấy này có giá trị đến ngày: ", short_date(expiry)),
    )
    paper = Paper(
        authority=_commune_office(place), title=("GIẤY XÁC NHẬN TÌNH TRẠNG HÔN NHÂN",),
        body=body, numbers=(("Số: ", number),),
        place_date=f"{place.short}, {long_date(issued)}",
        signer=("TM. ỦY BAN NHÂN DÂN", "CHỦ TỊCH"), signer_name=_official(rng),
        seal=_seal_of(place))
    fields = {
        "full_name": person.full_name, "date_of_birth": person.dob.isoformat(),
        "sex": person.sex, "id_number": person.id_number,
        "place_of_residence": person.residence, "document_number": number,
        "issue_date": issued.isoformat(),
    }
    if variant == 1:
        fields["expiry_date"] = expiry.isoformat()
    return Drawn(paper, fields, ("form", "table")[variant])


def _card_expiry(dob: date, issued: date) -> date:
    """Cards are renewed at 25, 40 and 60; one issued within 2 years of a milestone runs to
    the next one."""
    for age in (25, 40, 60):
        if anniversary(dob, age) > anniversary(issued, 2):
            return anniversary(dob, age)
    raise ValueError("no expiry after 58: the generator only draws people younger than that")


MARKS = ("Nốt ruồi C:1cm trên trước đầu mày phải", "Sẹo chấm C:2cm dưới sau đuôi mắt trái",
         "Nốt ruồi C:1,5cm dưới trước cánh mũi trái", "Sẹo chấm C:1cm trên đuôi mày trái")


def _citizen_id(rng: Rng, variant: int, index: int) -> Drawn:
    side = ("front", "back")[(index // 2) % 2]
    person = make_person(rng, (date(1968, 1, 1), date(2008, 12, 31)))
    if variant == 0:
        issued = _day(rng, max(anniversary(person.dob, 14), date(2021, 1, 1)), date(2024, 6, 30))
    else:
        issued = _day(rng, max(anniversary(person.dob, 14), date(2024, 7, 1)), LATEST)
    expiry = _card_expiry(person.dob, issued)
    mrz = td1_mrz(person.id_number, person.full_name, person.dob, person.sex, expiry)
    header = (*MOTTO, *MOTTO_EN)
    old_id = f"{int(rng.integers(10**8, 10**9))}" if variant == 0 and rng.random() < 0.5 else ""
    payload = card_qr_payload(person, issued, old_id)
    if side == "front" and variant == 0:
        card = Card("cccd", header=header, title=("CĂN CƯỚC CÔNG DÂN", "Citizen Identity Card"),
                    qr_payload=payload,
                    rows=(CardRow("Số / No.:", person.id_number, pt=8.4),
                          CardRow("Họ và tên / Full name:", person.upper, True, pt=7.2),
                          CardRow("Ngày sinh / Date of birth:", short_date(person.dob)),
                          CardRow("Giới tính / Sex:", person.sex_vn),
                          CardRow("Quốc tịch / Nationality:", "Việt Nam", column=1),
                          CardRow("Quê quán / Place of origin:", person.origin.address, True),
                          CardRow("Nơi thường trú / Place of residence:", person.residence,
                                  True)),
                    under_photo=(("Có giá trị đến:", False), ("Date of expiry:", False),
                                 (short_date(expiry), True)))
        fields = {"id_number": person.id_number, "full_name": person.full_name,
                  "date_of_birth": person.dob.isoformat(), "sex": person.sex,
                  "place_of_origin": person.origin.address,
                  "place_of_residence": person.residence, "expiry_date": expiry.isoformat(),
                  "issue_date": issued.isoformat()}  # the issue date only in the QR code
    elif side == "front":
        card = Card("cancuoc", header=header, title=("CĂN CƯỚC", "IDENTITY CARD"),
                    qr_payload=payload,
                    rows=(CardRow("Số định danh cá nhân / Personal identification number:",
                                  person.id_number, True, pt=8.4),
                          CardRow("Họ, chữ đệm và tên khai sinh / Full name:", person.upper,
                                  True, pt=7.2),
                          CardRow("Ngày, tháng, năm sinh / Date of birth:",
                                  short_date(person.dob)),
                          CardRow("Giới tính / Sex:", person.sex_vn),
                          CardRow("Quốc tịch / Nationality:", "Việt Nam", column=1)))
        fields = {"id_number": person.id_number, "full_name": person.full_name,
                  "date_of_birth": person.dob.isoformat(), "sex": person.sex,
                  # only in the QR code on this side
                  "place_of_residence": person.residence, "issue_date": issued.isoformat()}
    elif variant == 0:
        card = Card("cccd", photo=False, emblem=False, chip=True, fingerprints=True, mrz=mrz,
                    rows=(CardRow("Đặc điểm nhân dạng / Personal identification:",
                                  _pick(rng, MARKS), True, pt=5.8),
                          CardRow("Ngày, tháng, năm / Date, month, year:", short_date(issued))),
                    signer=("CỤC TRƯỞNG CỤC CẢNH SÁT", "QUẢN LÝ HÀNH CHÍNH VỀ TRẬT TỰ XÃ HỘI"),
                    signer_name=_official(rng))
        fields = {"issue_date": issued.isoformat()}
    else:
        card = Card("cancuoc", photo=False, emblem=False, mrz=mrz,
                    rows=(CardRow("Nơi cư trú / Place of residence:", person.residence, True),
                          CardRow("Nơi đăng ký khai sinh / Place of birth:",
                                  person.origin.address, True),
                          CardRow("Ngày, tháng, năm cấp / Date of issue:", short_date(issued)),
                          CardRow("Ngày, tháng, năm hết hạn / Date of expiry:",
                                  short_date(expiry))))
        fields = {"place_of_residence": person.residence,
                  "place_of_birth": person.origin.address, "issue_date": issued.isoformat(),
                  "expiry_date": expiry.isoformat()}
    if side == "back":  # the MRZ shows these, without the diacritics of the name
        fields |= {"id_number": person.id_number, "date_of_birth": person.dob.isoformat(),
                   "sex": person.sex, "expiry_date": expiry.isoformat()}
    extra: dict = {"side": side}
    if side == "back":
        extra["mrz"] = list(mrz)
    else:
        extra["qr"] = payload
    return Drawn(card, fields, ("cccd-2021", "cancuoc-2024")[variant] + f"-{side}", extra)


LICENSE_CLASSES = (
    # (class, years valid or 0 = no limit), the pre-2025 and the 2025 classes
    (("A1", 0), ("A2", 0), ("B1", 10), ("B2", 10), ("B2", 10), ("C", 5), ("D", 5), ("FC", 5)),
    (("A1", 0), ("A", 0), ("B", 10), ("B", 10), ("C1", 10), ("C", 5), ("D2", 5), ("BE", 5)),
)


def _driving_license(rng: Rng, variant: int, index: int) -> Drawn:
    person = make_person(rng, (date(1960, 1, 1), date(2006, 12, 31)))
    first = max(anniversary(person.dob, 18), date(2016, 1, 1) if variant == 0 else
                date(2025, 3, 1))
    issued = _day(rng, first, max(first, date(2024, 12, 31) if variant == 0 else LATEST))
    cls, years = _pick(rng, LICENSE_CLASSES[variant])
    expiry = anniversary(issued, years) if years else None
    until = short_date(expiry) if expiry else "Không thời hạn"
    number = f"{person.home.code[1:]}{int(rng.integers(0, 10**10)):010d}"
    if variant == 0:
        card = Card("license", header=MOTTO, title=("GIẤY PHÉP LÁI XE", "DRIVER'S LICENSE"),
                    rows=(CardRow("Số/No:", number, pt=8.0),
                          CardRow("Họ tên/Full name:", person.upper, pt=7.0),
                          CardRow("Ngày sinh/Date of Birth:", short_date(person.dob)),
                          CardRow("Quốc tịch/Nationality:", "VIỆT NAM"),
                          CardRow("Nơi cư trú/Address:", person.residence, True),
                          CardRow(f"{person.home.short}, {long_date(issued)}")),
                    under_photo=((f"Hạng/Class: {cls}", True),
                                 ("Có giá trị đến/Expires:", False), (until, True)))
        fields = {"license_number": number, "full_name": person.full_name,
                  "date_of_birth": person.dob.isoformat(),
                  "place_of_residence": person.residence, "issue_date": issued.isoformat(),
                  "license_class": cls}
    else:
        card = Card("license", header=(*MOTTO, *MOTTO_EN), qr=True,
                    title=("GIẤY PHÉP LÁI XE", "DRIVING LICENCE"),
                    rows=(CardRow("Số/No.:", number, pt=8.0),
                          CardRow("Họ, chữ đệm và tên/Full name:", person.upper, True, pt=7.0),
                          CardRow("Ngày sinh/Date of birth:", short_date(person.dob)),
                          CardRow("Quốc tịch/Nationality:", "Việt Nam"),
                          CardRow("Hạng/Class:", cls, pt=8.0),
                          CardRow("Ngày cấp/Date of issue:", short_date(issued)),
                          CardRow("Có giá trị đến/Date of expiry:", until)))
        fields = {"license_number": number, "full_name": person.full_name,
                  "date_of_birth": person.dob.isoformat(), "license_class": cls,
                  "issue_date": issued.isoformat()}
    if expiry:
        fields["expiry_date"] = expiry.isoformat()
    return Drawn(card, fields, ("pet-2013", "pet-2025")[variant])


UNIVERSITIES = (
    ("Trường Đại học Bách khoa Hà Nội", "Hanoi University of Science and Technology", "BK",
     "Hà Nội"),
    ("Trường Đại học Kinh tế Quốc dân", "National Economics University", "KTQD", "Hà Nội"),
    ("Trường Đại học Sư phạm Hà Nội", "Hanoi National University of Education", "SPHN",
     "Hà Nội"),
    ("Trường Đại học Cần Thơ", "Can Tho University", "CTU", "Cần Thơ"),
    ("Trường Đại học Kinh tế Thành phố Hồ Chí Minh", "University of Economics Ho Chi Minh City",
     "UEH", "TP. Hồ Chí Minh"),
    ("Trường Đại học Ngoại thương", "Foreign Trade University", "FTU", "Hà Nội"),
    ("Trường Đại học Luật Hà Nội", "Hanoi Law University", "HLU", "Hà Nội"),
)
MAJORS = (("Công nghệ thông tin", "Information Technology"), ("Kế toán", "Accounting"),
          ("Quản trị kinh doanh", "Business Administration"),
          ("Kỹ thuật xây dựng", "Civil Engineering"), ("Ngôn ngữ Anh", "English Language"),
          ("Luật kinh tế", "Economic Law"), ("Tài chính - Ngân hàng", "Finance and Banking"),
          ("Sư phạm Toán học", "Mathematics Education"))
GRADES = (("Xuất sắc", "Excellent"), ("Giỏi", "Very good"), ("Khá", "Good"),
          ("Khá", "Good"), ("Trung bình", "Average"))
EN_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
             "September", "October", "November", "December")


def _university_diploma(rng: Rng, variant: int, index: int) -> Drawn:
    person = make_person(rng, (date(1975, 1, 1), date(2003, 12, 31)))
    graduated = _day(rng, date(person.dob.year + 21, 6, 1),
                     min(date(person.dob.year + 24, 12, 31), date(2025, 6, 30)))
    uni, uni_en, abbr, city = _pick(rng, UNIVERSITIES)
    major, major_en = _pick(rng, MAJORS)
    grade, grade_en = _pick(rng, GRADES)
    engineer = "Kỹ thuật" in major or "Công nghệ" in major
    if graduated.year < 2021:
        title, title_en = "BẰNG TỐT NGHIỆP ĐẠI HỌC", "THE DEGREE OF BACHELOR"
    elif engineer:
        title, title_en = "BẰNG KỸ SƯ", "THE DEGREE OF ENGINEER"
    else:
        title, title_en = "BẰNG CỬ NHÂN", "THE DEGREE OF BACHELOR"
    serial = f"{_pick(rng, 'ABCD')}{int(rng.integers(0, 10**7)):07d}"
    register = f"{graduated.year}/{abbr}/{int(rng.integers(1, 10**5)):05d}"
    footer = (("Số hiệu: ", serial), ("Số vào sổ cấp bằng: ", register))
    name_line = f"{person.honorific} {person.full_name}"
    if variant == 0:
        english = ascii_fold(person.full_name)
        mr = "Mr" if person.sex == "M" else "Ms"
        en_date = f"{graduated.day} {EN_MONTHS[graduated.month - 1]} {graduated.year}"
        spec: Spec = Diploma(
            left=(Center(MOTTO_EN[0], 11.0), Center(MOTTO_EN[1], 10.5, "italic"), Center(""),
                  Center(f"THE RECTOR OF {uni_en.upper()}", 11.0), Center("confers", 11.0,
                                                                          "italic"),
                  Center(title_en, 17.0, "bold", RED), Center(f"in {major_en}", 12.0),
                  Center(f"upon {mr} {english}", 13.0),
                  Center(f"Date of birth: {person.dob.day} "
                         f"{EN_MONTHS[person.dob.month - 1]} {person.dob.year}", 11.0,
                         "regular"),
                  Center(f"Degree classification: {grade_en}", 11.0, "regular"),
                  Center(f"{ascii_fold(city)}, {en_date}", 11.0, "italic")),
            right=(Center(MOTTO[0], 11.0), Center(MOTTO[1], 11.0), Center(""),
                   Center(f"HIỆU TRƯỞNG {uni.upper()}", 11.0), Center("cấp", 11.0, "italic"),
                   Center(title, 18.0, "bold", RED), Center(f"Ngành: {major}", 12.0),
                   Center(f"Cho: {name_line}", 13.0),
                   Center(f"Ngày sinh: {short_date(person.dob)}", 11.5, "regular"),
                   Center(f"Xếp loại tốt nghiệp: {grade}", 11.5, "regular"),
                   Center(f"{city}, {long_date(graduated)}", 11.5, "italic")),
            footer=footer, signer=("HIỆU TRƯỞNG",), signer_name=_official(rng),
            seal=(uni.upper(), abbr))
    else:
        spec = Paper(
            authority=("BỘ GIÁO DỤC VÀ ĐÀO TẠO", uni.upper()), title=(title,),
            body=(Center(f"HIỆU TRƯỞNG {uni.upper()}", 12.0), Center("cấp bằng cho", 12.0,
                                                                     "italic"),
                  line("Họ và tên: ", person.full_name, True),
                  line("Ngày sinh: ", short_date(person.dob)),
                  line("Ngành đào tạo: ", major), line("Xếp loại tốt nghiệp: ", grade),
                  line("Hình thức đào tạo: ", "Chính quy")),
            place_date=f"{city}, {long_date(graduated)}", signer=("HIỆU TRƯỞNG",),
            signer_name=_official(rng), seal=(uni.upper(), abbr), footer=footer)
    fields = {"full_name": person.full_name, "date_of_birth": person.dob.isoformat(),
              "major": major, "grade": grade, "serial_number": serial,
              "register_number": register, "issue_date": graduated.isoformat()}
    return Drawn(spec, fields, ("bilingual", "table")[variant])


COMPANY_KINDS = (
    ("TNHH", "CÔNG TY TRÁCH NHIỆM HỮU HẠN MỘT THÀNH VIÊN", "COMPANY LIMITED", "CO., LTD"),
    ("TNHH", "CÔNG TY TRÁCH NHIỆM HỮU HẠN HAI THÀNH VIÊN TRỞ LÊN", "COMPANY LIMITED",
     "CO., LTD"),
    ("CỔ PHẦN", "CÔNG TY CỔ PHẦN", "JOINT STOCK COMPANY", "JSC"),
)
TRADES = (("THƯƠNG MẠI VÀ DỊCH VỤ", "TRADING AND SERVICES"), ("XÂY DỰNG", "CONSTRUCTION"),
          ("CÔNG NGHỆ", "TECHNOLOGY"), ("VẬN TẢI", "TRANSPORT"), ("THỰC PHẨM", "FOOD"),
          ("ĐẦU TƯ", "INVESTMENT"))
BRANDS = ("AN PHÁT", "HOÀNG LONG", "MINH KHANG", "PHÚ THỊNH", "THIÊN ÂN", "ĐẠI VIỆT",
          "SAO MAI", "TÂN TIẾN", "HƯNG THỊNH", "BẢO NGỌC", "TRƯỜNG SƠN", "NAM PHƯƠNG")
CAPITALS = (("500.000.000 đồng", "Năm trăm triệu đồng"), ("1.000.000.000 đồng", "Một tỷ đồng"),
            ("2.000.000.000 đồng", "Hai tỷ đồng"), ("5.000.000.000 đồng", "Năm tỷ đồng"),
            ("10.000.000.000 đồng", "Mười tỷ đồng"))


def _business_registration(rng: Rng, variant: int, index: int) -> Drawn:
    rep = make_person(rng, (date(1960, 1, 1), date(2000, 12, 31)))
    place = _pick(rng, [p for p in PLACES if p.code in ENTERPRISE_PREFIX])
    first = _day(rng, max(anniversary(rep.dob, 20), date(2010, 1, 1)), LATEST)
    code = ENTERPRISE_PREFIX[place.code] + f"{int(rng.integers(0, 10**8)):08d}"
    short, kind, kind_en, abbr_en = _pick(rng, COMPANY_KINDS)
    trade, trade_en = _pick(rng, TRADES)
    brand = _pick(rng, BRANDS)
    name = f"CÔNG TY {short} {trade} {brand}"
    office = "SỞ TÀI CHÍNH" if first >= date(2025, 3, 1) else "SỞ KẾ HOẠCH VÀ ĐẦU TƯ"
    province = place.province.upper()
    capital, capital_words = _pick(rng, CAPITALS)
    street = f"Số {int(rng.integers(1, 400))} đường {_pick(rng, STREETS)}"
    body: tuple[Row, ...] = (
        Center(f"Mã số doanh nghiệp: {code}", 13.5),
        Center(f"Đăng ký lần đầu: {long_date(first)}", 12.5, "italic"),
        Heading("1. Tên công ty"),
        line("Tên công ty viết bằng tiếng Việt: ", name, True),
        line("Tên công ty viết bằng tiếng nước ngoài: ",
             f"{ascii_fold(brand)} {trade_en} {kind_en}"),
        line("Tên công ty viết tắt: ", f"{ascii_fold(brand)} {abbr_en}"),
        Heading("2. Địa chỉ trụ sở chính"),
        Para(f"{street}, {place.address[:1].lower()}{place.address[1:]}, Việt Nam"),
        line("Điện thoại: ", f"0{int(rng.integers(20, 99))} {int(rng.integers(10**6, 10**7))}"),
        Heading("3. Vốn điều lệ"),
        line("Vốn điều lệ: ", capital), line("Bằng chữ: ", capital_words),
        Heading("4. Người đại diện theo pháp luật của công ty"),
        Line((("Họ và tên: ", rep.upper), ("Giới tính: ", rep.sex_vn)), True),
        line("Chức danh: ", _pick(rng, ("Giám đốc", "Tổng giám đốc", "Chủ tịch công ty"))),
        Line((("Sinh ngày: ", short_date(rep.dob)), ("Dân tộc: ", _pick(rng, ETHNICITIES)),
              ("Quốc tịch: ", "Việt Nam"))),
        line("Loại giấy tờ pháp lý của cá nhân: ", "Căn cước công dân"),
        line("Số giấy tờ pháp lý của cá nhân: ", rep.id_number),
        line("Địa chỉ thường trú: ", rep.residence),
    )
    paper = Paper(authority=(office, province, "PHÒNG ĐĂNG KÝ KINH DOANH"),
                  title=("GIẤY CHỨNG NHẬN ĐĂNG KÝ DOANH NGHIỆP",), subtitle=(kind,), body=body,
                  signer=("TRƯỞNG PHÒNG",), signer_name=_official(rng),
                  seal=("PHÒNG ĐĂNG KÝ KINH DOANH", _abbrev(place.province)))
    fields = {"enterprise_code": code, "company_name": name, "issue_date": first.isoformat(),
              "full_name": rep.full_name, "sex": rep.sex, "date_of_birth": rep.dob.isoformat(),
              "id_number": rep.id_number}
    return Drawn(paper, fields, ("form", "table")[variant])


LAND_USES = ("Đất ở tại đô thị", "Đất ở tại nông thôn", "Đất trồng cây lâu năm")
LAND_ORIGINS = ("Nhà nước giao đất có thu tiền sử dụng đất",
                "Công nhận quyền sử dụng đất như giao đất có thu tiền sử dụng đất",
                "Nhận chuyển nhượng đất được công nhận quyền sử dụng")


def _land_use_cert(rng: Rng, variant: int, index: int) -> Drawn:
    owner = make_person(rng, (date(1950, 1, 1), date(1995, 12, 31)))
    issued = _day(rng, date(2010, 1, 1) if variant == 0 else date(2024, 8, 1),
                  date(2024, 7, 31) if variant == 0 else LATEST)
    letters = "".join(_pick(rng, "ABCDEGHKLMNPSTVX") for _ in range(2))
    digits = f"{int(rng.integers(0, 10**8)):08d}"
    serial = letters + digits
    register = f"{'CH' if variant == 0 else 'CS'}{int(rng.integers(1, 10**5)):05d}"
    parcel, sheet = str(int(rng.integers(1, 999))), str(int(rng.integers(1, 80)))
    area = f"{rng.integers(400, 5000) / 10:.1f}"
    land = _pick(rng, PLACES)
    where = (f"{_pick(rng, VILLAGES)}, " if land.commune.startswith("xã") else
             f"Số {int(rng.integers(1, 300))} đường {_pick(rng, STREETS)}, ")
    where += land.address[:1].lower() + land.address[1:]
    area_vn = area.replace(".", ",") + " m²"
    if variant == 0:
        body: tuple[Row, ...] = (
            Heading("I. Người sử dụng đất, chủ sở hữu nhà ở và tài sản khác gắn liền với đất"),
            Line(((f"{owner.honorific}: ", owner.upper), ("Năm sinh: ", str(owner.dob.year))),
                 True),
            line("Căn cước công dân số: ", owner.id_number),
            line("Địa chỉ thường trú: ", owner.residence),
            Heading("II. Thửa đất, nhà ở và tài sản khác gắn liền với đất"),
            Line((("a) Thửa đất số: ", parcel), ("Tờ bản đồ số: ", sheet))),
            line("b) Địa chỉ: ", where),
            line("c) Diện tích: ", area_vn),
            line("d) Hình thức sử dụng: ", "Sử dụng riêng"),
            line("đ) Mục đích sử dụng: ", _pick(rng, LAND_USES)),
            line("e) Thời hạn sử dụng: ", "Lâu dài"),
            line("g) Nguồn gốc sử dụng: ", _pick(rng, LAND_ORIGINS)),
            line("Số vào sổ cấp GCN: ", register),
        )
        paper = Paper(
            authority=("ỦY BAN NHÂN DÂN", land.district.upper()),
            title=("GIẤY CHỨNG NHẬN", "QUYỀN SỬ DỤNG ĐẤT",
                   "QUYỀN SỞ HỮU NHÀ Ở VÀ TÀI SẢN KHÁC GẮN LIỀN VỚI ĐẤT"), title_color=RED,
            body=body, place_date=f"{land.short}, {long_date(issued)}",
            signer=("TM. ỦY BAN NHÂN DÂN", "KT. CHỦ TỊCH", "PHÓ CHỦ TỊCH"),
            signer_name=_official(rng), seal=(f"ỦY BAN NHÂN DÂN {land.district.upper()}",
                                              _abbrev(land.province)),
            red_serial=f"{letters} {digits}")
    else:
        office = "SỞ NÔNG NGHIỆP VÀ MÔI TRƯỜNG" if issued >= date(2025, 3, 1) else \
            "SỞ TÀI NGUYÊN VÀ MÔI TRƯỜNG"
        body = (
            Heading("1. Người sử dụng đất, chủ sở hữu tài sản gắn liền với đất"),
            line("Họ và tên: ", owner.upper, True),
            line("Năm sinh: ", str(owner.dob.year)),
            line("Số định danh cá nhân: ", owner.id_number),
            line("Địa chỉ: ", owner.residence),
            Heading("2. Thông tin thửa đất"),
            line("Thửa đất số: ", parcel), line("Tờ bản đồ số: ", sheet),
            line("Địa chỉ thửa đất: ", where), line("Diện tích: ", area_vn),
            line("Loại đất: ", _pick(rng, LAND_USES)),
            line("Hình thức sử dụng: ", "Sử dụng riêng"),
            line("Thời hạn sử dụng: ", "Lâu dài"),
        )
        paper = Paper(
            authority=(office, land.province.upper()),
            title=("GIẤY CHỨNG NHẬN QUYỀN SỬ DỤNG ĐẤT,",
                   "QUYỀN SỞ HỮU TÀI SẢN GẮN LIỀN VỚI ĐẤT"), title_color=RED,
            numbers=(("Số phát hành: ", serial), ("Số vào sổ cấp GCN: ", register)),
            body=body, place_date=f"{land.short}, {long_date(issued)}",
            signer=("KT. GIÁM ĐỐC", "PHÓ GIÁM ĐỐC"), signer_name=_official(rng),
            seal=(office, _abbrev(land.province)))
    fields = {"serial_number": serial, "full_name": owner.full_name,
              "id_number": owner.id_number, "parcel_number": parcel, "map_sheet_number": sheet,
              "area_m2": area, "register_number": register, "issue_date": issued.isoformat()}
    return Drawn(paper, fields, ("form", "table")[variant])


OTHER_KINDS = ("decision", "notice", "invitation", "contract", "request", "cv")


def _other(rng: Rng, variant: int, index: int) -> Drawn:
    """Papers that are none of the nine types, including look-alikes that name one of them."""
    kind = OTHER_KINDS[(index // 2 + int(rng.integers(0, 3))) % len(OTHER_KINDS)]
    place = _pick(rng, PLACES)
    when = _day(rng, date(2018, 1, 1), LATEST)
    person = make_person(rng, (date(1965, 1, 1), date(2004, 12, 31)))
    n = int(rng.integers(1, 500))
    fields: dict[str, str] = {}
    common = {"authority": _commune_office(place),
              "place_date": f"{place.short}, {long_date(when)}",
              "signer": ("TM. ỦY BAN NHÂN DÂN", "CHỦ TỊCH"), "signer_name": _official(rng),
              "seal": _seal_of(place)}
    year = when.year
    if kind in ("decision", "notice", "invitation"):
        subject = _pick(rng, (
            f"kiện toàn Tổ công nghệ số cộng đồng {place.commune}",
            f"phê duyệt kế hoạch phòng, chống thiên tai năm {year}",
            f"tổ chức Ngày hội Đại đoàn kết toàn dân tộc năm {year}",
            "triển khai thu phí, lệ phí chứng thực bản sao điện tử"))
        code = {"decision": "QĐ", "notice": "TB", "invitation": "GM"}[kind]
        number = f"{n}/{code}-UBND"
        title = {"decision": "QUYẾT ĐỊNH", "notice": "THÔNG BÁO", "invitation": "GIẤY MỜI"}[kind]
        if kind == "decision":
            body: tuple[Row, ...] = (
                Para("Căn cứ Luật Tổ chức chính quyền địa phương ngày 19 tháng 6 năm 2015;"),
                Para("Căn cứ Nghị định số 23/2015/NĐ-CP ngày 16 tháng 02 năm 2015 của Chính "
                     "phủ về cấp bản sao từ sổ gốc, chứng thực bản sao từ bản chính;"),
                Para(f"Xét đề nghị của công chức Văn phòng - Thống kê {place.commune},"),
                Center("QUYẾT ĐỊNH:", 13.0),
                Para(f"Điều 1. {cap(subject)}, chi tiết theo kế hoạch kèm theo."),
                Para("Điều 2. Giao công chức chuyên môn theo dõi, đôn đốc và báo cáo kết quả."),
                Para("Điều 3. Quyết định này có hiệu lực kể từ ngày ký."),
            )
        elif kind == "notice":
            body = (
                Para(f"Thực hiện kế hoạch công tác năm {year}, Ủy ban nhân dân {place.commune} "
                     f"thông báo về việc {subject} như sau:"),
                Para("1. Thời gian thực hiện: từ ngày ký đến hết ngày 31 tháng 12."),
                Para("2. Các tổ dân phố, thôn, ấp phổ biến đến từng hộ gia đình."),
                Para("3. Mọi vướng mắc liên hệ bộ phận Một cửa để được hướng dẫn."),
                Para(f"Ủy ban nhân dân {place.commune} thông báo để nhân dân biết, thực hiện."),
            )
        else:
            body = (
                Para(f"Ủy ban nhân dân {place.commune} trân trọng kính mời:"),
                line("Ông/Bà: ", person.full_name, True),
                Para(f"tới dự hội nghị về việc {subject}."),
                line("Thời gian: ", f"08 giờ 00 phút, {long_date(when)}"),
                line("Địa điểm: ", f"Hội trường Ủy ban nhân dân {place.commune}"),
                Para("Rất mong Ông/Bà tham dự đúng thời gian."),
            )
        paper = Paper(title=(title,), subtitle=(f"Về việc {subject}",), body=body,
                      numbers=(("Số: ", number),), **common)
        fields = {"document_number": number, "issue_date": when.isoformat()}
    elif kind == "contract":
        company = f"CÔNG TY TNHH {_pick(rng, TRADES)[0]} {_pick(rng, BRANDS)}"
        number = f"{n:02d}/{year}/HĐLĐ"
        body = (
            Para(f"Hôm nay, {long_date(when)}, tại {company}, chúng tôi gồm:"),
            Heading("Bên A (Người sử dụng lao động)"),
            line("Đại diện: ", _official(rng)), line("Chức vụ: ", "Giám đốc"),
            Heading("Bên B (Người lao động)"),
            line("Họ và tên: ", person.upper, True),
            line("Ngày sinh: ", short_date(person.dob)),
            line("Số định danh cá nhân: ", person.id_number),
            line("Địa chỉ thường trú: ", person.residence),
            Para("Thỏa thuận ký kết hợp đồng lao động và cam kết làm đúng những điều khoản sau:"),
            Para("Điều 1. Thời hạn hợp đồng: 12 tháng; công việc: nhân viên kinh doanh."),
            Para("Điều 2. Mức lương chính: 9.500.000 đồng/tháng; trả vào ngày 05 hằng tháng."),
        )
        code = ENTERPRISE_PREFIX.get(place.code, "01") + f"{int(rng.integers(0, 10**8)):08d}"
        paper = Paper(authority=(company, f"Mã số doanh nghiệp: {code}"),
                      title=("HỢP ĐỒNG LAO ĐỘNG",), body=body, numbers=(("Số: ", number),),
                      signer=("NGƯỜI SỬ DỤNG LAO ĐỘNG",), signer_name=_official(rng))
        fields = {"document_number": number, "issue_date": when.isoformat(),
                  "full_name": person.full_name, "date_of_birth": person.dob.isoformat(),
                  "id_number": person.id_number}
    elif kind == "request":  # names a birth certificate, but is an application form
        body = (
            line("Kính gửi: ", _issuer(place)),
            line("Họ, chữ đệm, tên người yêu cầu: ", person.upper, True),
            line("Nơi cư trú: ", person.residence),
            line("Giấy tờ tùy thân: ", f"Căn cước công dân số {person.id_number}"),
            line("Quan hệ với người được cấp bản sao: ", "Bản thân"),
            Para("Đề nghị cơ quan cấp bản sao trích lục hộ tịch đối với việc đăng ký khai sinh "
                 "của người có tên dưới đây:"),
            line("Họ, chữ đệm, tên: ", person.upper, True),
            line("Ngày, tháng, năm sinh: ", short_date(person.dob)),
            line("Loại giấy tờ đề nghị cấp bản sao: ", "Giấy khai sinh"),
            line("Số lượng bản sao: ", "02 bản"),
        )
        paper = Paper(authority=(), title=("TỜ KHAI ĐỀ NGHỊ CẤP BẢN SAO TRÍCH LỤC HỘ TỊCH",),
                      body=body, place_date=f"{place.short}, {long_date(when)}",
                      signer=("NGƯỜI YÊU CẦU", "(Ký, ghi rõ họ, chữ đệm, tên)"),
                      signer_name=person.full_name)
        fields = {"full_name": person.full_name, "date_of_birth": person.dob.isoformat(),
                  "id_number": person.id_number}
    else:
        father = make_person(rng, (anniversary(person.dob, -45), anniversary(person.dob, -20)),
                             "M", family=person.full_name.split()[0])
        body = (
            line("Họ và tên: ", person.upper, True),
            Line((("Giới tính: ", person.sex_vn), ("Dân tộc: ", _pick(rng, ETHNICITIES)))),
            line("Sinh ngày: ", short_date(person.dob)),
            line("Nơi đăng ký khai sinh: ", person.origin.address),
            line("Số định danh cá nhân: ", person.id_number),
            line("Nơi thường trú: ", person.residence),
            line("Trình độ học vấn: ", "12/12"),
            Heading("QUAN HỆ GIA ĐÌNH"),
            line("Họ và tên bố: ", father.upper),
            line("Nghề nghiệp: ", _pick(rng, ("Làm ruộng", "Công nhân", "Hưu trí"))),
            Para("Tôi xin cam đoan những lời khai trên là đúng sự thật, nếu sai tôi xin chịu "
                 "trách nhiệm trước pháp luật."),
        )
        paper = Paper(authority=(), title=("SƠ YẾU LÝ LỊCH",), body=body,
                      place_date=f"{place.short}, {long_date(when)}",
                      signer=("NGƯỜI KHAI", "(Ký, ghi rõ họ tên)"), signer_name=person.full_name)
        fields = {"full_name": person.full_name, "sex": person.sex,
                  "date_of_birth": person.dob.isoformat(), "id_number": person.id_number,
                  "place_of_birth": person.origin.address,
                  "father_full_name": father.full_name}
    return Drawn(paper, fields, ("form", "table")[variant], {"kind": kind})


BUILDERS = {
    "birth_cert": _birth_cert, "marriage_cert": _marriage_cert,
    "death_extract": _death_extract, "marital_status": _marital_status,
    "citizen_id": _citizen_id, "driving_license": _driving_license,
    "university_diploma": _university_diploma,
    "business_registration": _business_registration, "land_use_cert": _land_use_cert,
    "other": _other,
}


# --------------------------------------------------------------------------- scanning


def _scan_look(arr: np.ndarray, rng: Rng, dpi: int) -> np.ndarray:
    """Every scan: tinted paper, a little optical blur and sensor noise."""
    paper = np.array([rng.uniform(246, 255), rng.uniform(242, 252), rng.uniform(230, 246)])
    lut = (np.arange(256)[:, None] * paper[None, :] / 255).round().astype(np.uint8)
    arr = cv2.LUT(arr, lut[None, :, :])
    arr = cv2.GaussianBlur(arr, (0, 0), 0.45 * dpi / 300)
    return _noise(arr, rng, 2.0)


def _noise(arr: np.ndarray, rng: Rng, sigma: float) -> np.ndarray:
    """Luminance noise. OpenCV's generator is 5x faster than numpy's here; it is seeded from
    the document's stream right before use, so the result stays deterministic."""
    cv2.setRNGSeed(int(rng.integers(0, 2**31 - 1)))
    noise = np.empty(arr.shape[:2], np.int16)
    cv2.randn(noise, 0, sigma)
    noisy = cv2.add(arr, cv2.merge([noise, noise, noise]), dtype=cv2.CV_16S)
    return cv2.convertScaleAbs(noisy)  # saturates at 255; ink never goes below 0 by much


def _illumination(arr: np.ndarray, rng: Rng, strength: float) -> np.ndarray:
    """A lamp brighter on one side: a smooth multiplicative field."""
    h, w = arr.shape[:2]
    gy, gx = np.mgrid[0:16, 0:16].astype(np.float32) / 15
    cx, cy = rng.uniform(-0.4, 1.4, 2)
    dist = np.clip(((gx - cx) ** 2 + (gy - cy) ** 2) / 1.6, 0, 1)
    light = ((1 - strength * dist) * 255).astype(np.uint8)
    light = cv2.resize(light, (w, h), interpolation=cv2.INTER_LINEAR)
    return cv2.multiply(arr, cv2.merge([light, light, light]), scale=1 / 255)


def _skew(arr: np.ndarray, angle: float) -> np.ndarray:
    h, w = arr.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    return cv2.warpAffine(arr, m, (w, h), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=(236, 236, 233))


def _resample(arr: np.ndarray, dpi: int, target: int) -> np.ndarray:
    h, w = arr.shape[:2]
    size = (max(1, round(w * target / dpi)), max(1, round(h * target / dpi)))
    return cv2.resize(arr, size, interpolation=cv2.INTER_AREA)


def _jpeg_roundtrip(arr: np.ndarray, quality: int) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "JPEG", quality=quality)
    buf.seek(0)
    with Image.open(buf) as img:
        return np.asarray(img.convert("RGB"))


def _mild_damage(rng: Rng, card: bool) -> list[tuple[str, float]]:
    """A seeded share of the usual scan faults, each still readable by a person."""
    if rng.random() < 0.25:
        return []
    out: list[tuple[str, float]] = []
    if rng.random() < 0.5:
        angle = float(rng.uniform(0.4, 3.0)) * (1 if rng.random() < 0.5 else -1)
        out.append(("skew", round(angle, 1)))
    if rng.random() < 0.35:
        out.append(("illumination", round(float(rng.uniform(0.15, 0.35)), 2)))
    low = rng.random() < 0.2
    if not low and rng.random() < 0.3:
        out.append(("blur", round(float(rng.uniform(0.6, 1.3)), 1)))
    if low:
        out.append(("dpi", float(_pick(rng, LOW_DPI_CARD if card else LOW_DPI_PAPER))))
    if rng.random() < 0.35:
        out.append(("noise", float(rng.integers(4, 11))))
    if rng.random() < 0.2:
        out.append(("rotate", float(_pick(rng, (90, 180, 270)))))
    if rng.random() < 0.35:
        out.append(("jpeg", float(rng.integers(30, 56))))
    return out or [("noise", 6.0)]


def _apply(arr: np.ndarray, rng: Rng, dpi: int,
           damage: Sequence[tuple[str, float]]) -> tuple[np.ndarray, int]:
    """Apply damage in the order a scan suffers it: light, optics, placement, sampling,
    sensor, the file."""
    order = ("illumination", "blur", "heavy_blur", "skew", "dpi", "noise", "rotate", "jpeg")
    for name, value in sorted(damage, key=lambda d: order.index(d[0])):
        if name == "illumination":
            arr = _illumination(arr, rng, value)
        elif name == "blur":
            arr = cv2.GaussianBlur(arr, (0, 0), value * dpi / 300)
        elif name == "heavy_blur":  # value in mm: whole letters melt into each other
            arr = cv2.GaussianBlur(arr, (0, 0), value * dpi / 25.4)
            fade = (255 - (255 - np.arange(256)) * 0.55).astype(np.uint8)
            arr = cv2.LUT(arr, fade)
        elif name == "skew":
            arr = _skew(arr, value)
        elif name == "dpi":
            arr, dpi = _resample(arr, dpi, int(value)), int(value)
        elif name == "noise":
            arr = _noise(arr, rng, value)
        elif name == "rotate":
            arr = np.ascontiguousarray(np.rot90(arr, -int(value) // 90))  # clockwise
        elif name == "jpeg":
            arr = _jpeg_roundtrip(arr, int(value))
    return arr, dpi


def _fmt(name: str, value: float) -> str:
    return f"{name}:{int(value) if float(value).is_integer() else value}"


def condition_of(doc_type: str, index: int, degrade: bool = True) -> str:
    """"ok", or the refusal a document is drawn to earn. One in five is bad, cycling through
    the four kinds so that even a small set holds each of them."""
    t = DOC_TYPES.index(doc_type)
    k = index + t
    if not degrade or k % 5 != 4:
        return "ok"
    kind = BAD_KINDS[(t + k // 5) % len(BAD_KINDS)]
    if kind == "classified" and doc_type in CARD_TYPES:  # nobody stamps an ID card secret
        kind = "illegible"
    return kind


def make_document(out_dir: Path, stem: str, doc_type: str, index: int, *, seed: int,
                  degrade: bool = True, condition: str | None = None) -> dict:
    """Draw, scan and save one document; return its label. `condition` forces "ok" or one of
    BAD_KINDS instead of the schedule."""
    t = DOC_TYPES.index(doc_type)
    rng = np.random.default_rng([seed, t, index])
    cond = condition or condition_of(doc_type, index, degrade)
    card = doc_type in CARD_TYPES
    drawn = BUILDERS[doc_type](rng, index % 2, index)
    families = available_families(CARD_FONTS if card else PAPER_FONTS)
    family = families[(index // 2 + t) % len(families)]
    dpi = int(_pick(rng, CARD_DPIS if card else PAPER_DPIS))
    damage: list[tuple[str, float]] = []
    notes: list[str] = []
    fields = dict(drawn.fields)
    if cond == "blank_page":
        size = (CARD_MM[0] + 2 * BED_MM, CARD_MM[1] + 2 * BED_MM) if card else A4_MM
        img = Sheet(size, dpi, family).img
        fields = {}
        notes.append("blank")
    else:
        if cond == "classified":
            mark = SECRET_MARKS[(index // 5) % len(SECRET_MARKS)]
            drawn = replace(drawn, spec=replace(drawn.spec, mark=mark))
            notes.append(f"stamp:{mark}")
        img = render(drawn, family, dpi, rng)
    arr = _scan_look(np.asarray(img), rng, dpi)
    if cond == "illegible":
        damage = [("heavy_blur", round(float(rng.uniform(0.9, 1.3)), 2)),
                  ("noise", float(rng.integers(5, 9)))]
    elif cond == "low_resolution":
        damage = [("dpi", float(UNREADABLE_DPI))]
    elif cond == "ok" and degrade:
        damage = _mild_damage(rng, card)
    elif cond in ("blank_page", "classified") and rng.random() < 0.5:
        damage = [("skew", round(float(rng.uniform(-2.0, 2.0)), 1))]
    arr, dpi = _apply(arr, rng, dpi, damage)
    use_png = card and rng.random() < 0.5
    name = f"{stem}.{'png' if use_png else 'jpg'}"
    out = Image.fromarray(arr)
    if use_png:
        out.save(out_dir / name, "PNG", dpi=(dpi, dpi), compress_level=1)
    else:
        out.save(out_dir / name, "JPEG", quality=90, dpi=(dpi, dpi))
    label = {
        "file": name, "doc_type": doc_type,
        "expected": "ok" if cond == "ok" else f"rejected:{cond}",
        "fields": fields, "degradations": notes + [_fmt(n, v) for n, v in damage],
        "layout": drawn.layout, "font": family, "dpi": dpi, **drawn.extra,
    }
    return label


def generate(out_dir: Path, *, per_type: int, seed: int, degrade: bool = True,
             types: Sequence[str] | None = None) -> list[dict]:
    """Write `per_type` documents of every type (or of `types`) and labels.jsonl; return the
    labels. With degrade=False every document is a clean, readable scan."""
    chosen = tuple(types or DOC_TYPES)
    unknown = set(chosen) - set(DOC_TYPES)
    if unknown:
        raise ValueError(f"unknown document types: {sorted(unknown)}")
    out_dir.mkdir(parents=True, exist_ok=True)
    labels = []
    for index in range(per_type):
        for doc_type in chosen:
            stem = f"doc-{len(labels) + 1:04d}"
            labels.append(make_document(out_dir, stem, doc_type, index, seed=seed,
                                        degrade=degrade))
    with open(out_dir / "labels.jsonl", "w", encoding="utf-8") as fh:
        for label in labels:
            fh.write(json.dumps(label, ensure_ascii=False) + "\n")
    return labels


def read_labels(set_dir: Path) -> list[dict]:
    with open(set_dir / "labels.jsonl", encoding="utf-8") as fh:
        return [json.loads(row) for row in fh if row.strip()]
