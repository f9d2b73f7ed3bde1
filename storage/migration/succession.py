"""Which communes a commune succeeded after the 2025 mergers (Decision 19/2025/QĐ-TTg).

    agencies/<commune>.json   {"agency", "predecessors": [{"code", "source", "run_id", ...}]}

Register books and e-copies keep the commune code they were certified under (the signed copy
carries it), so after `ecopy migrate` they stay under the old code. This record is how the new
commune's staff reach them: the register and warehouse pages show the user's own commune and
every predecessor listed here. The record only ever grows (a merge adds predecessors, never
removes one), and it is written by the migration alone, so a plain rewrite is safe.
"""

from __future__ import annotations

import json
import re
from typing import Any

from storage.backends import ObjectStore

AGENCY = re.compile(r"^\d{5}$")
PREFIX = "agencies/"


def succession_key(agency: str) -> str:
    if not AGENCY.match(agency):
        raise ValueError("bad commune code")
    return f"{PREFIX}{agency}.json"


def read_succession(store: ObjectStore, agency: str) -> dict[str, Any]:
    """The agency's record; an empty one when it succeeded nobody."""
    try:
        data = json.loads(store.get(succession_key(agency)))
    except (KeyError, ValueError):
        data = None
    if not isinstance(data, dict) or not isinstance(data.get("predecessors"), list):
        return {"agency": agency, "predecessors": []}
    return data


def predecessors(store: ObjectStore, agency: str) -> list[str]:
    """Codes of the communes `agency` took over, in the order they were recorded."""
    if not AGENCY.match(agency or ""):
        return []
    codes = [str(p.get("code", "")) for p in read_succession(store, agency)["predecessors"]
             if isinstance(p, dict)]
    return [c for c in dict.fromkeys(codes) if AGENCY.match(c) and c != agency]


def visible_agencies(store: ObjectStore, agency: str) -> tuple[str, ...]:
    """The commune codes whose books and copies `agency`'s staff may see: its own first."""
    return (agency, *predecessors(store, agency))


def successor_of(store: ObjectStore, agency: str) -> str:
    """The commune that took `agency` over, or `agency` itself: where something addressed to
    a former commune (a complaint about one of its copies) belongs today. Lists agencies/
    (one object per new commune that succeeded another: a few hundred per province)."""
    for key in store.list(PREFIX):
        code = key.removeprefix(PREFIX).removesuffix(".json")
        if AGENCY.match(code) and agency in predecessors(store, code):
            return code
    return agency


def succession_bytes(record: dict[str, Any]) -> bytes:
    return json.dumps(record, ensure_ascii=False, indent=1, sort_keys=True).encode("utf-8")


def merged_succession(current: dict[str, Any], agency: str,
                      new: list[dict[str, Any]]) -> dict[str, Any]:
    """`current` with the predecessors of `new` it lacks (by code), nothing removed."""
    have = {str(p.get("code")) for p in current.get("predecessors", []) if isinstance(p, dict)}
    added = [p for p in new if str(p.get("code")) not in have]
    return {**current, "agency": agency,
            "predecessors": [*current.get("predecessors", []), *added]}
