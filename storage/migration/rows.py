"""The working state of former deployments' databases, moved into the destination's.

`ecopy migrate` copies the evidence store to store (storage.migration.migrate); a source that
ran with a database (every deployment since the database came) also has its working state
there. These rows follow the same policy as the objects did: work in progress is re-homed to
the new commune (dossiers and their cases, complaints, accounts and outbox items get the new
commune code; a dossier keeps its old one as ``former_agency``), everything else is copied
as it is, keys unchanged (a citizen's status code, a complaint's follow-up code, a copy id
keep working). A destination row that is the same is skipped; one that differs is a conflict,
reported and never overwritten. The catalogue is not copied: it is rebuilt from the
destination's evidence afterwards (storage.db.rebuild), so it indexes exactly what is there.

Rows whose surrogate number is their key (history events, corrections, outbox items) are
matched on their natural key instead: (case, seq), (case, time, actor), the idempotency key.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import Table, and_, insert, select
from sqlalchemy.orm import Session

from storage.db import Database
from storage.db.schema import (
    accounts,
    batches,
    case_events,
    cases,
    complaint_events,
    complaints,
    corrections,
    dossiers,
    outbox,
    papers,
    successions,
)

BATCH = 500
# (table, natural key columns, columns dropped on copy, column holding the commune code)
TABLES: tuple[tuple[Table, tuple[str, ...], tuple[str, ...], str], ...] = (
    (dossiers, ("dossier_id",), (), "agency"),
    (cases, ("case_id",), (), "agency"),
    (case_events, ("case_id", "seq"), ("id",), ""),
    (corrections, ("case_id", "at", "actor"), ("id",), ""),
    (papers, ("dossier_id", "doc_type"), (), ""),
    (accounts, ("username",), (), "agency"),
    (complaints, ("complaint_id",), (), "agency"),
    (complaint_events, ("complaint_id", "seq"), (), ""),
    (outbox, ("key",), ("seq",), "agency"),
    (batches, ("batch_id",), (), ""),
    (successions, ("agency", "predecessor"), (), "agency"),
)


def _canonical(values: dict[str, Any]) -> str:
    return json.dumps(values, sort_keys=True, default=str, ensure_ascii=False)


def _rehome(table: Table, values: dict[str, Any], column: str,
            mapping: dict[str, str]) -> tuple[dict[str, Any], str]:
    """The row as the destination gets it, and the old commune code when it moved."""
    old = str(values.get(column) or "") if column else ""
    new = mapping.get(old, old)
    if not old or new == old:
        return values, ""
    moved = {**values, column: new}
    if table is dossiers:
        moved["former_agency"] = values.get("former_agency") or old
    if table is batches:
        moved["data"] = {**values["data"], "commune_code": new}
    return moved, old


def migrate_rows(label: str, source: Database, dest: Database, mapping: dict[str, str], *,
                 dry_run: bool, outcome: Callable[..., Any]) -> tuple[list[Any], set[str]]:
    """Every working-state row of one source into the destination: the outcomes (made by
    ``outcome(source, key, dest_key, source_sha256, sha256, action, detail)``) and the old
    commune codes rows were re-homed from."""
    results: list[Any] = []
    olds: set[str] = set()
    for table, natural, dropped, column in TABLES:
        with source.read() as s:
            rows = [dict(r._mapping) for r in s.execute(select(table))]
        for start in range(0, len(rows), BATCH):
            chunk = rows[start:start + BATCH]
            if dry_run:
                with dest.read() as d:
                    results += _apply(d, table, natural, dropped, column, chunk, label,
                                      mapping, dry_run, outcome, olds)
            else:
                with dest.write() as d:
                    results += _apply(d, table, natural, dropped, column, chunk, label,
                                      mapping, dry_run, outcome, olds)
    return results, olds


def _apply(d: Session, table: Table, natural: tuple[str, ...], dropped: tuple[str, ...],
           column: str, rows: Iterable[dict[str, Any]], label: str,
           mapping: dict[str, str], dry_run: bool, outcome: Callable[..., Any],
           olds: set[str]) -> list[Any]:
    out = []
    for raw in rows:
        values = {k: v for k, v in raw.items() if k not in dropped}
        moved, old = _rehome(table, values, column, mapping)
        if old:
            olds.add(old)
        key = f"db/{table.name}/" + "/".join(str(raw[k]) for k in natural)
        src_sha = hashlib.sha256(_canonical(values).encode()).hexdigest()
        sha = hashlib.sha256(_canonical(moved).encode()).hexdigest()
        where = and_(*(table.c[k] == moved[k] for k in natural))
        held = d.execute(select(table).where(where)).first()
        if held is None:
            if not dry_run:
                d.execute(insert(table).values(**moved))
            out.append(outcome(label, key, key, src_sha, sha,
                               "re-homed" if old else "copied", ""))
            continue
        theirs = {k: v for k, v in dict(held._mapping).items() if k not in dropped}
        if _canonical(theirs) == _canonical(moved):
            out.append(outcome(label, key, key, src_sha, sha, "skipped-same", ""))
        else:
            out.append(outcome(label, key, key, src_sha,
                               hashlib.sha256(_canonical(theirs).encode()).hexdigest(),
                               "conflict", "the destination holds another row"))
    return out


def agencies_in_db(db: Database) -> dict[str, set[str]]:
    """Commune code -> the tables naming it: what the mapping must cover."""
    found: dict[str, set[str]] = {}
    with db.read() as s:
        for table, _natural, _dropped, column in TABLES:
            if column:
                for (code,) in s.execute(select(table.c[column]).distinct()):
                    if code:
                        found.setdefault(str(code), set()).add(f"db:{table.name}")
    return found
