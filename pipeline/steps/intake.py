"""Intake: recognise the file by its content, enforce limits, plan how each page is rendered.

Nothing here decodes pixels: dimensions come from headers and PDF dictionaries, so a
decompression bomb is refused before it can take memory.
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pikepdf
from PIL import Image, UnidentifiedImageError

from pipeline.limits import Limits
from pipeline.reasons import Reason, Rejected

MAGIC = (
    (b"%PDF-", "pdf"),
    (b"\xff\xd8\xff", "jpeg"),
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"II*\x00", "tiff"),
    (b"MM\x00*", "tiff"),
    (b"II+\x00", "tiff"),  # BigTIFF
    (b"MM\x00+", "tiff"),
)
# Files that are whole and valid but are not scans: an archive, an office document, a web page,
# another image format … whatever their name says, they are the wrong type, not damaged.
OTHER_FORMATS = (
    (b"PK\x03\x04", "ZIP / DOCX / XLSX / ODT"), (b"PK\x05\x06", "ZIP"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "DOC / XLS"), (b"{\\rtf", "RTF"),
    (b"Rar!\x1a\x07", "RAR"), (b"7z\xbc\xaf\x27\x1c", "7z"), (b"\x1f\x8b", "gzip"),
    (b"\x7fELF", "program"), (b"MZ", "program"), (b"GIF87a", "GIF"), (b"GIF89a", "GIF"),
    (b"BM", "BMP"), (b"\x00\x00\x00\x0cjP  ", "JPEG 2000"), (b"OggS", "audio"),
    (b"ID3", "audio"),
)
_TEXT_START = (b"<!doctype", b"<html", b"<?xml", b"<svg", b"{", b"[")
# a file named like a type we take but with other content is a damaged file, not a wrong one
KNOWN_SUFFIXES = {".pdf", ".jpg", ".jpeg", ".png", ".tif", ".tiff"}
A4_LONG_SIDE_IN = 297 / 25.4
MAX_XOBJECT_DEPTH = 8


@dataclass(frozen=True)
class PagePlan:
    """How to get page `index` as an image: copy its JPEG, or render it with poppler."""

    index: int
    mode: str  # "image" | "copy_jpeg" | "render_color" | "render_gray" | "render_mono"
    dpi: float
    rotate: int = 0  # clockwise degrees already known from the file (PDF /Rotate, EXIF)


@dataclass(frozen=True)
class Inspection:
    kind: str
    page_count: int
    pages: tuple[PagePlan, ...]
    has_text: bool = False
    signed: bool = False


def sniff(path: Path) -> str:
    with open(path, "rb") as fh:
        head = fh.read(1024)
    if not head:
        raise Rejected(Reason.EMPTY_FILE)
    for magic, kind in MAGIC:
        if head.startswith(magic):
            return kind
    if b"%PDF-" in head:  # junk before the header is tolerated by PDF readers
        return "pdf"
    if _other_format(head):
        raise Rejected(Reason.WRONG_FILE_TYPE)
    if path.suffix.lower() in KNOWN_SUFFIXES:
        raise Rejected(Reason.CORRUPT_FILE)
    raise Rejected(Reason.WRONG_FILE_TYPE)


def _other_format(head: bytes) -> str:
    """What a whole file of another kind is ("" when it looks like nothing we know): the
    known signatures, RIFF/ISO media containers, and web and data formats (HTML, XML, SVG,
    JSON). Plain text named like a scan stays a damaged scan: nothing tells it apart from a
    file cut to its first bytes."""
    for magic, what in OTHER_FORMATS:
        if head.startswith(magic):
            return what
    if head[:4] == b"RIFF" and head[8:12] in (b"WEBP", b"WAVE", b"AVI "):
        return head[8:12].decode().strip()
    if head[4:8] == b"ftyp":
        return "HEIC / MP4"
    text = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    if text.lower().startswith(_TEXT_START):
        return "HTML / XML / JSON"
    return ""


def sha256_file(path: Path) -> str:
    with open(path, "rb") as fh:  # streamed: never the whole upload in memory
        return hashlib.file_digest(fh, "sha256").hexdigest()


def check_size(path: Path, limits: Limits) -> int:
    size = path.stat().st_size
    if size == 0:
        raise Rejected(Reason.EMPTY_FILE)
    if size > limits.max_bytes:
        raise Rejected(Reason.FILE_TOO_LARGE, limit=limits.describe_bytes())
    return size


def inspect(path: Path, kind: str, limits: Limits, *, accept_signed: bool = False) -> Inspection:
    if kind == "pdf":
        return _inspect_pdf(path, limits, accept_signed=accept_signed)
    return _inspect_image(path, kind, limits)


# ---------------------------------------------------------------- images


def _dpi_of(img: Image.Image) -> float | None:
    dpi = img.info.get("dpi")
    if isinstance(dpi, tuple) and dpi and dpi[0]:
        value = float(dpi[0])
        if 50 <= value <= 2400:
            return value
    return None


def _exif_rotation(img: Image.Image) -> int:
    try:
        orientation = img.getexif().get(0x0112, 1)
    except Exception:  # a broken EXIF block is not a broken image
        return 0
    return {3: 180, 6: 90, 8: 270}.get(orientation, 0)


def _check_pixels(width: int, height: int, limits: Limits) -> None:
    if width <= 0 or height <= 0:
        raise Rejected(Reason.CORRUPT_FILE)
    if width * height > limits.max_image_pixels:
        raise Rejected(
            Reason.TOO_MANY_PIXELS, pixels=f"{width}×{height}", limit=limits.max_image_pixels
        )


def _inspect_image(path: Path, kind: str, limits: Limits) -> Inspection:
    try:
        with warnings.catch_warnings(action="ignore"), Image.open(path) as img:
            frames = getattr(img, "n_frames", 1) if kind == "tiff" else 1
            if frames > limits.max_pages:
                raise Rejected(Reason.TOO_MANY_PAGES, pages=frames, limit=limits.max_pages)
            plans = []
            for i in range(frames):
                img.seek(i)
                _check_pixels(img.width, img.height, limits)
                dpi = _dpi_of(img) or max(img.width, img.height) / A4_LONG_SIDE_IN
                rotate = _exif_rotation(img) if kind == "jpeg" else 0
                plans.append(PagePlan(i, "image", round(dpi, 2), rotate))
    except Rejected:
        raise
    except (UnidentifiedImageError, OSError, ValueError, EOFError, SyntaxError, TypeError) as exc:
        raise Rejected(Reason.CORRUPT_FILE) from exc
    except Image.DecompressionBombError as exc:
        raise Rejected(Reason.TOO_MANY_PIXELS, pixels="?", limit=limits.max_image_pixels) from exc
    if not plans:
        raise Rejected(Reason.EMPTY_FILE)
    return Inspection(kind=kind, page_count=len(plans), pages=tuple(plans))


# ---------------------------------------------------------------- PDF


def _is_signed(pdf: pikepdf.Pdf) -> bool:
    acroform = pdf.Root.get("/AcroForm")
    if acroform is None:
        return False
    if int(acroform.get("/SigFlags", 0)) & 1:
        return True
    return any(f.get("/FT") == "/Sig" and "/V" in f for f in acroform.get("/Fields", []))


def _is_dynamic_xfa(pdf: pikepdf.Pdf) -> bool:
    if bool(pdf.Root.get("/NeedsRendering", False)):
        return True
    acroform = pdf.Root.get("/AcroForm")
    return acroform is not None and "/XFA" in acroform and len(pdf.pages) <= 1


def _images(resources: pikepdf.Object, depth: int = 0) -> Iterator[pikepdf.Object]:
    if depth > MAX_XOBJECT_DEPTH or not isinstance(resources, pikepdf.Dictionary):
        return
    xobjects = resources.get("/XObject")
    if not isinstance(xobjects, pikepdf.Dictionary):
        return
    for _name, xobj in xobjects.items():
        if not isinstance(xobj, pikepdf.Stream):
            continue
        subtype = xobj.get("/Subtype")
        if subtype == "/Image":
            yield xobj
        elif subtype == "/Form":
            yield from _images(xobj.get("/Resources"), depth + 1)


def _single_jpeg(page: pikepdf.Page, images: list[pikepdf.Object]) -> bool:
    """True when the page is just one baseline scanner JPEG drawn upright over the page."""
    if len(images) != 1:
        return False
    img = images[0]
    filt = img.get("/Filter")
    if isinstance(filt, pikepdf.Array):
        filt = filt[0] if len(filt) == 1 else None
    if filt != "/DCTDecode" or "/SMask" in img or "/Mask" in img or "/Decode" in img:
        return False
    cs = img.get("/ColorSpace")
    if cs not in ("/DeviceRGB", "/DeviceGray"):
        return False
    draws, matrix = 0, None
    try:
        for operands, op in pikepdf.parse_content_stream(page):
            name = str(op)
            if name == "Do":
                draws += 1
            elif name == "cm":
                matrix = [float(x) for x in operands]
            elif name in ("Tj", "TJ", "'", '"', "sh", "BI"):
                return False
    except pikepdf.PdfError:
        return False
    if draws != 1 or matrix is None:
        return False
    a, b, c, d, _e, _f = matrix
    box = page.mediabox
    width, height = float(box[2]) - float(box[0]), float(box[3]) - float(box[1])
    return b == 0 and c == 0 and a >= 0.95 * width and d >= 0.95 * height


def _page_plan(index: int, page: pikepdf.Page, limits: Limits) -> tuple[PagePlan, bool]:
    box = page.mediabox
    width_pt = abs(float(box[2]) - float(box[0]))
    height_pt = abs(float(box[3]) - float(box[1]))
    if width_pt < 1 or height_pt < 1:
        raise Rejected(Reason.CORRUPT_FILE)
    images = list(_images(page.get("/Resources")))
    native_dpi = 0.0
    all_mono, all_gray = bool(images), bool(images)
    for img in images:
        w, h = int(img.get("/Width", 0)), int(img.get("/Height", 0))
        _check_pixels(w, h, limits)
        native_dpi = max(native_dpi, w / (width_pt / 72), h / (height_pt / 72))
        bpc = int(img.get("/BitsPerComponent", 1 if img.get("/ImageMask") else 8))
        all_mono = all_mono and bpc == 1
        all_gray = all_gray and (bpc == 1 or img.get("/ColorSpace") == "/DeviceGray")
    rotate = int(page.obj.get("/Rotate", 0)) % 360
    if rotate not in (0, 90, 180, 270):
        rotate = 0
    has_text = "/Font" in page.get("/Resources", {})
    if native_dpi and _single_jpeg(page, images):
        return PagePlan(index, "copy_jpeg", round(native_dpi, 2), rotate), has_text
    dpi = min(
        max(native_dpi or limits.default_vector_dpi, limits.min_render_dpi), limits.max_render_dpi
    )
    pixels = (width_pt / 72 * dpi) * (height_pt / 72 * dpi)
    if pixels > limits.max_page_pixels:
        dpi = dpi * (limits.max_page_pixels / pixels) ** 0.5
    if dpi < limits.min_fit_dpi:
        at_min = int(width_pt / 72 * limits.min_fit_dpi * height_pt / 72 * limits.min_fit_dpi)
        raise Rejected(Reason.TOO_MANY_PIXELS, pixels=at_min, limit=limits.max_page_pixels)
    mode = "render_mono" if all_mono else "render_gray" if all_gray else "render_color"
    # poppler applies /Rotate itself when rendering, so the rendered image needs no more turning
    return PagePlan(index, mode, round(dpi, 2), 0), has_text


def _inspect_pdf(path: Path, limits: Limits, *, accept_signed: bool) -> Inspection:
    try:
        pdf = pikepdf.open(path)
    except pikepdf.PasswordError as exc:
        raise Rejected(Reason.ENCRYPTED) from exc
    except (pikepdf.PdfError, OSError, ValueError, RecursionError) as exc:
        raise Rejected(Reason.CORRUPT_FILE) from exc
    with pdf:
        try:
            signed = _is_signed(pdf)
            if signed and not accept_signed:
                raise Rejected(Reason.ALREADY_SIGNED)
            if _is_dynamic_xfa(pdf):
                raise Rejected(Reason.DYNAMIC_FORM)
            count = len(pdf.pages)
            if count == 0:
                raise Rejected(Reason.EMPTY_FILE)
            if count > limits.max_pages:
                raise Rejected(Reason.TOO_MANY_PAGES, pages=count, limit=limits.max_pages)
            plans, has_text = [], False
            for i, page in enumerate(pdf.pages):
                plan, text = _page_plan(i, page, limits)
                plans.append(plan)
                has_text = has_text or text
        except Rejected:
            raise
        except (pikepdf.PdfError, KeyError, TypeError, ValueError, RecursionError) as exc:
            raise Rejected(Reason.CORRUPT_FILE) from exc
    return Inspection("pdf", count, tuple(plans), has_text=has_text, signed=signed)
