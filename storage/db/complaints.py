"""Complaints and their events (the rules are in pipeline.casework.complaints).

A complaint's events are numbered 1, 2, ...; appending one is a compare-and-set on the
complaint's event count, so two staff members acting at the same moment never both succeed
on the same history: the loser re-reads and is refused if the step no longer applies.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storage.db.paging import Page, keyset, page_of, page_size
from storage.db.schema import complaint_events, complaints

FIELDS = ("complaint_id", "public_code", "agency", "kind", "target_type", "target", "filer",
          "name", "organisation", "phone", "email", "address", "text", "created_at",
          "dossier_id")


def insert_complaint(s: Session, values: dict[str, Any]) -> bool:
    """False when the id or the follow-up code is taken (draw again)."""
    try:
        with s.begin_nested():
            s.execute(insert(complaints).values(**values, events=0))
    except IntegrityError:
        return False
    return True


def complaint_row(s: Session, agency: str, complaint_id: str) -> Any:
    return s.execute(select(complaints).where(complaints.c.agency == agency,
                                              complaints.c.complaint_id == complaint_id)
                     ).first()


def complaint_by_code(s: Session, code: str) -> Any:
    return s.execute(select(complaints).where(complaints.c.public_code == code)).first()


def complaint_page(s: Session, agency: str | None, *, cursor: str = "",
                   limit: int | None = None) -> Page[Any]:
    """The complaints of one commune (all communes when None): open ones first, the one due
    soonest first (so the overdue lead), then closed ones."""
    size = page_size(limit)
    query = select(complaints)
    if agency is not None:
        query = query.where(complaints.c.agency == agency)
    key = (complaints.c.closed, complaints.c.due, complaints.c.complaint_id)
    rows, nxt = page_of(s.execute(keyset(query, key, cursor, (bool, str, str), size)).all(),
                        size, lambda r: (r.closed, r.due, r.complaint_id))
    return Page(rows, nxt)


def event_rows(s: Session, complaint_id: str) -> list[Any]:
    return list(s.execute(select(complaint_events)
                          .where(complaint_events.c.complaint_id == complaint_id)
                          .order_by(complaint_events.c.seq)))


def append_event(s: Session, complaint_id: str, seen: int, values: dict[str, Any], *,
                 closed: bool, due: str) -> bool:
    """Add event number ``seen + 1`` if the complaint still has ``seen`` events, with where
    the complaint stands after it."""
    done = s.execute(update(complaints).where(complaints.c.complaint_id == complaint_id,
                                              complaints.c.events == seen)
                     .values(events=seen + 1, closed=closed, due=due))
    if done.rowcount != 1:
        return False
    try:
        with s.begin_nested():
            s.execute(insert(complaint_events).values(complaint_id=complaint_id,
                                                      seq=seen + 1, **values))
    except IntegrityError:
        return False
    return True
