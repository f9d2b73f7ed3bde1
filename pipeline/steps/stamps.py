"""Words on red stamps: the secret ("MẬT", "TỐI MẬT", "TUYỆT MẬT") and no-copy stamps that
Decree 23/2015 Art 22 refuses, read apart from the page.

Tesseract reading a whole page drops a boxed red stamp as a picture, or reads it without its
tone marks (issue 16: a red "MẬT" added to the sample birth certificate was filed). Here the
red ink of the upright page is isolated (HSV), joined into stamp-sized regions, and each
region that is wider than tall (a boxed stamp; round seals, which every paper carries, are
skipped) is read on its own as black ink on white. Its words join the page's words on lines
of their own ("stamp<k>.<line>"), where pipeline.steps.classify.refusal_mark finds them.

A stamp may be struck at any angle: its tilt comes from the smallest rectangle around its ink,
which levels it but cannot tell upright from upside down, so each region is read both ways up
and the reading tesseract is surer of wins (scripts/bench_stamps.py: a boxed "MẬT" is read at
every 15 degrees of a full turn).

Cost: one colour conversion of the page reduced to about ``WORK_SIDE`` pixels (a few ms for an
A4 page at 300 dpi) and two small tesseract calls per boxed red region, at most
``MAX_REGIONS`` per page (about 0.8 s a page that has one); pages without a boxed red region
pay only the conversion.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np
import pytesseract
from PIL import Image

from pipeline.steps.tesseract import image_to_data, read_words
from pipeline.types import OcrWord

MAX_REGIONS = 3
MIN_AREA_SHARE = 0.002  # of the page: smaller red marks are ticks, underlines, signatures
MIN_ASPECT = 1.3  # width / height of a boxed stamp; seals are round (about 1)
WORK_SIDE = 1200  # the red regions are found on the page scaled to this longest side
LEVEL_MARGIN = 20  # white pixels around the levelled letters (tesseract wants a border)
# a first reading this sure is not read upside down as well (at 80, two of 24 angles of a
# turned "MẬT" read as confident garbage the first way: scripts/bench_stamps.py)
SURE_READING = 90.0


def red_mask(img: Image.Image) -> np.ndarray:
    """Pixels of saturated red ink (uint8 0/255), at the image's own size."""
    hsv = cv2.cvtColor(np.asarray(img.convert("RGB")), cv2.COLOR_RGB2HSV)
    hue, sat, val = hsv[..., 0], hsv[..., 1], hsv[..., 2]
    red = ((hue <= 10) | (hue >= 165)) & (sat >= 90) & (val >= 70)
    return red.astype(np.uint8) * 255


def stamp_regions(img: Image.Image) -> list[tuple[int, int, int, int]]:
    """(left, top, width, height) of boxed red regions, largest first. A region is boxed
    when its smallest enclosing rectangle, at whatever angle, is long (a stamp turned 60 or
    90 degrees is still one); round seals are not."""
    factor = max(1, -(-max(img.size) // WORK_SIDE))  # a whole factor: Image.reduce is fast
    reduced = img.reduce(factor) if factor > 1 else img
    scale = 1.0 / factor
    small = cv2.morphologyEx(red_mask(reduced), cv2.MORPH_CLOSE, np.ones((9, 9), np.uint8))
    count, labels, stats, _ = cv2.connectedComponentsWithStats(small)
    page = small.shape[0] * small.shape[1]
    found = []
    for k in range(1, count):
        x, y, w, h, _area = (int(v) for v in stats[k])
        if w * h < MIN_AREA_SHARE * page:  # the turned rectangle is no larger than this
            continue
        _centre, (long, short), _angle = cv2.minAreaRect(
            cv2.findNonZero((labels[y:y + h, x:x + w] == k).astype(np.uint8)))
        long, short = max(long, short), min(long, short)
        if long * short < MIN_AREA_SHARE * page or long < MIN_ASPECT * short:
            continue
        found.append((round(x / scale), round(y / scale), round(w / scale), round(h / scale)))
    found.sort(key=lambda r: r[2] * r[3], reverse=True)
    return found[:MAX_REGIONS]


def stamp_words(img: Image.Image, *, lang: str, timeout: int, backend: str = "cli",
                ) -> list[OcrWord]:
    """The words read on the page's boxed red stamps, with boxes on the page."""
    words: list[OcrWord] = []
    if img.mode in ("1", "L", "LA", "I", "I;16", "F"):
        return words  # a grey page has no red ink
    if img.mode != "RGB":
        img = img.convert("RGB")
    for k, (left, top, width, height) in enumerate(stamp_regions(img), start=1):
        pad = max(8, min(width, height) // 6)
        x0, y0 = max(0, left - pad), max(0, top - pad)
        x1, y1 = min(img.width, left + width + pad), min(img.height, top + height + pad)
        best: list[OcrWord] = []
        # levelled, the stamp reads upright or upside down: the better-read way wins
        for ink, back in _letters(red_mask(img.crop((x0, y0, x1, y1)))):  # full resolution
            try:
                data = image_to_data(ink, lang=lang, psm=7, timeout=timeout, backend=backend)
            except (pytesseract.TesseractError, RuntimeError):  # the page's reading stands
                continue
            read = []
            for word in read_words(data):
                wx, wy = back(word.left, word.top)
                read.append(OcrWord(word.text, x0 + wx, y0 + wy, word.width, word.height,
                                    word.conf, f"stamp{k}.{word.block}.{word.line}"))
            if _score(read) > _score(best):  # the first reading wins a tie
                best = read
            if _score(best)[0] >= SURE_READING:  # read surely: not upside down as well
                break
        words += best
    return words


def _score(words: list[OcrWord]) -> tuple[float, int]:
    """How well a reading went: tesseract's mean confidence in its words with letters (an
    upside-down stamp reads as confident-looking garbage less often than as more letters),
    then the letters read."""
    lettered = [w for w in words if any(c.isalpha() for c in w.text)]
    if not lettered:
        return (-1.0, 0)
    return (sum(w.conf for w in lettered) / len(lettered),
            sum(sum(c.isalpha() for c in w.text) for w in lettered))


def _letters(crop: np.ndarray) -> list[tuple[Image.Image, Callable[[int, int], tuple[int, int]]]]:
    """The stamp's letters black on white, levelled, without the frame around them, both ways
    up (levelling cannot tell upright from upside down); with how to map a point of each
    image back into ``crop``. Empty when nothing but a frame is there."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats((crop > 0).astype(np.uint8))
    ink = cv2.findNonZero((crop > 0).astype(np.uint8))
    if ink is None:
        return []
    _ix, _iy, ink_w, ink_h = cv2.boundingRect(ink)  # the whole stamp, whatever the crop's pad
    keep = np.zeros(crop.shape, np.uint8)
    for k in range(1, count):
        _x, _y, w, h, area = (int(v) for v in stats[k])
        if w > 0.8 * ink_w or h > 0.8 * ink_h or area < 12:
            continue  # the frame, or specks
        keep[labels == k] = 255
    if cv2.findNonZero(keep) is None:
        return []
    # the tilt, from all the stamp's ink (its frame, when it has one, is the best guide)
    (cx, cy), (w, h), angle = cv2.minAreaRect(cv2.findNonZero((crop > 0).astype(np.uint8)))
    if w < h:  # OpenCV may name the rectangle's short side first: the long side's direction
        angle += 90
    out = []
    for turn_by in (angle, angle + 180):
        turn = cv2.getRotationMatrix2D((cx, cy), turn_by, 1.0)
        # a canvas the turned stamp fits on whatever the angle (its diagonal each way)
        side = int(np.ceil(np.hypot(*crop.shape)))
        turn[0, 2] += side / 2 - cx
        turn[1, 2] += side / 2 - cy
        level = cv2.warpAffine(keep, turn, (side, side), flags=cv2.INTER_NEAREST)
        image = Image.fromarray(255 - cv2.copyMakeBorder(level, *(LEVEL_MARGIN,) * 4,
                                                        cv2.BORDER_CONSTANT, value=0))
        undo = cv2.invertAffineTransform(turn)

        def back(x: int, y: int, undo: np.ndarray = undo) -> tuple[int, int]:
            px, py = undo @ np.array([x - LEVEL_MARGIN, y - LEVEL_MARGIN, 1.0])
            return max(0, round(px)), max(0, round(py))

        out.append((image, back))
    return out
