#!/usr/bin/env python3
"""Render FICTITIOUS sample Vietnamese civil papers as scan-like images.

Why this exists: ecopy's OCR, classification and field-extraction stages need
realistic inputs for tests and demos, but real birth certificates and citizen
ID cards carry personal data that must never enter the repository. This script
draws look-alike documents for invented people, then degrades them the way a
flatbed scan does (paper tint, slight skew, optical blur, sensor noise, JPEG),
so the pipeline sees something close to production input while the ground
truth stays exactly known.

Everything is seeded, so running it twice gives byte-identical files on the
same Pillow/libjpeg build, and the committed samples can be regenerated.

Usage: python scripts/make_samples.py [--out samples/] [--seed 20240605]
"""

from __future__ import annotations

import argparse
import io
import json
import math
import sys
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

# --------------------------------------------------------------------------- constants

DPI = 300
A4_PX = (2480, 3508)  # 210 x 297 mm at 300 dpi
CARD_PX = (1011, 638)  # ISO/IEC 7810 ID-1, 85.60 x 53.98 mm at 300 dpi
DEFAULT_SEED = 20240605

# Searched in order so the script also works where fonts-liberation (v1) is installed.
FONT_DIRS = (
    Path("/usr/share/fonts/truetype/liberation2"),
    Path("/usr/share/fonts/truetype/liberation"),
)

INK = (18, 18, 22)
RED_INK = (196, 28, 36)
STAMP_RED = (205, 30, 45)
PEN_BLUE = (24, 42, 128)

RGB = tuple[int, int, int]
# How much the card's security lines darken the background: visible, yet far below
# the threshold an OCR binariser uses, so they never turn into fake characters.
GUILLOCHE_DARKEN: RGB = (10, 6, 2)


# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class BirthRecord:
    """What the fictitious birth certificate says; also the source of ground truth."""

    full_name: str
    date_of_birth: date
    dob_in_words: str
    sex: str  # "M" / "F"
    ethnicity: str
    nationality: str
    place_of_birth: str
    home_town: str
    id_number: str
    mother_name: str
    mother_birth_year: int
    father_name: str
    father_birth_year: int
    residence: str
    declarant_name: str
    declarant_relation: str
    registry: tuple[str, str]  # drawn on two lines, as it is too long for one
    registered_on: date
    register_no: str
    book_no: str
    signer_title: str
    signer_name: str


@dataclass(frozen=True)
class CardRecord:
    """What the fictitious chip citizen ID card says; also the source of ground truth."""

    full_name: str
    date_of_birth: date
    sex: str
    nationality: str
    place_of_origin: str
    residence: tuple[str, str]
    id_number: str
    expiry_date: date


BIRTH = BirthRecord(
    full_name="NGUYỄN THỊ MAI ANH",
    date_of_birth=date(2001, 2, 5),
    dob_in_words="Ngày năm, tháng hai, năm hai nghìn không trăm linh một",
    sex="F",
    ethnicity="Kinh",
    nationality="Việt Nam",
    place_of_birth="Bệnh viện Phụ sản Hà Nội",
    home_town="Xã Ninh Hiệp, huyện Gia Lâm, thành phố Hà Nội",
    id_number="001301012345",
    mother_name="LÊ THỊ THU HÀ",
    mother_birth_year=1975,
    father_name="NGUYỄN VĂN HẢI",
    father_birth_year=1972,
    residence="Số 18 ngõ 92 phố Kim Hoa, phường Kim Liên, quận Đống Đa, Hà Nội",
    declarant_name="Nguyễn Văn Hải",
    declarant_relation="Cha",
    registry=("Ủy ban nhân dân phường Kim Liên,", "quận Đống Đa, thành phố Hà Nội"),
    registered_on=date(2001, 2, 10),
    register_no="123/2001",
    book_no="01/2001",
    signer_title="KT. CHỦ TỊCH / PHÓ CHỦ TỊCH",
    signer_name="Phạm Quang Huy",
)

# The same person as the birth certificate: the demo files both papers into one warehouse.
CARD = CardRecord(
    full_name=BIRTH.full_name,
    date_of_birth=BIRTH.date_of_birth,
    sex=BIRTH.sex,
    nationality=BIRTH.nationality,
    place_of_origin="Xã Ninh Hiệp, huyện Gia Lâm, Hà Nội",
    residence=("Số 18 ngõ 92 phố Kim Hoa, phường Kim Liên,", "quận Đống Đa, TP. Hà Nội"),
    id_number=BIRTH.id_number,
    expiry_date=date(2041, 2, 5),  # re-issued at 25, valid until the 40th birthday
)

# Province codes used above (Decree 137/2015 numbering), only what this script needs.
PROVINCES = {"001": "Hà Nội", "079": "TP Hồ Chí Minh"}


def check_id_number(id_number: str, dob: date, sex: str) -> None:
    """Fail loudly if a 12-digit personal ID contradicts the birth date or sex.

    Why: extraction tests cross-check the ID against the DOB/sex, so a sample whose
    ID is internally inconsistent would silently teach the pipeline the wrong rule.
    Digit 4 encodes century and sex: 0/1 = 1900s male/female, 2/3 = 2000s, and so on.
    """
    if len(id_number) != 12 or not id_number.isdigit():
        raise ValueError(f"{id_number!r} is not 12 digits")
    if id_number[:3] not in PROVINCES:
        raise ValueError(f"unknown province code {id_number[:3]}")
    century_index = (dob.year // 100) - 19
    expected = 2 * century_index + (1 if sex == "F" else 0)
    if int(id_number[3]) != expected:
        raise ValueError(f"{id_number}: digit 4 should be {expected} for {sex} born {dob.year}")
    if id_number[4:6] != f"{dob.year % 100:02d}":
        raise ValueError(f"{id_number}: digits 5-6 should be {dob.year % 100:02d}")


# --------------------------------------------------------------------------- drawing helpers


def font_path(name: str) -> Path:
    """Locate a Liberation font file; these metric-compatible fonts cover Vietnamese."""
    for folder in FONT_DIRS:
        candidate = folder / name
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(
        f"{name} not found in {', '.join(map(str, FONT_DIRS))}; install fonts-liberation2"
    )


class Fonts:
    """Caches FreeType faces by (file, pixel size) since the layout asks for many repeats."""

    def __init__(self) -> None:
        self._cache: dict[tuple[str, int], ImageFont.FreeTypeFont] = {}

    def get(self, name: str, size: int) -> ImageFont.FreeTypeFont:
        """Return the face `name` (e.g. 'SerifBold') at `size` pixels."""
        key = (name, size)
        if key not in self._cache:
            file = {
                "Serif": "LiberationSerif-Regular.ttf",
                "SerifBold": "LiberationSerif-Bold.ttf",
                "SerifItalic": "LiberationSerif-Italic.ttf",
                "Sans": "LiberationSans-Regular.ttf",
                "SansBold": "LiberationSans-Bold.ttf",
                "SansItalic": "LiberationSans-Italic.ttf",
            }[name]
            self._cache[key] = ImageFont.truetype(str(font_path(file)), size)
        return self._cache[key]


def nfc(text: str) -> str:
    """Normalise to NFC: precomposed Vietnamese letters render and OCR most reliably."""
    return unicodedata.normalize("NFC", text)


def draw_runs(
    draw: ImageDraw.ImageDraw,
    x: float,
    y: float,
    runs: Sequence[tuple[str, ImageFont.FreeTypeFont, RGB]],
) -> float:
    """Draw consecutive text runs on one baseline (label regular, value bold) and
    return the x where the next run would start."""
    for text, font, fill in runs:
        draw.text((x, y), nfc(text), font=font, fill=fill, anchor="ls")
        x += font.getlength(nfc(text))
    return x


def draw_centered(
    draw: ImageDraw.ImageDraw,
    cx: float,
    y: float,
    text: str,
    font: ImageFont.FreeTypeFont,
    fill: RGB = INK,
) -> None:
    """Draw `text` centred on `cx` with its baseline at `y`."""
    draw.text((cx, y), nfc(text), font=font, fill=fill, anchor="ms")


def underline_centered(
    draw: ImageDraw.ImageDraw,
    cx: float,
    y: float,
    width: float,
    thickness: int,
) -> None:
    """Short rule under the national motto, as on every Vietnamese state form."""
    draw.line([(cx - width / 2, y), (cx + width / 2, y)], fill=INK, width=thickness)


def draw_signature(
    draw: ImageDraw.ImageDraw,
    rng: np.random.Generator,
    x0: float,
    y0: float,
    w: float,
    h: float,
) -> None:
    """Scribble a pen signature from a few sums of sines so it looks handwritten,
    is different per seed, and is never anybody's real signature."""
    n = 260
    t = np.linspace(0.0, 1.0, n)
    xs = x0 + w * t + (w * 0.05) * np.sin(2 * math.pi * (6 + rng.uniform(-1, 1)) * t)
    ys = y0 + h * 0.5
    for freq in (3.0, 7.0, 11.0):
        ys = ys + (h * rng.uniform(0.08, 0.2)) * np.sin(
            2 * math.pi * freq * t + rng.uniform(0, 2 * math.pi)
        )
    pts = list(zip(xs.tolist(), ys.tolist(), strict=True))
    draw.line(pts, fill=PEN_BLUE, width=5, joint="curve")
    # Flourish under the name, as most Vietnamese officials sign.
    fx = np.linspace(x0 - w * 0.05, x0 + w * 1.05, 80)
    fy = y0 + h * 0.95 - (h * 0.15) * np.sin(np.linspace(0, math.pi, 80))
    draw.line(
        list(zip(fx.tolist(), fy.tolist(), strict=True)), fill=PEN_BLUE, width=4, joint="curve"
    )


def text_on_circle(
    layer: Image.Image,
    fonts: Fonts,
    cx: float,
    cy: float,
    radius: float,
    text: str,
    size: int,
    fill: tuple[int, int, int, int],
    start_deg: float,
    end_deg: float,
) -> None:
    """Place characters along an arc (angles clockwise from 12 o'clock), the way
    the ring text of an official round stamp reads."""
    font = fonts.get("SansBold", size)
    chars = list(nfc(text))
    step = (end_deg - start_deg) / max(len(chars) - 1, 1)
    for i, ch in enumerate(chars):
        if ch == " ":
            continue
        ang = start_deg + i * step
        glyph = Image.new("RGBA", (size * 2, size * 2), (0, 0, 0, 0))
        ImageDraw.Draw(glyph).text((size, size), ch, font=font, fill=fill, anchor="mm")
        glyph = glyph.rotate(-ang, resample=Image.Resampling.BICUBIC)
        rad = math.radians(ang)
        gx = cx + radius * math.sin(rad) - size
        gy = cy - radius * math.cos(rad) - size
        layer.alpha_composite(glyph, (round(gx), round(gy)))


def star_points(cx: float, cy: float, r_out: float, r_in: float) -> list[tuple[float, float]]:
    """Five-pointed star polygon (stamp centre, emblem) pointing up."""
    pts = []
    for k in range(10):
        r = r_out if k % 2 == 0 else r_in
        a = math.radians(-90 + 36 * k)
        pts.append((cx + r * math.cos(a), cy + r * math.sin(a)))
    return pts


def make_stamp(
    fonts: Fonts, rng: np.random.Generator, diameter: int, ring_text: str, centre_text: str
) -> Image.Image:
    """Build a red round seal as an RGBA layer with uneven ink, so it can be
    multiplied over the signature like a real rubber stamp."""
    layer = Image.new("RGBA", (diameter, diameter), (0, 0, 0, 0))
    d = ImageDraw.Draw(layer)
    col = (*STAMP_RED, 255)
    c = diameter / 2
    d.ellipse([6, 6, diameter - 6, diameter - 6], outline=col, width=10)
    d.ellipse([30, 30, diameter - 30, diameter - 30], outline=col, width=4)
    inner = diameter * 0.30
    d.ellipse([c - inner, c - inner, c + inner, c + inner], outline=col, width=4)
    text_on_circle(layer, fonts, c, c, c - 58, ring_text, 34, col, -140, 140)
    d.polygon(star_points(c, c - inner * 0.35, inner * 0.32, inner * 0.13), fill=col)
    d.text(
        (c, c + inner * 0.38),
        nfc(centre_text),
        font=fonts.get("SansBold", 30),
        fill=col,
        anchor="mm",
    )
    # Patchy ink: modulate alpha with smoothed noise.
    alpha = np.asarray(layer.getchannel("A"), dtype=np.float32)
    patch = cv2.GaussianBlur(rng.random((diameter, diameter), dtype=np.float32), (0, 0), 6)
    patch = (patch - patch.min()) / max(float(np.ptp(patch)), 1e-6)
    alpha *= 0.55 + 0.4 * patch
    layer.putalpha(Image.fromarray(alpha.clip(0, 255).astype(np.uint8)))
    return layer.rotate(float(rng.uniform(-12, 12)), resample=Image.Resampling.BICUBIC)


def multiply_layer(base: Image.Image, layer: Image.Image, xy: tuple[int, int]) -> None:
    """Multiply-blend an RGBA layer onto `base` in place: stamp ink darkens what is
    under it instead of hiding it, which keeps the signature visible."""
    x, y = xy
    w, h = layer.size
    region = np.asarray(base.crop((x, y, x + w, y + h)), dtype=np.float32) / 255.0
    lay = np.asarray(layer, dtype=np.float32) / 255.0
    a = lay[..., 3:4]
    out = region * (1.0 - a + a * lay[..., :3])
    base.paste(Image.fromarray((out * 255.0).round().astype(np.uint8)), (x, y))


# --------------------------------------------------------------------------- scan effects


def scanify(
    img: Image.Image,
    rng: np.random.Generator,
    *,
    tint: RGB,
    angle_deg: float,
    noise_sigma: float,
    blur_sigma: float,
    border: RGB,
) -> Image.Image:
    """Degrade a clean rendering like a flatbed scan: tinted paper with uneven
    lighting, optical blur, a small skew and sensor noise. Kept mild on purpose:
    the samples must stay OCR-readable because tests assert exact field values."""
    arr = np.asarray(img.convert("RGB"), dtype=np.float32) / 255.0
    h, w = arr.shape[:2]
    # Paper tint multiplies white; a soft left-to-right falloff imitates lamp unevenness.
    tint_v = np.array(tint, dtype=np.float32) / 255.0
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    light = 1.0 - 0.035 * ((xx / w - 0.3) ** 2 + 0.5 * (yy / h - 0.4) ** 2)
    arr = arr * tint_v * light[..., None]
    arr = cv2.GaussianBlur(arr, (0, 0), blur_sigma)
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle_deg, 1.0)
    arr = cv2.warpAffine(
        arr,
        m,
        (w, h),
        flags=cv2.INTER_CUBIC,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=tuple(c / 255.0 for c in border),
    )
    # Mostly luminance noise (shared by the channels) plus a little chroma noise.
    lum = rng.normal(0.0, noise_sigma / 255.0, (h, w, 1)).astype(np.float32)
    chroma = rng.normal(0.0, noise_sigma * 0.3 / 255.0, (h, w, 3)).astype(np.float32)
    arr = arr + lum + chroma
    return Image.fromarray((arr.clip(0.0, 1.0) * 255.0).round().astype(np.uint8))


def jpeg_roundtrip(img: Image.Image, quality: int) -> Image.Image:
    """Encode and decode once so block artefacts are baked in, as with a scanner
    or phone that stores JPEG before anything reaches ecopy."""
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality)
    buf.seek(0)
    with Image.open(buf) as decoded:
        return decoded.convert("RGB")


# --------------------------------------------------------------------------- birth certificate


def vn_date(d: date) -> str:
    """dd/mm/yyyy, the only date format on Vietnamese civil papers."""
    return d.strftime("%d/%m/%Y")


def render_birth_cert(rec: BirthRecord, fonts: Fonts, rng: np.random.Generator) -> Image.Image:
    """Lay out a GIẤY KHAI SINH like the Ministry of Justice form: issuing authority
    and register numbers top left, national motto top right, title, then one
    labelled line per field and the signer block with seal at the bottom."""
    page = Image.new("RGB", A4_PX, (255, 255, 255))
    d = ImageDraw.Draw(page)
    w, _ = A4_PX
    left = 230
    body = 50  # px em size: 12 pt at 300 dpi
    reg = fonts.get("Serif", body)
    # Values a little larger than labels: typed entries on the real form stand out, and
    # at 52 px tesseract keeps the stacked marks of capitals such as "Ễ" far more often.
    bold = fonts.get("SerifBold", body + 2)
    ital = fonts.get("SerifItalic", body - 4)
    hdr_b = fonts.get("SerifBold", 46)
    hdr = fonts.get("Serif", 44)

    # Header: authority block (left) and national motto (right), as on the real form.
    lcx, rcx = 620, 1700
    draw_centered(d, lcx, 250, "ỦY BAN NHÂN DÂN", hdr)
    draw_centered(d, lcx, 310, "PHƯỜNG KIM LIÊN", hdr_b)
    underline_centered(d, lcx, 336, 260, 3)
    draw_centered(d, rcx, 250, "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", hdr_b)
    draw_centered(d, rcx, 310, "Độc lập - Tự do - Hạnh phúc", hdr_b)
    underline_centered(
        d, rcx, 336, fonts.get("SerifBold", 46).getlength(nfc("Độc lập - Tự do - Hạnh phúc")), 3
    )

    y = 440
    draw_runs(d, left, y, [("Số: ", reg, INK), (rec.register_no, bold, INK)])
    draw_runs(d, left, y + 70, [("Quyển số: ", reg, INK), (rec.book_no, bold, INK)])

    draw_centered(d, w / 2, 720, "GIẤY KHAI SINH", fonts.get("SerifBold", 96))

    pitch = 88
    y = 880
    sex_vn = "Nữ" if rec.sex == "F" else "Nam"

    def line(label: str, value: str, value_font: ImageFont.FreeTypeFont = reg) -> None:
        nonlocal y
        draw_runs(d, left, y, [(label, reg, INK), (value, value_font, INK)])
        y += pitch

    def columns(pairs: Sequence[tuple[str, str, int]]) -> None:
        nonlocal y
        for label, value, x in pairs:
            draw_runs(d, x, y, [(label, reg, INK), (value, reg, INK)])
        y += pitch

    line("Họ, chữ đệm, tên: ", rec.full_name, bold)
    line("Ngày, tháng, năm sinh: ", vn_date(rec.date_of_birth))
    draw_runs(d, left + 60, y, [("ghi bằng chữ: ", reg, INK), (rec.dob_in_words, ital, INK)])
    y += pitch
    columns(
        [
            ("Giới tính: ", sex_vn, left),
            ("Dân tộc: ", rec.ethnicity, left + 640),
            ("Quốc tịch: ", rec.nationality, left + 1260),
        ]
    )
    line("Nơi sinh: ", rec.place_of_birth)
    line("Quê quán: ", rec.home_town)
    line("Số định danh cá nhân: ", rec.id_number, bold)
    y += 20
    line("Họ, chữ đệm, tên người mẹ: ", rec.mother_name, bold)
    columns(
        [
            ("Năm sinh: ", str(rec.mother_birth_year), left),
            ("Dân tộc: ", rec.ethnicity, left + 640),
            ("Quốc tịch: ", rec.nationality, left + 1260),
        ]
    )
    line("Nơi cư trú: ", rec.residence)
    y += 20
    line("Họ, chữ đệm, tên người cha: ", rec.father_name, bold)
    columns(
        [
            ("Năm sinh: ", str(rec.father_birth_year), left),
            ("Dân tộc: ", rec.ethnicity, left + 640),
            ("Quốc tịch: ", rec.nationality, left + 1260),
        ]
    )
    line("Nơi cư trú: ", rec.residence)
    y += 20
    line("Họ, chữ đệm, tên người đi khai sinh: ", rec.declarant_name)
    line("Quan hệ với người được khai sinh: ", rec.declarant_relation)
    line("Nơi đăng ký khai sinh: ", rec.registry[0])
    draw_runs(d, left + 60, y, [(rec.registry[1], reg, INK)])
    y += pitch
    reg_d = rec.registered_on
    line(
        "Ngày, tháng, năm đăng ký: ",
        f"Ngày {reg_d.day:02d} tháng {reg_d.month:02d} năm {reg_d.year}",
    )

    # Signer block, right half.
    y += 60
    sx = 1700
    draw_centered(
        d,
        sx,
        y,
        f"Hà Nội, ngày {reg_d.day:02d} tháng {reg_d.month:02d} năm {reg_d.year}",
        fonts.get("SerifItalic", 46),
    )
    draw_centered(d, sx, y + 80, "NGƯỜI KÝ GIẤY KHAI SINH", fonts.get("SerifBold", 46))
    draw_centered(
        d, sx, y + 140, "(Ký, ghi rõ họ tên, chức vụ và đóng dấu)", fonts.get("SerifItalic", 38)
    )
    draw_centered(d, sx, y + 200, rec.signer_title, fonts.get("SerifBold", 44))
    sig_top = y + 280
    draw_signature(d, rng, sx - 230, sig_top, 440, 170)
    draw_centered(d, sx, sig_top + 390, rec.signer_name, fonts.get("SerifBold", 48))

    # The seal covers the left third of the signature, as the rules for seals require,
    # but stays clear of the printed title and name so those remain OCR-readable.
    stamp = make_stamp(fonts, rng, 400, "ỦY BAN NHÂN DÂN PHƯỜNG KIM LIÊN", "Q. ĐỐNG ĐA")
    multiply_layer(page, stamp, (sx - 480, sig_top - 20))

    # Footer, small: says in Vietnamese that this is a mock-up without legal value.
    draw_runs(
        d,
        left,
        sig_top + 520,
        [("Ghi chú: Mẫu giả lập - không có giá trị pháp lý", fonts.get("SerifItalic", 36), INK)],
    )
    return page


# --------------------------------------------------------------------------- citizen ID card


def render_citizen_id(
    rec: CardRecord, fonts: Fonts, rng: np.random.Generator, scale: int
) -> Image.Image:
    """Lay out the front of a chip CĂN CƯỚC CÔNG DÂN card: emblem and bilingual
    motto on top, red title, photo box left, bilingual labelled fields right,
    expiry under the photo. `scale` multiplies every coordinate, letting us
    render at 2x (600 dpi) if OCR needs more pixels."""
    W, H = CARD_PX[0] * scale, CARD_PX[1] * scale

    def s(v: float) -> int:
        return round(v * scale)

    # Background: pale security-print gradient with faint guilloche lines.
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    base = np.empty((H, W, 3), dtype=np.float32)
    gx = xx / W
    base[..., 0] = 236 + 10 * gx
    base[..., 1] = 242 + 4 * gx
    base[..., 2] = 236 - 6 * gx
    for k in range(14):
        phase = rng.uniform(0, 2 * math.pi)
        curve = H * (k + 0.5) / 14 + s(14) * np.sin(2 * math.pi * xx / s(180) + phase)
        mask = np.abs(yy - curve) < 0.8 * scale
        base[mask] -= GUILLOCHE_DARKEN
    card = Image.fromarray(base.clip(0, 255).astype(np.uint8))
    d = ImageDraw.Draw(card)

    def f(name: str, px: float) -> ImageFont.FreeTypeFont:
        return fonts.get(name, s(px))

    # National emblem, simplified: red disc, gold ring, yellow star.
    ex, ey, er = s(95), s(88), s(62)
    d.ellipse([ex - er, ey - er, ex + er, ey + er], fill=(214, 170, 40))
    d.ellipse([ex - er + s(7), ey - er + s(7), ex + er - s(7), ey + er - s(7)], fill=(200, 30, 35))
    d.polygon(star_points(ex, ey - s(6), s(34), s(14)), fill=(250, 215, 40))

    hx = s(590)
    draw_centered(d, hx, s(42), "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", f("SansBold", 27))
    draw_centered(d, hx, s(76), "Độc lập - Tự do - Hạnh phúc", f("SansBold", 25))
    draw_centered(d, hx, s(104), "SOCIALIST REPUBLIC OF VIET NAM", f("Sans", 20))
    draw_centered(d, hx, s(128), "Independence - Freedom - Happiness", f("Sans", 20))
    draw_centered(d, hx, s(180), "CĂN CƯỚC CÔNG DÂN", f("SansBold", 44), RED_INK)
    draw_centered(d, hx, s(210), "Citizen Identity Card", f("SansBold", 22), RED_INK)

    # Photo placeholder with a neutral silhouette, never a face.
    px0, py0, px1, py1 = s(30), s(200), s(245), s(480)
    d.rectangle(
        [px0, py0, px1, py1], fill=(176, 180, 184), outline=(120, 124, 128), width=max(scale, 1)
    )
    hcx = (px0 + px1) // 2
    d.ellipse([hcx - s(45), py0 + s(55), hcx + s(45), py0 + s(160)], fill=(150, 154, 158))
    d.pieslice(
        [hcx - s(95), py0 + s(170), hcx + s(95), py1 + s(120)], 180, 360, fill=(150, 154, 158)
    )

    lab = f("Sans", 23)
    val = f("SansBold", 27)
    x = s(270)
    y = s(262)
    draw_runs(d, x, y, [("Số / No.: ", lab, INK), (rec.id_number, f("SansBold", 34), INK)])
    y += s(46)
    draw_runs(d, x, y, [("Họ và tên / Full name:", lab, INK)])
    y += s(40)
    draw_runs(d, x, y, [(rec.full_name, f("SansBold", 32), INK)])
    y += s(44)
    draw_runs(
        d, x, y, [("Ngày sinh / Date of birth: ", lab, INK), (vn_date(rec.date_of_birth), val, INK)]
    )
    y += s(40)
    sex_vn = "Nam" if rec.sex == "M" else "Nữ"
    draw_runs(d, x, y, [("Giới tính / Sex: ", lab, INK), (sex_vn, val, INK)])
    draw_runs(d, s(540), y, [("Quốc tịch / Nationality: ", lab, INK), (rec.nationality, val, INK)])
    y += s(40)
    draw_runs(d, x, y, [("Quê quán / Place of origin:", lab, INK)])
    y += s(34)
    draw_runs(d, x, y, [(rec.place_of_origin, val, INK)])
    y += s(40)
    draw_runs(d, x, y, [("Nơi thường trú / Place of residence:", lab, INK)])
    y += s(34)
    draw_runs(d, x, y, [(rec.residence[0], val, INK)])
    y += s(34)
    draw_runs(d, x, y, [(rec.residence[1], val, INK)])

    small = f("Sans", 17)
    draw_runs(d, s(24), s(512), [("Có giá trị đến:", small, INK)])
    draw_runs(d, s(24), s(534), [("Date of expiry:", small, INK)])
    draw_runs(d, s(24), s(566), [(vn_date(rec.expiry_date), f("SansBold", 22), INK)])

    # Rounded corners over the scanner bed, as a card sits on the glass.
    bed = Image.new("RGB", (W, H), (246, 246, 244))
    mask = Image.new("L", (W, H), 0)
    ImageDraw.Draw(mask).rounded_rectangle([0, 0, W - 1, H - 1], radius=s(34), fill=255)
    bed.paste(card, (0, 0), mask)
    return bed


# --------------------------------------------------------------------------- output


def ground_truth() -> dict[str, dict[str, object]]:
    """The exact values a perfect extractor should return for each sample file."""
    return {
        "birth_cert.jpg": {
            "doc_type": "birth_cert",
            "fields": {
                "full_name": BIRTH.full_name,
                "date_of_birth": BIRTH.date_of_birth.isoformat(),
                "sex": BIRTH.sex,
                "id_number": BIRTH.id_number,
            },
        },
        "citizen_id.png": {
            "doc_type": "citizen_id",
            "fields": {
                "full_name": CARD.full_name,
                "date_of_birth": CARD.date_of_birth.isoformat(),
                "sex": CARD.sex,
                "id_number": CARD.id_number,
                "expiry_date": CARD.expiry_date.isoformat(),
            },
        },
    }


def readme_text() -> str:
    """Provenance note for the output folder, so nobody mistakes a sample for a
    leaked real document and redistribution rights are explicit."""
    b, c = BIRTH, CARD
    return f"""# Sample documents (fictitious)

Every file in this folder is **fictitious**. The people, ID numbers, addresses,
signatures and seals were invented and drawn by `scripts/make_samples.py`
(seeded, deterministic); they do not depict any real person or any real
document. Any resemblance to real persons is coincidental. Place names are real
only so that addresses look plausible.

These files are free to use, modify and redistribute without restriction
(CC0 1.0 / public domain dedication). Regenerate them with:

    .venv/bin/python scripts/make_samples.py --out samples/

## Files

- `birth_cert.jpg`: Giấy khai sinh (birth certificate), A4, 2480x3508 px, 300 dpi, JPEG.
  - Person: {b.full_name}, female, born {vn_date(b.date_of_birth)} at {b.place_of_birth}.
  - Số định danh cá nhân {b.id_number}: 001 = Hà Nội, 3 = female born 2000-2099,
    01 = 2001, then a serial.
  - Mother {b.mother_name} ({b.mother_birth_year}), father {b.father_name}
    ({b.father_birth_year}); register no. {b.register_no}, registered
    {vn_date(b.registered_on)} by {" ".join(b.registry)}.
- `citizen_id.png`: Căn cước công dân (chip citizen ID card), front only,
  1011x638 px, 300 dpi, PNG.
  - Person: the same {c.full_name}, born {vn_date(c.date_of_birth)}, nationality
    {c.nationality}, ID {c.id_number}.
  - Place of origin {c.place_of_origin}; residence {" ".join(c.residence)};
    valid until {vn_date(c.expiry_date)}.

`ground_truth.json` holds the expected extraction result for each file
(`doc_type` plus `full_name`, `date_of_birth`, `sex`, `id_number`, and
`expiry_date` for the card), with dates in ISO 8601.

The birth certificate carries a "Số định danh cá nhân" although certificates
issued in 2001 did not have one; it stands for a re-issued extract.
"""


def build(out: Path, seed: int) -> list[Path]:
    """Render both samples plus README and ground truth into `out`; return the paths."""
    check_id_number(BIRTH.id_number, BIRTH.date_of_birth, BIRTH.sex)
    check_id_number(CARD.id_number, CARD.date_of_birth, CARD.sex)
    out.mkdir(parents=True, exist_ok=True)
    fonts = Fonts()
    # Separate streams so a layout tweak in one document does not reshuffle the other.
    rng_birth = np.random.default_rng([seed, 1])
    rng_card = np.random.default_rng([seed, 2])

    page = render_birth_cert(BIRTH, fonts, rng_birth)
    page = scanify(
        page,
        rng_birth,
        tint=(250, 246, 234),
        angle_deg=0.9,
        noise_sigma=1.5,
        blur_sigma=0.7,
        border=(252, 252, 250),
    )
    birth_path = out / "birth_cert.jpg"
    page.save(birth_path, "JPEG", quality=85, dpi=(DPI, DPI), optimize=True, subsampling=2)

    card = render_citizen_id(CARD, fonts, rng_card, scale=1)
    card = scanify(
        card,
        rng_card,
        tint=(252, 250, 244),
        angle_deg=-1.0,
        noise_sigma=1.0,
        blur_sigma=0.5,
        border=(246, 246, 244),
    )
    # Noise is lighter than on the page because PNG cannot compress it away; the JPEG
    # round trip adds the block texture a phone or scanner driver leaves behind.
    card = jpeg_roundtrip(card, quality=92)
    card_path = out / "citizen_id.png"
    card.save(card_path, "PNG", dpi=(DPI, DPI), optimize=True)

    gt_path = out / "ground_truth.json"
    gt_path.write_text(
        json.dumps(ground_truth(), ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    readme_path = out / "README.md"
    readme_path.write_text(readme_text(), encoding="utf-8")
    return [birth_path, card_path, gt_path, readme_path]


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point; prints each written file with its size for a quick budget check."""
    ap = argparse.ArgumentParser(description="Render fictitious sample Vietnamese papers.")
    ap.add_argument("--out", type=Path, default=Path("samples"), help="output folder")
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED, help="random seed")
    args = ap.parse_args(argv)
    for path in build(args.out, args.seed):
        print(f"{path}  {path.stat().st_size / 1024:.0f} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
