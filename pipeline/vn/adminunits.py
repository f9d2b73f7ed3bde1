"""Vietnamese administrative units, before and after the 1 July 2025 reorganisation.

Papers keep the units they were issued under: a birth certificate of 1990 names a commune,
a district and one of 63 provinces; one issued after 1 July 2025 names a commune and one of
34 provinces. `match_place` recognises either form in OCR text and links it to the current
units through the official conversion table (pipeline/data/admin_units.json, built by
scripts/build_admin_units.py from the NSO exports; see docs/admin-units.md).
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from importlib import resources
from itertools import pairwise

from pipeline.vn.text import fold, nfc, squash

_DATA_FILE = "admin_units.json"
_MAX_NAME_TOKENS = 7
_TONE_MARKS = frozenset("\u0300\u0301\u0303\u0309\u0323")
_WORD = re.compile(r"[^\W_]+")
_NUMBERED = re.compile(r"[0-9]+|[IVX]+")
# Keyword (folded words) -> the (level, type) pairs it may introduce.
_KEYWORDS: dict[tuple[str, ...], frozenset[tuple[str, str]]] = {
    ("TINH",): frozenset({("province", "tỉnh")}),
    ("THANH", "PHO"): frozenset({("province", "thành phố"), ("district", "thành phố")}),
    ("TP",): frozenset({("province", "thành phố"), ("district", "thành phố")}),
    ("THI", "XA"): frozenset({("district", "thị xã")}),
    ("TX",): frozenset({("district", "thị xã")}),
    ("QUAN",): frozenset({("district", "quận")}),
    ("HUYEN",): frozenset({("district", "huyện")}),
    ("PHUONG",): frozenset({("commune", "phường")}),
    ("XA",): frozenset({("commune", "xã")}),
    ("THI", "TRAN"): frozenset({("commune", "thị trấn")}),
    ("TT",): frozenset({("commune", "thị trấn")}),
    ("DAC", "KHU"): frozenset({("commune", "đặc khu")}),
}
# One-letter abbreviations count only when a dot follows them ("Q. 1", "P.5").
_DOTTED_KEYWORDS = {
    "Q": frozenset({("district", "quận")}),
    "H": frozenset({("district", "huyện")}),
    "P": frozenset({("commune", "phường")}),
}
# Common short forms of Ho Chi Minh City on papers ("TP.HCM").
_EXTRA_PROVINCE_KEYS = {"HCM": "79", "HOCHIMINHCITY": "79"}


class Era(StrEnum):
    OLD = "old"  # three levels, 63 provinces, before 1 July 2025
    NEW = "new"  # two levels, 34 provinces, from 1 July 2025
    ANY = "any"  # a province whose code and name did not change


class MatchQuality(StrEnum):
    EXACT = "exact"  # every unit name spelled as in an official list
    REPAIRED = "repaired"  # same letters, diacritics or case differ (OCR damage)


@dataclass(frozen=True)
class Unit:
    code: str
    level: str  # province | district | commune
    era: Era
    type: str  # tỉnh, thành phố, quận, huyện, thị xã, phường, xã, thị trấn, đặc khu
    name: str  # official name without the type: "Trường Thi"
    parent: str = ""  # code of the enclosing unit of the same era
    aliases: tuple[str, ...] = ()  # other official spellings of `name`

    @property
    def full_name(self) -> str:
        return f"{self.type[:1].upper()}{self.type[1:]} {self.name}"


@dataclass(frozen=True)
class Successor:
    commune: Unit
    note: str  # as in the conversion table: "Nhập toàn bộ", "Nhập một phần", …
    partial: bool


@dataclass(frozen=True)
class PlaceMatch:
    era: Era
    province: Unit
    district: Unit | None
    commune: Unit | None
    current_province: Unit
    current_communes: tuple[Unit, ...]  # several when the old commune was split
    span: tuple[int, int]  # character offsets in the NFC form of the text
    quality: MatchQuality

    @property
    def ambiguous(self) -> bool:
        return len(self.current_communes) > 1


@dataclass(frozen=True)
class CurrentUnits:
    province: str
    communes: tuple[str, ...]
    ambiguous: bool


@dataclass(frozen=True)
class _Index:
    version: str
    units: dict[tuple[str, Era, str], Unit]  # (level, era, code)
    by_key: dict[str, tuple[Unit, ...]]  # squashed name -> units
    successors: dict[str, tuple[Successor, ...]]
    province_successor: dict[str, str]  # old province -> new province
    district_successors: dict[str, tuple[Successor, ...]]


def _spelling_key(text: str) -> tuple[str, ...]:
    """Words lower-cased with the tone mark moved to the end: 'Hoà' and 'Hòa' are equal."""
    out = []
    for word in _WORD.findall(nfc(text).lower()):
        if word.isdigit():
            word = word.lstrip("0") or "0"
        decomposed = unicodedata.normalize("NFD", word)
        tones = "".join(c for c in decomposed if c in _TONE_MARKS)
        base = "".join(c for c in decomposed if c not in _TONE_MARKS)
        out.append(unicodedata.normalize("NFC", base) + tones)
    return tuple(out)


def _is_partial(note: str) -> bool:
    folded = fold(note)
    return "MOT PHAN" in folded or "PHAN CON LAI" in folded


@cache
def _index() -> _Index:
    raw = json.loads(resources.files("pipeline.data").joinpath(_DATA_FILE).read_text("utf-8"))
    units: dict[tuple[str, Era, str], Unit] = {}

    def add(level: str, era: Era, code: str, utype: str, name: str, parent: str,
            aliases: list[str]) -> None:
        bare_aliases = tuple(dict.fromkeys(a.split("|")[-1] for a in aliases if a))
        units[(level, era, code)] = Unit(code, level, era, utype, name, parent, bare_aliases)

    for code, utype, name in raw["provinces"]:
        add("province", Era.NEW, code, utype, name, "", [])
    for code, utype, name, province in raw["communes"]:
        add("commune", Era.NEW, code, utype, name, province, [])
    for code, utype, name, _new, aliases in raw["old_provinces"]:
        add("province", Era.OLD, code, utype, name, "", aliases)
    for code, utype, name, province, aliases in raw["old_districts"]:
        add("district", Era.OLD, code, utype, name, province, aliases)
    for code, utype, name, district, aliases, _absorbed in raw["old_communes"]:
        add("commune", Era.OLD, code, utype, name, district, aliases)

    by_key: dict[str, list[Unit]] = defaultdict(list)
    for unit in units.values():
        for spelling in {unit.name, *unit.aliases}:
            by_key[squash(spelling)].append(unit)
    for key, code in _EXTRA_PROVINCE_KEYS.items():
        by_key[key] += [units[("province", era, code)] for era in (Era.OLD, Era.NEW)]

    notes = raw["notes"]
    successors: dict[str, list[Successor]] = defaultdict(list)
    for old_code, new_code, note in raw["mapping"]:
        text = notes[note]
        successors[old_code].append(
            Successor(units[("commune", Era.NEW, new_code)], text, _is_partial(text)))
    for code, *_rest, absorbed in raw["old_communes"]:
        if absorbed:
            successors[code] = successors[absorbed]
    district_successors: dict[str, list[Successor]] = defaultdict(list)
    for district, new_code, note, _what in raw["district_mapping"]:
        district_successors[district].append(
            Successor(units[("commune", Era.NEW, new_code)], note, _is_partial(note)))
    return _Index(
        version=raw["data_version"],
        units=units,
        by_key={k: tuple(v) for k, v in by_key.items()},
        successors={k: tuple(v) for k, v in successors.items()},
        province_successor={row[0]: row[3] for row in raw["old_provinces"]},
        district_successors={k: tuple(v) for k, v in district_successors.items()},
    )


def data_version() -> str:
    return _index().version


def province(code: str) -> Unit | None:
    """A province from 1 July 2025 (2-digit code, e.g. '52' Gia Lai)."""
    return _index().units.get(("province", Era.NEW, code))


def commune(code: str) -> Unit | None:
    """A commune-level unit from 1 July 2025 (5-digit code)."""
    return _index().units.get(("commune", Era.NEW, code))


def old_province(code: str) -> Unit | None:
    """One of the 63 provinces before 1 July 2025 (2-digit code, e.g. '52' Bình Định)."""
    return _index().units.get(("province", Era.OLD, code))


def old_district(code: str) -> Unit | None:
    return _index().units.get(("district", Era.OLD, code))


def old_commune(code: str) -> Unit | None:
    return _index().units.get(("commune", Era.OLD, code))


def successors(old_commune_code: str) -> tuple[Successor, ...]:
    """The communes from 1 July 2025 an old commune went into (empty when not listed)."""
    return _index().successors.get(old_commune_code, ())


def current_province_of(old_province_code: str) -> Unit | None:
    new_code = _index().province_successor.get(old_province_code)
    return province(new_code) if new_code else None


@dataclass(frozen=True)
class _Token:
    start: int
    end: int
    key: str  # squashed


@dataclass(frozen=True)
class _Candidate:
    unit: Unit
    first: int  # first token, keyword included
    name_first: int
    last: int  # one past the last token
    keyword: bool

    @property
    def score(self) -> int:
        return 10 + (3 if self.keyword else 0)


def _tokens(text: str) -> list[_Token]:
    """Word tokens; numbers without leading zeros so "Phường 05" finds Phường 5."""
    return [_Token(m.start(), m.end(), m.group().lstrip("0") or "0" if m.group().isdigit()
                   else squash(m.group())) for m in _WORD.finditer(text)]


def _keywords(text: str, tokens: list[_Token]) -> dict[int, tuple[int, frozenset]]:
    """Token index where a name may start -> (keyword's first token, unit kinds allowed)."""
    found: dict[int, tuple[int, frozenset]] = {}
    for i, token in enumerate(tokens):
        for words, kinds in _KEYWORDS.items():
            n = len(words)
            if tuple(t.key for t in tokens[i:i + n]) == words:
                found.setdefault(i + n, (i, kinds))
        dotted = _DOTTED_KEYWORDS.get(token.key)
        if dotted and text[token.end:token.end + 1] == ".":
            found.setdefault(i + 1, (i, dotted))
    return found


def _candidates(text: str, tokens: list[_Token]) -> list[_Candidate]:
    index = _index()
    keywords = _keywords(text, tokens)
    out = []
    for i in range(len(tokens)):
        key = ""
        for j in range(i, min(i + _MAX_NAME_TOKENS, len(tokens))):
            key += tokens[j].key
            for unit in index.by_key.get(key, ()):
                kw = keywords.get(i)
                if kw and (unit.level, unit.type) in kw[1]:
                    out.append(_Candidate(unit, kw[0], i, j + 1, True))
                elif kw is None and not _NUMBERED.fullmatch(key):
                    out.append(_Candidate(unit, i, i, j + 1, False))
    return out


def _best_chain(text: str, tokens: list[_Token]) -> list[_Candidate] | None:
    """Candidates forming commune < district < province (one era), best score first."""
    index = _index()
    cands = _candidates(text, tokens)
    by_parent: dict[tuple[str, Era, str], list[_Candidate]] = defaultdict(list)
    for c in cands:
        by_parent[(c.unit.level, c.unit.era, c.unit.parent)].append(c)
    has_district_keyword = any(c.keyword and c.unit.level == "district" for c in cands)
    best: tuple[tuple, list[_Candidate]] | None = None
    for p in (c for c in cands if c.unit.level == "province"):
        chains: list[list[_Candidate]] = []
        if p.keyword or p.last == len(tokens):
            chains.append([p])  # a bare province name inside running text is not a place
        if p.unit.era is Era.NEW:
            chains += [[c, p] for c in by_parent[("commune", Era.NEW, p.unit.code)]
                       if c.last <= p.first]
        else:
            districts = [d for d in by_parent[("district", Era.OLD, p.unit.code)]
                         if d.last <= p.first]
            chains += [[d, p] for d in districts]
            chains += [[c, d, p] for d in districts
                       for c in by_parent[("commune", Era.OLD, d.unit.code)]
                       if c.last <= d.first]
            # A commune of this province under another district: the commune moved between
            # districts after the paper was issued (e.g. Nghi Phong, Nghi Lộc -> Vinh).
            in_province = [c for c in cands if c.unit.level == "commune"
                           and c.unit.era is Era.OLD and c.last <= p.first
                           and index.units[("district", Era.OLD, c.unit.parent)].parent
                           == p.unit.code]
            chains += [[c, p] for c in in_province]
            chains += [[c, d, p] for d in districts for c in in_province
                       if c.last <= d.first and c.unit.parent != d.unit.code]
        era_pref = int((p.unit.era is Era.OLD) == has_district_keyword)
        for chain in chains:
            gaps = sum(b.first - a.last for a, b in pairwise(chain))
            moved = len(chain) == 3 and chain[0].unit.parent != chain[1].unit.code
            score = sum(c.score for c in chain) - min(gaps, 5) - (8 if moved else 0)
            covered = sum(c.last - c.first for c in chain)
            rank = (score, covered, era_pref, p.last)
            if best is None or rank > best[0]:
                best = (rank, chain)
    return best[1] if best else None


def _to_match(text: str, tokens: list[_Token], chain: list[_Candidate]) -> PlaceMatch:
    index = _index()
    levels = {c.unit.level: c.unit for c in chain}
    prov, district, com = levels["province"], levels.get("district"), levels.get("commune")
    era = prov.era
    if era is Era.NEW:
        current_province, current = prov, (com,) if com else ()
    else:
        current_province = current_province_of(prov.code)
        if com:
            current = tuple(s.commune for s in successors(com.code))
        elif district:
            current = tuple(s.commune for s in index.district_successors.get(district.code, ()))
        else:
            current = ()
    if district is None and com is None:
        named = squash(_name_text(text, tokens, chain[0]))
        twins = [index.units.get(("province", e, prov.code)) for e in (Era.OLD, Era.NEW)]
        if all(t and squash(t.name) == named for t in twins):
            era, prov = Era.ANY, twins[1]
    quality = MatchQuality.EXACT
    if any(_needs_repair(text, tokens, c) for c in chain):
        quality = MatchQuality.REPAIRED
    span = (tokens[chain[0].first].start, tokens[chain[-1].last - 1].end)
    return PlaceMatch(era, prov, district, com, current_province,
                      tuple(dict.fromkeys(current)), span, quality)


def _name_text(text: str, tokens: list[_Token], c: _Candidate) -> str:
    return text[tokens[c.name_first].start:tokens[c.last - 1].end]


def _keyword_text(text: str, tokens: list[_Token], c: _Candidate) -> str:
    return text[tokens[c.first].start:tokens[c.name_first - 1].end] if c.keyword else ""


def _needs_repair(text: str, tokens: list[_Token], c: _Candidate) -> bool:
    name = _name_text(text, tokens, c)
    accepted = {_spelling_key(s) for s in (c.unit.name, *c.unit.aliases)}
    if _spelling_key(name) not in accepted and squash(name) not in _EXTRA_PROVINCE_KEYS:
        return True
    return _keyword_repair(text, tokens, c) is not None


def _keyword_repair(text: str, tokens: list[_Token], c: _Candidate) -> str | None:
    """The keyword with its diacritics restored, or None when it needs no repair."""
    kw = _keyword_text(text, tokens, c)
    if not kw or len(_spelling_key(kw)) != len(c.unit.type.split()):
        return None  # absent, or an abbreviation such as "TP."
    if _spelling_key(kw) == _spelling_key(c.unit.type) or squash(kw) != squash(c.unit.type):
        return None
    return _with_case_of(kw, c.unit.type)


def _with_case_of(original: str, official: str) -> str:
    if original.isupper():
        return official.upper()
    if original[:1].isupper():
        return official[:1].upper() + official[1:]
    return official


def match_place(text: str) -> PlaceMatch | None:
    """The administrative units an address or place of birth names, or None."""
    text = nfc(text)
    tokens = _tokens(text)
    chain = _best_chain(text, tokens)
    return _to_match(text, tokens, chain) if chain else None


def normalise_place(text: str) -> str | None:
    """The text with unit names (and their type words) spelled officially, era unchanged."""
    text = nfc(text)
    tokens = _tokens(text)
    chain = _best_chain(text, tokens)
    if chain is None:
        return None
    edits: dict[tuple[int, int], str] = {}
    for c in chain:
        name = _name_text(text, tokens, c)
        accepted = {_spelling_key(s) for s in (c.unit.name, *c.unit.aliases)}
        if _spelling_key(name) not in accepted and squash(name) not in _EXTRA_PROVINCE_KEYS:
            edits[(tokens[c.name_first].start, tokens[c.last - 1].end)] = _with_case_of(
                name, c.unit.name)
        repaired_kw = _keyword_repair(text, tokens, c)
        if repaired_kw:
            edits[(tokens[c.first].start, tokens[c.name_first - 1].end)] = repaired_kw
    for (start, end), replacement in sorted(edits.items(), reverse=True):
        text = text[:start] + replacement + text[end:]
    return text


def current_units(text: str) -> CurrentUnits | None:
    """Codes of the units from 1 July 2025 that an address of either era lies in."""
    match = match_place(text)
    if match is None:
        return None
    codes = tuple(c.code for c in match.current_communes)
    return CurrentUnits(match.current_province.code, codes, len(codes) > 1)


PLACE_FIELDS = ("place_of_birth", "place_of_origin", "place_of_residence", "issuer")


def units_of_fields(fields: dict[str, str]) -> dict[str, dict]:
    """For the manifest: the post-2025 units each place field lies in, with the data version.

    A receiving agency can then find a paper by today's province and commune even when the
    paper names units that no longer exist; the printed value is never rewritten.
    """
    out: dict[str, dict] = {}
    for name in PLACE_FIELDS:
        units = current_units(fields[name]) if fields.get(name) else None
        if units is not None:
            out[name] = {"province": units.province, "communes": list(units.communes),
                         "ambiguous": units.ambiguous}
    if out:
        out["units_version"] = data_version()  # type: ignore[assignment]
    return out
