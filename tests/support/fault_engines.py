"""OCR engines for tests: ones that misbehave on blank pages and read everything else with
tesseract, and `cached`, tesseract remembered by page image (for tests not about OCR)."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import json
import os
import time
from pathlib import Path

from PIL import Image

from pipeline.steps.ocr import is_blank, ocr_page
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
    return cached(scan, **kw)


def cached(scan: PageScan, **kw: object) -> OcrPage:
    """Tesseract's reading of this exact page image with these options, remembered in
    ECOPY_TEST_OCR_CACHE (one JSON file per page): the same image read again costs nothing.
    Only for tests that are not about OCR (the corpus sweep, the distributed-mode tests);
    without the variable it is plain tesseract."""
    folder = os.environ.get("ECOPY_TEST_OCR_CACHE", "")
    if not folder:
        return ocr_page(scan, **kw)  # type: ignore[arg-type]
    from pipeline.flow import ocr_pages_from_json
    from storage.evidence import to_jsonable

    digest = hashlib.sha256(Path(scan.image_path).read_bytes())
    digest.update(json.dumps([scan.rotation, sorted((k, repr(v)) for k, v in kw.items())])
                  .encode())
    entry = Path(folder) / f"{digest.hexdigest()[:40]}.json.gz"
    if entry.is_file():
        (page,) = ocr_pages_from_json([json.loads(gzip.decompress(entry.read_bytes()))])
        return dataclasses.replace(page, index=scan.index)
    page = ocr_page(scan, **kw)  # type: ignore[arg-type]
    entry.parent.mkdir(parents=True, exist_ok=True)
    partial = entry.with_name(f"{entry.name}.{os.getpid()}.tmp")
    body = json.dumps(to_jsonable(page), ensure_ascii=False, sort_keys=True).encode()
    partial.write_bytes(gzip.compress(body, mtime=0))
    os.replace(partial, entry)
    return page
