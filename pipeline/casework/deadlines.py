"""The legal time limits of dossiers as storage needs them (storage.state.Deadlines)."""

from __future__ import annotations

from datetime import UTC, datetime

from pipeline.casework.procedures import WorkingCalendar, calendar, due_at, procedure
from storage.backends import ObjectStore
from storage.db import Database
from storage.state import State


class ProcedureDeadlines:
    """Due times by procedure (pipeline/data/procedures.json) on the working calendar of
    state agencies; an unknown procedure code gets the default time limit."""

    def __init__(self, cal: WorkingCalendar | None = None) -> None:
        self.cal = cal or calendar()

    def due_at(self, procedure_code: str, received_at: datetime, documents: int,
               pages: int) -> datetime:
        try:
            proc = procedure(procedure_code)
        except KeyError:
            proc = procedure("")
        return due_at(proc, received_at, documents, pages, self.cal).astimezone(UTC)

    def working_hours(self, start: datetime, end: datetime) -> float:
        return self.cal.working_hours_between(start, end)


def state_of(store: ObjectStore, db: Database) -> State:
    """Evidence, working state and the procedures' time limits, as every step takes them."""
    return State(store, db, ProcedureDeadlines())
