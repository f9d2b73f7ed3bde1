"""Rasterize: one page of an accepted file as an image file, at its native resolution.

JPEG data is passed through untouched (from a JPEG upload or a scanner PDF's only image) so the
e-copy carries the original pixels; everything else is rendered by poppler (pdf2image) or taken
frame by frame from the image.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pikepdf
from pdf2image import convert_from_path
from pdf2image.exceptions import PDFPopplerTimeoutError
from PIL import Image

from pipeline.limits import Limits
from pipeline.reasons import Reason, Rejected
from pipeline.steps.intake import PagePlan, _images
from pipeline.types import PageScan

MONO_THRESHOLD = 128


def rasterize_page(src: Path, kind: str, plan: PagePlan, workdir: Path, limits: Limits) -> PageScan:
    stem = workdir / f"page-{plan.index:04d}"
    if kind == "pdf" and plan.mode == "copy_jpeg":
        return _copy_pdf_jpeg(src, plan, stem.with_suffix(".jpg"))
    if kind == "pdf":
        return _render_pdf_page(src, plan, stem, limits)
    return _image_frame(src, kind, plan, stem)


def _scan(path: Path, fmt: str, plan: PagePlan, size: tuple[int, int]) -> PageScan:
    return PageScan(plan.index, str(path), fmt, size[0], size[1], plan.dpi, plan.rotate)


def _copy_pdf_jpeg(src: Path, plan: PagePlan, out: Path) -> PageScan:
    with pikepdf.open(src) as pdf:
        page = pdf.pages[plan.index]
        (img,) = list(_images(page.get("/Resources")))
        out.write_bytes(img.read_raw_bytes())
        size = (int(img.Width), int(img.Height))
    return _scan(out, "jpeg", plan, size)


def _render_pdf_page(src: Path, plan: PagePlan, stem: Path, limits: Limits) -> PageScan:
    as_jpeg = plan.mode in ("render_color", "render_gray")
    try:
        paths = convert_from_path(
            src,
            dpi=plan.dpi,
            first_page=plan.index + 1,
            last_page=plan.index + 1,
            output_folder=stem.parent,
            output_file=stem.name,
            single_file=True,
            paths_only=True,
            fmt="jpeg" if as_jpeg else "png",
            jpegopt={"quality": 90, "optimize": True, "progressive": False} if as_jpeg else None,
            grayscale=plan.mode != "render_color",
            timeout=limits.page_timeout_s,
        )
    except PDFPopplerTimeoutError as exc:
        raise Rejected(Reason.TIMEOUT, limit=limits.page_timeout_s) from exc
    except Exception as exc:  # pdf2image raises bare Exceptions for poppler failures
        raise Rejected(Reason.CORRUPT_FILE) from exc
    if not paths or not Path(paths[0]).is_file() or Path(paths[0]).stat().st_size == 0:
        raise Rejected(Reason.CORRUPT_FILE)
    path = Path(paths[0])
    with Image.open(path) as img:
        size = img.size
        if plan.mode == "render_mono":
            mono = img.convert("L").point(lambda v: 255 if v >= MONO_THRESHOLD else 0).convert("1")
            mono.save(path, format="PNG", optimize=True)
    return _scan(path, "jpeg" if as_jpeg else "png", plan, size)


def _image_frame(src: Path, kind: str, plan: PagePlan, stem: Path) -> PageScan:
    try:
        with Image.open(src) as img:
            img.seek(plan.index)
            size = img.size
            if kind == "jpeg":
                out = stem.with_suffix(".jpg")
                shutil.copyfile(src, out)
                return _scan(out, "jpeg", plan, size)
            if kind == "png" and img.mode in ("1", "L", "RGB", "RGBA", "P", "LA"):
                out = stem.with_suffix(".png")
                shutil.copyfile(src, out)
                return _scan(out, "png", plan, size)
            frame = img.copy()
    except (OSError, ValueError, EOFError, SyntaxError) as exc:
        raise Rejected(Reason.CORRUPT_FILE) from exc
    if frame.mode not in ("1", "L", "RGB"):
        frame = frame.convert("RGBA" if "A" in frame.mode or frame.mode == "P" else "RGB")
    out = stem.with_suffix(".png")
    frame.save(out, format="PNG")
    return _scan(out, "png", plan, size)
