"""The catalogue of the evidence: e-copies, register entries, cancellations, refusals.

Every row here points at a write-once object in the store that was written first; the row
only makes the object findable by an indexed query (a person's warehouse, a register month,
the cancellations list) instead of a listing of the store. A crash between the object and its
row leaves an object without a row, which `ecopy db check --repair` (storage.db.rebuild)
adds; the evidence always wins. Inserts are idempotent: adding a row that exists is a no-op.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from storage.db import insert_once, instant
from storage.db.paging import Page, keyset, page_of, page_size
from storage.db.schema import cancellations, copies, entry_month, refusals, register_entries

# --------------------------------------------------------------------------- register


def add_register_entry(s: Session, entry: dict[str, Any], entry_sha256: str) -> bool:
    """Index a register entry (the stored object's JSON and the sha256 of its bytes)."""
    return insert_once(s, register_entries, {
        "agency": entry["agency_code"], "year": int(entry["year"]),
        "number": int(entry["number"]), "date": entry["date"], "book": entry.get("book", ""),
        "copy_id": entry.get("copy_id", ""), "entry_sha256": entry_sha256,
        "prev_hash": entry.get("prev_hash", ""), "entry": entry})


def void_register_entry(s: Session, agency: str, year: int, number: int, reason: str) -> None:
    """A claimed number that never became a copy (its void note is in the store)."""
    s.execute(update(register_entries).where(
        register_entries.c.agency == agency, register_entries.c.year == year,
        register_entries.c.number == number).values(void_reason=reason[:500]))


def register_entry_row(s: Session, agency: str, year: int, number: int) -> Any:
    return s.execute(select(register_entries).where(
        register_entries.c.agency == agency, register_entries.c.year == year,
        register_entries.c.number == number)).first()


def register_period(s: Session, agencies: Sequence[str], year: int, month: int | None = None,
                    *, cursor: str = "", limit: int | None = None) -> Page[Any]:
    """Entries of the communes' register for a year or one month, in number order."""
    size = page_size(limit)
    query = select(register_entries).where(register_entries.c.agency.in_(list(agencies)),
                                           register_entries.c.year == year)
    if month is not None:  # the index on the entry's month, in number order
        query = query.where(entry_month == date(year, month, 1).strftime("%Y-%m"))
    key = (register_entries.c.agency, register_entries.c.number)
    rows, nxt = page_of(s.execute(keyset(query, key, cursor, (str, int), size)).all(), size,
                        lambda r: (r.agency, r.number))
    return Page(rows, nxt)


def register_chain(s: Session, agency: str, year: int) -> list[tuple[int, str, str]]:
    """(number, entry sha256, prev_hash) of the year's indexed entries, in number order."""
    return [tuple(r) for r in s.execute(
        select(register_entries.c.number, register_entries.c.entry_sha256,
               register_entries.c.prev_hash)
        .where(register_entries.c.agency == agency, register_entries.c.year == year)
        .order_by(register_entries.c.number))]


def chain_problems(rows: Sequence[tuple[int, str, str]]) -> list[str]:
    """Gaps and broken links among indexed entries (each row was checked against its object
    when it was indexed): what a page can say about a register without reading the store."""
    problems, expected_prev = [], ""
    for i, (number, sha, prev) in enumerate(rows, start=1):
        if number != i:
            problems.append(f"gap: expected number {i}, found {number}")
        if prev != expected_prev:
            problems.append(f"number {number}: previous-entry hash does not match")
        expected_prev = sha
    return problems


def register_year_list(s: Session, agency: str) -> list[int]:
    """Years with a register for `agency`, newest first."""
    return list(s.execute(select(register_entries.c.year).distinct()
                          .where(register_entries.c.agency == agency)
                          .order_by(register_entries.c.year.desc())).scalars())


def register_month_counts(s: Session, agency: str, year: int) -> dict[int, int]:
    """Entries per month of a commune's year."""
    month = func.substr(register_entries.c.date, 6, 2)
    return {int(m): n for m, n in s.execute(
        select(month, func.count()).where(register_entries.c.agency == agency,
                                          register_entries.c.year == year).group_by(month))
            if str(m).isdigit()}


def register_years(s: Session) -> list[tuple[str, int]]:
    return [tuple(r) for r in s.execute(
        select(register_entries.c.agency, register_entries.c.year).distinct()
        .order_by(register_entries.c.agency, register_entries.c.year))]


# --------------------------------------------------------------------------- copies


def add_copy(s: Session, meta: dict[str, Any], *, pdf_key: str, case_id: str = "") -> bool:
    """Index a filed e-copy from its warehouse metadata (storage.evidence.warehouse)."""
    entry = meta.get("register_entry") or {}
    fields = meta.get("fields") or {}
    expiry = fields.get("expiry_date") if isinstance(fields, dict) else None
    if isinstance(expiry, dict):
        expiry = expiry.get("value")
    return insert_once(s, copies, {
        "copy_id": meta["copy_id"], "person_id": meta.get("person_id", ""),
        "doc_type": meta.get("doc_type", ""), "document_name": meta.get("document_name", ""),
        "agency": entry.get("agency_code", ""), "register_year": int(entry.get("year") or 0),
        "register_number": int(entry.get("number") or 0),
        "register_book": entry.get("book", ""),
        "certified_at": instant(meta.get("certified_at", "")), "pdf_key": pdf_key,
        "pdf_sha256": meta.get("pdf_sha256", ""),
        "original_sha256": meta.get("original_sha256", ""), "case_id": case_id or None,
        "test_mode": bool(meta.get("test_mode")),
        "expiry_date": str(expiry or "")[:10], "cancelled": False,
        "pages": int(meta.get("pages") or 0)})


def copy_row(s: Session, copy_id: str) -> Any:
    return s.execute(select(copies).where(copies.c.copy_id == copy_id)).first()


def copies_of_person(s: Session, person_id: str, *, agencies: Sequence[str] | None = None,
                     doc_type: str | None = None, cursor: str = "",
                     limit: int | None = None) -> Page[Any]:
    """A person's e-copies, oldest first; only those certified by ``agencies`` when given."""
    size = page_size(limit)
    query = select(copies).where(copies.c.person_id == person_id)
    if agencies is not None:
        query = query.where(copies.c.agency.in_(list(agencies)))
    if doc_type is not None:
        query = query.where(copies.c.doc_type == doc_type)
    key = (copies.c.certified_at, copies.c.copy_id)
    rows, nxt = page_of(s.execute(keyset(query, key, cursor, (datetime, str), size)).all(),
                        size, lambda r: (r.certified_at, r.copy_id))
    return Page(rows, nxt)


# --------------------------------------------------------------------------- cancellations


def add_cancellation(s: Session, decision: dict[str, Any]) -> bool:
    """Index a cancellation decision and mark its copy cancelled."""
    added = insert_once(s, cancellations, {
        "copy_id": decision["copy_id"], "agency": decision.get("agency_code") or "",
        "decision_ref": decision.get("decision_ref", ""),
        "decision_date": str(decision.get("decision_date", ""))[:10],
        "recorded_at": instant(decision.get("recorded_at", "")), "decision": decision})
    s.execute(update(copies).where(copies.c.copy_id == decision["copy_id"])
              .values(cancelled=True))
    return added


def cancellation_row(s: Session, copy_id: str) -> Any:
    return s.execute(select(cancellations).where(cancellations.c.copy_id == copy_id)).first()


def cancellations_of(s: Session, copy_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The decisions of those copies that are cancelled, by copy id."""
    out: dict[str, dict[str, Any]] = {}
    ids = list(dict.fromkeys(copy_ids))
    for start in range(0, len(ids), 500):  # bounded IN lists
        for row in s.execute(select(cancellations).where(
                cancellations.c.copy_id.in_(ids[start:start + 500]))):
            out[row.copy_id] = dict(row.decision)
    return out


def cancellations_page(s: Session, *, agencies: Sequence[str] | None = None,
                       cursor: str = "", limit: int | None = None) -> Page[dict[str, Any]]:
    """Decisions on record, oldest decision first; of ``agencies`` only when given."""
    size = page_size(limit)
    query = select(cancellations)
    if agencies is not None:
        query = query.where(cancellations.c.agency.in_(list(agencies)))
    key = (cancellations.c.decision_date, cancellations.c.copy_id)
    rows, nxt = page_of(s.execute(keyset(query, key, cursor, (str, str), size)).all(), size,
                        lambda r: (r.decision_date, r.copy_id))
    return Page([dict(r.decision) for r in rows], nxt)


def all_cancellations(s: Session) -> list[dict[str, Any]]:
    """Every decision on record, oldest first (the public list), through the index."""
    out, cursor = [], ""
    while True:
        page = cancellations_page(s, cursor=cursor, limit=200)
        out += page.items
        if not page.next_cursor:
            return out
        cursor = page.next_cursor


# --------------------------------------------------------------------------- refusals


def add_refusal(s: Session, record: dict[str, Any], *, case_id: str = "") -> None:
    """Index an Art 22 refusal record; a paper refused again replaces its row, as the
    stored record is replaced (the audit log keeps every refusal)."""
    values = {"agency": record["agency_code"], "year": int(record["year"]),
              "sha256": record["sha256"], "case_id": case_id, "ground": record["ground"],
              "at": instant(record.get("time", "")), "record": record}
    if not insert_once(s, refusals, values):
        s.execute(update(refusals).where(
            refusals.c.agency == values["agency"], refusals.c.year == values["year"],
            refusals.c.sha256 == values["sha256"]).values(**values))


def refusals_between(s: Session, agency: str, start: datetime, end: datetime,
                     ) -> list[dict[str, Any]]:
    """The commune's refusal records made in [start, end), oldest first: what the register
    book prints under its entries (a refused paper gets no number, its refusal a line)."""
    r = refusals.c
    rows = s.execute(select(r.record).where(r.agency == agency, r.at >= start, r.at < end)
                     .order_by(r.at, r.id))
    return [row.record for row in rows]
