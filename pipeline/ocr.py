"""OCR: orientation (tesseract OSD) and words with boxes (pytesseract, `vie` first).

Runs inside a pool process; the pool initialiser sets OMP_THREAD_LIMIT=1 because one
single-threaded tesseract per core is several times faster than tesseract's own threading.
"""

from __future__ import annotations

import re
import tempfile
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytesseract
from PIL import Image

from pipeline.reasons import Reason, Rejected
from pipeline.types import OcrPage, OcrWord, PageScan

DEFAULT_LANG = "vie+eng"
# Phone and fax scans read better enlarged. Measured on the real ~80 dpi letters in the corpus
# (vietadmin 4_1 / 4_2, CER against their ground truth): ×1 12.5 % / 9.8 %, ×2 (Lanczos)
# 9.7 % / 8.1 %, ×3 10.5 % / 9.8 %. So at most ×2, which also costs 2.25× less than ×3.
UPSCALE_BELOW_DPI = 150
MAX_UPSCALE = 2.0
BLANK_STDDEV = 4.0
OSD_MIN_CONFIDENCE = 1.5
OSD_MAX_SIDE = 1800  # pixels on the long side used for orientation detection
_ROTATE_RE = re.compile(r"Rotate:\s*(\d+)")
_CONF_RE = re.compile(r"Orientation confidence:\s*([\d.]+)")


def _as_ocr_image(img: Image.Image) -> Image.Image:
    if img.mode in ("1", "L", "RGB"):
        return img
    if img.mode in ("RGBA", "LA", "P", "PA"):
        rgba = img.convert("RGBA")
        background = Image.new("RGB", rgba.size, "white")
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    if img.mode.startswith("I"):
        scaled = np.asarray(img, dtype=np.float64) / 256
        return Image.fromarray(scaled.clip(0, 255).astype("uint8"))
    return img.convert("RGB")


def is_blank(img: Image.Image) -> bool:
    small = img.convert("L")
    small.thumbnail((400, 400))
    return float(np.asarray(small, dtype=np.float32).std()) < BLANK_STDDEV


class _Input:
    """The image tesseract reads, as a file: the scan itself while unchanged, otherwise an
    uncompressed PNM (pytesseract would PNG-compress every call: ~1 s for an A4 colour page)."""

    def __init__(self, path: Path, img: Image.Image, tmp: Path) -> None:
        self.original, self.img, self.tmp, self._path = path, img, tmp, str(path)

    def replace(self, img: Image.Image) -> None:
        self.img = img
        self._path = ""

    @property
    def is_original(self) -> bool:
        return self._path == str(self.original)

    @property
    def path(self) -> str:
        if not self._path:
            self._path = str(self.tmp / f"work-{id(self.img)}.pnm")
            self.img.save(self._path, format="PPM")
        return self._path


def detect_rotation(work: _Input, timeout: int) -> int:
    """Clockwise degrees that turn the page upright; 0 when OSD cannot tell."""
    try:
        osd = _tesseract(work, pytesseract.image_to_osd,
                         config="--psm 0 -c min_characters_to_try=10", timeout=timeout)
    except pytesseract.TesseractError:  # before RuntimeError: it is one
        return 0  # too few characters to judge: leave the page as scanned
    except RuntimeError as exc:  # pytesseract's timeout
        raise Rejected(Reason.TIMEOUT, limit=timeout) from exc
    rotate = _ROTATE_RE.search(osd)
    conf = _CONF_RE.search(osd)
    if not rotate or not conf or float(conf.group(1)) < OSD_MIN_CONFIDENCE:
        return 0
    return int(rotate.group(1)) % 360


def _osd_input(work: _Input, tmp: Path) -> _Input:
    """Orientation needs far less resolution than reading: OSD on an A4 page at 300 dpi takes
    0.79 s, at half size 0.38 s with the same answer. Large pages get a reduced copy."""
    factor = -(-max(work.img.size) // OSD_MAX_SIDE)  # rounded up
    if factor < 2:
        return work
    base = work.img if work.img.mode != "1" else work.img.convert("L")
    small = _Input(work.original, base, tmp)
    small.replace(base.reduce(factor))
    return small


def _tesseract(work: _Input, call: Callable[..., Any], **kwargs: Any) -> Any:
    """Run a pytesseract call on the work file. Leptonica is stricter than Pillow about damaged
    JPEGs: when it cannot read the original file, retry once on the image Pillow decoded."""
    try:
        return call(work.path, **kwargs)
    except pytesseract.TesseractError as exc:
        if not work.is_original or "pixRead" not in str(exc):
            raise
        work.replace(work.img)
        return call(work.path, **kwargs)


def ocr_page(scan: PageScan, *, lang: str = DEFAULT_LANG, timeout: int = 180) -> OcrPage:
    with tempfile.TemporaryDirectory(prefix="ecopy-ocr-") as tmp:
        return _ocr_page(scan, lang, timeout, Path(tmp))


def _ocr_page(scan: PageScan, lang: str, timeout: int, tmp: Path) -> OcrPage:
    with Image.open(scan.image_path) as raw:
        raw.load()
        fmt = raw.format
        img = _as_ocr_image(raw)
        unchanged = img is raw and fmt in ("JPEG", "PNG", "TIFF")
    work = _Input(Path(scan.image_path), img, tmp)
    if not unchanged:
        work.replace(img)
    if scan.rotation:
        work.replace(work.img.rotate(-scan.rotation, expand=True))
    if is_blank(work.img):
        return OcrPage(scan.index, work.img.width, work.img.height, scan.rotation, (), 0.0,
                       "tesseract", blank=True)
    turn = detect_rotation(_osd_input(work, tmp), timeout)
    if turn:
        work.replace(work.img.rotate(-turn, expand=True))
    rotation = (scan.rotation + turn) % 360
    width, height = work.img.size
    scale = 1.0
    if scan.dpi < UPSCALE_BELOW_DPI:
        scale = min(MAX_UPSCALE, 300 / max(scan.dpi, 1))
        base = work.img if work.img.mode != "1" else work.img.convert("L")
        work.replace(base.resize((round(width * scale), round(height * scale)),
                                 Image.Resampling.LANCZOS))
    try:
        data = _tesseract(work, pytesseract.image_to_data, lang=lang, config="--psm 3",
                          output_type=pytesseract.Output.DICT, timeout=timeout)
    except pytesseract.TesseractError as exc:  # before RuntimeError: it is one
        raise Rejected(Reason.OCR_FAILED, page=scan.index + 1, detail=str(exc)[:200]) from exc
    except RuntimeError as exc:  # pytesseract's timeout
        raise Rejected(Reason.TIMEOUT, limit=timeout) from exc
    words = []
    for i, text in enumerate(data["text"]):
        text = unicodedata.normalize("NFC", (text or "").strip())
        conf = float(data["conf"][i])
        if not text or conf < 0:
            continue
        words.append(
            OcrWord(
                text=text,
                left=round(data["left"][i] / scale),
                top=round(data["top"][i] / scale),
                width=max(1, round(data["width"][i] / scale)),
                height=max(1, round(data["height"][i] / scale)),
                conf=conf,
                line_id=f"{data['block_num'][i]}.{data['par_num'][i]}.{data['line_num'][i]}",
            )
        )
    mean = sum(w.conf for w in words) / len(words) if words else 0.0
    return OcrPage(scan.index, width, height, rotation, tuple(words), round(mean, 2), "tesseract")
