"""Administrative units: shipped data vs the official exports, and place matching."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipeline.vn import adminunits
from pipeline.vn.adminunits import Era, MatchQuality, _spelling_key
from pipeline.vn.idnumber import OLD_PROVINCE_CODES
from tests.conftest import CORPUS as CORPUS_ROOT

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "pipeline" / "data" / "admin_units.json"
CORPUS = CORPUS_ROOT / "vietnam-provinces"
CONVERSION = CORPUS / "BangChuyendoiDVHCmoi_cu_khong_merge.csv"
OLD_LIST = CORPUS / "Xa_2025-01-04_pre-reorganisation.csv"


@pytest.fixture(scope="module")
def data() -> dict:
    return json.loads(SHIPPED.read_text("utf-8"))


def test_counts_and_version(data):
    assert data["counts"]["provinces"] == len(data["provinces"]) == 34
    assert data["counts"]["communes"] == len(data["communes"]) == 3321
    assert len(data["old_provinces"]) == 63
    types = {row[1] for row in data["communes"]}
    assert types == {"xã", "phường", "đặc khu"}
    assert sum(row[1] == "đặc khu" for row in data["communes"]) == 13
    assert adminunits.data_version() == data["data_version"] == "2025-07-01/nso-2025-01-04"
    assert SHIPPED.stat().st_size < 1_500_000


def test_agrees_with_independent_package(data):
    """Codes and names equal those of the VietnamProvinces package (not our source)."""
    nested = json.loads((CORPUS / "nested-divisions.json").read_text("utf-8"))
    theirs = {f"{p['code']:02d}": p["name"] for p in nested}
    assert {c: adminunits.province(c).full_name for c in theirs} == theirs
    their_communes = {f"{w['code']:05d}": (w["name"], f"{p['code']:02d}")
                      for p in nested for w in p["wards"]}
    ours = {row[0]: row for row in data["communes"]}
    assert set(ours) == set(their_communes)
    spelled_differently = []
    for code, (name, prov) in their_communes.items():
        unit = adminunits.commune(code)
        assert unit.parent == prov, code
        assert _spelling_key(unit.full_name) == _spelling_key(name), (code, name)
        if unit.full_name != name:
            spelled_differently.append(code)
    # Only tone placement, case or apostrophe style differ ('Thuận Hòa'/'Thuận Hoà',
    # "Cư M'gar"/'Cư M’gar'): 17 of 3,321 names.
    assert "05941" in spelled_differently and len(spelled_differently) < 20


def test_old_provinces_agree_with_id_number_codes():
    for id_code, id_name in OLD_PROVINCE_CODES.items():
        unit = adminunits.old_province(id_code[1:])
        assert unit is not None, id_code
        assert _spelling_key(id_name)[: len(_spelling_key(unit.name))] == _spelling_key(
            unit.name), (id_code, id_name, unit.name)
    assert len(OLD_PROVINCE_CODES) == 63


def test_province_successors():
    assert adminunits.current_province_of("52").name == "Gia Lai"  # Bình Định
    assert adminunits.current_province_of("54").name == "Đắk Lắk"  # Phú Yên
    assert adminunits.current_province_of("77").name == "Hồ Chí Minh"  # Bà Rịa - Vũng Tàu
    assert adminunits.old_province("46").aliases == ("Thừa Thiên Huế",)


def test_known_mappings_from_conversion_table():
    (whole,) = adminunits.successors("00004")  # Phường Trúc Bạch -> Phường Ba Đình
    assert (whole.commune.code, whole.commune.name, whole.partial) == ("00004", "Ba Đình", False)
    assert whole.note == "Nhập toàn bộ"
    assert [s.commune.name for s in adminunits.successors("16690")] == ["Trường Vinh"]
    assert [s.commune.name for s in adminunits.successors("20320")] == ["Hòa Vang"]
    assert adminunits.old_commune("16690").name == "Trường Thi"
    split = adminunits.successors("00019")  # Phường Điện Biên, Ba Đình: split four ways
    assert {s.commune.code for s in split} == {"00004", "00070", "00190", "00226"}
    assert all(s.partial and s.note == "Nhập một phần" for s in split)
    # The table codes Đặng Xá 00553 (Cổ Bi's code) once; the build corrects it to 00556.
    assert adminunits.old_commune("00553").name == "Cổ Bi"
    assert adminunits.successors("00556")
    # Thị trấn Yên Châu merged into Viêng Lán's code early in 2025; it follows that unit.
    assert adminunits.successors("04060") == adminunits.successors("04075")


def test_whole_island_district_becomes_special_zone():
    match = adminunits.match_place("huyện Côn Đảo, tỉnh Bà Rịa - Vũng Tàu")
    assert match.district.code == "755"
    assert [c.full_name for c in match.current_communes] == ["Đặc khu Côn Đảo"]
    assert match.current_province.code == "79"


@pytest.mark.parametrize(
    ("text", "era", "province", "district", "commune", "current", "quality"),
    [
        ("Số 14 đường Lê Duẩn, phường Trường Thi, thành phố Vinh, tỉnh Nghệ An",
         Era.OLD, "40", "412", "16690", ["16690"], MatchQuality.EXACT),
        ("Xã Hòa Phong, huyện Hòa Vang, thành phố Đà Nẵng",
         Era.OLD, "48", "497", "20320", ["20320"], MatchQuality.EXACT),
        ("Phường 5, thành phố Cà Mau, tỉnh Cà Mau",
         Era.OLD, "96", "964", "32008", ["32025"], MatchQuality.EXACT),
        ("P.05, TP Cà Mau, Cà Mau",
         Era.OLD, "96", "964", "32008", ["32025"], MatchQuality.EXACT),
        ("Phường Ba Đình, Thành phố Hà Nội",
         Era.NEW, "01", None, "00004", ["00004"], MatchQuality.EXACT),
        ("Bệnh viện Đa khoa tỉnh Đắk Lắk", Era.ANY, "66", None, None, [], MatchQuality.EXACT),
        ("Phường Nguyễn Văn Cừ, TP Quy Nhon, Binh Định",
         Era.OLD, "52", "540", "21592", ["21592"], MatchQuality.REPAIRED),
        ("xã Nghỉ Phong huyện Nghi Lộc tỉnh Nghệ An",
         Era.OLD, "40", "429", "17902", ["16708"], MatchQuality.REPAIRED),
        ("PHƯỜNG ĐỒNG KY, TP. TỪ SƠN, TỈNH BẮC NINH",
         Era.OLD, "27", "261", "09382", ["09385"], MatchQuality.REPAIRED),
        ("xa hoa phong huyen hoa vang tp da nang",
         Era.OLD, "48", "497", "20320", ["20320"], MatchQuality.REPAIRED),
        ("Phường Bến Nghé, Q.1, TP.HCM",
         Era.OLD, "79", "760", "26740", ["26740"], MatchQuality.EXACT),
    ],
)
def test_match_place(text, era, province, district, commune, current, quality):
    match = adminunits.match_place(text)
    assert match is not None
    assert match.era is era
    assert match.province.code == province
    assert (match.district.code if match.district else None) == district
    assert (match.commune.code if match.commune else None) == commune
    assert [c.code for c in match.current_communes] == current
    assert match.quality is quality
    assert not match.ambiguous


def test_match_span_and_split_commune():
    text = "Số 14 đường Lê Duẩn, phường Điện Biên, quận Ba Đình, Hà Nội"
    match = adminunits.match_place(text)
    assert text[match.span[0]:match.span[1]] == "phường Điện Biên, quận Ba Đình, Hà Nội"
    assert match.ambiguous
    assert {c.code for c in match.current_communes} == {"00004", "00070", "00190", "00226"}
    units = adminunits.current_units(text)
    assert units.province == "01" and units.ambiguous and len(units.communes) == 4


def test_same_name_picked_by_hierarchy():
    north = adminunits.match_place("Xã Đồng Kỳ, huyện Yên Thế, tỉnh Bắc Giang")
    assert (north.commune.code, north.commune.name) == ("07282", "Đồng Kỳ")
    assert north.current_province.name == "Bắc Ninh"


@pytest.mark.parametrize("text", [
    "Cộng hòa xã hội chủ nghĩa Việt Nam", "Nguyễn Văn An", "Giấy khai sinh", "Phường 5", "",
    "Ngày 12 tháng 3 năm 1990",
])
def test_not_a_place(text):
    assert adminunits.match_place(text) is None
    assert adminunits.normalise_place(text) is None
    assert adminunits.current_units(text) is None


def test_normalise_repairs_names_and_keeps_era():
    assert adminunits.normalise_place("Phường Nguyễn Văn Cừ, TP Quy Nhon, tỉnh Binh Định") == (
        "Phường Nguyễn Văn Cừ, TP Quy Nhơn, tỉnh Bình Định")
    assert adminunits.normalise_place("PHƯỜNG ĐỒNG KY, TP. TỪ SƠN, TỈNH BẮC NINH") == (
        "PHƯỜNG ĐỒNG KỴ, TP. TỪ SƠN, TỈNH BẮC NINH")
    assert adminunits.normalise_place("Số 7 ngõ Bình An, xa hoa phong huyen hoa vang") is None
    damaged = "Số 7 ngõ Bình An, xa hoa phong huyen hoa vang tp da nang"
    assert adminunits.normalise_place(damaged) == (
        "Số 7 ngõ Bình An, xã Hòa Phong huyện Hòa Vang tp Đà Nẵng")
    exact = "Phường Trường Thi, thành phố Vinh, tỉnh Nghệ An"
    assert adminunits.normalise_place(exact) == exact
    # Both official spellings of a name are kept (old list 'Yên Hoà', table 'Yên Hòa').
    kept = "phường Yên Hoà, quận Cầu Giấy, Hà Nội"
    assert adminunits.normalise_place(kept) == kept
    assert adminunits.current_units("tỉnh Binh Định").province == "52"


def test_speed():
    adminunits._index.cache_clear()
    start = time.perf_counter()
    adminunits._index()
    assert time.perf_counter() - start < 1.0
    texts = ["Số 14 đường Lê Duẩn, phường Trường Thi, thành phố Vinh, tỉnh Nghệ An",
             "Phường 5, thành phố Cà Mau, tỉnh Cà Mau", "Phường Ba Đình, Thành phố Hà Nội"]
    timings = []
    for text in texts * 20:
        start = time.perf_counter()
        adminunits.match_place(text)
        timings.append(time.perf_counter() - start)
    assert statistics.median(timings) < 0.005


def test_build_script_reproduces_shipped_file(tmp_path):
    out = tmp_path / "admin_units.json"
    subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "build_admin_units.py"),
         "--conversion", str(CONVERSION), "--old", str(OLD_LIST),
         "--nso-date", "2025-01-04", "--out", str(out)],
        check=True, capture_output=True, timeout=60,
    )
    assert out.read_bytes() == SHIPPED.read_bytes()


def test_manifest_places_name_todays_units_of_old_addresses() -> None:
    from pipeline.vn.adminunits import data_version, units_of_fields

    places = units_of_fields({
        "place_of_origin": "Thôn Đoài, xã Hòa Phong, huyện Hòa Vang, thành phố Đà Nẵng",
        "issuer": "Ủy ban nhân dân phường Phúc Xá, quận Ba Đình, thành phố Hà Nội",
        "full_name": "Nguyễn Văn An"})
    assert places["place_of_origin"] == {"province": "48", "communes": ["20320"],
                                         "ambiguous": False}
    assert places["issuer"]["province"] == "01"
    assert "full_name" not in places and places["units_version"] == data_version()
    assert units_of_fields({"place_of_birth": "Bệnh viện"}) == {}
