"""Classify: which kind of paper this is, and refusal marks.

`classify` asks the learned model (pipeline.doctype): calibrated probabilities over character
n-grams of the first page plus the title rules below as features. `classify_by_title` is the
rule on its own: the earliest title phrase on the first page wins, matched on the
diacritic-free, space-free skeleton so OCR damage to tone marks and word breaks does not hide
it; the model uses its hits and `matched` reports the phrase.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from pipeline.types import Classification, OcrPage
from pipeline.vntext import fold, squash

if TYPE_CHECKING:
    from pipeline.doctype import DoctypeModel

DOCUMENT_NAMES: dict[str, str] = {
    "birth_cert": "Giấy khai sinh",
    "marriage_cert": "Giấy chứng nhận kết hôn",
    "death_extract": "Trích lục khai tử",
    "marital_status": "Giấy xác nhận tình trạng hôn nhân",
    "citizen_id": "Căn cước công dân",
    "driving_license": "Giấy phép lái xe",
    "university_diploma": "Bằng tốt nghiệp đại học",
    "business_registration": "Giấy chứng nhận đăng ký doanh nghiệp",
    "land_use_cert": "Giấy chứng nhận quyền sử dụng đất",
    "other": "Giấy tờ khác",
}

TITLE_PATTERNS: dict[str, tuple[str, ...]] = {
    "marital_status": ("XACNHANTINHTRANGHONNHAN", "TINHTRANGHONNHAN"),
    "marriage_cert": ("GIAYCHUNGNHANKETHON", "CHUNGNHANKETHON"),
    "death_extract": ("TRICHLUCKHAITU", "GIAYKHAITU"),
    "birth_cert": ("GIAYKHAISINH", "TRICHLUCKHAISINH"),
    "citizen_id": ("CANCUOCCONGDAN", "CITIZENIDENTITYCARD", "IDVNM", "CANCUOC"),
    "driving_license": ("GIAYPHEPLAIXE", "DRIVERSLICENSE", "DRIVINGLICENCE"),
    "university_diploma": ("BANGTOTNGHIEPDAIHOC", "BANGCUNHAN", "BANGKYSU", "BANGTOTNGHIEP"),
    "business_registration": ("DANGKYDOANHNGHIEP", "MASODOANHNGHIEP"),
    "land_use_cert": ("QUYENSUDUNGDAT",),
}

# Decree 23/2015 Art 22: papers stamped secret or "no copying" may not be certified.
NO_COPY_MARKS = ("KHONG DUOC SAO CHUP", "KHONG SAO CHUP")
_SECRET_LINE = re.compile(r"^\W*(TUYỆT MẬT|TỐI MẬT|MẬT)\W*$")
# the same stamps read without their tone marks (OCR of a red stamp often loses them: "MAT");
# a line that is nothing but the stamp's word, in capitals, so "mặt", "mất" in running text
# are not taken for it
_SECRET_FOLDED = {"TUYET MAT": "TUYỆT MẬT", "TOI MAT": "TỐI MẬT", "MAT": "MẬT"}

CONFIDENT_TITLE = 0.9
WEAK_TITLE = 0.7
NO_TITLE = 0.6
MAX_TITLE_OFFSET = 600  # skeleton characters from the top of page 1 where a title may stand


def _lines(page: OcrPage) -> list[str]:
    return page.text.splitlines()


def classify(pages: Sequence[OcrPage], model: DoctypeModel | None = None) -> Classification:
    """The document type by the given model (the bundled one when None)."""
    from pipeline.doctype import bundled_model

    return (model or bundled_model()).classify(pages)


def classify_by_title(pages: Sequence[OcrPage]) -> Classification:
    first = next((p for p in pages if p.words), None)
    if first is None:
        return Classification("other", NO_TITLE)
    skeleton = squash(first.text)
    best: tuple[int, str, str] | None = None
    for doc_type, patterns in TITLE_PATTERNS.items():
        for pattern in patterns:
            pos = skeleton.find(pattern)
            if pos >= 0 and (best is None or pos < best[0]):
                best = (pos, doc_type, pattern)
    if best is None:
        return Classification("other", NO_TITLE)
    pos, doc_type, pattern = best
    title_line = any(pattern in squash(line) and line.isupper() for line in _lines(first))
    near_top = pos <= MAX_TITLE_OFFSET
    confidence = CONFIDENT_TITLE if (title_line and near_top) else WEAK_TITLE
    return Classification(doc_type, confidence, matched=pattern)


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
