"""Build pipeline/data/admin_units.json from the official NSO exports.

Inputs (the formats danhmuchanhchinh.nso.gov.vn exports, re-downloadable by an operator):
  --conversion  "Bảng chuyển đổi ĐVHC" CSV: new commune (from 01/07/2025) <- old commune,
                district, province, with codes and a merge note;
  --old         the pre-reorganisation commune list CSV (63 provinces, districts, communes).
The output is deterministic: the same inputs give the same bytes.

    .venv/bin/python scripts/build_admin_units.py --conversion Bang.csv --old Xa.csv \\
        --nso-date 2025-01-04 --out pipeline/data/admin_units.json
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import re
import sys
import unicodedata
from collections import Counter, defaultdict
from pathlib import Path

EFFECTIVE_DATE = "2025-07-01"
LEGAL_BASIS = [
    "Nghị quyết 202/2025/QH15 của Quốc hội về sắp xếp đơn vị hành chính cấp tỉnh (34 tỉnh, "
    "thành phố từ 01/7/2025)",
    "Nghị quyết của Ủy ban Thường vụ Quốc hội về sắp xếp đơn vị hành chính cấp xã năm 2025 "
    "(một nghị quyết cho mỗi tỉnh, thành phố)",
    "Quyết định 19/2025/QĐ-TTg của Thủ tướng Chính phủ ban hành Bảng danh mục và mã số các "
    "đơn vị hành chính Việt Nam (hiệu lực 01/7/2025)",
    "Quyết định 124/2004/QĐ-TTg và các văn bản sửa đổi (mã số đơn vị hành chính trước "
    "01/7/2025)",
]

# Annex of Decision 19/2025/QĐ-TTg: the 34 provincial units and their codes. The build reads
# the codes from the conversion table and refuses to write data that disagrees with this law.
DECISION_19_2025_PROVINCES: dict[str, str] = {
    "01": "Thành phố Hà Nội", "04": "Tỉnh Cao Bằng", "08": "Tỉnh Tuyên Quang",
    "11": "Tỉnh Điện Biên", "12": "Tỉnh Lai Châu", "14": "Tỉnh Sơn La", "15": "Tỉnh Lào Cai",
    "19": "Tỉnh Thái Nguyên", "20": "Tỉnh Lạng Sơn", "22": "Tỉnh Quảng Ninh",
    "24": "Tỉnh Bắc Ninh", "25": "Tỉnh Phú Thọ", "31": "Thành phố Hải Phòng",
    "33": "Tỉnh Hưng Yên", "37": "Tỉnh Ninh Bình", "38": "Tỉnh Thanh Hóa", "40": "Tỉnh Nghệ An",
    "42": "Tỉnh Hà Tĩnh", "44": "Tỉnh Quảng Trị", "46": "Thành phố Huế",
    "48": "Thành phố Đà Nẵng", "51": "Tỉnh Quảng Ngãi", "52": "Tỉnh Gia Lai",
    "56": "Tỉnh Khánh Hòa", "66": "Tỉnh Đắk Lắk", "68": "Tỉnh Lâm Đồng", "75": "Tỉnh Đồng Nai",
    "79": "Thành phố Hồ Chí Minh", "80": "Tỉnh Tây Ninh", "82": "Tỉnh Đồng Tháp",
    "86": "Tỉnh Vĩnh Long", "91": "Tỉnh An Giang", "92": "Thành phố Cần Thơ", "96": "Tỉnh Cà Mau",
}

# Names printed on papers issued before the NSO list's date (facts of earlier law): Thừa
# Thiên Huế became the centrally-run city of Huế on 01/01/2025 (Nghị quyết 1314/NQ-UBTVQH15).
OLD_PROVINCE_ALIASES: dict[str, list[str]] = {"46": ["tỉnh|Thừa Thiên Huế"]}

PROVINCE_TYPES = ("Thành phố", "Tỉnh")
DISTRICT_TYPES = ("Thành phố", "Thị xã", "Quận", "Huyện")
COMMUNE_TYPES = ("Thị trấn", "Đặc khu", "Phường", "Xã")
_CODE_IN_PARENS = re.compile(r"^(.*?)\s*\((\d+)\)\s*$")


def _clean(text: str) -> str:
    """NFC, one space between words: the export has multi-line cells and trailing spaces."""
    return " ".join(unicodedata.normalize("NFC", text).split())


def _skeleton(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return "".join(c for c in decomposed if c.isalnum() and not unicodedata.combining(c)).upper()


def split_type(full: str, types: tuple[str, ...]) -> tuple[str, str]:
    """'Thị Xã Mộc Châu' -> ('thị xã', 'Mộc Châu'); tolerant to case and a lost diacritic."""
    words = full.split()
    for unit_type in types:
        n = len(unit_type.split())
        if len(words) > n and _skeleton(" ".join(words[:n])) == _skeleton(unit_type):
            # Words capitalised ('Xã Đại áng'); a repeated type is part of the name
            # ('Phường Phường Đúc' in Huế).
            return unit_type.lower(), " ".join(w[:1].upper() + w[1:] for w in words[n:])
    raise ValueError(f"no unit type in {full!r}")


def _name_and_code(cell: str) -> tuple[str, str]:
    match = _CODE_IN_PARENS.match(_clean(cell))
    if not match:
        raise ValueError(f"expected 'Name (code)', got {cell!r}")
    return match.group(1), match.group(2)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_old_list(path: Path) -> tuple[dict, dict, dict]:
    """Provinces, districts and communes of the pre-reorganisation NSO list, keyed by code."""
    provinces: dict[str, list] = {}
    districts: dict[str, list] = {}
    communes: dict[str, list] = {}
    with path.open(encoding="utf-8-sig", newline="") as fh:
        for row in csv.DictReader(fh):
            p_code, d_code = row["Mã TP"].strip(), row["Mã QH"].strip()
            c_code = row["Mã PX"].strip()
            provinces.setdefault(p_code, [*split_type(_clean(row["Tỉnh Thành Phố"]),
                                                       PROVINCE_TYPES)])
            districts.setdefault(d_code, [*split_type(_clean(row["Quận Huyện"]), DISTRICT_TYPES),
                                          p_code])
            if c_code:  # island districts without communes appear with level 'Huyện'
                communes[c_code] = [*split_type(_clean(row["Phường Xã"]), COMMUNE_TYPES), d_code]
    return provinces, districts, communes


def read_conversion(path: Path) -> list[dict[str, str]]:
    """Data rows of the conversion table; province banner rows and the two headers dropped."""
    rows = []
    with path.open(encoding="utf-8-sig", newline="") as fh:
        for cells in csv.reader(fh):
            cells = [_clean(c) for c in cells] + [""] * 9
            if not cells[1] or not cells[2].isdigit():
                continue  # banner 'THÀNH PHỐ HÀ NỘI', the two header lines
            rows.append({
                "province": cells[0], "new_name": cells[1], "new_code": cells[2],
                "old_name": cells[3], "old_code": cells[4], "note": cells[5],
                "old_district": cells[6], "old_province": cells[7],
            })
    return rows


def _pick_spelling(spellings: list[str]) -> str:
    counts = Counter(spellings)
    return max(counts, key=lambda s: (counts[s], -spellings.index(s)))


def build(conversion: Path, old: Path, nso_date: str) -> dict:
    old_provinces, old_districts, old_communes = read_old_list(old)
    rows = read_conversion(conversion)
    corrections: set[str] = set()

    new_provinces: dict[str, str] = {}
    new_spellings: dict[str, list[str]] = defaultdict(list)
    new_province_of: dict[str, str] = {}
    for row in rows:
        name, code = _name_and_code(row["province"])
        if new_provinces.setdefault(code, name) != name:
            raise ValueError(f"province {code} named {name!r} and {new_provinces[code]!r}")
        new_spellings[row["new_code"]].append(row["new_name"])
        new_province_of[row["new_code"]] = code
    if new_provinces != DECISION_19_2025_PROVINCES:
        raise ValueError("provinces in the conversion table disagree with Decision 19/2025")

    # Old codes the table spells with the name the old list gives them: these are certain.
    confirmed = {
        row["old_code"] for row in rows if row["old_code"] in old_communes
        and _skeleton(_old_commune_name(row["old_name"], "xã")[1])
        == _skeleton(old_communes[row["old_code"]][1])
    }
    by_name: dict[tuple[str, str], list[str]] = defaultdict(list)
    for code, (_t, name, district) in old_communes.items():
        by_name[(district, _skeleton(name))].append(code)

    aliases: dict[str, set[str]] = defaultdict(set)
    district_aliases: dict[str, set[str]] = defaultdict(set)
    mapping: list[list[str]] = []
    district_mapping: list[list[str]] = []
    for row in rows:
        d_name, d_code = _name_and_code(row["old_district"])
        if d_code not in old_districts:
            raise ValueError(f"old district {d_code} is not in the old list")
        d_type, d_bare = split_type(d_name, DISTRICT_TYPES)
        if _skeleton(d_type + d_bare) != _skeleton("".join(old_districts[d_code][:2])):
            district_aliases[d_code].add(f"{d_type}|{d_bare}")
        p_code = _name_and_code(row["old_province"])[1]
        if p_code != old_districts[d_code][2]:
            corrections.add(f"district {d_code} listed under old province {p_code} in the "
                               f"conversion table; the old list has {old_districts[d_code][2]}")
        if not row["old_code"].isdigit():  # whole island district, or an unnumbered area
            district_mapping.append([d_code, row["new_code"], row["note"], row["old_name"]])
            continue
        old_code = row["old_code"]
        c_type, c_bare = _old_commune_name(row["old_name"], old_communes.get(old_code, ["xã"])[0])
        if old_code in old_communes:
            known = old_communes[old_code]
            if _skeleton(c_bare) != _skeleton(known[1]):
                elsewhere = [c for c in by_name[(known[2], _skeleton(c_bare))] if c != old_code]
                if old_code in confirmed and len(elsewhere) == 1:
                    corrections.add(f"old commune {c_bare!r} coded {old_code} in the "
                                       f"conversion table; the old list codes it {elsewhere[0]}")
                    old_code = elsewhere[0]
                else:
                    aliases[old_code].add(f"{c_type}|{c_bare}")
            elif c_bare != known[1] or c_type != known[0]:
                aliases[old_code].add(f"{c_type}|{c_bare}")
        else:
            old_communes[old_code] = [c_type, c_bare, d_code]
            corrections.add(f"old commune {old_code} {c_type} {c_bare} (district {d_code}) is "
                               "in the conversion table only; added")
        mapping.append([old_code, row["new_code"], row["note"]])

    # Communes of the old list the table does not mention were merged in early 2025 into a
    # neighbour that the table lists under their name (e.g. Thị trấn Yên Châu).
    mapped = {m[0] for m in mapping}
    names_in_table: dict[tuple[str, str], str] = {}
    for code in sorted(mapped):
        _t, name, district = old_communes[code]
        for bare in [name, *(a.split("|")[1] for a in aliases.get(code, ()))]:
            names_in_table.setdefault((district, _skeleton(bare)), code)
    absorbed = {
        code: names_in_table[(district, _skeleton(name))]
        for code, (_t, name, district) in sorted(old_communes.items())
        if code not in mapped and (district, _skeleton(name)) in names_in_table
    }

    old_to_new_province: dict[str, str] = {}
    for old_code, new_code, _note in mapping:
        p_old = old_districts[old_communes[old_code][2]][2]
        p_new = new_province_of[new_code]
        if old_to_new_province.setdefault(p_old, p_new) != p_new:
            raise ValueError(f"old province {p_old} maps to {p_new} and "
                             f"{old_to_new_province[p_old]}")
    if set(old_to_new_province) != set(old_provinces):
        raise ValueError("an old province has no successor in the conversion table")

    communes = []
    for code in sorted(new_spellings):
        unit_type, bare = split_type(_pick_spelling(new_spellings[code]), COMMUNE_TYPES)
        communes.append([code, unit_type, bare, new_province_of[code]])
    notes = sorted({m[2] for m in mapping})
    return {
        "format": 1,
        "data_version": f"{EFFECTIVE_DATE}/nso-{nso_date}",
        "effective_date": EFFECTIVE_DATE,
        "legal_basis": LEGAL_BASIS,
        "sources": {
            "conversion": {"file": conversion.name, "sha256": _sha256(conversion)},
            "old": {"file": old.name, "sha256": _sha256(old)},
        },
        "counts": {
            "provinces": len(new_provinces), "communes": len(communes),
            "old_provinces": len(old_provinces), "old_districts": len(old_districts),
            "old_communes": len(old_communes), "mapping_rows": len(mapping),
        },
        "corrections": sorted(corrections),
        "provinces": [
            [c, *split_type(n, PROVINCE_TYPES)] for c, n in sorted(new_provinces.items())
        ],
        "communes": communes,
        "old_provinces": [
            [c, t, n, old_to_new_province[c], OLD_PROVINCE_ALIASES.get(c, [])]
            for c, (t, n) in sorted(old_provinces.items())
        ],
        "old_districts": [
            [c, t, n, p, sorted(district_aliases.get(c, ()))]
            for c, (t, n, p) in sorted(old_districts.items())
        ],
        "old_communes": [
            [c, t, n, d, sorted(aliases.get(c, ())), absorbed.get(c, "")]
            for c, (t, n, d) in sorted(old_communes.items())
        ],
        "notes": notes,
        "mapping": [[o, n, notes.index(note)] for o, n, note in sorted(mapping)],
        "district_mapping": sorted(district_mapping),
    }


def _old_commune_name(name: str, default_type: str) -> tuple[str, str]:
    """A few rows of the table omit the type ('Xuân Quang 3'): take it from the old list."""
    try:
        return split_type(name, COMMUNE_TYPES)
    except ValueError:
        return default_type, name


def dump(data: dict) -> str:
    """JSON with one table row per line: compact, yet a diff shows which unit changed."""
    parts = []
    for key, value in data.items():
        if isinstance(value, list) and value and isinstance(value[0], list):
            body = ",\n".join(json.dumps(v, ensure_ascii=False, separators=(",", ":"))
                              for v in value)
            parts.append(f"{json.dumps(key)}:[\n{body}\n]")
        else:
            parts.append(f"{json.dumps(key)}:{json.dumps(value, ensure_ascii=False)}")
    return "{\n" + ",\n".join(parts) + "\n}\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversion", type=Path, required=True)
    parser.add_argument("--old", type=Path, required=True)
    parser.add_argument("--nso-date", required=True,
                        help="date of the NSO export (YYYY-MM-DD), part of the data version")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", args.nso_date):
        parser.error("--nso-date must be YYYY-MM-DD")
    data = build(args.conversion, args.old, args.nso_date)
    args.out.write_text(dump(data), encoding="utf-8")
    print(f"{args.out}: {data['data_version']} {data['counts']}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
