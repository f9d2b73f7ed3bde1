"""Month figures kept current: one row per commune and Vietnam month of received dossiers.

The public figures (pipeline.casework.figures) of the current state are read from these rows
alone, so a province month costs one row per commune whatever the month holds: the counts,
the refused papers by reason, every finished dossier's duration (whole seconds) and working
time (thousandths of an hour) as sorted 32-bit integers, and every open dossier's due time
(microseconds since 1970, sorted 64-bit integers: how many are overdue at any moment is one
binary search). Medians come from those arrays, so they are exact: the same numbers the full
aggregate over the dossiers gives (`compute_figures(..., exact=True)`, which a figure "as of"
a past time or over a range of days still takes).

A row is recomputed from its commune month's dossiers (an index range of ``agency,
opened_at``: a few hundred rows) in the transaction that changes one of them
(`storage.db.dossiers.open_dossier` and `refresh_progress`), never adjusted by differences,
so it cannot drift: on PostgreSQL the row is locked first, so two transactions changing the
same commune month one after the other each see the other's dossiers. `ecopy db check`
compares every row with its dossiers and `--repair` rewrites those that differ (the
migration that adds the table, `ecopy migrate` and bulk fills use the same rebuild).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import numpy as np
from sqlalchemy import Connection, delete, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from storage.db.schema import dossiers, month_figures

# the note of the dossier `ecopy process` files a person's papers in: a batch, no citizen's
# request, so never counted in the figures
CLI_NOTE = "ecopy process"
VN = timezone(timedelta(hours=7))  # Vietnam keeps no summer time
INT32 = np.dtype("<i4")
INT64 = np.dtype("<i8")
SECOND = timedelta(seconds=1)
MICROSECOND = timedelta(microseconds=1)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def month_of(instant: datetime) -> str:
    """The Vietnam month ("2026-03") a dossier opened at ``instant`` counts in."""
    return f"{instant.astimezone(VN):%Y-%m}"


def month_bounds(month: str) -> tuple[datetime, datetime]:
    """The first instant of a Vietnam month and of the next one, in UTC."""
    year, mon = int(month[:4]), int(month[5:7])
    start = datetime(year, mon, 1, tzinfo=VN)
    end = datetime(year + mon // 12, mon % 12 + 1, 1, tzinfo=VN)
    return start.astimezone(UTC), end.astimezone(UTC)


def duration_seconds(opened_at: datetime, finished_at: datetime) -> int:
    """Whole seconds from receipt to finish: what a median of processing time is taken of."""
    return (finished_at - opened_at) // SECOND


def pack(values: Iterable[int], dtype: np.dtype = INT32) -> bytes:
    return np.sort(np.fromiter(values, dtype=dtype)).tobytes()


def unpack(blob: bytes | None, dtype: np.dtype = INT32) -> np.ndarray:
    return np.frombuffer(blob or b"", dtype=dtype)


def micros(instant: datetime) -> int:
    """Microseconds since 1970 (UTC): an instant as the month rows keep due times."""
    return (instant - EPOCH) // MICROSECOND


def overdue(open_due: bytes | None, as_of: datetime) -> int:
    """How many of a month row's open dossiers were due before ``as_of``."""
    return int(np.searchsorted(unpack(open_due, INT64), micros(as_of), side="left"))


def median(values: np.ndarray, *, already_sorted: bool = False) -> float | None:
    """The median as percentile_cont(0.5) gives it: the mean of the two middle values."""
    n = len(values)
    if not n:
        return None
    if not already_sorted:
        values = np.partition(values, sorted({(n - 1) // 2, n // 2}))
    return (int(values[(n - 1) // 2]) + int(values[n // 2])) / 2


def _facts(conn: Session | Connection, agency: str, month: str) -> dict[str, Any] | None:
    """The row's values computed from the commune month's dossiers (None: it has none)."""
    d = dossiers.c
    start, end = month_bounds(month)
    rows = conn.execute(select(d.opened_at, d.finished_at, d.due_at, d.working_hours,
                               d.channel, d.refusals)
                        .where(d.agency == agency, d.opened_at >= start, d.opened_at < end,
                               d.note != CLI_NOTE)).all()
    if not rows:
        return None
    finished = [r for r in rows if r.finished_at is not None]
    still_open = [r for r in rows if r.finished_at is None]
    refusals: Counter[str] = Counter()
    for r in rows:
        refusals.update(r.refusals or {})
    return {
        "agency": agency, "month": month, "received": len(rows),
        "finished_on_time": sum(1 for r in finished
                                if r.due_at is not None and r.finished_at <= r.due_at),
        "finished_late": sum(1 for r in finished
                             if r.due_at is not None and r.finished_at > r.due_at),
        "online": sum(1 for r in rows if r.channel == "online"),
        "seconds": pack(duration_seconds(r.opened_at, r.finished_at) for r in finished),
        "working": pack(int(r.working_hours or 0) for r in finished),
        # one due time per open dossier; one without (none is made so) is never overdue
        "open_due": pack((micros(r.due_at) if r.due_at is not None else 2**62
                          for r in still_open), INT64),
        "refusals": dict(sorted(refusals.items())),
    }


def _upsert(conn: Session | Connection, values: dict[str, Any]) -> None:
    insert = pg_insert if conn_dialect(conn) == "postgresql" else sqlite_insert
    stmt = insert(month_figures).values(**values)
    conn.execute(stmt.on_conflict_do_update(
        index_elements=["agency", "month"],
        set_={k: stmt.excluded[k] for k in values if k not in ("agency", "month")}))


def refresh_month(s: Session, agency: str, opened_at: datetime) -> None:
    """Recompute the row of the commune month a dossier opened at ``opened_at`` counts in;
    called in the transaction that changed one of its dossiers."""
    month = month_of(opened_at)
    key = (month_figures.c.agency == agency, month_figures.c.month == month)
    if conn_dialect(s) == "postgresql":
        # one writer of a commune month at a time: whoever waits reads the dossiers after
        # the other transaction committed (read committed: each statement sees the latest)
        s.execute(pg_insert(month_figures).values(
            agency=agency, month=month, received=0, finished_on_time=0, finished_late=0,
            online=0, seconds=b"", working=b"", open_due=b"", refusals={})
            .on_conflict_do_nothing())
        s.execute(select(month_figures.c.agency).where(*key).with_for_update())
    facts = _facts(s, agency, month)
    if facts is None:
        s.execute(delete(month_figures).where(*key))
    else:
        _upsert(s, facts)


def _months_with_dossiers(conn: Session | Connection) -> set[tuple[str, str]]:
    """Every (commune, Vietnam month) that received a dossier (Vietnam keeps no summer time:
    UTC + 7 hours on both engines)."""
    d = dossiers.c
    if conn_dialect(conn) == "postgresql":
        month = func.to_char(func.timezone("UTC", d.opened_at) + timedelta(hours=7), "YYYY-MM")
    else:
        month = func.strftime("%Y-%m", d.opened_at, "+7 hours")
    return {(agency, m) for agency, m in conn.execute(
        select(d.agency, month).where(d.note != CLI_NOTE).group_by(d.agency, month))}


def conn_dialect(conn: Session | Connection) -> str:
    return conn.get_bind().dialect.name if isinstance(conn, Session) else conn.dialect.name


def rebuild(conn: Session | Connection, *, repair: bool = True) -> list[tuple[str, str]]:
    """Compare every row with its dossiers: the (commune, month) pairs that differed, were
    missing or had no dossier left; with ``repair`` they are rewritten (or removed)."""
    wanted = _months_with_dossiers(conn)
    have = {(r.agency, r.month): r for r in conn.execute(select(month_figures))}
    stale = []
    for agency, month in sorted(wanted | set(have)):
        facts = _facts(conn, agency, month) if (agency, month) in wanted else None
        row = have.get((agency, month))
        if facts is None and row is None:
            continue
        if row is not None and facts is not None and all(
                _same(getattr(row, k), v) for k, v in facts.items()):
            continue
        stale.append((agency, month))
        if not repair:
            continue
        if facts is None:
            conn.execute(delete(month_figures).where(month_figures.c.agency == agency,
                                                     month_figures.c.month == month))
        else:
            _upsert(conn, facts)
    return stale


def _same(stored: Any, computed: Any) -> bool:
    if isinstance(computed, bytes):
        return bytes(stored or b"") == computed
    return stored == computed
