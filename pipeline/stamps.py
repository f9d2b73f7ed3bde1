"""Words on red stamps: the secret ("MẬT", "TỐI MẬT", "TUYỆT MẬT") and no-copy stamps that
Decree 23/2015 Art 22 refuses, read apart from the page.

Tesseract reading a whole page drops a boxed red stamp as a picture, or reads it without its
tone marks (issue 16: a red "MẬT" added to the sample birth certificate was filed). Here the
red ink of the upright page is isolated (HSV), joined into stamp-sized regions, and each
region that is wider than tall (a boxed stamp; round seals, which every paper carries, are
skipped) is read on its own as black ink on white. Its words join the page's words on lines
of their own ("stamp<k>.<line>"), where pipeline.classify.refusal_mark finds them.

Cost: one colour conversion of the page reduced to about ``WORK_SIDE`` pixels (about 50 ms for an
A4 page at 300 dpi) and one small tesseract call per boxed red region, at most
``MAX_REGIONS`` per page; pages without a boxed red region pay only the conversion.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable

import cv2
import numpy as np
import pytesseract
from PIL import Image

from pipeline.types import OcrWord

MAX_REGIONS = 3
MIN_AREA_SHARE = 0.002  # of the page: smaller red marks are ticks, underlines, signatures
MIN_ASPECT = 1.3  # width / height of a boxed stamp; seals are round (about 1)
WORK_SIDE = 1200  # the red regions are found on the page scaled to this longest side


def red_mask(img: Image.Image) -> np.ndarray:
    """Pixels of saturated red ink (uint8 0/255), at the image's own size."""
    hsv = cv2.cvtColor(np.asarray(img.convert("RGB")), cv2.COLOR_RGB2HSV)
    hue, sat, val = hsv[..., 0], hsv[..., 1], hsv[..., 2]
    red = ((hue <= 10) | (hue >= 165)) & (sat >= 90) & (val >= 70)
    return red.astype(np.uint8) * 255


def stamp_regions(img: Image.Image) -> list[tuple[int, int, int, int]]:
    """(left, top, width, height) of boxed red regions, largest first."""
    factor = max(1, -(-max(img.size) // WORK_SIDE))  # a whole factor: Image.reduce is fast
    reduced = img.reduce(factor) if factor > 1 else img
    scale = 1.0 / factor
    small = cv2.morphologyEx(red_mask(reduced), cv2.MORPH_CLOSE, np.ones((9, 9), np.uint8))
    count, _labels, stats, _ = cv2.connectedComponentsWithStats(small)
    page = small.shape[0] * small.shape[1]
    found = []
    for k in range(1, count):
        x, y, w, h, _area = (int(v) for v in stats[k])
        if w * h < MIN_AREA_SHARE * page or w < MIN_ASPECT * h:
            continue
        found.append((round(x / scale), round(y / scale), round(w / scale), round(h / scale)))
    found.sort(key=lambda r: r[2] * r[3], reverse=True)
    return found[:MAX_REGIONS]


def stamp_words(img: Image.Image, *, lang: str, timeout: int) -> list[OcrWord]:
    """The words read on the page's boxed red stamps, with boxes on the page."""
    words: list[OcrWord] = []
    if img.mode in ("1", "L", "LA", "I", "I;16", "F"):
        return words  # a grey page has no red ink
    if img.mode != "RGB":
        img = img.convert("RGB")
    for k, (left, top, width, height) in enumerate(stamp_regions(img), start=1):
        pad = max(8, height // 6)
        x0, y0 = max(0, left - pad), max(0, top - pad)
        x1, y1 = min(img.width, left + width + pad), min(img.height, top + height + pad)
        letters = _letters(red_mask(img.crop((x0, y0, x1, y1))))  # full resolution, here only
        if letters is None:
            continue
        ink, back = letters
        try:
            data = pytesseract.image_to_data(ink, lang=lang, config="--psm 7", timeout=timeout,
                                             output_type=pytesseract.Output.DICT)
        except (pytesseract.TesseractError, RuntimeError):  # the page's reading stands
            continue
        for i, text in enumerate(data["text"]):
            text = unicodedata.normalize("NFC", (text or "").strip())
            conf = float(data["conf"][i])
            if not text or conf < 0:
                continue
            wx, wy = back(data["left"][i], data["top"][i])
            words.append(OcrWord(text, x0 + wx, y0 + wy, data["width"][i], data["height"][i],
                                 conf, f"stamp{k}.{data['block_num'][i]}.{data['line_num'][i]}"))
    return words


def _letters(crop: np.ndarray) -> tuple[Image.Image, Callable[[int, int], tuple[int, int]]] | None:
    """The stamp's letters black on white, level, without the frame around them; and how to
    map a point of that image back into ``crop`` (roughly: the stamp is only a few degrees
    askew). None when nothing but a frame is there."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats((crop > 0).astype(np.uint8))
    keep = np.zeros(crop.shape, np.uint8)
    for k in range(1, count):
        _x, _y, w, h, area = (int(v) for v in stats[k])
        if w > 0.8 * crop.shape[1] or h > 0.8 * crop.shape[0] or area < 12:
            continue  # the frame, or specks
        keep[labels == k] = 255
    if cv2.findNonZero(keep) is None:
        return None
    # the tilt, from all the stamp's ink (its frame, when it has one, is the best guide)
    (cx, cy), (w, h), angle = cv2.minAreaRect(cv2.findNonZero((crop > 0).astype(np.uint8)))
    if w < h:  # OpenCV may name the rectangle's short side first: make the long side level
        angle += 90
    angle = (angle + 45) % 90 - 45  # a tilt of at most 45 degrees either way
    turn = cv2.getRotationMatrix2D((cx, cy), angle, 1.0)
    level = cv2.warpAffine(keep, turn, (crop.shape[1], crop.shape[0]), flags=cv2.INTER_NEAREST)
    margin = 20
    image = Image.fromarray(255 - cv2.copyMakeBorder(level, margin, margin, margin, margin,
                                                    cv2.BORDER_CONSTANT, value=0))
    return image, lambda x, y: (max(0, x - margin), max(0, y - margin))
