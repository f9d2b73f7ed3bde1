"""The access log in use: recording staff reads, the unusual-reading alert, sealing each day
into the audit chain, and the report for a citizen ("who accessed my data").

Reads are rows of the database (storage.db.access), not audit events: the audit chain is
permanent evidence, the access log names persons and is deleted on its retention date. Each
finished UTC day is sealed: its rows' hash goes into the audit chain as one ``access_day``
event (no personal data in it), so `ecopy access verify` shows whether a day's rows were
changed since. The alert: an account that reads more than
``settings.access_alert_persons_per_hour`` different persons within an hour gets one
``access_alert`` audit event (account, count, hour; no person) and a warning in the log, once
per hour (the count is made once a minute, or sooner when the account has read as many
rows as the limit since the last count).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from storage.backends import ObjectStore
from storage.db import Database, insert_once
from storage.db import access as log
from storage.db.pointers import get_pointer, set_pointer
from storage.db.schema import pointers
from storage.evidence.audit import append_event, read_events

LOG = logging.getLogger("ecopy.access")
SEAL_PREFIX = "access_day:"  # pointer per sealed day: {"rows": n, "sha256": ...}


def record_reads(db: Database, store: ObjectStore, *, actor: str, role: str, agency: str,
                 what: str, reads: Iterable[log.Read], address: str,
                 alert_persons_per_hour: int) -> None:
    """Write the reads, then look whether the account now reads unusually many persons."""
    reads = [r for r in reads if r.person_id or r.ref]
    if not reads:
        return
    now = datetime.now(UTC)
    _seal_once_a_day(db, store, now.date())
    hour_ago = now - timedelta(hours=1)
    with db.write() as s:
        log.record(s, actor=actor, role=role, agency=agency, what=what, reads=reads,
                   address=address, at=now)
        if alert_persons_per_hour <= 0 or not _time_to_look(db, actor, len(reads),
                                                            alert_persons_per_hour):
            return
        persons = log.persons_read_since(s, actor, hour_ago)
        if persons <= alert_persons_per_hour or log.alerted_since(s, actor, hour_ago):
            return
        log.record(s, actor=actor, role=role, agency=agency, what=log.ALERT,
                   reads=[log.Read("", f"{persons} persons/hour")], address=address, at=now)
    LOG.warning("access alert: account %s read %d persons within an hour (limit %d)",
                actor, persons, alert_persons_per_hour)
    append_event(store, actor="ecopy", action="access_alert", object=f"accounts/{actor}",
                 details={"persons_in_hour": persons, "limit": alert_persons_per_hour,
                          "role": role, "agency": agency, "address": address})


_sealed_on: dict[str, date] = {}  # per database: the day this process last sealed on
_unlooked: dict[tuple[str, str], tuple[float, int]] = {}  # (db, actor): (last look, reads)
LOOK_EVERY_S = 60.0


def _time_to_look(db: Database, actor: str, reads: int, limit: int) -> bool:
    """Whether to count the account's persons of the last hour now: after a minute, or once
    it has read as many rows as the limit since the last count. Counting on every page made
    each page of a busy clerk pay for an hour of their reads."""
    key = (db.describe(), actor)
    now = time.monotonic()
    last, pending = _unlooked.get(key, (0.0, 0))
    pending += reads
    if now - last < LOOK_EVERY_S and pending < limit:
        _unlooked[key] = (last, pending)
        return False
    _unlooked[key] = (now, 0)
    return True


def _seal_once_a_day(db: Database, store: ObjectStore, today: date) -> None:
    """The first read of a day in this process seals the days before it (cheap after that:
    one comparison). A failure is logged; the next day or `ecopy access seal` catches up."""
    key = db.describe()
    if _sealed_on.get(key) == today:
        return
    _sealed_on[key] = today
    try:
        seal_days(db, store, today)
    except Exception:  # the read is what matters now; sealing is retried tomorrow
        LOG.exception("sealing the access log failed")


def record_cli_reads(state: Any, settings: Any, what: str, reads: Iterable[log.Read]) -> None:
    """A command that shows a person's data records it as the web does: the operator is
    ECOPY_ACTOR with ECOPY_ROLE, of ECOPY_COMMUNE, from "cli"."""
    record_reads(state.db, state.store, actor=settings.actor or "ecopy",
                 role=settings.role or "cli", agency=settings.commune_code, what=what,
                 reads=reads, address="cli",
                 alert_persons_per_hour=settings.access_alert_persons_per_hour)


def seal_days(db: Database, store: ObjectStore, today: date | None = None,
              ) -> list[dict[str, Any]]:
    """Hash every finished day not sealed yet into the audit chain; the seals written. Safe
    to run from several processes: a day's pointer is created once, by whoever wins."""
    today = today or datetime.now(UTC).date()
    with db.read() as s:
        first = log.first_day(s)
        done = get_pointer(s, log.SEALED_POINTER)
    if first is None:
        return []
    day = max(first, date.fromisoformat(done) + timedelta(days=1)) if done else first
    sealed = []
    while day < today:
        with db.write() as s:
            rows, digest = log.day_digest(s, day)
            seal = {"day": day.isoformat(), "rows": rows, "sha256": digest}
            mine = insert_once(s, pointers, {"name": SEAL_PREFIX + day.isoformat(),
                                             "value": seal, "updated_at": datetime.now(UTC),
                                             "updated_by": "ecopy"})
        if mine:
            append_event(store, actor="ecopy", action="access_day",
                         object=f"access/{day.isoformat()}", details=seal)
            sealed.append(seal)
        with db.write() as s:
            current = get_pointer(s, log.SEALED_POINTER)
            if not current or current < day.isoformat():
                set_pointer(s, log.SEALED_POINTER, day.isoformat(), by="ecopy")
        day += timedelta(days=1)
    return sealed


def verify_days(db: Database, store: ObjectStore) -> list[dict[str, Any]]:
    """Every sealed day: its rows now against the hash in the audit chain. A day whose rows
    were deleted by retention reports ``deleted`` (expected), not a mismatch."""
    out = []
    for event in read_events(store):
        if event.get("action") != "access_day":
            continue
        seal = event.get("details") or {}
        day = date.fromisoformat(seal["day"])
        with db.read() as s:
            rows, digest = log.day_digest(s, day)
        state = ("ok" if (rows, digest) == (seal.get("rows"), seal.get("sha256"))
                 else "deleted" if rows == 0 else "changed")
        out.append({"day": seal["day"], "rows": seal.get("rows"), "now": rows,
                    "state": state, "audit_seq": event.get("seq")})
    return out


def report(db: Database, person_id: str, *, since: datetime | None = None,
           ) -> list[dict[str, Any]]:
    """The reads of one person's data, newest first, as the citizen's report shows them."""
    from pipeline import adminunits

    with db.read() as s:
        rows = log.of_person(s, person_id, since=since)
    out = []
    for r in rows:
        unit = adminunits.commune(r.agency) if r.agency else None
        out.append({"at": r.at.astimezone(UTC).isoformat(timespec="seconds"),
                    "actor": r.actor, "role": r.role, "agency": r.agency,
                    "commune_name": unit.full_name if unit else "", "what": r.what,
                    "ref": r.ref})
    return out
