"""Administrative procedures and their legal time limits, counted in Vietnamese working days.

Time limits are data (pipeline/data/procedures.json, holidays in holidays_vn.json), because the
law names them per procedure and the Government announces holidays and swapped days each year:
an operator updates a JSON file, not code. The rule for certifying copies from originals
(Decree 23/2015 Art 7 and Art 21(4)): finished the working day the request was received, or
the next working day when it came in after 15:00; a bulk request (many papers or many pages
at once) may take up to 2 more working days. A due time is the end of that working day
(office_hours.end, 17:00 Vietnam time). Vietnam keeps UTC+7 all year (no daylight saving),
so a fixed offset is exact and needs no time-zone database.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from importlib import resources

from pipeline.vn.tz import VN_TZ

PROCEDURES_FILE = "procedures.json"
HOLIDAYS_FILE = "holidays_vn.json"
_WEEKDAYS = frozenset(range(5))  # Mon-Fri: state agencies do not work on Saturdays


@dataclass(frozen=True)
class TimeLimit:
    """How long a procedure may take, in working days after the day the clock starts."""

    working_days: int  # 0: the same working day
    cutoff: time  # received after this (local time) → the clock starts the next working day
    bulk_extra_working_days: int
    bulk_min_documents: int  # a request with at least this many papers is bulk …
    bulk_min_pages: int  # … or with at least this many pages in all


@dataclass(frozen=True)
class Procedure:
    code: str
    name_vi: str
    name_en: str
    legal_basis: str
    time_limit: TimeLimit

    def name(self, lang: str = "vi") -> str:
        return self.name_en if lang == "en" else self.name_vi

    def is_bulk(self, documents: int, pages: int) -> bool:
        limit = self.time_limit
        return documents >= limit.bulk_min_documents or pages >= limit.bulk_min_pages


@dataclass(frozen=True)
class WorkingCalendar:
    """Mon-Fri minus the listed days off, plus the listed make-up Saturdays."""

    days_off: frozenset[date]
    extra_working_days: frozenset[date]
    day_start: time
    day_end: time
    first_year: int
    last_year: int

    def is_working_day(self, day: date) -> bool:
        if day in self.extra_working_days:
            return True
        return day.weekday() in _WEEKDAYS and day not in self.days_off

    def next_working_day(self, day: date) -> date:
        day += timedelta(days=1)
        while not self.is_working_day(day):
            day += timedelta(days=1)
        return day

    def covers(self, start: date, end: date) -> bool:
        """Are the holidays of every year from start to end (inclusive) known?"""
        return self.first_year <= start.year and end.year <= self.last_year

    def end_of(self, day: date) -> datetime:
        return datetime.combine(day, self.day_end, VN_TZ)

    def working_hours_between(self, start: datetime, end: datetime) -> float:
        """Hours of office time (day_start-day_end on working days) between two instants.

        Walks day by day: the cost is the number of calendar days spanned, which is bounded
        by how long a dossier stays open, so a figure run stays linear in dossiers."""
        start, end = start.astimezone(VN_TZ), end.astimezone(VN_TZ)
        if end <= start:
            return 0.0
        seconds = 0.0
        day = start.date()
        while day <= end.date():
            if self.is_working_day(day):
                opens = datetime.combine(day, self.day_start, VN_TZ)
                closes = datetime.combine(day, self.day_end, VN_TZ)
                overlap = (min(closes, end) - max(opens, start)).total_seconds()
                seconds += max(0.0, overlap)
            day += timedelta(days=1)
        return seconds / 3600


def _hhmm(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def _data(name: str) -> dict:
    return json.loads(resources.files("pipeline.data").joinpath(name).read_text("utf-8"))


@cache
def _catalogue() -> tuple[str, dict[str, Procedure]]:
    raw = _data(PROCEDURES_FILE)
    found = {}
    for entry in raw["procedures"]:
        tl = entry["time_limit"]
        found[entry["code"]] = Procedure(
            entry["code"], entry["name_vi"], entry["name_en"], entry.get("legal_basis", ""),
            TimeLimit(int(tl["working_days"]), _hhmm(tl["cutoff"]),
                      int(tl["bulk_extra_working_days"]), int(tl["bulk_min_documents"]),
                      int(tl["bulk_min_pages"])))
    if raw["default_procedure"] not in found:
        raise ValueError(f"{PROCEDURES_FILE}: the default procedure is not listed")
    return raw["default_procedure"], found


def procedures() -> dict[str, Procedure]:
    """Every procedure with a time limit, by code."""
    return dict(_catalogue()[1])


def procedure(code: str = "") -> Procedure:
    """The procedure a dossier names; "" is the default (certifying copies from originals).

    Raises KeyError for a code that is not in the data file."""
    default, found = _catalogue()
    return found[code or default]


@cache
def calendar() -> WorkingCalendar:
    """The working calendar of state agencies, from holidays_vn.json and procedures.json."""
    raw, hours = _data(HOLIDAYS_FILE), _data(PROCEDURES_FILE)["office_hours"]
    first, last = raw["years"]
    return WorkingCalendar(
        frozenset(date.fromisoformat(d["date"]) for d in raw["days_off"]),
        frozenset(date.fromisoformat(d["date"]) for d in raw["working_saturdays"]),
        _hhmm(hours["start"]), _hhmm(hours["end"]), int(first), int(last))


def due_at(proc: Procedure | str, received_at: datetime, documents: int, pages: int,
           cal: WorkingCalendar | None = None) -> datetime:
    """When a request received at `received_at` must be finished (Vietnam time, aware).

    The clock starts on the day of receipt, or on the next working day when the request came
    in after the cutoff or on a day the office is closed (e.g. an online request on a
    Sunday); `working_days` more days follow, plus the bulk extension when the request is
    bulk; the limit ends at the close of that day. Naive datetimes are taken as UTC, the way
    the store records times."""
    proc = procedure(proc) if isinstance(proc, str) else proc
    cal = cal or calendar()
    if received_at.tzinfo is None:
        received_at = received_at.replace(tzinfo=UTC)
    local = received_at.astimezone(VN_TZ)
    day = local.date()
    limit = proc.time_limit
    if not cal.is_working_day(day) or local.time() > limit.cutoff:
        day = cal.next_working_day(day)
    extra = limit.bulk_extra_working_days if proc.is_bulk(documents, pages) else 0
    for _ in range(limit.working_days + extra):
        day = cal.next_working_day(day)
    return cal.end_of(day)
