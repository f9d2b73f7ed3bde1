"""The events the portal outbox carries: a new e-copy, a case's status, a cancellation.

Each builder decides what leaves the deployment (the payload) and the version that makes its
idempotency key deterministic, so the same event is one item however often it is enqueued:
    ecopy         ref copy id,      version pdf sha256     (the bytes are streamed at delivery)
    cancellation  ref copy id,      version decision ref   (after the copy: same ref, in order)
    status        ref public code,  version <case id>:<history number>:<status>
They take the caller's session: an event is written in the same transaction as the change
it reports. Because the versions come from what is already recorded, `backfill` can rebuild
every event (copies made before the outbox existed, an enqueue that failed).
"""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.db.schema import cancellations, case_events, cases, copies, dossiers
from storage.evidence.cancellations import public_item
from storage.outbox import KINDS, enqueue, enqueued


def enqueue_ecopy(s: Session, *, copy_id: str, person_id: str, doc_type: str, pdf_key: str,
                  pdf_sha256: str, agency: str) -> str:
    """A new e-copy: the item names the warehouse objects, the runner streams them later."""
    payload = {"copy_id": copy_id, "person_id": person_id, "doc_type": doc_type,
               "pdf_key": pdf_key, "metadata_key": pdf_key.removesuffix(".pdf") + ".json",
               "pdf_sha256": pdf_sha256, "agency": agency}
    return enqueue(s, "ecopy", copy_id, payload, version=pdf_sha256, agency=agency)


def enqueue_cancellation(s: Session, decision: dict[str, Any]) -> str:
    """A cancelled copy, with the fields the public list shows (Circ. 01/2020 Art 7 [check]).
    Its ref is the copy id, like the e-copy's, so the portal gets the copy before its
    cancellation."""
    published = public_item(decision)
    return enqueue(s, "cancellation", str(published["copy_id"]), published,
                   version=str(published.get("decision_ref", "")),
                   agency=str(published.get("agency_code") or ""))


def document_ref(public_code: str, case_id: str) -> str:
    """Names one paper within a dossier for the portal without revealing anything that
    links it to other dossiers."""
    return hashlib.sha256(f"{public_code}:{case_id}".encode()).hexdigest()[:16]


def enqueue_status(s: Session, case_id: str, seq: int) -> str | None:
    """The ``seq``-th status event of a case, for its dossier's status page on the portal.

    Only what the citizen's status page shows goes out: the dossier's code, procedure,
    channel, the paper's type, its status, reason code and time."""
    row = s.execute(
        select(case_events.c.status, case_events.c.at, case_events.c.reason, cases.c.doc_type,
               dossiers.c.public_code, dossiers.c.agency, dossiers.c.procedure,
               dossiers.c.channel)
        .join(cases, cases.c.case_id == case_events.c.case_id)
        .join(dossiers, dossiers.c.dossier_id == cases.c.dossier_id)
        .where(case_events.c.case_id == case_id, case_events.c.seq == seq)).first()
    if row is None or not row.public_code:
        return None
    payload = {"public_code": row.public_code, "agency": row.agency,
               "procedure": row.procedure, "channel": row.channel,
               "document_ref": document_ref(row.public_code, case_id),
               "document_type": row.doc_type or "", "status": row.status,
               "reason": row.reason or "", "at": row.at.isoformat(timespec="seconds"),
               "sequence": seq}
    return enqueue(s, "status", row.public_code, payload,
                   version=f"{case_id}:{seq}:{row.status}", agency=row.agency)


def backfill(s: Session) -> dict[str, int]:
    """Enqueue every event the records hold and the outbox lacks: filed copies,
    cancellations, each case's status history. Returns the new items per kind.

    Keys are deterministic, so nothing already in the outbox is added twice. Status events
    found this way may arrive after newer ones (their `sequence` orders them)."""
    counts = {kind: 0 for kind in KINDS}
    for c in s.execute(select(copies).order_by(copies.c.certified_at)):
        if not enqueued(s, "ecopy", c.copy_id, c.pdf_sha256):
            enqueue_ecopy(s, copy_id=c.copy_id, person_id=c.person_id, doc_type=c.doc_type,
                          pdf_key=c.pdf_key, pdf_sha256=c.pdf_sha256, agency=c.agency)
            counts["ecopy"] += 1
    for c in s.execute(select(cancellations).order_by(cancellations.c.recorded_at)):
        if not enqueued(s, "cancellation", c.copy_id, c.decision_ref):
            enqueue_cancellation(s, c.decision)
            counts["cancellation"] += 1
    events = s.execute(select(case_events.c.case_id, case_events.c.seq, case_events.c.status,
                              dossiers.c.public_code)
                       .join(cases, cases.c.case_id == case_events.c.case_id)
                       .join(dossiers, dossiers.c.dossier_id == cases.c.dossier_id)
                       .order_by(case_events.c.id)).all()
    for e in events:
        if e.public_code and not enqueued(s, "status", e.public_code,
                                          f"{e.case_id}:{e.seq}:{e.status}"):
            enqueue_status(s, e.case_id, e.seq)
            counts["status"] += 1
    return counts
