"""Case documents: one per dossier and original, with its status, history and findings.

The same original bytes brought to two dossiers (or two communes) are two cases: each has its
own status, fields, corrections and certifier; only the evidence keyed by the bytes (the
original and its OCR under ``documents/<sha256>/``) is shared. Staff reach a case through its
commune (`get_case(..., agency=)`), never by the bytes.

Every change goes through `change_status` inside the caller's write transaction: it locks the
case row (SELECT ... FOR UPDATE on PostgreSQL; SQLite's BEGIN IMMEDIATE holds the whole
database), checks what the caller expects (status and/or version: compare-and-set), bumps
the version, appends the history event and refreshes the dossier's progress, all or nothing.
Two certifiers approving one case: one changes READY → certifying, the other gets `Conflict`.

A case is returned as a plain dict (its "record"), the shape the pipeline and the pages read:
the columns, plus everything kept in ``data`` (classification, fields, review messages, ...).
"""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Collection, Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storage.db.dossiers import Dossier, refresh_progress
from storage.db.paging import Page, keyset, page_of, page_size
from storage.db.schema import case_events, cases, corrections, dossiers
from storage.state import Deadlines

# statuses a new claim does not take over: the case is decided or waits for staff
SETTLED = frozenset({"needs_review", "ready", "certifying", "certified", "filed"})
COLUMNS = frozenset({"name", "kind", "size", "person_id", "pages", "doc_type",
                     "document_name", "reason", "ground_code", "copy_id", "owner",
                     "batch_id"})
READ_ONLY = frozenset({"case_id", "dossier_id", "agency", "sha256", "status", "version",
                       "created_at", "status_at", "history", "register_year",
                       "register_number"})


class Conflict(Exception):
    """The case is not in the state the caller expected: someone else changed it first."""

    def __init__(self, status: str, version: int) -> None:
        super().__init__(f"the case is {status} (version {version})")
        self.status, self.version = status, version


def new_case_id() -> str:
    return secrets.token_hex(16)


def owner() -> str:
    """This process, as it marks the cases it is working on."""
    return f"{socket.gethostname()}:{os.getpid()}"


def owner_alive(owner_name: str) -> bool:
    host, _, pid = owner_name.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return True  # another machine's claim: assume alive (reconcile handles it)
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _iso(moment: datetime | None) -> str:
    return moment.isoformat(timespec="seconds") if moment else ""


def record_of(row: Any, history: Iterable[Any] | None = None) -> dict[str, Any]:
    """The case as the pipeline and the pages read it."""
    record: dict[str, Any] = dict(row.data or {})
    for name in (*COLUMNS, "case_id", "dossier_id", "agency", "sha256", "status", "version",
                 "register_year", "register_number"):
        record[name] = getattr(row, name)
    record["copy_id"] = row.copy_id or ""
    record["created_at"], record["status_at"] = _iso(row.created_at), _iso(row.status_at)
    if history is not None:
        record["history"] = [{"status": h.status, "at": _iso(h.at), "actor": h.actor,
                              **({"reason": h.reason} if h.reason else {})}
                             for h in history]
    return record


def _row(s: Session, case_id: str, *, lock: bool = False, agency: str | None = None) -> Any:
    query = select(cases).where(cases.c.case_id == case_id)
    if agency is not None:
        query = query.where(cases.c.agency == agency)
    if lock and s.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    return s.execute(query).first()


def history(s: Session, case_id: str) -> list[Any]:
    return list(s.execute(select(case_events).where(case_events.c.case_id == case_id)
                          .order_by(case_events.c.seq)))


def get_case(s: Session, case_id: str, *, agency: str | None = None,
             with_history: bool = False) -> dict[str, Any] | None:
    """The case; with ``agency`` only when it belongs to that commune (404 otherwise)."""
    if not isinstance(case_id, str) or len(case_id) != 32:
        return None
    row = _row(s, case_id, agency=agency)
    if row is None:
        return None
    return record_of(row, history(s, case_id) if with_history else None)


def _add_event(s: Session, case_id: str, status: str, at: datetime, reason: str,
               actor: str) -> int:
    seq = s.execute(select(func.coalesce(func.max(case_events.c.seq), 0))
                    .where(case_events.c.case_id == case_id)).scalar_one() + 1
    s.execute(insert(case_events).values(case_id=case_id, seq=seq, status=status, at=at,
                                         reason=reason[:64], actor=actor[:64]))
    return seq


def claim_case(s: Session, dossier: Dossier, sha256: str, *, name: str, size: int,
               person_id: str, actor: str, deadlines: Deadlines, kind: str = "",
               batch_id: str = "", at: datetime | None = None) -> tuple[dict[str, Any], bool]:
    """(the case of this original in this dossier, True when this process now works on it).

    A new original makes a new case. An existing one is taken again when it was rejected
    (the cause may be fixed: --accept-signed, a rescan of the same file is a new case) or
    when the process working on it died on this host; otherwise (decided, waiting for
    staff, or in work elsewhere) it is returned as it stands: a duplicate upload. ``at``:
    when (now by default; imports and tests give the time it happened)."""
    now = at or datetime.now(UTC)
    me = owner()
    row = s.execute(select(cases).where(cases.c.dossier_id == dossier.dossier_id,
                                        cases.c.sha256 == sha256)).first()
    if row is None:
        case_id = new_case_id()
        try:
            with s.begin_nested():
                s.execute(insert(cases).values(
                    case_id=case_id, dossier_id=dossier.dossier_id, agency=dossier.agency,
                    sha256=sha256, name=name[:255], kind=kind, size=size, person_id=person_id,
                    status="received", version=1, created_at=now, status_at=now, pages=0,
                    doc_type="", document_name="", reason="", ground_code="", copy_id=None,
                    owner=me, batch_id=batch_id, data={}))
                _add_event(s, case_id, "received", now, "", actor)
        except IntegrityError:  # another process inserted it first
            row = s.execute(select(cases).where(cases.c.dossier_id == dossier.dossier_id,
                                                cases.c.sha256 == sha256)).first()
        else:
            refresh_progress(s, dossier.dossier_id, deadlines)
            return {**(get_case(s, case_id) or {}), "event_seq": 1}, True
    assert row is not None
    if row.status in SETTLED or (row.status != "rejected" and owner_alive(row.owner)):
        return record_of(row), False
    record = change_status(s, row.case_id, "received", actor=actor, deadlines=deadlines,
                           expect_version=row.version, at=at, owner=me, name=name[:255],
                           size=size, kind=kind, batch_id=batch_id, reason="")
    return record, True


def change_status(s: Session, case_id: str, status: str, *, actor: str,
                  deadlines: Deadlines, expect_status: Collection[str] | None = None,
                  expect_version: int | None = None, at: datetime | None = None,
                  **changes: Any) -> dict[str, Any]:
    """Move the case to ``status`` with ``changes`` (columns or ``data`` keys) and append the
    history event; `Conflict` when it is not in ``expect_status`` / at ``expect_version``.
    A ``reason`` change is also the event's reason. Returns the case as now stored, with
    ``event_seq``: the number of the history event just appended. ``at``: when (now by
    default)."""
    row = _row(s, case_id, lock=True)
    if row is None:
        raise LookupError(f"no case {case_id}")
    if (expect_status is not None and row.status not in expect_status) or (
            expect_version is not None and row.version != expect_version):
        raise Conflict(row.status, row.version)
    unknown = READ_ONLY & set(changes)
    if unknown:
        raise ValueError(f"not changeable here: {', '.join(sorted(unknown))}")
    now = at or datetime.now(UTC)
    values: dict[str, Any] = {k: v for k, v in changes.items() if k in COLUMNS}
    data = {**(row.data or {}), **{k: v for k, v in changes.items() if k not in COLUMNS}}
    entry = data.get("register_entry")
    if isinstance(entry, dict) and entry.get("number"):
        values["register_year"], values["register_number"] = entry["year"], entry["number"]
    if "copy_id" in values and not values["copy_id"]:
        values["copy_id"] = None
    values.update(status=status, version=row.version + 1, data=data)
    if status != row.status:
        values["status_at"] = now
    done = s.execute(update(cases).where(cases.c.case_id == case_id,
                                         cases.c.version == row.version).values(**values))
    if done.rowcount != 1:  # only without a row lock (never expected): the loser retries
        raise Conflict(row.status, row.version)
    seq = _add_event(s, case_id, status, now, str(changes.get("reason") or ""), actor)
    if status != row.status or "pages" in values:
        refresh_progress(s, row.dossier_id, deadlines)
    return {**record_of(_row(s, case_id)), "event_seq": seq}


def note(s: Session, case_id: str, **changes: Any) -> None:
    """Record facts about a case that change nothing of where it stands (no history event):
    the copy id fixed before signing, so a retry after a crash finds its copy."""
    unknown = READ_ONLY & set(changes)
    if unknown:
        raise ValueError(f"not changeable here: {', '.join(sorted(unknown))}")
    row = _row(s, case_id, lock=True)
    if row is None:
        raise LookupError(f"no case {case_id}")
    values: dict[str, Any] = {k: v for k, v in changes.items() if k in COLUMNS}
    data = {k: v for k, v in changes.items() if k not in COLUMNS}
    if data:
        values["data"] = {**(row.data or {}), **data}
    s.execute(update(cases).where(cases.c.case_id == case_id)
              .values(**values, version=row.version + 1))


def add_correction(s: Session, case_id: str, *, actor: str, doc_type: str | None,
                   fields: dict[str, str], machine: dict[str, Any]) -> None:
    """Keep a clerk's correction as it was made (who, when, what the machine had said)."""
    s.execute(insert(corrections).values(case_id=case_id, at=datetime.now(UTC), actor=actor,
                                         doc_type=doc_type, fields=fields, machine=machine))


def corrections_of(s: Session, case_id: str) -> list[dict[str, Any]]:
    rows = s.execute(select(corrections).where(corrections.c.case_id == case_id)
                     .order_by(corrections.c.id))
    return [{"actor": r.actor, "at": _iso(r.at), "doc_type": r.doc_type, "fields": r.fields,
             "machine": r.machine} for r in rows]


def corrected_types(s: Session) -> list[tuple[str, str]]:
    """(original sha256, document type) of every type correction, oldest first: what the
    document-type model learns from (a later correction of the same bytes wins)."""
    return [tuple(r) for r in s.execute(
        select(cases.c.sha256, corrections.c.doc_type)
        .join(cases, cases.c.case_id == corrections.c.case_id)
        .where(corrections.c.doc_type.is_not(None), corrections.c.doc_type != "")
        .order_by(corrections.c.id))]


def cases_of_dossier(s: Session, dossier_id: str) -> list[dict[str, Any]]:
    rows = s.execute(select(cases).where(cases.c.dossier_id == dossier_id)
                     .order_by(cases.c.created_at, cases.c.case_id))
    return [record_of(r) for r in rows]


# what a queue's row shows: enough to list and open a case, without its findings (``data``)
QUEUE_COLUMNS = (cases.c.case_id, cases.c.dossier_id, cases.c.agency, cases.c.sha256,
                 cases.c.name, cases.c.status, cases.c.status_at, cases.c.created_at,
                 cases.c.doc_type, cases.c.document_name, cases.c.reason, cases.c.pages,
                 cases.c.person_id)


def queue(s: Session, agency: str, statuses: Collection[str], *, cursor: str = "",
          limit: int | None = None, full: bool = False) -> Page[dict[str, Any]]:
    """The commune's cases in ``statuses``, longest waiting first, with the requester's name
    and the dossier's code: the review and certifier queues. Each row holds the columns a
    list shows; ``full`` gives the whole case (its findings too), as `get_case` does."""
    size = page_size(limit)
    key = (cases.c.status_at, cases.c.case_id)
    picked = (cases,) if full else QUEUE_COLUMNS
    query = (select(*picked, dossiers.c.person_name, dossiers.c.public_code)
             .join(dossiers, dossiers.c.dossier_id == cases.c.dossier_id)
             .where(cases.c.agency == agency, cases.c.status.in_(list(statuses))))
    rows, nxt = page_of(s.execute(keyset(query, key, cursor, (datetime, str), size)).all(),
                        size, lambda r: (r.status_at, r.case_id))
    out = []
    for r in rows:
        if full:
            record = record_of(r)
        else:
            record = dict(r._mapping)
            record["status_at"], record["created_at"] = _iso(r.status_at), _iso(r.created_at)
        record["person_name"], record["public_code"] = r.person_name, r.public_code or ""
        out.append(record)
    return Page(out, nxt)


def count_in(s: Session, agency: str, statuses: Collection[str]) -> int:
    """How many of the commune's cases stand in ``statuses`` (the queue's length)."""
    return sum(counts_by_status(s, agency, statuses).values())


def counts_by_status(s: Session, agency: str, statuses: Collection[str]) -> dict[str, int]:
    """How many of the commune's cases stand in each of ``statuses``: one index range each,
    in one query (the certifier's two queues)."""
    found = dict(s.execute(select(cases.c.status, func.count())
                           .where(cases.c.agency == agency, cases.c.status.in_(list(statuses)))
                           .group_by(cases.c.status)).all())
    return {status: found.get(status, 0) for status in statuses}


def find_cases(s: Session, ref: str, *, agency: str | None) -> list[dict[str, Any]]:
    """Cases a staff member names by case id, original sha256, or a prefix of either of at
    least 8 hex characters, within ``agency`` (None: every commune, for operators)."""
    ref = ref.strip().lower()
    if len(ref) < 8 or len(ref) > 64 or any(c not in "0123456789abcdef" for c in ref):
        return []
    if len(ref) == 32:
        match = cases.c.case_id == ref
    elif len(ref) == 64:
        match = cases.c.sha256 == ref
    else:
        match = cases.c.case_id.startswith(ref) | cases.c.sha256.startswith(ref)
    query = select(cases).where(match)
    if agency is not None:
        query = query.where(cases.c.agency == agency)
    return [record_of(r) for r in s.execute(query.order_by(cases.c.created_at).limit(20))]


def unfinished(s: Session, statuses: Collection[str], *, limit: int = 10_000
               ) -> list[dict[str, Any]]:
    """Cases a reconcile run must move on (received, in OCR, understood but not signed)."""
    rows = s.execute(select(cases).where(cases.c.status.in_(list(statuses)))
                     .order_by(cases.c.status_at).limit(limit))
    return [record_of(r) for r in rows]


def assign_batch(s: Session, case_ids: Collection[str], batch_id: str) -> None:
    """Cases taken in by the web app and handed to the distributed workers: `reconcile`
    finds them by their batch."""
    s.execute(update(cases).where(cases.c.case_id.in_(list(case_ids)))
              .values(batch_id=batch_id))


def case_of_copy(s: Session, copy_id: str) -> dict[str, Any] | None:
    row = s.execute(select(cases).where(cases.c.copy_id == copy_id)).first()
    return record_of(row) if row else None
