"""OCR: words with boxes (pytesseract), orientation when needed (tesseract OSD), clean-up.

A page is read as it stands; only when the result is not Vietnamese is its orientation asked
of OSD (and upside down tried when OSD cannot tell): see `_upright_reading`.

Word text is NFC; boxes are in pixels of the upright page whatever the clean-up did (deskew,
upscaling); the page's mean confidence is the mean over its words.

Runs inside a pool process; the pool initialiser sets OMP_THREAD_LIMIT=1 because one
single-threaded tesseract per core is several times faster than tesseract's own threading.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytesseract
from PIL import Image

from pipeline.reasons import Reason, Rejected
from pipeline.steps.preprocess import prepare
from pipeline.steps.stamps import stamp_words
from pipeline.steps.tesseract import image_to_data, image_to_osd, read_words
from pipeline.types import CONFIDENT_OCR, MIN_READABLE, OcrPage, OcrWord, PageScan
from pipeline.vn.text import readable_ratio

DEFAULT_LANG = "vie+eng"
# Names how pages are read; caches of OCR output (scripts/eval_understanding.py --ocr-cache)
# are keyed on it, so change it whenever reading changes what comes out.
READING_VERSION = "read-first-2"
# OCR-input clean-up (pipeline.steps.preprocess), measured in docs/ocr.md: illumination
# normalisation on unevenly lit pages (a shadowed page: CER 64 % -> 9 %; even pages untouched).
# Deskew lowered CER on the tilted real letters but lost fields and a secret stamp on the
# synthetic set; binarisation, denoising, sharpening and contrast stretching lost outright.
DEFAULT_STEPS: tuple[str, ...] = ("illumination",)
# Phone and fax scans read better enlarged. Measured on the real ~80 dpi letters in the corpus
# (vietadmin 4_1 / 4_2, CER against their ground truth): ×1 12.5 % / 9.8 %, ×2 (Lanczos)
# 9.7 % / 8.1 %, ×3 10.5 % / 9.8 %. So at most ×2, which also costs 2.25× less than ×3.
UPSCALE_BELOW_DPI = 150
MAX_UPSCALE = 2.0
BLANK_STDDEV = 4.0
# A page at INK_SIDE px whose pixels darker than the local background by INK_CONTRAST levels
# cover less than BLANK_INK of it has no writing: a noisy, sloped, specked blank scan measures
# 0–0.0015 %, one printed letter 0.004 %, a short line ("Số: 123") 0.026 %.
INK_SIDE = 600
INK_CONTRAST = 40
BLANK_INK = 0.0001
FEW_WORDS = 30  # a page OCR read fewer words on is checked for ink
BLANK_SPREAD = 25.0  # grey-level spread of a blank sheet: noise and the light's slope give ~8
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
    """A near-uniform page: nothing to read, OCR is skipped."""
    small = img.convert("L")
    small.thumbnail((400, 400))
    return float(np.asarray(small, dtype=np.float32).std()) < BLANK_STDDEV


def has_no_ink(img: Image.Image) -> bool:
    """No writing on the page: its only dark marks are scanner noise, dust, a shadow at the
    edge or the grey slope of the paper (the share of pixels clearly darker than their
    surroundings, inside the page's margins, is below BLANK_INK). Asked of a page where OCR
    found no word, so a blank scan is told apart from an illegible one."""
    grey = img.convert("L")
    grey.thumbnail((INK_SIDE, INK_SIDE))
    g = np.asarray(grey, dtype=np.uint8)
    h, w = g.shape
    m = int(0.05 * min(h, w))
    inner = np.ascontiguousarray(g[m:h - m, m:w - m])
    if inner.size == 0:
        return True
    if float(inner.std()) > BLANK_SPREAD:  # a picture (a photo, a drawing) is not a blank sheet
        return False
    background = cv2.medianBlur(inner, 21)
    ink = (background.astype(np.int16) - inner) > INK_CONTRAST
    return float(ink.mean()) < BLANK_INK


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


def detect_rotation(work: _Input, timeout: int, backend: str = "cli") -> int:
    """Clockwise degrees that turn the page upright; 0 when OSD cannot tell."""
    try:
        osd = _tesseract(work, image_to_osd, timeout=timeout, backend=backend)
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


def ocr_page(scan: PageScan, *, lang: str = DEFAULT_LANG, timeout: int = 180,
             steps: Sequence[str] = DEFAULT_STEPS, backend: str = "cli") -> OcrPage:
    """One page read by tesseract: ``backend`` "cli" (a process per call) or "api" (the
    library loaded once per process, pipeline.steps.tesseract)."""
    with tempfile.TemporaryDirectory(prefix="ecopy-ocr-") as tmp:
        return _ocr_page(scan, lang, timeout, tuple(steps), Path(tmp), backend)


def ocr_page_api(scan: PageScan, **kwargs: Any) -> OcrPage:
    """ocr_page on the tesseract library kept loaded (ECOPY_OCR_ENGINE=tesserocr)."""
    return ocr_page(scan, **kwargs, backend="api")


def _ocr_page(scan: PageScan, lang: str, timeout: int, steps: tuple[str, ...],
              tmp: Path, backend: str = "cli") -> OcrPage:
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
    scale = 1.0
    if scan.dpi < UPSCALE_BELOW_DPI:
        scale = min(MAX_UPSCALE, 300 / max(scan.dpi, 1))

    def read(turn: int) -> _Reading:
        turned = work
        if turn:
            turned = _Input(work.original, work.img, tmp)
            turned.replace(work.img.rotate(-turn, expand=True))
        return _read(turned, turn, scale, steps, lang, timeout, scan.index, backend)

    if "vie" not in lang.split("+"):  # readability is judged in Vietnamese only
        best = read(detect_rotation(_osd_input(work, tmp), timeout, backend))
    else:
        best = _upright_reading(
            read, lambda: detect_rotation(_osd_input(work, tmp), timeout, backend))
    rotation = (scan.rotation + best.turn) % 360
    upright = work.img.rotate(-best.turn, expand=True) if best.turn else work.img
    if len(best.words) < FEW_WORDS and has_no_ink(upright):  # what OCR "read" was noise
        return OcrPage(scan.index, best.width, best.height, rotation, (), 0.0, "tesseract",
                       blank=True)
    # red stamps read on their own: page OCR drops a boxed "MẬT" or loses its tone marks
    words = (*best.words, *stamp_words(upright, lang=lang, timeout=timeout, backend=backend))
    mean = sum(w.conf for w in best.words) / len(best.words) if best.words else 0.0
    return OcrPage(scan.index, best.width, best.height, rotation, words, round(mean, 2),
                   "tesseract")


@dataclass(frozen=True)
class _Reading:
    turn: int  # clockwise degrees applied before reading
    words: tuple[OcrWord, ...]
    width: int
    height: int

    @property
    def readable(self) -> float:
        return readable_ratio(" ".join(w.text for w in self.words))

    @property
    def mean_conf(self) -> float:
        return sum(w.conf for w in self.words) / len(self.words) if self.words else 0.0

    @property
    def read_well(self) -> bool:
        return self.readable >= MIN_READABLE or self.mean_conf >= CONFIDENT_OCR


def _upright_reading(read: Callable[[int], _Reading], osd: Callable[[], int]) -> _Reading:
    """Read the page as it stands; only when it reads badly (non-words at low confidence, as
    a page read sideways or upside down gives) ask OSD for the orientation, and when OSD has
    no answer try the page upside down, the turn OSD most often misses on low-resolution
    scans. The reading tesseract is most confident of wins. Upright pages, nearly all of
    them, skip OSD entirely."""
    first = read(0)
    if first.read_well:
        return first
    readings = [first]
    turn = osd()
    for candidate in (turn, 180) if turn not in (0, 180) else (180,):
        readings.append(read(candidate))
        if readings[-1].read_well:
            break
    return max(readings, key=lambda r: (r.read_well, r.mean_conf))


def _read(work: _Input, turn: int, scale: float, steps: tuple[str, ...], lang: str,
          timeout: int, index: int, backend: str = "cli") -> _Reading:
    width, height = work.img.size
    prepared = prepare(work.img, steps, scale) if steps or scale != 1.0 else None
    if prepared and prepared.changed:  # a new input: `work` may be read again turned
        work = _Input(work.original, prepared.image, work.tmp)
        work.replace(prepared.image)
    try:
        data = _tesseract(work, image_to_data, lang=lang, psm=3, timeout=timeout,
                          backend=backend)
    except pytesseract.TesseractError as exc:  # before RuntimeError: it is one
        raise Rejected(Reason.OCR_FAILED, page=index + 1, detail=str(exc)[:200]) from exc
    except RuntimeError as exc:  # pytesseract's timeout
        raise Rejected(Reason.TIMEOUT, limit=timeout) from exc
    words = []
    for word in read_words(data):
        box = (word.left, word.top, word.width, word.height)
        left, top, w, h = prepared.box_on_page(*box) if prepared else box
        words.append(OcrWord(word.text, left, top, w, h, word.conf,
                             f"{word.block}.{word.par}.{word.line}"))
    return _Reading(turn, tuple(words), width, height)
