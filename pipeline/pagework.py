"""The work a pool process does: inspect a file, or render + OCR one page.

Kept apart from the orchestrator so the pool's child processes import only what they run.
"""

from __future__ import annotations

import dataclasses
import importlib
import os
from collections.abc import Callable
from functools import cache
from pathlib import Path

from pipeline.intake import Inspection, PagePlan, inspect
from pipeline.limits import Limits
from pipeline.ocr import ocr_page
from pipeline.rasterize import rasterize_page
from pipeline.reasons import EcopyError, Reason
from pipeline.types import OcrPage, PageScan


def init_worker() -> None:
    """One single-threaded tesseract per core: measured ~4× faster than OpenMP threading."""
    os.environ["OMP_THREAD_LIMIT"] = "1"


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


@cache
def resolve_engine(spec: str) -> OcrEngine:
    """The OCR engine seam: "tesseract", or "package.module:function" with ocr_page's signature.

    Tests plug in engines that hang or crash to prove the pool survives them.
    """
    if spec == "tesseract":
        return ocr_page
    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(module), name)


def page_task(
    path: str,
    kind: str,
    plan: PagePlan,
    workdir: str,
    limits: Limits,
    lang: str,
    engine: str = "tesseract",
) -> tuple[PageScan, OcrPage] | TaskFailure:
    try:
        scan = rasterize_page(Path(path), kind, plan, Path(workdir), limits)
        page = resolve_engine(engine)(scan, lang=lang, timeout=limits.page_timeout_s)
        return dataclasses.replace(scan, rotation=page.rotation), page
    except EcopyError as exc:
        return TaskFailure(exc.reason, {k: str(v) for k, v in exc.params.items()})
    except MemoryError:
        return TaskFailure(Reason.TOO_MANY_PIXELS, {"pixels": "?", "limit": limits.max_page_pixels})
    except Exception as exc:
        return TaskFailure(
            Reason.OCR_FAILED,
            {"page": plan.index + 1, "detail": f"{type(exc).__name__}: {exc}"[:200]},
        )
