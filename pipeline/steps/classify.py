"""Classify: which kind of paper this is, and refusal marks.

`classify` asks the learned model (pipeline.doctypes.model): calibrated probabilities over character
n-grams of the first page plus the title rules below as features. `classify_by_title` is the
rule on its own: the earliest title phrase on the first page wins, matched on the
diacritic-free, space-free skeleton so OCR damage to tone marks and word breaks does not hide
it; the model uses its hits and `matched` reports the phrase.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from pipeline.doctypes.titles import (  # noqa: F401  (re-exported: the chain's step names them)
    CONFIDENT_TITLE,
    DOCUMENT_NAMES,
    MAX_TITLE_OFFSET,
    NO_TITLE,
    TITLE_PATTERNS,
    WEAK_TITLE,
    _lines,
    classify_by_title,
)
from pipeline.types import Classification, OcrPage
from pipeline.vn.text import fold

if TYPE_CHECKING:
    from pipeline.doctypes.model import DoctypeModel

# Decree 23/2015 Art 22: papers stamped secret or "no copying" may not be certified.
NO_COPY_MARKS = ("KHONG DUOC SAO CHUP", "KHONG SAO CHUP")
_SECRET_LINE = re.compile(r"^\W*(TUYỆT MẬT|TỐI MẬT|MẬT)\W*$")
# the same stamps read without their tone marks (OCR of a red stamp often loses them: "MAT");
# a line that is nothing but the stamp's word, in capitals, so "mặt", "mất" in running text
# are not taken for it
_SECRET_FOLDED = {"TUYET MAT": "TUYỆT MẬT", "TOI MAT": "TỐI MẬT", "MAT": "MẬT"}

def classify(pages: Sequence[OcrPage], model: DoctypeModel | None = None) -> Classification:
    """The document type by the given model (the bundled one when None)."""
    from pipeline.doctypes.model import bundled_model

    return (model or bundled_model()).classify(pages)


def papers_in(pages: Sequence[OcrPage]) -> list[tuple[int, str]]:
    """(first page index, document type) of each paper a file seems to hold. A page whose own
    title (a title line near its top) names another type than the paper before starts a new
    paper; a page without a title of its own continues the paper before it. One entry (or
    none) means one paper. Two papers of the same type in one file are not told apart."""
    papers: list[tuple[int, str]] = []
    for i, page in enumerate(pages):
        if not page.words:
            continue
        found = classify_by_title([page])
        if found.doc_type == "other" or found.confidence < CONFIDENT_TITLE:
            continue
        if not papers or papers[-1][1] != found.doc_type:
            papers.append((i, found.doc_type))
    return papers


def describe_split(papers: list[tuple[int, str]], pages: int) -> str:
    """"trang 1: Giấy khai sinh; trang 2–3: Căn cước công dân" (the split a clerk is offered)."""
    parts = []
    for k, (first, doc_type) in enumerate(papers):
        last = (papers[k + 1][0] if k + 1 < len(papers) else pages) - 1
        span = f"{first + 1}" if first == last else f"{first + 1}–{last + 1}"
        parts.append(f"trang {span}: {DOCUMENT_NAMES.get(doc_type, doc_type)}")
    return "; ".join(parts)


# Papers that no longer prove what they were made for: (folded title, what, since). A copy
# of one may still be certified (it is a true copy), but whoever relies on it must know:
# household books stopped proving residence on 1 Jan 2023 (Law on Residence 2020, Art 38(3));
# 9-digit identity cards (CMND) stopped being valid on 1 Jan 2025 (Law on Identification
# 2023, Art 46(1)).
OUTDATED_PROOFS = (
    ("SO HO KHAU", "sổ hộ khẩu", "01/01/2023"),
    ("CHUNG MINH NHAN DAN", "chứng minh nhân dân 9 số", "01/01/2025"),
)
OUTDATED_TITLE_LINES = 12  # a title is among the first lines of the first page


def outdated_proof(pages: Sequence[OcrPage]) -> tuple[str, str] | None:
    """(what the paper is, since when it is no longer valid proof) when its title names a
    household book or a 9-digit CMND; None otherwise."""
    first = next((p for p in pages if p.words), None)
    if first is None:
        return None
    for line in _lines(first)[:OUTDATED_TITLE_LINES]:
        if not line.isupper():  # a title, not a form's "Số CMND/Giấy chứng minh nhân dân:"
            continue
        folded = " ".join(fold(line).upper().split())
        for title, what, since in OUTDATED_PROOFS:
            if title in folded:
                return what, since
    return None


def refusal_mark(pages: Sequence[OcrPage]) -> str | None:
    """The secret or no-copy stamp text found on the paper, if any."""
    for page in pages:
        for line in _lines(page):
            found = _SECRET_LINE.match(line.strip())
            if found:
                return found.group(1)
            bare = " ".join(re.sub(r"[^\w ]", " ", line).split())
            if bare.isupper() and fold(bare) in _SECRET_FOLDED:
                return _SECRET_FOLDED[fold(bare)]
            folded = fold(line)
            for mark in NO_COPY_MARKS:
                if mark in folded:
                    return line.strip()
    return None
