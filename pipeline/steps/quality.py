"""The quality gate: is this page image good enough to read and to keep as a copy?

Measured on the rasterised page before OCR, with OpenCV on a reduced grey copy (the e-copy
always keeps the original image). Each check has a reason code and thresholds in ``Limits``:
below the hard threshold the scan is REJECTED with a "scan again" message (the scan is the
problem, not the original: a blurred or dark scan is not a ground to refuse certification);
between the hard and the soft threshold the page is flagged and the document goes to review.
An original that passes the gate but still cannot be read is refused later as ``illegible``
(Decree 23/2015 Art 22), on OCR confidence.

    resolution   effective dpi: the file's metadata when it describes a plausible paper size,
                 otherwise estimated from the height of the text (metadata often says 72 dpi)
    sharpness    variance of the Laplacian at a normalised 150 dpi (blur lowers it)
    exposure     grey percentiles: too dark (paper is grey), too light / faint (ink is pale)
    skew         angle (degrees) maximising the projection profile's variance, ±10°
    colour       colour / grey / bilevel, recorded (Decree 30/2020 asks for colour scans)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np
from PIL import Image

from pipeline.limits import Limits
from pipeline.reasons import Reason, Rejected

NORMAL_DPI = 150  # sharpness and skew are measured at this resolution
TEXT_HEIGHT_MM = 2.6  # median glyph height of body text (10–13 pt), for estimating dpi
PAPER_INCHES = (2.0, 17.5)  # long side of anything from an ID card to A3
MAX_SKEW = 10.0
MAX_WORK_SIDE = 2500


@dataclass(frozen=True)
class QualityReport:
    metrics: dict[str, float | str] = field(default_factory=dict)
    flags: tuple[str, ...] = ()  # review reasons (borderline pages)


def _grey(img: Image.Image) -> np.ndarray:
    if img.mode == "1":
        img = img.convert("L")
    elif img.mode not in ("L", "RGB"):
        img = img.convert("RGB")
    arr = np.asarray(img)
    return arr if arr.ndim == 2 else cv2.cvtColor(arr, cv2.COLOR_RGB2GRAY)


def colour_mode(img: Image.Image) -> str:
    if img.mode == "1":
        return "bilevel"
    if img.mode in ("L", "LA", "I", "I;16"):
        return "grey"
    small = img.convert("RGB")
    small.thumbnail((300, 300))
    hsv = cv2.cvtColor(np.asarray(small), cv2.COLOR_RGB2HSV)
    return "colour" if float(np.percentile(hsv[..., 1], 99.5)) > 60 else "grey"


def _text_height_px(grey: np.ndarray) -> float | None:
    """Median height of glyph-sized dark components, in the given image's pixels."""
    _, ink = cv2.threshold(grey, 0, 255, cv2.THRESH_BINARY_INV | cv2.THRESH_OTSU)
    count, _, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    if count < 20:
        return None
    h, w, area = stats[1:, cv2.CC_STAT_HEIGHT], stats[1:, cv2.CC_STAT_WIDTH], \
        stats[1:, cv2.CC_STAT_AREA]
    page_h = grey.shape[0]
    glyph = (h >= 4) & (h < page_h * 0.05) & (w < h * 3) & (area >= 6)
    if glyph.sum() < 20:
        return None
    return float(np.median(h[glyph]))


def effective_dpi(img: Image.Image, metadata_dpi: float, grey: np.ndarray,
                  scale: float) -> tuple[float, str]:
    """(dpi, "metadata" | "text"). ``grey`` is ``img`` reduced by ``scale`` (<= 1)."""
    long_side = max(img.size)
    if metadata_dpi > 0 and PAPER_INCHES[0] <= long_side / metadata_dpi <= PAPER_INCHES[1]:
        return float(metadata_dpi), "metadata"
    height = _text_height_px(grey)
    if height is None:
        return float(metadata_dpi or 0), "metadata"
    return height / scale / (TEXT_HEIGHT_MM / 25.4), "text"


TILE = 64


def sharpness(grey_normal: np.ndarray) -> float:
    """Laplacian variance where there is something to see: the 75th percentile over the
    64-pixel tiles that hold content, so a page with little text is not called blurred."""
    lap = cv2.Laplacian(grey_normal, cv2.CV_64F)
    h, w = grey_normal.shape
    values = []
    for y in range(0, h - TILE + 1, TILE):
        for x in range(0, w - TILE + 1, TILE):
            if grey_normal[y:y + TILE, x:x + TILE].std() > 20:
                values.append(lap[y:y + TILE, x:x + TILE].var())
    if not values:  # nothing with contrast: the exposure checks speak for such a page
        return float(lap.var())
    return float(np.percentile(values, 75))


def ink_level(grey: np.ndarray) -> float:
    """The darkest grey level that enough pixels reach to be ink, not a speck."""
    hist = np.bincount(grey.ravel(), minlength=256)
    need = max(200, grey.size // 5000)
    return float(np.searchsorted(np.cumsum(hist), need))


MAX_SKEW_POINTS = 200_000


def skew_angle(grey_normal: np.ndarray) -> float:
    """Degrees counter-clockwise the text lines lean (0 when there is too little text)."""
    _, ink = cv2.threshold(grey_normal, 0, 255, cv2.THRESH_BINARY_INV | cv2.THRESH_OTSU)
    if ink.mean() < 0.5:  # almost no ink
        return 0.0
    h, w = ink.shape
    ys, xs = np.nonzero(ink)
    if len(ys) > MAX_SKEW_POINTS:  # an even sample keeps the profile's shape
        step = len(ys) // MAX_SKEW_POINTS + 1
        ys, xs = ys[::step], xs[::step]
    ys = ys.astype(np.float64) - h / 2
    xs = xs.astype(np.float64) - w / 2

    def score(angle: float) -> float:
        # The projection profile of the page turned by `angle`, from the ink pixels' turned
        # coordinates (no image is rotated): rows for upright or upside-down pages, columns
        # for pages lying on their side.
        a = np.radians(angle)
        cos, sin = np.cos(a), np.sin(a)
        rows = np.rint(ys * cos - xs * sin + h / 2).astype(np.int64)
        cols = np.rint(xs * cos + ys * sin + w / 2).astype(np.int64)
        inside = (rows >= 0) & (rows < h) & (cols >= 0) & (cols < w)  # the page's frame
        rows, cols = rows[inside], cols[inside]
        return max(float(np.var(np.bincount(rows, minlength=h))),
                   float(np.var(np.bincount(cols, minlength=w))))

    coarse = max(np.arange(-MAX_SKEW, MAX_SKEW + 0.01, 1.0), key=score)
    fine = max(np.arange(coarse - 0.9, coarse + 0.91, 0.1), key=score)
    return round(float(-fine), 1)


def assess(img: Image.Image, metadata_dpi: float, limits: Limits) -> QualityReport:
    """Measure a page; raise Rejected for a scan that must be redone, flag borderline ones."""
    grey_full = _grey(img)
    scale = min(1.0, 2000 / max(grey_full.shape))
    grey = cv2.resize(grey_full, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) \
        if scale < 1 else grey_full
    dpi, dpi_source = effective_dpi(img, metadata_dpi, grey, scale)
    # paper: the 95th percentile; ink: see ink_level (text covers little of a page)
    p50, paper = (float(v) for v in np.percentile(grey, (50, 95)))
    ink = ink_level(grey)
    # at most 150 dpi and 2500 px: bounded work whatever the page (a poster, a lying dpi)
    normal = min(NORMAL_DPI / dpi if dpi > 0 else 1.0, MAX_WORK_SIDE / max(grey_full.shape))
    grey_normal = cv2.resize(grey_full, None, fx=normal, fy=normal, interpolation=cv2.INTER_AREA) \
        if 0 < normal < 1 else grey_full
    sharp = sharpness(grey_normal)
    skew = skew_angle(grey_normal)
    metrics: dict[str, float | str] = {
        "dpi": round(dpi), "dpi_source": dpi_source, "sharpness": round(sharp, 1),
        "skew_deg": skew, "grey_ink": round(ink), "grey_median": round(p50),
        "grey_paper": round(paper),
        "colour": colour_mode(img),
    }
    # whole dots per inch: a PNG stores pixels per metre, so its 200 dpi reads 199.9996
    if dpi and round(dpi) < limits.refuse_below_dpi:
        raise Rejected(Reason.LOW_RESOLUTION, dpi=round(dpi), limit=limits.review_below_dpi)
    if sharp < limits.refuse_sharpness:
        raise Rejected(Reason.BLURRY, sharpness=round(sharp), limit=limits.review_sharpness)
    if paper < limits.refuse_dark_paper:
        raise Rejected(Reason.TOO_DARK, level=round(paper))
    if paper - ink < limits.refuse_contrast:
        raise Rejected(Reason.TOO_LIGHT, contrast=round(paper - ink))
    flags = []
    if dpi and round(dpi) < limits.review_below_dpi:
        flags.append(Reason.LOW_RESOLUTION.value)
    if sharp < limits.review_sharpness:
        flags.append(Reason.BLURRY.value)
    if paper < limits.review_dark_paper:
        flags.append(Reason.TOO_DARK.value)
    if paper - ink < limits.review_contrast:
        flags.append(Reason.TOO_LIGHT.value)
    if abs(skew) > limits.review_skew_deg:
        flags.append(Reason.SKEWED.value)
    return QualityReport(metrics, tuple(flags))
