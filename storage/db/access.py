"""Who read whose personal data: the access log (working state, table ``access_events``).

Every staff read of a person's data (a list row, a dossier, a case's fields or page images,
a warehouse, a copy, register rows, a complaint) is one row: who, with which role, of which
commune, whose personal ID, what, which case/dossier/copy, when, from which address. The log
answers "who accessed my data" (`ecopy access report`, the printable page of
ecopy/web/views/access.py) and feeds the unusual-reading detector (`persons_read_since`).

It is working state, not evidence: it is deleted on its retention date (`ecopy retention
run`). What makes it trustworthy meanwhile is ``seal_day``: each finished day's rows are
hashed, in id order, into the audit chain (storage.evidence.audit), so a row removed or
edited afterwards no longer matches the day's hash (`verify_day`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from storage.db.schema import access_events, copies, throttle_hits

ALERT = "alert"  # the `what` of a row recording an alert (person_id "")
SEALED_POINTER = "access_log_sealed_through"  # the last day hashed into the audit chain


@dataclass(frozen=True)
class Read:
    """One thing shown: whose data (a 12-digit personal ID, or "" when unknown) and which
    case / dossier / copy."""

    person_id: str
    ref: str = ""


def rows_of(*, actor: str, role: str, agency: str, what: str, reads: Iterable[Read],
            address: str = "", at: datetime | None = None) -> list[dict[str, Any]]:
    """One row per distinct (person, ref) shown."""
    at = at or datetime.now(UTC)
    return [{"at": at, "actor": actor[:32], "role": role[:16], "agency": agency[:5],
             "person_id": r.person_id[:12], "what": what[:32], "ref": r.ref[:64],
             "address": address[:64]} for r in dict.fromkeys(reads)]


_COPY_COLUMNS = ("at", "actor", "role", "agency", "person_id", "what", "ref", "address")


def insert_rows(s: Session, rows: list[dict[str, Any]]) -> int:
    """Write rows made by ``rows_of`` (of any number of pages) at once: PostgreSQL's COPY
    (a busy web process writes thousands of rows a second; COPY costs a fraction of an
    INSERT's CPU per row), one INSERT on SQLite."""
    if not rows:
        return 0
    if s.get_bind().dialect.name == "postgresql":
        raw = s.connection().connection.driver_connection  # psycopg, in this transaction
        with raw.cursor() as cur, cur.copy(
                f"COPY access_events ({', '.join(_COPY_COLUMNS)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(tuple(row[c] for c in _COPY_COLUMNS))
    else:
        s.execute(insert(access_events), rows)
    return len(rows)


def record(s: Session, *, actor: str, role: str, agency: str, what: str,
           reads: Iterable[Read], address: str = "", at: datetime | None = None) -> int:
    """One row per distinct (person, ref) shown; the number written."""
    return insert_rows(s, rows_of(actor=actor, role=role, agency=agency, what=what,
                                  reads=reads, address=address, at=at))


def copy_reads(s: Session, copy_ids: Sequence[str]) -> list[Read]:
    """The reads of register rows or copies, by copy id: whose each copy is (the catalogue
    knows; a register entry itself names the requester, not the person's ID)."""
    wanted = [c for c in dict.fromkeys(copy_ids) if c]
    owners = dict(s.execute(select(copies.c.copy_id, copies.c.person_id)
                            .where(copies.c.copy_id.in_(wanted))).all()) if wanted else {}
    return [Read(owners.get(c, ""), c) for c in wanted]


def persons_read_since(s: Session, actor: str, since: datetime) -> int:
    """How many different persons `actor` has read since `since`."""
    e = access_events.c
    return s.execute(select(func.count(func.distinct(e.person_id)))
                     .where(e.actor == actor, e.at >= since, e.person_id != "",
                            e.what != ALERT)).scalar_one()


def alerted_since(s: Session, actor: str, since: datetime) -> bool:
    e = access_events.c
    return s.execute(select(e.id).where(e.actor == actor, e.at >= since, e.what == ALERT)
                     .limit(1)).first() is not None


def of_person(s: Session, person_id: str, *, since: datetime | None = None,
              limit: int = 1000) -> list[Any]:
    """The reads of one person's data, newest first."""
    e = access_events.c
    query = select(access_events).where(e.person_id == person_id)
    if since is not None:
        query = query.where(e.at >= since)
    return list(s.execute(query.order_by(e.at.desc(), e.id.desc()).limit(limit)))


def _day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time.min, UTC)
    return start, start + timedelta(days=1)


def day_digest(s: Session, day: date) -> tuple[int, str]:
    """(rows, sha256) of one UTC day's access events, in id order: what `seal_day` writes
    into the audit chain and `verify_day` compares."""
    e = access_events.c
    start, end = _day_bounds(day)
    digest, n = hashlib.sha256(), 0
    for row in s.execute(select(e.id, e.at, e.actor, e.role, e.agency, e.person_id, e.what,
                                e.ref, e.address)
                         .where(e.at >= start, e.at < end).order_by(e.id)):
        line = "\t".join([str(row.id), row.at.astimezone(UTC).isoformat(), row.actor,
                          row.role, row.agency, row.person_id, row.what, row.ref,
                          row.address])
        digest.update(line.encode() + b"\n")
        n += 1
    return n, digest.hexdigest()


def first_day(s: Session) -> date | None:
    found = s.execute(select(func.min(access_events.c.at))).scalar_one()
    return found.astimezone(UTC).date() if found else None


def purge_before(s: Session, before: datetime) -> int:
    """Delete the rows older than `before` (retention); the number deleted."""
    return s.execute(delete(access_events).where(access_events.c.at < before)).rowcount or 0


# --------------------------------------------------------------------------- throttles


def hits_since(s: Session, keys: Sequence[str], since: datetime) -> dict[str, int]:
    """How many hits each key has had since `since` (one query for all of them)."""
    t = throttle_hits.c
    found = dict(s.execute(select(t.key, func.count()).where(t.key.in_(keys), t.at >= since)
                           .group_by(t.key)).all())
    return {key: int(found.get(key, 0)) for key in keys}


def hit(s: Session, keys: Iterable[str], at: datetime | None = None) -> None:
    at = at or datetime.now(UTC)
    rows = [{"key": key[:96], "at": at} for key in keys]
    if rows:
        s.execute(insert(throttle_hits), rows)


def clear_hits(s: Session, key: str) -> None:
    s.execute(delete(throttle_hits).where(throttle_hits.c.key == key[:96]))


def purge_hits_before(s: Session, before: datetime) -> int:
    return s.execute(delete(throttle_hits).where(throttle_hits.c.at < before)).rowcount or 0
