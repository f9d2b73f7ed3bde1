"""Saving what a step decided about a case: the one place a case's status changes.

Each call is one transaction: the case (compare-and-set, storage.db.cases), its history
event, its dossier's progress and the status event for the portal are written together or
not at all. The audit log (evidence in the store) is written by the caller after it.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from pipeline.casework.portal import enqueue_status
from storage.db.cases import change_status, claim_case
from storage.db.dossiers import Dossier
from storage.state import State


def save_status(state: State, case_id: str, status: str, *, actor: str,
                expect_status: Collection[str] | None = None,
                expect_version: int | None = None, at: datetime | None = None,
                **changes: Any) -> dict[str, Any]:
    """Move a case to ``status``; storage.db.cases.Conflict when someone moved it first."""
    with state.db.write() as s:
        record = change_status(s, case_id, status, actor=actor, deadlines=state.deadlines,
                               expect_status=expect_status, expect_version=expect_version,
                               at=at, **changes)
        enqueue_status(s, case_id, record["event_seq"])
    return record


def claim(state: State, dossier: Dossier, sha256: str, *, name: str, size: int,
          person_id: str, actor: str, kind: str = "", batch_id: str = "",
          at: datetime | None = None) -> tuple[dict[str, Any], bool]:
    """The case of an original in a dossier, and whether this process now works on it
    (storage.db.cases.claim_case), its "received" event published with it."""
    with state.db.write() as s:
        record, claimed = claim_case(s, dossier, sha256, name=name, size=size,
                                     person_id=person_id, actor=actor,
                                     deadlines=state.deadlines, kind=kind, batch_id=batch_id,
                                     at=at)
        if claimed:
            enqueue_status(s, record["case_id"], record["event_seq"])
    return record, claimed


def finish_filed(state: State, case_id: str, version: int, pdf_key: str) -> dict[str, Any]:
    """A case whose signed copy reached the warehouse (and the catalogue) but whose own
    status change did not (its process died in between): FILED now, from the copy's
    metadata, with the portal events the uninterrupted run would have queued."""
    import json

    from pipeline.casework.portal import enqueue_ecopy
    from storage.db.catalogue import copy_row

    meta = json.loads(state.store.get(pdf_key.removesuffix(".pdf") + ".json"))
    entry = meta.get("register_entry") or {}
    with state.db.write() as s:
        copy = copy_row(s, meta["copy_id"])
        enqueue_ecopy(s, copy_id=meta["copy_id"], person_id=meta.get("person_id", ""),
                      doc_type=meta.get("doc_type", ""), pdf_key=pdf_key,
                      pdf_sha256=meta.get("pdf_sha256", ""),
                      agency=copy.agency if copy else entry.get("agency_code", ""))
        record = change_status(s, case_id, "filed", actor="ecopy db check",
                               deadlines=state.deadlines, expect_version=version,
                               copy_id=meta["copy_id"], ecopy_key=pdf_key,
                               register_entry=entry, owner="")
        enqueue_status(s, case_id, record["event_seq"])
    return record
