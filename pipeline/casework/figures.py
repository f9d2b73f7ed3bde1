"""Per-commune performance figures (Res. 131/NQ-CP: processing is published and followed).

For the dossiers a commune received in a period: how many were finished on time or late
against the legal time limit (pipeline/casework/procedures.py), how many are still open and
how many of
those are already past due, the median processing time, the share submitted online and the
refused papers by reason code. One function (`compute_figures`) makes the numbers and one
(`CommuneFigures.row`) formats them, so the public page, the CSV and `ecopy figures` can never
disagree.

Only requests count: the dossiers `ecopy process` and `ecopy submit` file back-office
batches in (storage.db.dossiers.CLI_NOTE) are no citizen's request and are left out.

A dossier is finished when every one of its documents has reached a terminal status (filed,
certified or rejected); it finished at the latest of those times. A dossier without documents
is not finished. The figures are a cohort: every number is about the dossiers *received* in
the period, as they stand at `as_of`.

Cost. The figures of now over whole months read one row per commune and month and nothing
else (storage.db.rollups: counts, refused papers by reason, the finished dossiers' durations
as sorted arrays, so medians are exact, and the open dossiers' due times): a province month
costs the same with a year of history or ten. Each dossier row
carries its due time, finish time and working hours, kept current with every status change
of its cases (storage.db.dossiers.refresh_progress), which also rewrites its month row: the
legal arithmetic on the working calendar happens once per change, not once per figure.
Figures as of a past time or over a range of days aggregate the period's dossiers (index on
opened_at): percentile_cont on PostgreSQL; SQLite, which has none, gets the durations and
takes the medians here. Durations are whole seconds on every road, so the roads agree.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import numpy as np
from sqlalchemy import Float, and_, case, cast, extract, func, select, text
from sqlalchemy.orm import Session

from pipeline.casework.procedures import VN_TZ, WorkingCalendar, calendar
from pipeline.csvcells import safe_cell
from pipeline.reasons import REFUSAL_GROUNDS
from pipeline.vn import adminunits
from storage.db import Database, rollups
from storage.db.rollups import CLI_NOTE
from storage.db.schema import dossiers, month_figures

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_YEAR = re.compile(r"^\d{4}$")
CSV_COLUMNS = ("period", "agency", "commune_name", "received", "finished_on_time",
               "finished_late", "on_time_pct", "open", "open_overdue", "median_hours",
               "median_working_hours", "online", "online_share_pct", "refused_documents",
               "refusals_by_reason")
TOTAL_AGENCY = "all"  # the agency column of the province-wide row in the CSV


class PeriodError(ValueError):
    """A period the caller wrote wrongly (month 2026-13, year 99, from after to)."""


@dataclass(frozen=True)
class Period:
    """Local (Vietnam) calendar dates: start inclusive, end exclusive."""

    start: date
    end: date
    label: str  # "2026-11", "2026" or "2026-01-01..2026-03-31"
    kind: str = "range"  # "month" | "year" | "range"

    @classmethod
    def month(cls, text: str) -> Period:
        m = _MONTH.match(text.strip())
        if not m or not 1 <= int(m[2]) <= 12 or not 2000 <= int(m[1]) <= 2100:
            raise PeriodError(f"month {text!r}: write YYYY-MM")
        start = date(int(m[1]), int(m[2]), 1)
        end = (start + timedelta(days=32)).replace(day=1)
        return cls(start, end, f"{start:%Y-%m}", "month")

    @classmethod
    def year(cls, text: str | int) -> Period:
        text = str(text).strip()
        if not _YEAR.match(text) or not 2000 <= int(text) <= 2100:
            raise PeriodError(f"year {text!r}: write YYYY")
        return cls(date(int(text), 1, 1), date(int(text) + 1, 1, 1), text, "year")

    @classmethod
    def between(cls, first: str, last: str) -> Period:
        """From `first` to `last`, both days included (ISO dates)."""
        try:
            start, end = date.fromisoformat(first), date.fromisoformat(last)
        except ValueError as exc:
            raise PeriodError(f"dates {first!r}..{last!r}: write YYYY-MM-DD") from exc
        if end < start or (end - start).days > 3660:
            raise PeriodError(f"dates {first!r}..{last!r}: from must not be after to "
                              "and the span at most ten years")
        return cls(start, end + timedelta(days=1), f"{start}..{end}")

    def contains(self, instant: datetime) -> bool:
        return self.start <= instant.astimezone(VN_TZ).date() < self.end


def parse_period(*, month: str | None = None, year: str | None = None,
                 first: str | None = None, last: str | None = None,
                 today: date | None = None) -> Period:
    """The period a user asked for; the current month (Vietnam time) when none."""
    if first or last:
        return Period.between(first or "", last or "")
    if year and not month:
        return Period.year(year)
    if month:
        return Period.month(month)
    today = today or datetime.now(VN_TZ).date()
    return Period.month(f"{today:%Y-%m}")


@dataclass(frozen=True)
class CommuneFigures:
    agency: str  # "" for the province-wide total
    commune_name: str
    received: int
    finished_on_time: int
    finished_late: int
    open: int
    open_overdue: int
    median_hours: float | None
    median_working_hours: float | None
    online: int
    refusals: tuple[tuple[str, int], ...]  # (reason code, documents), most frequent first

    @property
    def refused_documents(self) -> int:
        return sum(n for _, n in self.refusals)

    def row(self, period: Period) -> dict[str, str | int | float | None]:
        """The published values under the CSV column names; the page shows the same (None:
        nothing to measure, an empty CSV cell)."""
        finished = self.finished_on_time + self.finished_late
        return {
            "period": period.label,
            "agency": self.agency or TOTAL_AGENCY,
            "commune_name": self.commune_name,
            "received": self.received,
            "finished_on_time": self.finished_on_time,
            "finished_late": self.finished_late,
            "on_time_pct": _pct(self.finished_on_time, finished),
            "open": self.open,
            "open_overdue": self.open_overdue,
            "median_hours": self.median_hours,
            "median_working_hours": self.median_working_hours,
            "online": self.online,
            "online_share_pct": _pct(self.online, self.received),
            "refused_documents": self.refused_documents,
            "refusals_by_reason": ";".join(f"{code}={n}" for code, n in self.refusals),
        }


@dataclass(frozen=True)
class Figures:
    period: Period
    as_of: datetime
    communes: tuple[CommuneFigures, ...]
    total: CommuneFigures
    calendar_complete: bool  # False: the holidays of some year of the period are not known

    def rows(self) -> list[dict[str, str | int | float | None]]:
        return [c.row(self.period) for c in self.communes] + [self.total.row(self.period)]

    def to_json(self) -> dict:
        return {"period": self.period.label, "from": self.period.start.isoformat(),
                "to": (self.period.end - timedelta(days=1)).isoformat(),
                "as_of": self.as_of.isoformat(timespec="seconds"),
                "calendar_complete": self.calendar_complete, "rows": self.rows()}


def _pct(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def _utc(day: date) -> datetime:
    """The start of a Vietnamese calendar day, in UTC."""
    return datetime.combine(day, time.min, VN_TZ).astimezone(UTC)


def _commune(agency: str, counts: Any, refusals: Counter[str],
             medians: tuple[float | None, float | None]) -> CommuneFigures:
    unit = adminunits.commune(agency) if agency else None
    received, on_time, late, still_open, overdue, online = (int(x or 0) for x in counts)
    return CommuneFigures(
        agency=agency, commune_name=unit.full_name if unit else "", received=received,
        finished_on_time=on_time, finished_late=late, open=still_open, open_overdue=overdue,
        median_hours=medians[0], median_working_hours=medians[1], online=online,
        refusals=tuple(sorted(refusals.items(), key=lambda item: (-item[1], item[0]))))


def compute_figures(db: Database, period: Period, *, agency: str | None = None,
                    as_of: datetime | None = None, cal: WorkingCalendar | None = None,
                    exact: bool = False) -> Figures:
    """The figures of every commune (or of `agency` alone) for dossiers received in `period`,
    as they stand at `as_of` (now by default): what finished later is still open.

    Now, over whole months, everything comes from the month rows (storage.db.rollups); as
    of another time, over a range of days, or with ``exact``, from the dossiers themselves.
    Both give the same numbers (tests/test_figures_rollup.py)."""
    cal = cal or calendar()
    current = as_of is None and not exact and period.kind in ("month", "year")
    as_of = (as_of or datetime.now(UTC)).astimezone(UTC)
    with db.read() as s:
        agencies = [agency] if agency else communes_with_dossiers(s)
        if current:
            rows, medians, refusals = _from_month_rows(s, period, agency, as_of)
        else:
            rows, medians, refusals = _from_dossiers(db, s, period, agency, as_of)
    totals = [sum(int(row[i] or 0) for row in rows.values()) for i in range(6)]
    per_commune = tuple(_commune(code, rows.get(code, (0,) * 6), refusals.get(code, Counter()),
                                 medians.get(code, (None, None))) for code in agencies)
    everything: Counter[str] = Counter()
    for counter in refusals.values():
        everything.update(counter)
    last_day = period.end - timedelta(days=1)
    return Figures(period, as_of, per_commune,
                   _commune("", totals, everything, medians.get("", (None, None))),
                   cal.covers(period.start, last_day))


_Found = tuple[dict[str, tuple[Any, ...]], dict[str, tuple[float | None, float | None]],
               dict[str, Counter[str]]]


def _add_refusals(counter: Counter[str], kept: dict[str, int] | None) -> None:
    """Count a dossier's or a month row's refusals ({"<reason>:<ground>": n}) as published:
    the ground only when it is one of Art 22's."""
    for key, n in (kept or {}).items():
        reason, _, ground = key.partition(":")
        counter[(reason or "unknown") + (f":{ground}" if ground in REFUSAL_GROUNDS else "")] += n


def _medians(seconds: np.ndarray, working: np.ndarray, *, already_sorted: bool = False,
             ) -> tuple[float | None, float | None]:
    """(median hours, median working hours) of whole-second durations and working hours
    x 1000, rounded as published."""
    hours = rollups.median(seconds, already_sorted=already_sorted)
    work = rollups.median(working, already_sorted=already_sorted)
    return (_round(hours / 3600) if hours is not None else None,
            _round(work / 1000) if work is not None else None)


def _months(period: Period) -> list[str]:
    months, day = [], period.start.replace(day=1)
    while day < period.end:
        months.append(f"{day:%Y-%m}")
        day = (day + timedelta(days=32)).replace(day=1)
    return months


def _from_month_rows(s: Session, period: Period, agency: str | None, as_of: datetime) -> _Found:
    """Now: the month rows of the period alone (open and overdue from their due times)."""
    m = month_figures.c
    per: dict[str, list[Any]] = {}
    for r in s.execute(select(m).where(m.month.in_(_months(period)),
                                       *([m.agency == agency] if agency else []))):
        per.setdefault(r.agency, []).append(r)
    rows, medians, refusals = {}, {}, {}
    everyone: tuple[list[np.ndarray], list[np.ndarray]] = ([], [])
    for code, months in per.items():
        rows[code] = (sum(r.received for r in months), sum(r.finished_on_time for r in months),
                      sum(r.finished_late for r in months),
                      sum(len(r.open_due) // rollups.INT64.itemsize for r in months),
                      sum(rollups.overdue(r.open_due, as_of) for r in months),
                      sum(r.online for r in months))
        seconds = [rollups.unpack(r.seconds) for r in months]
        working = [rollups.unpack(r.working) for r in months]
        everyone[0].extend(seconds)
        everyone[1].extend(working)
        one = len(months) == 1
        medians[code] = _medians(seconds[0] if one else np.concatenate(seconds),
                                 working[0] if one else np.concatenate(working),
                                 already_sorted=one)
        counter: Counter[str] = Counter()
        for r in months:
            _add_refusals(counter, r.refusals)
        if counter:
            refusals[code] = counter
    empty = np.empty(0, dtype=rollups.INT32)
    medians[""] = _medians(np.concatenate(everyone[0]) if everyone[0] else empty,
                           np.concatenate(everyone[1]) if everyone[1] else empty)
    return rows, medians, refusals


def _from_dossiers(db: Database, s: Session, period: Period, agency: str | None,
                   as_of: datetime) -> _Found:
    """As of any time: aggregates over the period's dossiers (index on opened_at)."""
    d = dossiers.c
    cohort = [d.opened_at >= _utc(period.start), d.opened_at < _utc(period.end),
              d.opened_at <= as_of, d.note != CLI_NOTE,  # batches of `ecopy process`
              *([d.agency == agency] if agency else [])]
    finished = and_(d.finished_at.is_not(None), d.finished_at <= as_of)
    counts = (func.count(), func.count().filter(and_(finished, d.finished_at <= d.due_at)),
              func.count().filter(and_(finished, d.finished_at > d.due_at)),
              func.count().filter(~finished),
              func.count().filter(and_(~finished, d.due_at < as_of)),
              func.count().filter(d.channel == "online"))
    rows, medians = _aggregates(db, s, cohort, counts, finished)
    refusals: dict[str, Counter[str]] = {}
    for code, kept in s.execute(select(d.agency, d.refusals)
                                .where(*cohort, d.rejected_documents > 0)):
        _add_refusals(refusals.setdefault(code, Counter()), kept)
    return rows, medians, refusals


def communes_with_dossiers(s: Session) -> list[str]:
    """Every commune code that has a dossier, in order: one index probe per commune (a
    recursive walk of the agency index), not a scan of every dossier."""
    return list(s.execute(text(
        "WITH RECURSIVE communes(code) AS ("
        " SELECT min(agency) FROM dossiers"
        " UNION ALL"
        " SELECT (SELECT min(agency) FROM dossiers WHERE agency > communes.code)"
        " FROM communes WHERE communes.code IS NOT NULL)"
        " SELECT code FROM communes WHERE code IS NOT NULL")).scalars())


def _aggregates(db: Database, s: Session, cohort: list[Any], counts: tuple[Any, ...],
                finished: Any,
                ) -> tuple[dict[str, tuple[Any, ...]], dict[str, tuple[float | None, ...]]]:
    """The counts per commune, and (median hours, median working hours) per commune and for
    all of them (""), of whole-second durations as the month rows keep them. PostgreSQL: one
    pass, per commune and overall (ROLLUP); SQLite, which has no percentile, gets the
    finished dossiers' times and takes the medians here."""
    d = dossiers.c
    if db.dialect == "postgresql":
        # a province month is tens of thousands of rows, sorted per commune for the medians:
        # in memory rather than in temporary files (this transaction only)
        s.execute(text("SET LOCAL work_mem = '64MB'"))
        seconds = case((finished, func.floor(extract("epoch", d.finished_at - d.opened_at))))
        working = case((finished, cast(d.working_hours, Float)))
        pair = (func.percentile_cont(0.5).within_group(seconds),
                func.percentile_cont(0.5).within_group(working))
        rows, medians = {}, {}
        for r in s.execute(select(d.agency, func.grouping(d.agency), *counts, *pair)
                           .where(*cohort).group_by(func.rollup(d.agency))):
            code = "" if r[1] else r[0]
            if code:
                rows[code] = tuple(r[2:2 + len(counts)])
            medians[code] = (_round(r[-2] / 3600) if r[-2] is not None else None,
                             _round(r[-1] / 1000) if r[-1] is not None else None)
        return rows, medians
    rows = {r[0]: tuple(r[1:]) for r in s.execute(select(d.agency, *counts).where(*cohort)
                                                   .group_by(d.agency))}
    found: dict[str, tuple[list[int], list[int]]] = {"": ([], [])}
    for code, opened, done, hours in s.execute(
            select(d.agency, d.opened_at, d.finished_at, d.working_hours)
            .where(*cohort, finished)):
        for key in (code, ""):
            lists = found.setdefault(key, ([], []))
            lists[0].append(rollups.duration_seconds(opened, done))
            lists[1].append(int(hours or 0))
    return rows, {code: _medians(np.array(h, dtype=rollups.INT32),
                                 np.array(w, dtype=rollups.INT32))
                  for code, (h, w) in found.items()}


def _round(value: Any) -> float | None:
    return round(float(value), 2) if value is not None else None


def figures_csv(figures: Figures) -> bytes:
    """UTF-8 with a BOM (so Excel shows the diacritics), CRLF, one header row of stable English
    column names, one row per commune, then the province-wide row (agency "all")."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows({k: safe_cell(v) for k, v in row.items()} for row in figures.rows())
    return buf.getvalue().encode("utf-8-sig")
