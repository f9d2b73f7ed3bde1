"""Dossiers: a citizen's request at one commune office, with its public status code.

A dossier belongs to one commune (``agency``); every lookup by staff names that commune, so
another commune's dossier is indistinguishable from one that does not exist. The citizen's
status code is 10 characters of an alphabet without look-alikes (50 random bits).

The columns ``documents``, ``pages``, ``open_documents``, ``due_at``, ``finished_at``,
``working_hours``, ``rejected_documents`` and ``refusals`` are facts the public figures
aggregate; `refresh_progress` recomputes them
from the dossier's cases in the same transaction as every change of a case's status, so a
figure is one indexed aggregate and never a walk over history.
"""

from __future__ import annotations

import re
import secrets
import unicodedata
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storage.db.paging import Page, keyset, page_of, page_size
from storage.db.rollups import CLI_NOTE, refresh_month
from storage.db.schema import cases, dossiers
from storage.state import Deadlines

DOSSIER_ID = re.compile(r"^\d{8}-[0-9a-f]{8}$")  # yyyymmdd-random
AGENCY = re.compile(r"^\d{5}$")
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
PUBLIC_CODE = re.compile(f"^[{CODE_ALPHABET}]{{10}}$")
# statuses in which the office's work on a paper is done (figures, dossier progress)
TERMINAL = frozenset({"filed", "certified", "rejected"})


@dataclass(frozen=True)
class Dossier:
    dossier_id: str
    agency: str  # commune code of the office that opened it
    person_id: str  # 12-digit personal ID; "" when the citizen has none (name + birth date)
    person_name: str
    date_of_birth: str  # ISO date, "" when unknown
    opened_by: str
    opened_at: str  # ISO 8601 UTC
    note: str = ""
    public_code: str = ""
    # the administrative procedure (code in pipeline/data/procedures.json; "" = certifying
    # copies from originals) and how the dossier came in: "counter" (at the one-stop desk)
    # or "online" (submitted through the portal): both feed the per-commune figures
    procedure: str = ""
    channel: str = "counter"
    # set by `ecopy migrate` when a merger re-homed the dossier: the commune code it was
    # opened under (its register entries keep that code)
    former_agency: str = ""


_FIELDS = tuple(f.name for f in fields(Dossier))


def fold(text: str) -> str:
    """Lower case without tone marks ("đ" is "d"), single spaces: what name search compares."""
    text = unicodedata.normalize("NFD", text.casefold()).replace("đ", "d")
    text = "".join(c for c in text if not unicodedata.combining(c))
    return " ".join(text.split())


def folded_name(name: str) -> str:
    """The stored form: framed by spaces, so " hung" matches a word's start anywhere."""
    return f" {fold(name)} " if name.strip() else ""


def _dossier(row: Any) -> Dossier:
    values = {name: getattr(row, name) for name in _FIELDS}
    values["opened_at"] = row.opened_at.isoformat(timespec="seconds")
    values["public_code"] = row.public_code or ""
    return Dossier(**values)


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(10))


def open_dossier(s: Session, *, agency: str, person_id: str, person_name: str,
                 date_of_birth: str, opened_by: str, note: str = "", procedure: str = "",
                 channel: str = "counter", deadlines: Deadlines,
                 now: datetime | None = None, with_code: bool = True) -> Dossier:
    """A new dossier; ``with_code`` False for the batches `ecopy process` files (no citizen
    holds a receipt for them: no status code, no status events for the portal)."""
    if not AGENCY.match(agency):
        raise ValueError("bad commune code")
    now = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    while True:
        row = {"dossier_id": f"{now:%Y%m%d}-{secrets.token_hex(4)}", "agency": agency,
               "person_id": person_id, "person_name": person_name,
               "name_folded": folded_name(person_name), "date_of_birth": date_of_birth,
               "opened_by": opened_by, "opened_at": now, "note": note,
               "public_code": new_code() if with_code else None, "procedure": procedure,
               "channel": channel,
               "former_agency": "", "documents": 0, "pages": 0, "open_documents": 0,
               "due_at": deadlines.due_at(procedure, now, 0, 0)}
        try:
            with s.begin_nested():  # a taken id or code: draw again
                s.execute(insert(dossiers).values(**row))
        except IntegrityError:
            continue
        if note != CLI_NOTE:
            refresh_month(s, agency, now)
        return Dossier(**{k: row[k] for k in _FIELDS if k not in ("opened_at", "public_code")},
                       opened_at=now.isoformat(timespec="seconds"),
                       public_code=row["public_code"] or "")


def load_dossier(s: Session, agency: str, dossier_id: str) -> Dossier | None:
    """The agency's dossier; None for another agency's or a malformed id alike."""
    if not AGENCY.match(agency or "") or not DOSSIER_ID.match(dossier_id or ""):
        return None
    row = s.execute(select(dossiers).where(dossiers.c.dossier_id == dossier_id,
                                           dossiers.c.agency == agency)).first()
    return _dossier(row) if row else None


def dossier_by_id(s: Session, dossier_id: str) -> Dossier | None:
    """Any commune's dossier: for the pipeline and the once-only paths, never for a page."""
    row = s.execute(select(dossiers).where(dossiers.c.dossier_id == dossier_id)).first()
    return _dossier(row) if row else None


def dossier_by_code(s: Session, code: str) -> Dossier | None:
    """The dossier a public status code names (codes are case-insensitive for citizens)."""
    code = code.strip().upper()
    if not PUBLIC_CODE.match(code):
        return None
    row = s.execute(select(dossiers).where(dossiers.c.public_code == code)).first()
    return _dossier(row) if row else None


def list_dossiers(s: Session, agency: str, *, cursor: str = "", limit: int | None = None
                  ) -> Page[Dossier]:
    """The agency's dossiers, newest first."""
    size = page_size(limit)
    key = (dossiers.c.opened_at, dossiers.c.dossier_id)
    query = keyset(select(dossiers).where(dossiers.c.agency == agency), key, cursor,
                   (datetime, str), size, descending=True)
    rows, nxt = page_of(s.execute(query).all(), size, lambda r: (r.opened_at, r.dossier_id))
    return Page([_dossier(r) for r in rows], nxt)


def desk_dossier(s: Session, *, agency: str, person_id: str, person_name: str = "",
                 opened_by: str, deadlines: Deadlines) -> Dossier:
    """The dossier `ecopy process` files a person's papers in at this commune: the newest
    one it opened for them, else a new one (without a status code: see open_dossier). So
    running the same scans again finds them (duplicates), and a new request at the desk is a
    new dossier (`--new-dossier`)."""
    row = s.execute(
        select(dossiers).where(dossiers.c.agency == agency,
                               dossiers.c.person_id == person_id,
                               dossiers.c.note == CLI_NOTE)
        .order_by(dossiers.c.opened_at.desc(), dossiers.c.dossier_id.desc()).limit(1)).first()
    if row is not None:
        return _dossier(row)
    return open_dossier(s, agency=agency, person_id=person_id, person_name=person_name,
                        date_of_birth="", opened_by=opened_by, note=CLI_NOTE,
                        deadlines=deadlines, with_code=False)


def refresh_progress(s: Session, dossier_id: str, deadlines: Deadlines) -> None:
    """Recompute the figures' facts of one dossier from its cases (a handful of rows)."""
    row = s.execute(select(dossiers.c.procedure, dossiers.c.opened_at, dossiers.c.agency,
                           dossiers.c.note)
                    .where(dossiers.c.dossier_id == dossier_id)).first()
    if row is None:
        return
    terminal = cases.c.status.in_(TERMINAL)
    counts = s.execute(
        select(func.count(), func.coalesce(func.sum(cases.c.pages), 0),
               func.count().filter(~terminal), func.max(cases.c.status_at).filter(terminal))
        .where(cases.c.dossier_id == dossier_id)).one()
    documents, pages, still_open, last_terminal = counts
    finished = None
    if documents and not still_open and last_terminal is not None:
        if last_terminal.tzinfo is None:  # aggregates come back without the column's type
            last_terminal = datetime.fromisoformat(str(last_terminal)).replace(tzinfo=UTC)
        finished = max(row.opened_at, last_terminal)
    hours = round(deadlines.working_hours(row.opened_at, finished) * 1000) if finished else None
    refusals = refusals_of(s, dossier_id)
    s.execute(update(dossiers).where(dossiers.c.dossier_id == dossier_id).values(
        documents=documents, pages=int(pages), open_documents=still_open,
        due_at=deadlines.due_at(row.procedure, row.opened_at, documents, int(pages)),
        finished_at=finished, working_hours=hours,
        rejected_documents=sum(refusals.values()), refusals=refusals))
    if row.note != CLI_NOTE:
        refresh_month(s, row.agency, row.opened_at)


def refusals_of(s: Session, dossier_id: str) -> dict[str, int]:
    """{"<reason>:<ground code>": count} of the dossier's rejected papers."""
    found = s.execute(select(cases.c.reason, cases.c.ground_code, func.count())
                      .where(cases.c.dossier_id == dossier_id, cases.c.status == "rejected")
                      .group_by(cases.c.reason, cases.c.ground_code))
    return {f"{reason}:{ground}": n for reason, ground, n in found}
