"""Staff search over dossiers and their cases.

One row per case (a dossier without cases is one row of its own) matching every criterion
given: personal ID, name with or without tone marks (each word of the query must start a word
of the name: "nguyen van hung" and "Hùng" both find "Nguyễn Văn Hùng"), dossier code, copy id,
register number, the dossier's opening dates, document type, status. Newest dossier first,
a page at a time. The caller's communes bound it (``agencies``; None only for roles that
oversee a province).

Name matching runs on the folded name column. On PostgreSQL a search within communes asks the
text-search index of each name's words prefixed with its commune (schema.name_words: it
reads only those communes' words, however common "nguyen" is in the province), a search over
every commune the pg_trgm index; the LIKE patterns then decide. On SQLite the commune's rows
are filtered in place (an embedded deployment is one commune's).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, literal, literal_column, or_, select
from sqlalchemy.orm import Session

from storage.db.dossiers import PUBLIC_CODE, fold
from storage.db.paging import Page, keyset, page_of, page_size
from storage.db.rollups import VN
from storage.db.schema import cases, dossiers, name_words

MAX_WORDS = 6
_ID12 = re.compile(r"^\d{12}$")
_HEX32 = re.compile(r"^[0-9a-f]{32}$")
_NUMBER = re.compile(r"^\d{1,6}$")


@dataclass(frozen=True)
class SearchQuery:
    text: str = ""  # free text: recognised as an ID, a code, a copy id, a number or a name
    person_id: str = ""
    name: str = ""
    dossier_code: str = ""
    copy_id: str = ""
    register_number: int | None = None
    opened_from: date | None = None
    opened_to: date | None = None  # inclusive
    doc_type: str = ""
    status: str = ""

    def resolved(self) -> SearchQuery:
        """The free text sorted into the field it names."""
        text = " ".join(self.text.split())
        if not text:
            return self
        values = dict(self.__dict__, text="")
        compact = text.replace(" ", "")
        if _ID12.match(compact):
            values["person_id"] = compact
        elif PUBLIC_CODE.match(compact.upper()) and (" " not in text or not compact.isalpha()):
            # a code is typed as one word; "le thu quynh" is ten letters of the code's
            # alphabet too, but a name has spaces (and no Vietnamese word has ten letters)
            values["dossier_code"] = compact.upper()
        elif _HEX32.match(compact.lower()):
            values["copy_id"] = compact.lower()
        elif _NUMBER.match(compact):
            values["register_number"] = int(compact)
        else:
            values["name"] = text
        return SearchQuery(**values)

    def empty(self) -> bool:
        q = self.resolved()
        return not any((q.person_id, q.name, q.dossier_code, q.copy_id,
                        q.register_number is not None, q.opened_from, q.opened_to,
                        q.doc_type, q.status))


@dataclass(frozen=True)
class Hit:
    dossier_id: str
    agency: str
    public_code: str
    person_id: str
    person_name: str
    opened_at: datetime
    case_id: str  # "" for a dossier without documents
    name: str
    status: str
    doc_type: str
    document_name: str
    copy_id: str
    register_number: int | None


def name_patterns(name: str) -> list[str]:
    """LIKE patterns, one per word: the word starts a word of the folded name."""
    words = [w for w in re.split(r"[^0-9a-z]+", fold(name)) if w][:MAX_WORDS]
    return [f"% {w.replace('%', '').replace('_', '')}%" for w in words]


def _utc(day: date) -> datetime:
    return datetime.combine(day, time.min, VN).astimezone(UTC)


def search(s: Session, query: SearchQuery, *, agencies: Sequence[str] | None,
           cursor: str = "", limit: int | None = None) -> Page[Hit]:
    q = query.resolved()
    d, c = dossiers.c, cases.c
    case_id = func.coalesce(c.case_id, literal(""))
    sql = (select(d.dossier_id, d.agency, d.public_code, d.person_id, d.person_name,
                  d.opened_at, case_id.label("case_id"), c.name, c.status, c.doc_type,
                  c.document_name, c.copy_id, c.register_number)
           .select_from(dossiers.outerjoin(cases, c.dossier_id == d.dossier_id)))
    where: list[Any] = []
    if agencies is not None:
        where.append(d.agency.in_(list(agencies)))
    if q.person_id:
        where.append(d.person_id == q.person_id)
    patterns = name_patterns(q.name)
    for pattern in patterns:
        where.append(d.name_folded.like(pattern))
    if patterns and agencies and s.get_bind().dialect.name == "postgresql":
        words = [p.strip("% ") for p in patterns]
        either = " | ".join("(" + " & ".join(f"c{a}{w}:*" for w in words) + ")"
                            for a in agencies if a.isdigit())
        if either:
            where.append(name_words().op("@@")(
                func.to_tsquery(literal_column("'simple'::regconfig"), either)))
    if q.name and not name_patterns(q.name):
        where.append(literal(False))  # only punctuation: nothing can match
    if q.dossier_code:
        where.append(d.public_code == q.dossier_code.upper())
    if q.copy_id:
        where.append(or_(c.copy_id == q.copy_id, c.case_id == q.copy_id))
    if q.register_number is not None:
        where.append(c.register_number == q.register_number)
    if q.opened_from:
        where.append(d.opened_at >= _utc(q.opened_from))
    if q.opened_to:
        where.append(d.opened_at < _utc(q.opened_to + timedelta(days=1)))
    if q.doc_type:
        where.append(c.doc_type == q.doc_type)
    if q.status:
        where.append(c.status == q.status)
    size = page_size(limit)
    key = (d.opened_at, d.dossier_id, case_id)
    rows, nxt = page_of(s.execute(keyset(sql.where(*where), key, cursor, (datetime, str, str),
                                         size, descending=True)).all(),
                        size, lambda r: (r.opened_at, r.dossier_id, r.case_id))
    return Page([Hit(r.dossier_id, r.agency, r.public_code or "", r.person_id,
                     r.person_name, r.opened_at, r.case_id, r.name or "", r.status or "",
                     r.doc_type or "", r.document_name or "", r.copy_id or "",
                     r.register_number) for r in rows], nxt)
