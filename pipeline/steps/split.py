"""One file, several papers: cut it into one file per paper (issue 16 point 3).

Each original paper gets its own certification number (Decree 23/2015 Art 13), so a scan that
holds a birth certificate and an ID card waits for a clerk (`mixed_documents`) with the split
the machine proposes (pipeline.steps.classify.papers_in). The clerk confirms it is one paper, or
splits the file here: each part becomes a file of its own, taken in as a new case of the same
dossier, while the uploaded file stays stored, untouched, as the evidence it came from.

A part keeps its pages as they were: PDF pages are copied object for object with pikepdf (the
scan's image streams are not decoded or re-encoded); TIFF frames are written again losslessly
(the pixels are the same, the container is new). A single image is one page: nothing to split.
"""

from __future__ import annotations

import re
from pathlib import Path

import pikepdf
from PIL import Image

from pipeline.reasons import EcopyError, Reason

__all__ = ["parse_parts", "parts_text", "proposed_parts", "write_parts"]

Part = tuple[int, int]  # first and last page index of one paper, 0-based, inclusive

_ITEM = re.compile(r"^\s*(\d+)\s*(?:[-–]\s*(\d+))?\s*$")


def proposed_parts(papers: list[tuple[int, str]], pages: int) -> list[Part]:
    """The machine's split (pipeline.steps.classify.papers_in) as page ranges covering every page;
    pages before the first titled page belong to the first paper."""
    starts = [first for first, _ in papers] or [0]
    starts[0] = 0
    return [(start, (starts[k + 1] if k + 1 < len(starts) else pages) - 1)
            for k, start in enumerate(starts)]


def parts_text(parts: list[Part]) -> str:
    """[(0, 0), (1, 2)] → "1; 2-3": what the clerk sees and edits (pages counted from 1)."""
    return "; ".join(f"{a + 1}" if a == b else f"{a + 1}-{b + 1}" for a, b in parts)


def parse_parts(text: str, pages: int) -> list[Part]:
    """The clerk's split, "1; 2-3" (one paper per item, ";" or "," between items): every page
    once, in order, at least two papers. ValueError with a message for the clerk otherwise."""
    items = [x for x in re.split(r"[;,]", text or "") if x.strip()]
    parts: list[Part] = []
    for item in items:
        m = _ITEM.match(item)
        if not m:
            raise ValueError(f"không hiểu {item.strip()!r}: ghi số trang, ví dụ 1; 2-3 / "
                             f"cannot read {item.strip()!r}: write page numbers, e.g. 1; 2-3")
        first = int(m.group(1))
        last = int(m.group(2) or first)
        parts.append((first - 1, last - 1))
    expected = 0
    for first, last in parts:
        if first != expected or last < first or last >= pages:
            raise ValueError(
                f"mỗi trang từ 1 đến {pages} phải thuộc đúng một giấy, theo thứ tự / every page "
                f"from 1 to {pages} must belong to exactly one paper, in order")
        expected = last + 1
    if expected != pages:
        raise ValueError(f"còn thiếu trang {expected + 1}–{pages} / pages {expected + 1}–{pages} "
                         f"belong to no paper")
    if len(parts) < 2:
        raise ValueError("cần ít nhất hai giấy để tách; nếu là một giấy, hãy xác nhận đã duyệt / "
                         "a split needs two papers at least; if it is one paper, mark it reviewed")
    return parts


def write_parts(original: Path, kind: str, parts: list[Part], out_dir: Path,
                name: str = "") -> list[Path]:
    """One file per part in ``out_dir``, named after the upload (``name``) and its pages."""
    out_dir.mkdir(parents=True, exist_ok=True)
    named = Path(name or original.name)
    stem, suffix = named.stem, original.suffix or f".{kind}"
    paths = [out_dir / f"{stem} (trang {parts_text([part])}){suffix}" for part in parts]
    try:
        if kind == "pdf":
            _pdf_parts(original, parts, paths)
        elif kind == "tiff":
            _tiff_parts(original, parts, paths)
        else:
            raise EcopyError(Reason.WRONG_FILE_TYPE)  # a single image has one page
    except (pikepdf.PdfError, OSError) as exc:
        raise EcopyError(Reason.CORRUPT_FILE) from exc
    return paths


def _pdf_parts(original: Path, parts: list[Part], paths: list[Path]) -> None:
    with pikepdf.open(original) as source:
        if len(source.pages) <= parts[-1][1]:
            raise EcopyError(Reason.CORRUPT_FILE)
        for (first, last), path in zip(parts, paths, strict=True):
            with pikepdf.new() as part:
                part.pages.extend(source.pages[first:last + 1])
                part.save(path)


def _tiff_parts(original: Path, parts: list[Part], paths: list[Path]) -> None:
    with Image.open(original) as img:
        dpi = img.info.get("dpi")
        frames = []
        for index in range(getattr(img, "n_frames", 1)):
            img.seek(index)
            frames.append(img.copy())
    if len(frames) <= parts[-1][1]:
        raise EcopyError(Reason.CORRUPT_FILE)
    for (first, last), path in zip(parts, paths, strict=True):
        chosen = frames[first:last + 1]
        extra = {"dpi": dpi} if dpi else {}
        chosen[0].save(path, format="TIFF", save_all=True, append_images=chosen[1:],
                       compression="tiff_lzw", **extra)
