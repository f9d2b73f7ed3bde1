"""OCR engines that misbehave on blank pages and read everything else with tesseract."""

from __future__ import annotations

import os
import time

from PIL import Image

from pipeline.ocr import is_blank, ocr_page
from pipeline.types import OcrPage, PageScan


def _blank(scan: PageScan) -> bool:
    with Image.open(scan.image_path) as img:
        return is_blank(img)


def hang_on_blank(scan: PageScan, **kw: object) -> OcrPage:
    if _blank(scan):
        time.sleep(3600)
    return ocr_page(scan, **kw)  # type: ignore[arg-type]


def crash_on_blank(scan: PageScan, **kw: object) -> OcrPage:
    if _blank(scan):
        os._exit(139)  # as a segfaulting native library would
    return ocr_page(scan, **kw)  # type: ignore[arg-type]


def slow(scan: PageScan, **kw: object) -> OcrPage:
    """Real OCR after a pause: gives a fault test time to act while a job is mid-OCR."""
    time.sleep(float(os.environ.get("ECOPY_TEST_OCR_DELAY", "4")))
    return ocr_page(scan, **kw)  # type: ignore[arg-type]
