"""The two kinds of state a step works on, handed down together (architecture.md).

``store`` holds the evidence (write-once objects), ``db`` the working state (a transactional
database), and ``deadlines`` is how a dossier's legal due time and working hours are counted
(pipeline.casework.procedures provides it: storage never imports the pipeline). The shell builds one
State per process and passes it to every step.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from storage.backends import ObjectStore
from storage.db import Database


class Deadlines(Protocol):
    """The legal time limit of a dossier, counted on the working calendar.

    MUST be a pure function of its arguments (the figures compare stored due times)."""

    def due_at(self, procedure: str, received_at: datetime, documents: int, pages: int
               ) -> datetime: ...

    def working_hours(self, start: datetime, end: datetime) -> float: ...


@dataclass(frozen=True)
class State:
    store: ObjectStore
    db: Database
    deadlines: Deadlines
