"""Document types by their titles: the codes and names of domain.md, the title phrases that
name each type, and the title rule. The classification model (pipeline.doctypes.model) uses the
rule's hits as features; pipeline.steps.classify applies both."""

from __future__ import annotations

from collections.abc import Sequence

from pipeline.types import Classification, OcrPage
from pipeline.vn.text import squash

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

CONFIDENT_TITLE = 0.9
WEAK_TITLE = 0.7
NO_TITLE = 0.6
MAX_TITLE_OFFSET = 600  # skeleton characters from the top of page 1 where a title may stand


def _lines(page: OcrPage) -> list[str]:
    return page.text.splitlines()


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
