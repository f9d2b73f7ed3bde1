"""Label-driven extraction on OCR lines shaped like real papers (positions matter)."""

from __future__ import annotations

import re

from pipeline.steps.extract import extract
from pipeline.types import OcrPage, OcrWord


def _page(rows: list[tuple[int, int, str]], width: int = 1200, height: int = 1700,
          slope: float = 0.0) -> OcrPage:
    """rows: (x, y, text); each row is one OCR line (its own block, as tesseract does).

    Words are 12 px a letter, 10 px apart; every further space widens the gap by 40 px, so a
    line can hold two table columns ("NGUYỄN VĂN A      TRẦN THỊ B"). ``slope`` tilts every
    line as a skewed scan does (dy/dx)."""
    words = []
    for n, (x, y, text) in enumerate(rows):
        left = x
        for token in re.split(r"( {2,}| )", text):
            if token.isspace():
                left += 10 + 40 * (len(token) - 1)
                continue
            top = round(y + slope * (left - x))
            words.append(OcrWord(token, left, top, 12 * len(token), 28, 90.0, f"{n}.1.1"))
            left += 12 * len(token)
    return OcrPage(0, width, height, 0, tuple(words), 90.0, "tesseract")


def _fields(rows: list[tuple[int, int, str]], doc_type: str, slope: float = 0.0
            ) -> dict[str, str]:
    return {f.name: f.value for f in extract([_page(rows, slope=slope)], doc_type).fields}


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
    # the paper's own "Số:" is its document number (domain.md), not a register entry
    assert got["document_number"] == "236" and "register_number" not in got
    assert got["issue_date"] == "2017-12-20"
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


def test_label_qualifiers_and_death_date() -> None:
    """Real OCR lines: words between a label and its colon narrow it, they are no value."""
    got = _fields([
        (279, 849, "Họ và tên người chết: NGUYỄN NGỌC LỘC"),
        (281, 971, "Ngày sinh: 03/03/1973"),
        (294, 1502, "Ngày, tháng, năm chết: 12/03/2025"),
        (304, 1914, "Họ, chữ đệm, tên người đi khai tử: Nguyễn Thu Huyền"),
    ], "death_extract")
    assert got["full_name"] == "Nguyễn Ngọc Lộc" and got["date_of_death"] == "2025-03-12"
    diploma = _fields([(250, 700, "Ngành đào tạo: Kế toán")], "university_diploma")
    assert diploma["major"] == "Kế toán"


def test_two_column_values_follow_the_skew_and_skip_other_labels() -> None:
    """A 2.6° skewed table layout (from a real OCR run): values sit up to 45 px above their
    labels, and an unlabelled-looking "Dân tộc: …" line is nearer than the name."""
    got = _fields([
        (258, 866, "Họ và tên: HOÀNG ĐÌNH DUY"),
        (1029, 1467, "NGUYỄN KHÁNH LAN"),
        (947, 1524, "Dân tộc: Thái Quốc tịch: Việt Nam"),
        (286, 1514, "Họ và tên mẹ:"),
        (1042, 1760, "HOÀNG QUỐC HIẾU"),
        (960, 1826, "Dân tộc: Thái Quốc tịch: Việt Nam"),
        (300, 1814, "Họ và tên cha:"),
    ], "birth_cert", slope=-0.055)
    assert got["mother_full_name"] == "Nguyễn Khánh Lan"
    assert got["father_full_name"] == "Hoàng Quốc Hiếu"


def test_table_values_beside_labels_and_wrapped_under_them() -> None:
    got = _fields([
        (297, 1335, "Giấy tờ tùy thân:"), (297, 1444, "Nơi cư trú:"),
        (1041, 1335, "Căn cước công dân số 052191369453"),
        (1043, 1442, "Số 233 đường Nguyễn Văn Cừ, phường Trần Phú, thành"),
        (1040, 1478, "phố Quy Nhơn, tỉnh Bình Định"),
        (297, 1515, "Quê quán:"), (1040, 1514, "Phường Đông Thọ, thành phố Thanh Hóa"),
    ], "marital_status")
    assert got["place_of_residence"] == ("Số 233 đường Nguyễn Văn Cừ, phường Trần Phú, thành "
                                         "phố Quy Nhơn, tỉnh Bình Định")
    assert got["place_of_origin"] == "Phường Đông Thọ, thành phố Thanh Hóa"
    assert got["id_number"] == "052191369453"


def test_marriage_table_splits_husband_and_wife_columns() -> None:
    got = _fields([
        (250, 511, "GIẤY CHỨNG NHẬN KẾT HÔN"),
        (246, 645, "Thông tin"), (650, 640, "CHỒNG"), (1070, 642, "VỢ"),
        (250, 732, "Họ, chữ đệm, tên      NGUYEN HỮU TUẤN       HUỲNH DIỆU HẰNG"),
        (250, 834, "Ngày, tháng, năm sinh"), (652, 830, "10/03/1987"), (1072, 832, "14/06/2003"),
        (250, 923, "Dân tộc"), (650, 923, "Mường"), (1070, 923, "Khmer"),
        (302, 1051, "Số định danh cá nhân"), (652, 1042, "079087756388"),
        (1076, 1040, "040303632987"),
        (250, 1134, "Nơi đăng ký kết hôn: Ủy ban nhân dân phường Cái Khế, quận Ninh"),
        (270, 1170, "Kiều, thành phố Cần Thơ"),
    ], "marriage_cert")
    # one row may come as one OCR line or as a line per column
    assert got["husband_date_of_birth"] == "1987-03-10"
    assert got["wife_date_of_birth"] == "2003-06-14"
    assert got["husband_id_number"] == "079087756388"
    assert got["wife_id_number"] == "040303632987"
    assert got["husband_full_name"] == "Nguyễn Hữu Tuấn"
    assert got["wife_full_name"] == "Huỳnh Diệu Hằng"
    assert got["issuer"] == "Ủy ban nhân dân phường Cái Khế, quận Ninh Kiều, thành phố Cần Thơ"
    assert "full_name" not in got and "date_of_birth" not in got


def test_wrapped_values_keep_their_comma_and_stop_at_the_next_thing() -> None:
    got = _fields([
        (250, 1911, "Nơi đăng ký kết hôn: Ủy ban nhân dân xã Cẩm Thanh, thành phố Hội An,"),
        (306, 2007, "tỉnh Quảng Nam"),
    ], "marriage_cert")
    assert got["issuer"] == "Ủy ban nhân dân xã Cẩm Thanh, thành phố Hội An, tỉnh Quảng Nam"
    licence = _fields([
        (508, 686, "Nơi cư trú/Address:"),
        (507, 731, "Số 255 đường Bà Triệu, phường Hoàng Văn Thụ,"),
        (505, 786, "thành phố Thái Nguyên, tỉnh Thái Nguyên"),
        (505, 848, "Thái Nguyên, ngày 25 tháng 7 năm 2022"),
    ], "driving_license")
    assert licence["place_of_residence"] == ("Số 255 đường Bà Triệu, phường Hoàng Văn Thụ, "
                                             "thành phố Thái Nguyên, tỉnh Thái Nguyên")
    status = _fields([
        (304, 1368, "Nơi cư trú: Số 14 đường Lê Duẩn, phường Trường Thi, thành phố Vinh, tỉnh "
                    "Nghệ An"),
        (396, 1476, "Trong thời gian cư trú tại Phường Trường Thi, thành phố Vinh, tỉnh Nghệ"),
    ], "marital_status")
    assert status["place_of_residence"].endswith("thành phố Vinh, tỉnh Nghệ An")
    firm = _fields([
        (296, 1129, "Tên công ty viết bằng tiếng Việ: CÔNG TY TNHH THỰC PHẨM MINH KHANG"),
        (296, 1229, "Tên công ty viết bằng tiếng nước ngoài: MINH KHANG FOOD COMPANY LIMITED"),
    ], "business_registration")
    assert firm["company_name"] == "CÔNG TY TNHH THỰC PHẨM MINH KHANG"


def test_licence_number_class_and_motto_that_is_no_name() -> None:
    got = _fields([
        (1186, 670, "Độc lập - Tự do - Hạnh phúc"), (507, 563, "sø/o.: 793530766301"),
        (586, 676, "Ho, chữ đệm và tén/Full name:"), (505, 720, "PHAM THU MAI"),
        (506, 833, "Hang/Class: Al"),
    ], "driving_license")
    assert got["license_number"] == "793530766301"
    assert got["full_name"] == "Phạm Thu Mai"  # surname restored: Pham can only be Phạm
    assert got["license_class"] == "A1"
    assert "license_class" not in _fields([(506, 833, "Hang/Class: Xy")], "driving_license")


def test_serials_and_register_numbers_keep_their_letters() -> None:
    """"QH 1872343" is one serial, not "QH" (issue 17 point 2): letters printed apart from
    their digits stay with them, as printed."""
    diploma = _fields([(191, 1394, "Số hiệu: QH 1872343"),
                       (352, 1442, "Số vào sổ cấp bằng: 45028/ĐHV")], "university_diploma")
    assert (diploma["serial_number"], diploma["register_number"]) == ("QH 1872343", "45028/ĐHV")
    land = _fields([(253, 900, "Số vào sổ cấp GCN: CS 08459")], "land_use_cert")
    assert land["register_number"] == "CS 08459"


def test_number_slashes_read_as_letters_and_misread_so() -> None:
    notice = _fields([(150, 200, "Số: 374ITB-UBND")], "other")
    assert notice["document_number"] == "374/TB-UBND"
    diploma = _fields([(191, 1394, "S6 hiéu: C6768695"),
                       (352, 1442, "Số vào sổ cấp bằng: 2006IFTUI35317")],
                      "university_diploma")
    assert diploma["serial_number"] == "C6768695"
    assert diploma["register_number"] == "2006/FTU/35317"


def test_birth_registration_office_or_place() -> None:
    cv = _fields([(297, 707, "Họ và tên: NGUYỄN TRỌNG TÙNG"),
                  (297, 1037, "Nơi đăng ký khai sinh: Phường 5, thành phố Cà Mau, tỉnh Cà Mau"),
                  (297, 1693, "Họ và tên bố: NGUYỄN THÀNH DUY HẢI")], "other")
    assert cv["place_of_birth"] == "Phường 5, thành phố Cà Mau, tỉnh Cà Mau"
    assert cv["father_full_name"] == "Nguyễn Thành Duy Hải" and "issuer" not in cv
    birth = _fields([(114, 866, "Nơi đăng ký khai sinh: Ủy ban nhân dân phường Dịch Vọng Hậu")],
                    "birth_cert")
    assert birth == {"issuer": "Ủy ban nhân dân phường Dịch Vọng Hậu"}


def test_card_expiry_under_the_photo_leaves_the_address_beside_it() -> None:
    """Real OCR of a CCCD front: the expiry label sits left of the address lines."""
    got = _fields([
        (135, 860, "Có giá trị đến:"), (136, 906, "Date of expiry:"), (135, 945, "31/05/2025"),
        (507, 868, "Nơi thường trú / Place of residence:"),
        (507, 905, "Số 113 đường Trường Chinh, phường Hồng Hải, thành"),
        (507, 949, "phố Hạ Long, tỉnh Quảng Ninh"),
    ], "citizen_id")
    assert got["expiry_date"] == "2025-05-31"
    assert got["place_of_residence"] == ("Số 113 đường Trường Chinh, phường Hồng Hải, thành "
                                         "phố Hạ Long, tỉnh Quảng Ninh")


def test_registration_office_wrapped_keeps_its_comma() -> None:
    got = _fields([
        (199, 1483, "Nơi đăng ký khai sinh: Ủy ban nhân dân phường Hồng Hải, thành phố Hạ Long,"),
        (694, 1539, "tỉnh Quảng Ninh"),
    ], "birth_cert")
    assert got["issuer"] == ("Ủy ban nhân dân phường Hồng Hải, thành phố Hạ Long, "
                             "tỉnh Quảng Ninh")


def test_unit_names_in_places_are_spelled_officially_without_changing_era() -> None:
    got = _fields([
        (400, 230, "GIẤY KHAI SINH"),
        (130, 300, "Họ, chữ đệm, tên: TRẦN VĂN BÌNH"),
        (130, 340, "Nơi sinh: Trạm Y tế phường Trần Phú, thành phố Quy Nhon, tỉnh Binh Định"),
        (130, 380, "Quê quán: xã Nghi Phong, huyện Nghi Lộc, tỉnh Nghệ An"),
    ], "birth_cert")
    # tone marks OCR lost are put back from the official lists; the pre-2025 city stays
    assert got["place_of_birth"] == ("Trạm Y tế phường Trần Phú, thành phố Quy Nhơn, "
                                     "tỉnh Bình Định")
    assert got["place_of_origin"] == "xã Nghi Phong, huyện Nghi Lộc, tỉnh Nghệ An"


def test_a_name_without_any_tone_mark_goes_to_a_clerk() -> None:
    from pipeline.doctypes.model import bundled_model
    from pipeline.flow import StageOptions, review_message, review_reasons

    page = _page([(400, 230, "GIẤY KHAI SINH"), (130, 300, "Họ, chữ đệm, tên: LE NGOC HANH"),
                  (130, 340, "Ngày, tháng, năm sinh: 12/03/1990")])
    classification = bundled_model().classify([page])
    extraction = extract([page], classification.doc_type)
    assert not classification.abstains
    reasons = review_reasons([page], classification, extraction, "000000000000")
    assert "low_confidence" in reasons
    text = review_message("low_confidence", [page], extraction,
                          StageOptions(person_id="000000000000"), classification)
    assert "full_name 'Lê Ngoc Hanh'" in text, text


def test_table_borders_read_as_words_are_dropped_from_values() -> None:
    got = _fields([
        (400, 230, "GIẤY XÁC NHẬN TÌNH TRẠNG HÔN NHÂN"),
        (130, 300, "Họ, chữ đệm, tên: PHAN TUẤN TÙNG"),
        (130, 340, "Nơi cư trú: | | Thôn Phú Mỹ, xã Cẩm Thanh, _| thành phố Hội An, "
                   "tỉnh Quảng Nam"),
    ], "marital_status")
    assert got["place_of_residence"] == ("Thôn Phú Mỹ, xã Cẩm Thanh, thành phố Hội An, "
                                         "tỉnh Quảng Nam")
