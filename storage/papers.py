"""The papers a dossier needs, and how each was obtained (reuse before asking).

    dossiers/<agency>/<dossier_id>/papers/<doc_type>.json

One object per needed type. ``status`` is "reused" (attached by reference: a warehouse copy
id or an authoritative register's reference; nothing is re-scanned and no original is
stored) or "requested" (the citizen must bring it; ``reason`` says why it was not
available). Each check appends to ``checks``, so the record keeps every answer with who
asked and when; the audit log has the same events.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from storage.backends import ObjectStore
from storage.dossiers import Dossier, dossier_prefix
from storage.records import dump

STATUSES = ("reused", "requested")


def paper_key(dossier: Dossier, doc_type: str) -> str:
    if not doc_type.replace("_", "").isalnum() or not doc_type.isascii():
        raise ValueError("bad document type")
    return dossier_prefix(dossier.agency, dossier.dossier_id) + f"papers/{doc_type}.json"


def record_paper(store: ObjectStore, dossier: Dossier, doc_type: str, *, status: str,
                 by: str, **facts: Any) -> dict[str, Any]:
    """Write the paper's current answer; earlier answers stay in ``checks``."""
    if status not in STATUSES:
        raise ValueError(f"bad paper status {status!r}")
    key = paper_key(dossier, doc_type)
    try:
        before = json.loads(store.get(key))
    except KeyError:
        before = {}
    check = {"status": status, "by": by,
             "at": datetime.now(UTC).isoformat(timespec="seconds"), **facts}
    record = {"doc_type": doc_type, **check, "checks": [*before.get("checks", []), check]}
    store.put(key, dump(record))
    return record


def dossier_papers(store: ObjectStore, dossier: Dossier) -> list[dict[str, Any]]:
    prefix = dossier_prefix(dossier.agency, dossier.dossier_id) + "papers/"
    return [json.loads(store.get(key)) for key in store.list(prefix) if key.endswith(".json")]
