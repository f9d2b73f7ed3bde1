"""The work a pool process does: inspect a file, or render + OCR one page.

Kept apart from the orchestrator so the pool's child processes import only what they run.
"""

from __future__ import annotations

import dataclasses
import importlib
import os
import warnings
from collections.abc import Callable
from functools import cache
from pathlib import Path

import pytesseract
from PIL import Image

from pipeline.limits import Limits
from pipeline.reasons import EcopyError, Reason
from pipeline.steps.intake import Inspection, PagePlan, inspect
from pipeline.steps.ocr import is_blank, ocr_page, ocr_page_api
from pipeline.steps.quality import QualityReport, assess
from pipeline.steps.rasterize import rasterize_page
from pipeline.types import OcrPage, PageScan


def init_worker() -> None:
    """Per-process state, set once.

    One single-threaded tesseract per core: measured ~4x faster than OpenMP threading. Workers
    never print (libtiff and Pillow chatter about damaged files would garble the coordinator's
    progress display): every failure comes back as a TaskFailure with its reason code.
    """
    os.environ["OMP_THREAD_LIMIT"] = "1"
    warnings.simplefilter("ignore")
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    os.close(devnull)


@dataclasses.dataclass(frozen=True)
class TaskFailure:
    reason: str
    params: dict


def inspect_task(
    path: str,
    kind: str,
    limits: Limits,
    accept_signed: bool,
) -> Inspection | TaskFailure:
    try:
        return inspect(Path(path), kind, limits, accept_signed=accept_signed)
    except EcopyError as exc:
        return TaskFailure(exc.reason, {k: str(v) for k, v in exc.params.items()})
    except Exception as exc:  # a parser bug must not kill the batch: report it as damage
        return TaskFailure(Reason.CORRUPT_FILE, {"detail": f"{type(exc).__name__}: {exc}"[:200]})


OcrEngine = Callable[..., OcrPage]


# the library kept loaded in each worker: 0.87–0.96× bare tesseract CLI pages/s against
# 0.64–0.66× for a tesseract process per call, CER alike (scripts/bench_ocr.py); "tesseract"
# is the CLI
DEFAULT_ENGINE = "tesserocr"


@cache
def resolve_engine(spec: str) -> OcrEngine:
    """The OCR engine seam: "tesseract" (the CLI), "tesserocr" (the library, loaded once per
    process), or "package.module:function" with ocr_page's signature.

    Tests plug in engines that hang or crash to prove the pool survives them.
    """
    if spec == "tesseract":
        return ocr_page
    if spec == "tesserocr":  # the tesseract library kept loaded in each worker process
        return ocr_page_api
    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(module), name)


def quality_gate(scan: PageScan, limits: Limits) -> QualityReport:
    """Blank pages are left to the blank-page rule; every other page is measured."""
    with Image.open(scan.image_path) as img:
        img.load()
        if is_blank(img):
            return QualityReport()
        return assess(img, scan.dpi, limits)


def page_task(
    path: str,
    kind: str,
    plan: PagePlan,
    workdir: str,
    limits: Limits,
    lang: str,
    engine: str = DEFAULT_ENGINE,
) -> tuple[PageScan, OcrPage] | TaskFailure:
    try:
        scan = rasterize_page(Path(path), kind, plan, Path(workdir), limits)
        report = quality_gate(scan, limits)  # raises Rejected for a scan to redo
        page = resolve_engine(engine)(scan, lang=lang, timeout=limits.page_timeout_s)
        page = dataclasses.replace(page, quality=report.flags, quality_metrics=report.metrics)
        return dataclasses.replace(scan, rotation=page.rotation), page
    except EcopyError as exc:
        return TaskFailure(exc.reason, {k: str(v) for k, v in exc.params.items()})
    except pytesseract.TesseractNotFoundError:  # an OSError, but the machine's fault
        return TaskFailure(Reason.OCR_FAILED, {"page": plan.index + 1,
                                               "detail": "tesseract is not installed"})
    except (OSError, SyntaxError, EOFError) as exc:  # image data that cannot be decoded
        return TaskFailure(Reason.CORRUPT_FILE, {"detail": f"{type(exc).__name__}: {exc}"[:200]})
    except MemoryError:
        return TaskFailure(Reason.TOO_MANY_PIXELS, {"pixels": "?", "limit": limits.max_page_pixels})
    except Exception as exc:
        return TaskFailure(
            Reason.OCR_FAILED,
            {"page": plan.index + 1, "detail": f"{type(exc).__name__}: {exc}"[:200]},
        )
