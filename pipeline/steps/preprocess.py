"""Clean-up of the image tesseract reads; the e-copy always keeps the original scan.

Each step is a pure function over a uint8 array, grey (h, w) or RGB (h, w, 3): colour is kept
because tesseract thresholds each channel of a colour page itself, which reads tinted card
backgrounds better than a grey copy does. `prepare` runs the chosen steps around the
upscaling that low-resolution scans get. Which steps run by default is decided by
measurement (docs/ocr.md, `scripts/bench_ocr.py --ablation`), not by taste.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

from pipeline.steps.quality import skew_angle

SKEW_WORK_SIDE = 1600  # the angle is estimated on a copy at most this large
MIN_SKEW_DEG = 0.3  # below this tesseract copes and rotating only blurs
BACKGROUND_WORK_SIDE = 800  # the paper's shading is smooth: estimate it small
BACKGROUND_KERNEL = 25  # px at BACKGROUND_WORK_SIDE: wider than a glyph, narrower than shading
# Paper whose estimated background spans fewer grey levels than this (5th to 95th percentile)
# is evenly lit and left alone: evenly lit scans measure 0–1, shaded ones 23 and more.
UNEVEN_PAPER = 16
SAUVOLA_K = 0.2
SAUVOLA_R = 128.0

Step = Callable[[np.ndarray], np.ndarray]


def to_grey(img: Image.Image) -> np.ndarray:
    if img.mode != "L":
        img = img.convert("L")
    return np.asarray(img)


def to_array(img: Image.Image) -> np.ndarray:
    """Grey pages stay grey, everything else becomes RGB."""
    if img.mode in ("1", "L", "I", "I;16"):
        return to_grey(img)
    return np.asarray(img if img.mode == "RGB" else img.convert("RGB"))


def _grey_of(arr: np.ndarray) -> np.ndarray:
    return arr if arr.ndim == 2 else cv2.cvtColor(arr, cv2.COLOR_RGB2GRAY)


def _reduced(arr: np.ndarray, side: int) -> tuple[np.ndarray, float]:
    factor = min(1.0, side / max(arr.shape))
    if factor == 1.0:
        return arr, 1.0
    return cv2.resize(arr, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA), factor


def estimate_skew(arr: np.ndarray) -> float:
    """Degrees counter-clockwise the text lines lean (projection profile, ±10°, 0.1° steps)."""
    small, _ = _reduced(_grey_of(arr), SKEW_WORK_SIDE)
    return skew_angle(small)


def _turn(shape: tuple[int, ...], degrees: float) -> tuple[np.ndarray, tuple[int, int]]:
    """The affine map that turns an image counter-clockwise by ``degrees`` onto a canvas
    large enough to keep every pixel, and that canvas's (width, height)."""
    h, w = shape[:2]
    turn = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    cos, sin = abs(turn[0, 0]), abs(turn[0, 1])
    size = (round(h * sin + w * cos), round(h * cos + w * sin))
    turn[0, 2] += (size[0] - w) / 2
    turn[1, 2] += (size[1] - h) / 2
    return turn, size


def rotate(arr: np.ndarray, degrees: float) -> np.ndarray:
    """Turn counter-clockwise by ``degrees``, keeping every pixel; new corners are paper."""
    turn, size = _turn(arr.shape, degrees)
    paper = np.percentile(arr.reshape(-1, 1 if arr.ndim == 2 else arr.shape[2]), 95, axis=0)
    return cv2.warpAffine(arr, turn, size, flags=cv2.INTER_CUBIC,
                          borderMode=cv2.BORDER_CONSTANT,
                          borderValue=tuple(int(v) for v in paper))


def _paper(arr: np.ndarray) -> np.ndarray:
    """The paper without the ink at reduced size: a closing wider than a glyph, smoothed."""
    small, _ = _reduced(arr, BACKGROUND_WORK_SIDE)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (BACKGROUND_KERNEL, BACKGROUND_KERNEL))
    paper = cv2.morphologyEx(small, cv2.MORPH_CLOSE, kernel)
    return cv2.medianBlur(paper, 2 * (BACKGROUND_KERNEL // 2) + 1)


def background(arr: np.ndarray) -> np.ndarray:
    """The paper without the ink, per channel, at the page's size."""
    return cv2.resize(_paper(arr), (arr.shape[1], arr.shape[0]), interpolation=cv2.INTER_LINEAR)


def normalise_illumination(arr: np.ndarray) -> np.ndarray:
    """Divide by the estimated paper so shading and shadows become white, on unevenly lit
    pages only: on an even page the division gains nothing and can lose boxed text (a red
    secret stamp went unread on a synthetic page). Evenness is judged on the reduced paper,
    so an even page costs no full-size work."""
    small = _paper(arr)
    level = _grey_of(small)
    if float(np.percentile(level, 95) - np.percentile(level, 5)) < UNEVEN_PAPER:
        return arr
    paper = cv2.resize(small, (arr.shape[1], arr.shape[0]), interpolation=cv2.INTER_LINEAR)
    paper = paper.astype(np.float32)
    flat = arr.astype(np.float32) / np.maximum(paper, 1.0) * 255.0
    return np.clip(flat, 0, 255).astype(np.uint8)


def denoise(arr: np.ndarray) -> np.ndarray:
    """Non-local means: removes sensor and JPEG speckle while keeping stroke edges."""
    if arr.ndim == 3:
        return cv2.fastNlMeansDenoisingColored(arr, None, 12, 12, 7, 21)
    return cv2.fastNlMeansDenoising(arr, None, h=12, templateWindowSize=7, searchWindowSize=21)


def median(arr: np.ndarray) -> np.ndarray:
    """3×3 median: salt-and-pepper noise, at a fraction of the cost of non-local means."""
    return cv2.medianBlur(arr, 3)


def sharpen(arr: np.ndarray) -> np.ndarray:
    """Unsharp mask for slightly blurred scans."""
    soft = cv2.GaussianBlur(arr, (0, 0), 1.5)
    return cv2.addWeighted(arr, 1.8, soft, -0.8, 0)


def stretch_contrast(arr: np.ndarray) -> np.ndarray:
    """Map the 0.5th–99.5th arr percentiles to black–white (dark or faded scans)."""
    low, high = (float(v) for v in np.percentile(arr, (0.5, 99.5)))
    if high - low < 1:
        return arr
    out = (arr.astype(np.float32) - low) * (255.0 / (high - low))
    return np.clip(out, 0, 255).astype(np.uint8)


def binarise_otsu(arr: np.ndarray) -> np.ndarray:
    _, ink = cv2.threshold(_grey_of(arr), 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    return ink


def binarise_sauvola(arr: np.ndarray, window: int = 31) -> np.ndarray:
    """Local threshold T = m·(1 + k·(s/R − 1)) over a window: copes with uneven paper."""
    g = _grey_of(arr).astype(np.float64)
    mean = cv2.boxFilter(g, -1, (window, window), borderType=cv2.BORDER_REFLECT)
    mean_sq = cv2.boxFilter(g * g, -1, (window, window), borderType=cv2.BORDER_REFLECT)
    std = np.sqrt(np.maximum(mean_sq - mean * mean, 0))
    threshold = mean * (1 + SAUVOLA_K * (std / SAUVOLA_R - 1))
    return np.where(g > threshold, 255, 0).astype(np.uint8)


# Steps that change pixels only, run after deskewing and before upscaling (cheaper, and noise
# is not enlarged first) ...
BEFORE_UPSCALE: dict[str, Step] = {
    "illumination": normalise_illumination,
    "denoise": denoise,
    "median": median,
    "contrast": stretch_contrast,
}
# ... and after it (thresholds and sharpening work on the enlarged strokes).
AFTER_UPSCALE: dict[str, Step] = {
    "sharpen": sharpen,
    "otsu": binarise_otsu,
    "sauvola": binarise_sauvola,
}
STEPS = ("deskew", *BEFORE_UPSCALE, *AFTER_UPSCALE)
_IDENTITY = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)


@dataclass(frozen=True)
class Prepared:
    """The image tesseract reads, and how its pixels map back onto the page."""

    image: Image.Image
    page_size: tuple[int, int]  # (width, height) of the page the boxes must land on
    to_page: tuple[float, ...] = _IDENTITY  # affine a b c d e f: x' = ax+by+c, y' = dx+ey+f
    skew_deg: float = 0.0  # the lean removed (counter-clockwise degrees)
    changed: bool = True  # False: no step found anything to do, the scan can be read as is

    def box_on_page(self, left: int, top: int, width: int, height: int
                    ) -> tuple[int, int, int, int]:
        """A box of the OCR input as (left, top, width, height) on the page, clipped to it."""
        a, b, c, d, e, f = self.to_page
        xs = [a * x + b * y + c for x in (left, left + width) for y in (top, top + height)]
        ys = [d * x + e * y + f for x in (left, left + width) for y in (top, top + height)]
        page_w, page_h = self.page_size
        x0 = min(max(0, math.floor(min(xs))), page_w - 1)
        y0 = min(max(0, math.floor(min(ys))), page_h - 1)
        x1, y1 = min(page_w, math.ceil(max(xs))), min(page_h, math.ceil(max(ys)))
        return x0, y0, max(1, x1 - x0), max(1, y1 - y0)


def prepare(img: Image.Image, steps: Sequence[str], scale: float = 1.0) -> Prepared:
    """The OCR input: ``steps`` in the order of STEPS, enlarged by ``scale`` (Lanczos)."""
    unknown = set(steps) - set(STEPS)
    if unknown:
        raise ValueError(f"unknown preprocessing steps: {sorted(unknown)}; known: {STEPS}")
    page = original = to_array(img)
    page_size = (page.shape[1], page.shape[0])
    forward = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    skew = estimate_skew(page) if "deskew" in steps else 0.0
    if abs(skew) >= MIN_SKEW_DEG:
        forward, _ = _turn(page.shape, -skew)
        page = rotate(page, -skew)
    else:
        skew = 0.0
    for name, step in BEFORE_UPSCALE.items():
        if name in steps:
            page = step(page)
    if scale != 1.0:
        size = (round(page.shape[1] * scale), round(page.shape[0] * scale))
        forward = forward * np.array([[size[0] / page.shape[1]], [size[1] / page.shape[0]]])
        page = np.asarray(Image.fromarray(page).resize(size, Image.Resampling.LANCZOS))
    for name, step in AFTER_UPSCALE.items():
        if name in steps:
            page = step(page)
    to_page = tuple(float(v) for v in cv2.invertAffineTransform(forward).ravel())
    return Prepared(Image.fromarray(page), page_size, to_page, skew, page is not original)
