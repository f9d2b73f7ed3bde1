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
rows as the limit since the last count, but never within 10 s of the last one).

The web app does not write a page's reads in the page's own request: each read is handed to
``PendingReads``, which writes what its process collected every fraction of a second in one
transaction (a transaction per page was what a page cost most, issue 14's load run). What a
read records (its time, who, whose data) is fixed when the page is served; a process that is
stopped writes what it holds before it exits, so only a process killed outright (SIGKILL,
power cut) can lose the reads of its last ``PendingReads.every_s`` (a quarter second).
When the database cannot take the reads for long, pages stop being served
(``AccessLogUnavailable``) rather than shown unrecorded.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
import weakref
from collections.abc import Iterable
from dataclasses import dataclass
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
# a day is sealed this long after it ended: reads of its last moments, kept by a web
# process (PendingReads) or in a transaction still open, are in the database by then
SEAL_AFTER = timedelta(minutes=10)


@dataclass(frozen=True)
class Reading:
    """What one page or command showed of whom, fixed when it was shown."""

    at: datetime
    actor: str
    role: str
    agency: str
    what: str
    reads: tuple[log.Read, ...]
    address: str


def record_reads(db: Database, store: ObjectStore, *, actor: str, role: str, agency: str,
                 what: str, reads: Iterable[log.Read], address: str,
                 alert_persons_per_hour: int) -> None:
    """Write the reads now, then look whether the account reads unusually many persons."""
    reading = _reading(actor, role, agency, what, reads, address)
    if reading is not None:
        write_readings(db, store, [reading], alert_persons_per_hour)


def _reading(actor: str, role: str, agency: str, what: str, reads: Iterable[log.Read],
             address: str) -> Reading | None:
    kept = tuple(r for r in reads if r.person_id or r.ref)
    if not kept:
        return None
    return Reading(datetime.now(UTC), actor, role, agency, what, kept, address)


def write_readings(db: Database, store: ObjectStore, readings: list[Reading],
                   alert_persons_per_hour: int) -> None:
    """Write readings in one transaction; then, for each account whose time has come, count
    the persons it read in the last hour and raise the alert once an hour."""
    if not readings:
        return
    now = datetime.now(UTC)
    _seal_once_a_day(db, store, (now - SEAL_AFTER).date())
    hour_ago = now - timedelta(hours=1)
    alerts = []
    with db.write() as s:
        log.insert_rows(s, [row for r in readings for row in log.rows_of(
            actor=r.actor, role=r.role, agency=r.agency, what=r.what, reads=r.reads,
            address=r.address, at=r.at)])
        if alert_persons_per_hour <= 0:
            return
        for (actor, role, agency, address), count in _per_account(readings).items():
            if not _time_to_look(db, actor, count, alert_persons_per_hour):
                continue
            persons = log.persons_read_since(s, actor, hour_ago)
            if persons <= alert_persons_per_hour or log.alerted_since(s, actor, hour_ago):
                continue
            log.record(s, actor=actor, role=role, agency=agency, what=log.ALERT,
                       reads=[log.Read("", f"{persons} persons/hour")], address=address,
                       at=now)
            alerts.append((actor, role, agency, address, persons))
    for actor, role, agency, address, persons in alerts:
        LOG.warning("access alert: account %s read %d persons within an hour (limit %d)",
                    actor, persons, alert_persons_per_hour)
        append_event(store, actor="ecopy", action="access_alert", object=f"accounts/{actor}",
                     details={"persons_in_hour": persons, "limit": alert_persons_per_hour,
                              "role": role, "agency": agency, "address": address})


def _per_account(readings: list[Reading]) -> dict[tuple[str, str, str, str], int]:
    """Rows read per account (with the role, commune and address of its last reading)."""
    rows: dict[str, int] = {}
    last: dict[str, Reading] = {}
    for r in readings:
        rows[r.actor] = rows.get(r.actor, 0) + len(r.reads)
        last[r.actor] = r
    return {(a, last[a].role, last[a].agency, last[a].address): n for a, n in rows.items()}


class AccessLogUnavailable(RuntimeError):
    """The database has not taken this process's reads for too long: staff pages stop."""


class PendingReads:
    """A web process's reads on their way to the database: ``add`` keeps a page's reads and
    a thread writes what was kept every ``every_s`` seconds (sooner once ``max_rows`` wait),
    in one transaction. ``flush`` writes now; it runs when the app stops and at exit.

    If a write fails (the database away), the reads stay and are written at the next round;
    once ``max_backlog`` rows wait unwritten, ``add`` refuses, and the page with it."""

    def __init__(self, db: Database, store: ObjectStore, alert_persons_per_hour: int, *,
                 every_s: float = 0.25, max_rows: int = 2000,
                 max_backlog: int = 200_000) -> None:
        self.db, self.store = db, store
        self.alert_persons_per_hour = alert_persons_per_hour
        self.every_s, self.max_rows, self.max_backlog = every_s, max_rows, max_backlog
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()  # one writer at a time: rows keep their order
        self._kept: list[Reading] = []
        self._rows = 0
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()
        self._failing_since: float | None = None
        _BUFFERS.add(self)

    def add(self, *, actor: str, role: str, agency: str, what: str,
            reads: Iterable[log.Read], address: str) -> None:
        reading = _reading(actor, role, agency, what, reads, address)
        if reading is None:
            return
        with self._lock:
            if self._pid != os.getpid():  # a forked child: the parent's reads are its own
                self._kept, self._rows, self._thread = [], 0, None
                self._pid = os.getpid()
            if self._rows >= self.max_backlog:
                raise AccessLogUnavailable(
                    f"{self._rows} reads wait to be written to the access log")
            self._kept.append(reading)
            self._rows += len(reading.reads)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="ecopy-access-log",
                                                daemon=True)
                self._thread.start()
            if self._rows >= self.max_rows:
                self._wake.set()

    def flush(self) -> int:
        """Write what is kept now; the number of rows written (0 when the write failed)."""
        with self._write_lock:
            with self._lock:
                batch, self._kept, rows = self._kept, [], self._rows
                self._rows = 0
            if not batch:
                return 0
            try:
                write_readings(self.db, self.store, batch, self.alert_persons_per_hour)
            except Exception:
                with self._lock:  # kept for the next round, before what came meanwhile
                    self._kept[:0] = batch
                    self._rows += rows
                if self._failing_since is None:
                    self._failing_since = time.monotonic()
                    LOG.exception("writing %d reads to the access log failed; retrying", rows)
                return 0
            if self._failing_since is not None:
                LOG.warning("the access log is written again after %.0f s",
                            time.monotonic() - self._failing_since)
                self._failing_since = None
            return rows

    def _run(self) -> None:
        while True:
            self._wake.wait(self.every_s)
            self._wake.clear()
            self.flush()


_BUFFERS: weakref.WeakSet[PendingReads] = weakref.WeakSet()


def flush_pending(db: Database | None = None) -> None:
    """Write every reading this process keeps (for `db` alone when given): before a report
    is made from the log, when the app stops, and at exit."""
    for buffer in list(_BUFFERS):
        if db is None or buffer.db is db:
            buffer.flush()


atexit.register(flush_pending)


_sealed_on: dict[str, date] = {}  # per database: the day this process last sealed on
_unlooked: dict[tuple[str, str], tuple[float, int]] = {}  # (db, actor): (last look, reads)
LOOK_EVERY_S = 60.0
LOOK_SOONEST_S = 10.0  # however fast an account reads, its hour is counted at most this often


def _time_to_look(db: Database, actor: str, reads: int, limit: int) -> bool:
    """Whether to count the account's persons of the last hour now: after a minute, or once
    it has read as many rows as the limit since the last count, but not within
    LOOK_SOONEST_S of the last count. A count reads the account's hour of reads: counting
    on every page made each page of a busy clerk pay for it, and counting every few pages
    made the access-log writer fall behind under load (issue 14's load run: 503s)."""
    key = (db.describe(), actor)
    now = time.monotonic()
    last, pending = _unlooked.get(key, (-LOOK_EVERY_S, 0))
    pending += reads
    since = now - last
    if since < LOOK_SOONEST_S or (since < LOOK_EVERY_S and pending < limit):
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
    today = today or (datetime.now(UTC) - SEAL_AFTER).date()
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
    from pipeline.vn import adminunits

    flush_pending(db)  # this process's latest reads are part of the answer
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
