"""The events the portal outbox carries: a new e-copy, a dossier's status, a cancellation.

Each builder decides what leaves the deployment (the payload) and the version that makes its
idempotency key deterministic, so the same event is one item however often it is enqueued:
    ecopy         ref copy id,      version pdf sha256     (the bytes are streamed at delivery)
    cancellation  ref copy id,      version decision ref   (after the copy: same ref, in order)
    status        ref public code,  version <document sha256>:<history number>:<status>
Because the versions come from what the store already holds, `backfill` can rebuild every
event (for copies made before the outbox existed, or an enqueue that failed).
"""

from __future__ import annotations

import hashlib
from typing import Any

from storage.backends import ObjectStore
from storage.outbox import KINDS, enqueue, enqueued, load_object


def enqueue_ecopy(store: ObjectStore, *, copy_id: str, person_id: str, doc_type: str,
                  pdf_key: str, pdf_sha256: str, agency: str) -> str:
    """A new e-copy: the item names the warehouse objects, the runner streams them later."""
    payload = {"copy_id": copy_id, "person_id": person_id, "doc_type": doc_type,
               "pdf_key": pdf_key, "metadata_key": pdf_key.removesuffix(".pdf") + ".json",
               "pdf_sha256": pdf_sha256, "agency": agency}
    return enqueue(store, "ecopy", copy_id, payload, version=pdf_sha256, agency=agency)


def enqueue_cancellation(store: ObjectStore, published: dict[str, Any]) -> str:
    """A cancelled copy, with the fields the public list shows (Circ. 01/2020 Art 7 [check]).

    Its ref is the copy id, like the e-copy's, so the portal gets the copy before its
    cancellation."""
    copy_id = str(published["copy_id"])
    return enqueue(store, "cancellation", copy_id, dict(published),
                   version=str(published.get("decision_ref", "")),
                   agency=str(published.get("agency_code") or ""))


def document_ref(public_code: str, sha256: str) -> str:
    """Names one paper within a dossier for the portal without revealing its hash (which
    would link it across dossiers)."""
    return hashlib.sha256(f"{public_code}:{sha256}".encode()).hexdigest()[:16]


def enqueue_status_change(store: ObjectStore, sha256: str, record: dict[str, Any],
                          ) -> list[str]:
    """"status" items for each dossier with a public code that holds the document: the
    newest history event and any earlier one not enqueued yet (a paper's first statuses are
    written before it is linked to its dossier), oldest first. Returns the new items' keys.

    Only what the citizen's status page shows goes out: the dossier's code, procedure, the
    paper's type, its status, reason code and time. Costs one listing when the document is in
    no dossier (batch CLI runs), and about two existence checks per dossier otherwise.
    """
    from storage.dossiers import dossiers_of_document, load_dossier  # no cycle at import

    try:
        links = dossiers_of_document(store, sha256)
    except ValueError:
        return []
    if not links:
        return []
    history = [h if isinstance(h, dict) else {} for h in record.get("history") or []]
    keys = []
    for agency, dossier_id in links:
        try:
            dossier = load_dossier(store, agency, dossier_id)
        except ValueError:
            continue
        if dossier is None or not dossier.public_code:
            continue
        missing = []
        for number in range(len(history), 0, -1):  # 1-based place in the history
            version = f"{sha256}:{number}:{history[number - 1].get('status', '')}"
            if enqueued(store, "status", dossier.public_code, version):
                break
            missing.append((number, version))
        for number, version in reversed(missing):
            event = history[number - 1]
            payload = {"public_code": dossier.public_code, "agency": agency,
                       "procedure": dossier.procedure, "channel": dossier.channel,
                       "document_ref": document_ref(dossier.public_code, sha256),
                       "document_type": record.get("doc_type") or "",
                       "status": event.get("status", ""), "reason": event.get("reason", ""),
                       "at": event.get("at", ""), "sequence": number}
            keys.append(enqueue(store, "status", dossier.public_code, payload,
                                version=version, agency=agency))
    return keys


def backfill(store: ObjectStore) -> dict[str, int]:
    """Enqueue every event the store already holds and the outbox lacks: filed copies,
    cancellations, each dossier document's status history. Returns the new items per kind.

    Keys are deterministic, so nothing already in the outbox is added twice. This repairs an
    enqueue that failed and brings copies made before the outbox existed to the portal;
    status events found this way may arrive after newer ones (their `sequence` orders them).
    """
    from storage.dossiers import Dossier, dossier_documents
    from storage.evidence.cancellations import PUBLIC_FIELDS  # cancellations imports this module

    counts = {kind: 0 for kind in KINDS}
    for key in store.list("warehouse/"):
        meta = load_object(store, key) if key.endswith(".json") and key.count("/") == 3 else None
        if not meta or not meta.get("copy_id") or not meta.get("pdf_sha256"):
            continue
        if enqueued(store, "ecopy", meta["copy_id"], meta["pdf_sha256"]):
            continue
        entry = meta.get("register_entry")
        enqueue_ecopy(store, copy_id=meta["copy_id"], person_id=meta.get("person_id", ""),
                      doc_type=meta.get("doc_type", ""),
                      pdf_key=key.removesuffix(".json") + ".pdf", pdf_sha256=meta["pdf_sha256"],
                      agency=entry.get("agency_code", "") if isinstance(entry, dict) else "")
        counts["ecopy"] += 1
    for key in store.list("cancellations/"):
        decision = load_object(store, key) if key.count("/") == 1 else None
        if not decision or not decision.get("copy_id"):
            continue
        if enqueued(store, "cancellation", str(decision["copy_id"]),
                    str(decision.get("decision_ref", ""))):
            continue
        enqueue_cancellation(store, {k: decision.get(k) for k in PUBLIC_FIELDS})
        counts["cancellation"] += 1
    seen: set[str] = set()
    for key in store.list("dossiers/"):
        data = load_object(store, key) if key.endswith("/dossier.json") else None
        if not data or not data.get("public_code"):
            continue
        for link in dossier_documents(store, Dossier(**data)):
            if link["sha256"] in seen:
                continue  # one call covers every dossier of the document
            seen.add(link["sha256"])
            record = load_object(store, f"documents/{link['sha256']}/record.json") or {}
            counts["status"] += len(enqueue_status_change(store, link["sha256"], record))
    return counts
