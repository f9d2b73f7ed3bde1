"""The catalogue against the evidence: rebuild it, check it, repair it (`ecopy db import`,
`ecopy db check [--repair]`).

The evidence always wins. Every object the catalogue indexes (register entries and their
void notes, warehouse copies, cancellation decisions, refusal records) is read by listing the
store here, an operator's command, never a request path. A missing row is added; a row
whose object changed is corrected from the object. A row whose object is gone is reported and
kept: the row is then the only trace of evidence someone removed (a deleted register entry,
a deleted copy), which an auditor must see rather than have tidied away.

A case whose copy was filed in the warehouse but never marked filed (a worker killed between
the two writes) is finished from the copy's metadata: FILED, with its copy id, register
entry and key, the same as an uninterrupted run would have left it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from storage.backends import ObjectStore
from storage.db import Database
from storage.db.catalogue import (
    add_cancellation,
    add_copy,
    add_refusal,
    add_register_entry,
    void_register_entry,
)
from storage.db.schema import cancellations, cases, copies, refusals, register_entries

BATCH = 500  # rows per transaction: a crash loses at most this much progress, never data


@dataclass
class Findings:
    """What a check found (or a repair did), by kind; ``problems`` need a person."""

    counts: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def add(self, kind: str, n: int = 1) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + n

    def as_dict(self) -> dict[str, Any]:
        return {"counts": dict(sorted(self.counts.items())), "problems": self.problems}


def _json(store: ObjectStore, key: str) -> tuple[bytes, dict[str, Any]] | None:
    try:
        raw = store.get(key)
        data = json.loads(raw)
    except (KeyError, ValueError):
        return None
    return (raw, data) if isinstance(data, dict) else None


def evidence_keys(store: ObjectStore) -> dict[str, list[str]]:
    """The keys of every indexed kind of evidence, from one listing per prefix."""
    out: dict[str, list[str]] = {"register": [], "void": [], "copy": [], "cancellation": [],
                                 "refusal": []}
    for key in store.list("register/"):
        parts = key.split("/")
        if len(parts) == 4 and parts[3][:-5].isdigit() and key.endswith(".json"):
            out["register"].append(key)
    for key in store.list("register-notes/"):
        parts = key.split("/")
        if len(parts) == 4 and parts[3][:-5].isdigit() and key.endswith(".json"):
            out["void"].append(key)
    out["copy"] = [k for k in store.list("warehouse/") if k.endswith(".json")
                   and k.count("/") == 3]
    out["cancellation"] = [k for k in store.list("cancellations/") if k.endswith(".json")
                           and k.count("/") == 1]
    out["refusal"] = [k for k in store.list("refusals/") if k.endswith(".json")
                      and k.count("/") == 3]
    return out


def _batched(db: Database, keys: Iterable[str], work: Callable[[Session, str], None]) -> None:
    pending: list[str] = []
    for key in keys:
        pending.append(key)
        if len(pending) >= BATCH:
            with db.write() as s:
                for k in pending:
                    work(s, k)
            pending = []
    if pending:
        with db.write() as s:
            for k in pending:
                work(s, k)


def sync_catalogue(store: ObjectStore, db: Database, *, repair: bool,
                   finish: Callable[[str, int, str], None] | None = None) -> Findings:
    """Compare (and with ``repair`` bring) the catalogue in line with the evidence; with
    ``finish``, cases filed in the warehouse but not marked are finished too."""
    found = Findings()
    keys = evidence_keys(store)

    def register(s: Session, key: str) -> None:
        got = _json(store, key)
        if got is None:
            found.problems.append(f"{key}: unreadable register entry")
            return
        raw, entry = got
        sha = hashlib.sha256(raw).hexdigest()
        try:
            agency, year, number = entry["agency_code"], int(entry["year"]), int(entry["number"])
        except (KeyError, TypeError, ValueError):
            found.problems.append(f"{key}: not a register entry")
            return
        row = s.execute(select(register_entries.c.entry_sha256).where(
            register_entries.c.agency == agency, register_entries.c.year == year,
            register_entries.c.number == number)).first()
        if row is None:
            found.add("register_entry_missing_row")
            if repair:
                add_register_entry(s, entry, sha)
        elif row.entry_sha256 != sha:
            found.add("register_entry_changed")
            found.problems.append(f"{key}: differs from what the catalogue indexed")
            if repair:
                s.execute(update(register_entries).where(
                    register_entries.c.agency == agency, register_entries.c.year == year,
                    register_entries.c.number == number).values(
                        entry_sha256=sha, entry=entry, date=entry.get("date", ""),
                        copy_id=entry.get("copy_id", ""),
                        prev_hash=entry.get("prev_hash", "")))

    def void(s: Session, key: str) -> None:
        got = _json(store, key)
        if got is None or not got[1].get("void"):
            return
        _, agency, year, name = key.split("/")
        row = s.execute(select(register_entries.c.void_reason).where(
            register_entries.c.agency == agency, register_entries.c.year == int(year),
            register_entries.c.number == int(name[:-5]))).first()
        if row is not None and row.void_reason is None:
            found.add("void_note_missing_row")
            if repair:
                void_register_entry(s, agency, int(year), int(name[:-5]),
                                    str(got[1].get("reason", "")))

    def copy(s: Session, key: str) -> None:
        got = _json(store, key)
        if got is None or not got[1].get("copy_id"):
            found.problems.append(f"{key}: unreadable copy metadata")
            return
        meta = got[1]
        pdf_key = key.removesuffix(".json") + ".pdf"
        if s.execute(select(copies.c.copy_id).where(copies.c.copy_id == meta["copy_id"])
                     ).first() is None:
            found.add("copy_missing_row")
            if repair:
                case = s.execute(select(cases.c.case_id).where(
                    cases.c.copy_id == meta["copy_id"])).scalar()
                add_copy(s, meta, pdf_key=pdf_key, case_id=case or "")
        if not store.exists(pdf_key):
            found.problems.append(f"{pdf_key}: the copy's PDF is missing")

    def cancellation(s: Session, key: str) -> None:
        got = _json(store, key)
        if got is None or not got[1].get("copy_id"):
            found.problems.append(f"{key}: unreadable cancellation")
            return
        decision = got[1]
        row = s.execute(select(cancellations.c.copy_id).where(
            cancellations.c.copy_id == decision["copy_id"])).first()
        cancelled = s.execute(select(copies.c.cancelled).where(
            copies.c.copy_id == decision["copy_id"])).scalar()
        if row is None or cancelled is False:
            found.add("cancellation_missing_row")
            if repair:
                add_cancellation(s, decision)

    def refusal(s: Session, key: str) -> None:
        got = _json(store, key)
        if got is None:
            found.problems.append(f"{key}: unreadable refusal record")
            return
        record = got[1]
        try:
            where = (refusals.c.agency == record["agency_code"],
                     refusals.c.year == int(record["year"]),
                     refusals.c.sha256 == record["sha256"])
        except (KeyError, TypeError, ValueError):
            found.problems.append(f"{key}: not a refusal record")
            return
        if s.execute(select(refusals.c.id).where(*where)).first() is None:
            found.add("refusal_missing_row")
            if repair:
                add_refusal(s, record)

    for kind, work in (("register", register), ("void", void), ("copy", copy),
                       ("cancellation", cancellation), ("refusal", refusal)):
        found.add(f"{kind}_objects", len(keys[kind]))
        _batched(db, keys[kind], work)
    _orphans(store, db, keys, found)
    unmarked = _unmarked(db)
    found.add("cases_filed_unmarked", len(unmarked))
    if repair and finish is not None:
        for case_id, version, pdf_key in unmarked:
            finish(case_id, version, pdf_key)
        found.add("cases_finished", len(unmarked))
    return found


def _orphans(store: ObjectStore, db: Database, keys: dict[str, list[str]],
             found: Findings) -> None:
    """Rows whose object is gone: reported, never removed (see the module's docstring)."""
    stored_entries = set(keys["register"])
    stored_copies = {k.rsplit("/", 1)[1][:-5] for k in keys["copy"]}
    stored_cancellations = {k.split("/")[1][:-5] for k in keys["cancellation"]}
    with db.read() as s:
        for agency, year, number in s.execute(select(
                register_entries.c.agency, register_entries.c.year, register_entries.c.number)):
            key = f"register/{agency}/{year}/{number:06d}.json"
            if key not in stored_entries:
                found.add("register_entry_missing_object")
                found.problems.append(f"{key}: indexed but missing from the store (deleted?)")
        for copy_id, pdf_key in s.execute(select(copies.c.copy_id, copies.c.pdf_key)):
            if copy_id not in stored_copies:
                found.add("copy_missing_object")
                found.problems.append(f"{pdf_key}: indexed but missing from the store")
        for (copy_id,) in s.execute(select(cancellations.c.copy_id)):
            if copy_id not in stored_cancellations:
                found.add("cancellation_missing_object")
                found.problems.append(f"cancellations/{copy_id}.json: indexed but missing")


def _unmarked(db: Database) -> list[Any]:
    """(case id, version, PDF key) of cases whose copy is in the catalogue but which are not
    marked filed yet."""
    with db.read() as s:
        return list(s.execute(
            select(cases.c.case_id, cases.c.version, copies.c.pdf_key)
            .join(copies, copies.c.copy_id == cases.c.copy_id)
            .where(cases.c.status != "filed")))
