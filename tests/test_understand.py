"""OCR, orientation, classification and extraction on real pages and real OCR output."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.steps.classify import classify, refusal_mark
from pipeline.steps.extract import extract, parse_date
from pipeline.steps.ocr import ocr_page
from pipeline.types import OcrPage, OcrWord, PageScan
from pipeline.vn.idnumber import is_valid_personal_id, parse_personal_id
from pipeline.vn.text import fold, squash, title_name


def page_of(lines: list[str]) -> OcrPage:
    words = []
    for n, line in enumerate(lines):
        for i, w in enumerate(line.split()):
            words.append(OcrWord(w, 100 + 60 * i, 100 + 50 * n, 50, 30, 90.0, f"1.1.{n}"))
    return OcrPage(0, 2480, 3508, 0, tuple(words), 90.0, "test")


def scan_of(path: Path, dpi: float = 300) -> PageScan:
    from PIL import Image

    with Image.open(path) as img:
        fmt = "jpeg" if img.format == "JPEG" else "png"
        return PageScan(0, str(path), fmt, img.width, img.height, dpi)


@pytest.mark.parametrize(("name", "rotation"), [
    ("phototest-rotated-180.png", 180), ("phototest-rotated-R.png", 270),
    ("phototest-rotated-L.png", 90),
])
def test_osd_turns_pages_upright(corpus: Path, name: str, rotation: int) -> None:
    page = ocr_page(scan_of(corpus / "tesseract-test" / name, dpi=150), lang="eng")
    assert page.rotation == rotation
    assert "quick brown" in page.text.lower()


def test_large_pages_in_four_orientations(corpus: Path, tmp_path: Path) -> None:
    """cardinal.pdf: one page per orientation at 300-390 dpi, so OSD runs on reduced copies."""
    from pipeline.limits import Limits
    from pipeline.steps.intake import inspect, sniff
    from pipeline.steps.rasterize import rasterize_page

    path, limits = corpus / "ocrmypdf/cardinal.pdf", Limits()
    rotations = []
    for plan in inspect(path, sniff(path), limits).pages:
        page = ocr_page(rasterize_page(path, "pdf", plan, tmp_path, limits), lang="eng")
        assert "LinnSequencer" in page.text
        rotations.append(page.rotation)
    assert rotations == [0, 270, 180, 90]


def test_vietnamese_word_with_diacritics(corpus: Path) -> None:
    page = ocr_page(scan_of(corpus / "tesseract-test/viet.tif"), lang="vie+eng")
    assert "tiếng" in page.text


def test_jpeg_leptonica_refuses_is_read_through_pillow(corpus: Path) -> None:
    """tesseract cannot open this damaged JPEG itself; the page must not fail or time out."""
    page = ocr_page(scan_of(corpus / "pillow/photoshop-200dpi-broken.jpg", dpi=200), timeout=30)
    assert page.width_px == 200 and not page.blank


def test_blank_page_detected(tmp_path: Path) -> None:
    from PIL import Image

    path = tmp_path / "blank.png"
    Image.new("L", (1240, 1754), 250).save(path)
    page = ocr_page(scan_of(path, dpi=150))
    assert page.blank and not page.words


@pytest.mark.parametrize(("title", "doc_type"), [
    ("GIẤY KHAI SINH", "birth_cert"),
    ("GIAY KHAI SINH", "birth_cert"),  # diacritics lost by OCR
    ("GIẤY KHAI  SI NH", "birth_cert"),  # word broken by OCR
    ("CĂN CƯỚC CÔNG DÂN", "citizen_id"),
    ("GIẤY CHỨNG NHẬN KẾT HÔN", "marriage_cert"),
    ("TRÍCH LỤC KHAI TỬ", "death_extract"),
    ("GIẤY XÁC NHẬN TÌNH TRẠNG HÔN NHÂN", "marital_status"),
    ("GIẤY PHÉP LÁI XE", "driving_license"),
    ("GIẤY CHỨNG NHẬN ĐĂNG KÝ DOANH NGHIỆP", "business_registration"),
    ("GIẤY CHỨNG NHẬN QUYỀN SỬ DỤNG ĐẤT", "land_use_cert"),
    ("CÔNG VĂN VỀ VIỆC TỔ CHỨC HỌP", "other"),
])
def test_classify_titles(title: str, doc_type: str) -> None:
    result = classify([page_of(["CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", title, "Họ tên: A"])])
    assert result.doc_type == doc_type


def test_marital_status_not_taken_for_marriage() -> None:
    page = page_of(["GIẤY XÁC NHẬN TÌNH TRẠNG HÔN NHÂN", "chưa đăng ký kết hôn với ai"])
    assert classify([page]).doc_type == "marital_status"


def test_secret_stamp_found() -> None:
    assert refusal_mark([page_of(["TỐI MẬT", "GIẤY KHAI SINH"])]) == "TỐI MẬT"
    assert refusal_mark([page_of(["giữ bí mật thông tin cá nhân"])]) is None
    # OCR of a red stamp loses the tone marks: the bare word still counts, in capitals only
    assert refusal_mark([page_of(["GIẤY KHAI SINH", "| MAT |"])]) == "MẬT"
    assert refusal_mark([page_of(["TOI MAT", "GIẤY KHAI SINH"])]) == "TỐI MẬT"
    assert refusal_mark([page_of(["Mặt trước", "mất"])]) is None
    assert refusal_mark([page_of(["MẶT TRẬN TỔ QUỐC"])]) is None


def test_extract_birth_cert_fields() -> None:
    page = page_of([
        "GIẤY KHAI SINH",
        "Họ, chữ đệm, tên: NGUYỄN THỊ MAI ANH",
        "Ngày, tháng, năm sinh: 05/02/2001",
        "Giới tính: Nữ Dân tộc: Kinh",
        "Số định danh cá nhân: 001301012345",
    ])
    fields = {f.name: f.value for f in extract([page], "birth_cert").fields}
    assert fields == {"full_name": "Nguyễn Thị Mai Anh", "date_of_birth": "2001-02-05",
                      "sex": "F", "id_number": "001301012345"}


def test_id_contradicting_birth_is_flagged() -> None:
    page = page_of(["Họ và tên: TRẦN VĂN BÌNH", "Ngày sinh: 14/07/1985", "Giới tính: Nam",
                    "Số: 079301001234"])
    result = extract([page], "citizen_id")
    assert result.get("id_number") == "079301001234"
    assert result.warnings


def test_personal_id_rules() -> None:
    pid = parse_personal_id("079085001234")
    assert pid.province == "Hồ Chí Minh" and pid.sex == "M" and pid.matches_birth(1985, "M")
    assert not pid.matches_birth(2085) and not pid.matches_birth(1985, "F")
    for bad in ("003085001234", "07908500123", "07908500123x"):
        assert not is_valid_personal_id(bad)


def test_old_province_codes_match_reference(corpus: Path) -> None:
    """Our 63 codes and names agree with independent pre-2025 data (GPL: a test fixture only)."""
    import csv

    from pipeline.vn.idnumber import OLD_PROVINCE_CODES

    ref: dict[str, str] = {}
    with open(corpus / "vietnam-provinces/Xa_2025-01-04_pre-reorganisation.csv") as fh:
        for row in csv.DictReader(fh):
            ref["0" + row["Mã TP"]] = row["Tỉnh Thành Phố"]
    assert set(ref) == set(OLD_PROVINCE_CODES)
    for code, name in OLD_PROVINCE_CODES.items():
        assert fold(ref[code]).endswith(fold(name.split(" (")[0])), (code, ref[code], name)


@pytest.mark.parametrize(("text", "iso"), [
    ("ngày 05 tháng 02 năm 2024", "2024-02-05"),
    ("Ngày 5 tháng 2 năm 2024", "2024-02-05"),
    ("14/07/1985", "1985-07-14"),
    ("14-07-1985", "1985-07-14"),
    ("32/01/2000", None),
])
def test_parse_date(text: str, iso: str | None) -> None:
    assert parse_date(text) == iso


def test_text_helpers() -> None:
    assert fold("Giấy khai sinh Đà Nẵng") == "GIAY KHAI SINH DA NANG"
    assert squash("GIẤY  KHAI-SINH") == "GIAYKHAISINH"
    assert title_name("NGUYỄN THỊ MAI ANH") == "Nguyễn Thị Mai Anh"
