"""Per-commune performance figures (Res. 131/NQ-CP: processing is published and followed).

For the dossiers a commune received in a period: how many were finished on time or late
against the legal time limit (pipeline/procedures.py), how many are still open and how many of
those are already past due, the median processing time, the share submitted online and the
refused papers by reason code. One function (`compute_figures`) makes the numbers and one
(`CommuneFigures.row`) formats them, so the public page, the CSV and `ecopy figures` can never
disagree.

A dossier is finished when every one of its documents has reached a terminal status (filed,
certified, rejected or duplicate); it finished at the latest terminal time in those
documents' histories. A dossier without documents is not finished. The figures are a cohort:
every number is about the dossiers *received* in the period, as they stand at `as_of`.

Cost: one listing of `dossiers/` to find the communes, one listing and one read per dossier of
each commune (to know when it was received), and for each dossier in the period one listing
of its links plus two reads per document (the link and the record). Linear in the objects.
"""

from __future__ import annotations

import csv
import io
import re
import statistics
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from pipeline import adminunits
from pipeline.procedures import VN_TZ, WorkingCalendar, calendar, due_at, procedure
from pipeline.reasons import REFUSAL_GROUNDS
from storage.backends import ObjectStore
from storage.dossiers import AGENCY, Dossier, dossier_documents, list_dossiers
from storage.records import read_record

TERMINAL = frozenset({"filed", "certified", "rejected", "duplicate"})
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
class DossierOutcome:
    """What the figures need of one dossier; nothing personal."""

    agency: str
    received_at: datetime
    due_at: datetime
    finished_at: datetime | None
    online: bool
    refusals: tuple[str, ...]  # reason codes of its rejected documents


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


def _instant(text: str) -> datetime | None:
    try:
        value = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _terminal_time(record: dict) -> datetime | None:
    """When the document last reached a terminal status, if it stands in one now."""
    if record.get("status") not in TERMINAL:
        return None
    times = [_instant(h.get("at", "")) for h in record.get("history", [])
             if h.get("status") in TERMINAL]
    times = [t for t in times if t is not None]
    return max(times) if times else None


def dossier_outcome(store: ObjectStore, dossier: Dossier, as_of: datetime,
                    cal: WorkingCalendar) -> DossierOutcome | None:
    """None when the dossier's reception time cannot be read."""
    received = _instant(dossier.opened_at)
    if received is None:
        return None
    links = dossier_documents(store, dossier)
    finishes: list[datetime | None] = []
    refusals: list[str] = []
    pages = 0
    for link in links:
        record = read_record(store, link["sha256"]) or {}
        pages += int(record.get("pages") or 0)
        if record.get("status") == "rejected":
            ground = record.get("ground_code")  # an Art 22 refusal names its ground
            refusals.append(str(record.get("reason") or "unknown")
                            + (f":{ground}" if ground in REFUSAL_GROUNDS else ""))
        finished = _terminal_time(record)
        finishes.append(finished if finished is not None and finished <= as_of else None)
    finished_at = None
    if finishes and all(f is not None for f in finishes):
        # a paper already finished in another dossier before this one was opened (the same
        # scan brought twice) is done the moment it is received here, not before
        finished_at = max(received, *(f for f in finishes if f is not None))
    try:
        proc = procedure(dossier.procedure)
    except KeyError:
        proc = procedure("")  # an unknown code gets the default time limit (docs/figures.md)
    return DossierOutcome(dossier.agency, received, due_at(proc, received, len(links), pages, cal),
                          finished_at, dossier.channel == "online", tuple(sorted(refusals)))


def summarise(agency: str, outcomes: Iterable[DossierOutcome], cal: WorkingCalendar,
              as_of: datetime) -> CommuneFigures:
    outcomes = list(outcomes)
    done = [o for o in outcomes if o.finished_at is not None]
    on_time = sum(1 for o in done if o.finished_at <= o.due_at)
    still_open = [o for o in outcomes if o.finished_at is None]
    hours = [(o.finished_at - o.received_at).total_seconds() / 3600 for o in done]
    working = [cal.working_hours_between(o.received_at, o.finished_at) for o in done]
    counts = Counter(code for o in outcomes for code in o.refusals)
    unit = adminunits.commune(agency) if agency else None
    return CommuneFigures(
        agency=agency, commune_name=unit.full_name if unit else "",
        received=len(outcomes), finished_on_time=on_time, finished_late=len(done) - on_time,
        open=len(still_open), open_overdue=sum(1 for o in still_open if o.due_at < as_of),
        median_hours=round(statistics.median(hours), 2) if hours else None,
        median_working_hours=round(statistics.median(working), 2) if working else None,
        online=sum(1 for o in outcomes if o.online),
        refusals=tuple(sorted(counts.items(), key=lambda item: (-item[1], item[0]))))


def list_agencies(store: ObjectStore) -> list[str]:
    """Every commune that has opened a dossier (keys dossiers/<agency>/…)."""
    found = set()
    for key in store.list("dossiers/"):
        parts = key.split("/")
        if len(parts) > 2 and AGENCY.match(parts[1]):
            found.add(parts[1])
    return sorted(found)


def compute_figures(store: ObjectStore, period: Period, *, agency: str | None = None,
                    as_of: datetime | None = None,
                    cal: WorkingCalendar | None = None) -> Figures:
    """The figures of every commune (or of `agency` alone) for dossiers received in `period`,
    as they stand at `as_of` (now by default): what finished later is still open."""
    cal = cal or calendar()
    as_of = (as_of or datetime.now(UTC)).astimezone(UTC)
    agencies = [agency] if agency else list_agencies(store)
    per_commune, everything = [], []
    for code in agencies:
        outcomes = []
        for dossier in list_dossiers(store, code):
            received = _instant(dossier.opened_at)
            if received is None or received > as_of or not period.contains(received):
                continue
            outcome = dossier_outcome(store, dossier, as_of, cal)
            if outcome is not None:
                outcomes.append(outcome)
        everything.extend(outcomes)
        per_commune.append(summarise(code, outcomes, cal, as_of))
    last_day = period.end - timedelta(days=1)
    return Figures(period, as_of, tuple(per_commune), summarise("", everything, cal, as_of),
                   cal.covers(period.start, last_day))


def figures_csv(figures: Figures) -> bytes:
    """UTF-8 with a BOM (so Excel shows the diacritics), CRLF, one header row of stable English
    column names, one row per commune, then the province-wide row (agency "all")."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(figures.rows())
    return buf.getvalue().encode("utf-8-sig")
