"""The 12-digit personal ID (số định danh cá nhân / số CCCD).

Layout: 3-digit birth-registration province code from the OLD 63-province list, a
century/sex digit, the last two digits of the birth year, six serial digits.
"""

from __future__ import annotations

from dataclasses import dataclass

# Province codes used in personal IDs (the 63 provinces before the 2025 merger). They stay
# valid for IDs issued before and after 1 Jul 2025, so they are kept apart from the new codes.
OLD_PROVINCE_CODES: dict[str, str] = {
    "001": "Hà Nội",
    "002": "Hà Giang",
    "004": "Cao Bằng",
    "006": "Bắc Kạn",
    "008": "Tuyên Quang",
    "010": "Lào Cai",
    "011": "Điện Biên",
    "012": "Lai Châu",
    "014": "Sơn La",
    "015": "Yên Bái",
    "017": "Hòa Bình",
    "019": "Thái Nguyên",
    "020": "Lạng Sơn",
    "022": "Quảng Ninh",
    "024": "Bắc Giang",
    "025": "Phú Thọ",
    "026": "Vĩnh Phúc",
    "027": "Bắc Ninh",
    "030": "Hải Dương",
    "031": "Hải Phòng",
    "033": "Hưng Yên",
    "034": "Thái Bình",
    "035": "Hà Nam",
    "036": "Nam Định",
    "037": "Ninh Bình",
    "038": "Thanh Hóa",
    "040": "Nghệ An",
    "042": "Hà Tĩnh",
    "044": "Quảng Bình",
    "045": "Quảng Trị",
    "046": "Huế (Thừa Thiên Huế)",
    "048": "Đà Nẵng",
    "049": "Quảng Nam",
    "051": "Quảng Ngãi",
    "052": "Bình Định",
    "054": "Phú Yên",
    "056": "Khánh Hòa",
    "058": "Ninh Thuận",
    "060": "Bình Thuận",
    "062": "Kon Tum",
    "064": "Gia Lai",
    "066": "Đắk Lắk",
    "067": "Đắk Nông",
    "068": "Lâm Đồng",
    "070": "Bình Phước",
    "072": "Tây Ninh",
    "074": "Bình Dương",
    "075": "Đồng Nai",
    "077": "Bà Rịa - Vũng Tàu",
    "079": "Hồ Chí Minh",
    "080": "Long An",
    "082": "Tiền Giang",
    "083": "Bến Tre",
    "084": "Trà Vinh",
    "086": "Vĩnh Long",
    "087": "Đồng Tháp",
    "089": "An Giang",
    "091": "Kiên Giang",
    "092": "Cần Thơ",
    "093": "Hậu Giang",
    "094": "Sóc Trăng",
    "095": "Bạc Liêu",
    "096": "Cà Mau",
}


@dataclass(frozen=True)
class PersonalId:
    value: str
    province: str
    sex: str  # "M" | "F"
    birth_year_low: int  # first year of the century the digit names
    birth_year_suffix: int

    def matches_birth(self, year: int, sex: str | None = None) -> bool:
        century_ok = self.birth_year_low <= year < self.birth_year_low + 100
        return century_ok and year % 100 == self.birth_year_suffix and sex in (None, self.sex)


def parse_personal_id(value: str) -> PersonalId:
    """Raise ValueError with a short English reason when the ID cannot be valid."""
    if len(value) != 12 or not value.isdigit():
        raise ValueError("must be exactly 12 digits")
    province = OLD_PROVINCE_CODES.get(value[:3])
    if province is None:
        raise ValueError(f"unknown birth-registration province code {value[:3]}")
    digit = int(value[3])
    return PersonalId(
        value=value,
        province=province,
        sex="M" if digit % 2 == 0 else "F",
        birth_year_low=1900 + 100 * (digit // 2),
        birth_year_suffix=int(value[4:6]),
    )


def is_valid_personal_id(value: str) -> bool:
    try:
        parse_personal_id(value)
    except ValueError:
        return False
    return True
