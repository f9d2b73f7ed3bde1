"""Which communes a commune succeeded after the 2025 mergers (Decision 19/2025/QĐ-TTg).

Register books and e-copies keep the commune code they were certified under (the signed copy
carries it), so after `ecopy migrate` they stay under the old code. These rows are how the new
commune's staff reach them: the register and warehouse pages show the user's own commune and
every predecessor. Rows are only ever added (a merge adds predecessors, never removes one);
`ecopy migrate` writes them with the store's record of the migration (storage.migration).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storage.db.schema import successions

AGENCY = re.compile(r"^\d{5}$")


def add_predecessor(s: Session, agency: str, predecessor: str, data: dict[str, Any]) -> bool:
    if not AGENCY.match(agency) or not AGENCY.match(predecessor) or agency == predecessor:
        raise ValueError("bad commune code")
    try:
        with s.begin_nested():
            s.execute(insert(successions).values(agency=agency, predecessor=predecessor,
                                                 recorded_at=datetime.now(UTC), data=data))
    except IntegrityError:
        return False
    return True


def predecessors(s: Session, agency: str) -> list[str]:
    """Codes of the communes `agency` took over, in the order they were recorded."""
    if not AGENCY.match(agency or ""):
        return []
    return list(s.execute(select(successions.c.predecessor)
                          .where(successions.c.agency == agency)
                          .order_by(successions.c.recorded_at, successions.c.predecessor))
                .scalars())


def visible_agencies(s: Session, agency: str) -> tuple[str, ...]:
    """The commune codes whose books and copies `agency`'s staff may see: its own first."""
    return (agency, *predecessors(s, agency))


def successor_of(s: Session, agency: str) -> str:
    """The commune that took `agency` over, or `agency` itself: where something addressed to
    a former commune (a complaint about one of its copies) belongs today."""
    found = s.execute(select(successions.c.agency)
                      .where(successions.c.predecessor == agency).limit(1)).scalar()
    return found or agency
