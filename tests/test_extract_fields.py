"""Label-driven extraction on OCR lines shaped like real papers (positions matter)."""

from __future__ import annotations

from pipeline.extract import extract
from pipeline.types import OcrPage, OcrWord


def _page(rows: list[tuple[int, int, str]], width: int = 1200, height: int = 1700) -> OcrPage:
    """rows: (x, y, text); each row is one OCR line (its own block, as tesseract does)."""
    words = []
    for n, (x, y, text) in enumerate(rows):
        left = x
        for token in text.split():
            words.append(OcrWord(token, left, y, 12 * len(token), 28, 90.0, f"{n}.1.1"))
            left += 12 * len(token) + 10
    return OcrPage(0, width, height, 0, tuple(words), 90.0, "tesseract")


def _fields(rows: list[tuple[int, int, str]], doc_type: str) -> dict[str, str]:
    return {f.name: f.value for f in extract([_page(rows), ], doc_type).fields}


def test_birth_certificate_sections_and_wrapped_values() -> None:
    got = _fields([
        (150, 130, "Số: 236"), (150, 160, "Quyển số: 01"),
        (400, 230, "GIẤY KHAI SINH"),
        (130, 300, "Họ, chữ đệm, tên: BÙI MẠNH HIẾU"),
        (130, 333, "Ngày, tháng, năm sinh: 06/09/2004"),
        (130, 404, "Giới tính: Nam Dân tộc: Kinh Quốc tịch: Việt Nam"),
        (130, 510, "Số định danh cá nhân: 001204137503"),
        (124, 546, "Họ, chữ đệm, tên người mẹ: HUỲNH KHÁNH HƯƠNG"),
        (122, 582, "Năm sinh: 1974 Dân tộc: Kinh"),
        (121, 618, "Nơi cư trú: Số 144 đường Nguyễn Trãi, phường Thảo Điền, thành phố Thủ Đức,"),
        (148, 654, "Thành phố Hồ Chí Minh"),
        (119, 689, "Họ, chữ đệm, tên người cha: BÙI CÔNG THẮNG"),
        (116, 866, "Nơi đăng ký khai sinh: Ủy ban nhân dân phường Dịch Vọng Hậu, quận Cầu"),
        (150, 900, "Giấy, thành phố Hà Nội"),
        (112, 940, "Ngày, tháng, năm đăng ký: Ngày 20 tháng 12 năm 2017"),
    ], "birth_cert")
    assert got["full_name"] == "Bùi Mạnh Hiếu" and got["date_of_birth"] == "2004-09-06"
    assert got["sex"] == "M" and got["id_number"] == "001204137503"
    assert got["mother_full_name"] == "Huỳnh Khánh Hương"
    assert got["father_full_name"] == "Bùi Công Thắng"
    assert "place_of_residence" not in got  # the mother's address is not the child's
    assert got["register_number"] == "236" and got["issue_date"] == "2017-12-20"
    assert got["issuer"] == ("Ủy ban nhân dân phường Dịch Vọng Hậu, quận Cầu Giấy, "
                             "thành phố Hà Nội")


def test_two_column_layout_pairs_by_row() -> None:
    got = _fields([
        (190, 300, "Họ và tên:"), (190, 340, "Ngày, tháng, năm sinh:"), (190, 380, "Giới tính:"),
        (620, 301, "TRẦN PHƯƠNG UYÊN"), (620, 341, "16/09/2017"), (620, 381, "Nữ"),
    ], "birth_cert")
    assert (got["full_name"], got["date_of_birth"], got["sex"]) == (
        "Trần Phương Uyên", "2017-09-16", "F")


def test_marriage_spouses() -> None:
    got = _fields([
        (200, 520, "Thông tin người chồng"), (200, 595, "Họ, chữ đệm, tên: MAI VĂN PHÚC TRUNG"),
        (200, 660, "Ngày, tháng, năm sinh: 02/01/1972"),
        (200, 925, "Số định danh cá nhân: 001072796184"),
        (200, 1003, "Thông tin người vợ"), (200, 1080, "Họ, chữ đệm, tên: TRẦN NGỌC OANH"),
        (200, 1144, "Ngày, tháng, năm sinh: 17/10/1976"),
    ], "marriage_cert")
    assert got["husband_full_name"] == "Mai Văn Phúc Trung"
    assert got["husband_date_of_birth"] == "1972-01-02"
    assert got["husband_id_number"] == "001072796184"
    assert got["wife_full_name"] == "Trần Ngọc Oanh" and "full_name" not in got


def test_land_business_and_licence_fields() -> None:
    land = _fields([
        (243, 500, "Ông: NGUYỄN NGỌC DUY Năm sinh: 1960"),
        (247, 600, "a) Thửa đất số: 964 Tờ bản đồ số: 13"), (248, 660, "c) Diện tích: 234,3 m²"),
        (253, 900, "Số vào sổ cấp GCN: CH61022"), (1098, 1000, "Nghệ An, ngày 16 tháng 4 năm 2020"),
        (260, 1600, "Mẫu giả lập DX 99715928"),
    ], "land_use_cert")
    assert land == {"full_name": "Nguyễn Ngọc Duy", "parcel_number": "964",
                    "map_sheet_number": "13", "area_m2": "234.3", "register_number": "CH61022",
                    "issue_date": "2020-04-16", "serial_number": "DX99715928"}
    firm = _fields([(796, 400, "Mã số doanh nghiệp: 4203517290"),
                    (731, 440, "Đăng ký lần đầu: ngày 16 tháng 11 năm 2023"),
                    (495, 520, "Tên công ty viết bằng tiếng Việt: CÔNG TY CỔ PHẦN THƯƠNG MẠI VÀ"),
                    (570, 556, "DỊCH VỤ HƯNG THỊNH")], "business_registration")
    assert firm["enterprise_code"] == "4203517290" and firm["issue_date"] == "2023-11-16"
    assert firm["company_name"] == "CÔNG TY CỔ PHẦN THƯƠNG MẠI VÀ DỊCH VỤ HƯNG THỊNH"
    licence = _fields([(136, 200, "Hạng/Class: B2"), (134, 240, "Có giá trị đến/Expires:"),
                       (136, 280, "25/07/2032"), (507, 300, "Số/No: 193237426752")],
                      "driving_license")
    assert (licence["license_class"], licence["expiry_date"], licence["license_number"]) == (
        "B2", "2032-07-25", "193237426752")
