"""The papers a dossier needs, and how each was obtained (reuse before asking).

One row per needed type. ``status`` is "reused" (attached by reference: a warehouse copy id or
an authoritative register's reference; nothing is re-scanned and no original is stored) or
"requested" (the citizen must bring it; ``reason`` says why it was not available). Each check
is appended to ``checks``, so the row keeps every answer with who asked and when; the audit
log has the same events.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from storage.db.dossiers import Dossier
from storage.db.schema import papers

STATUSES = ("reused", "requested")


def record_paper(s: Session, dossier: Dossier, doc_type: str, *, status: str, by: str,
                 **facts: Any) -> dict[str, Any]:
    """Write the paper's current answer; earlier answers stay in ``checks``."""
    if status not in STATUSES:
        raise ValueError(f"bad paper status {status!r}")
    if not doc_type.replace("_", "").isalnum() or not doc_type.isascii():
        raise ValueError("bad document type")
    now = datetime.now(UTC)
    where = (papers.c.dossier_id == dossier.dossier_id, papers.c.doc_type == doc_type)
    before = s.execute(select(papers.c.data).where(*where)).scalar_one_or_none()
    check = {"status": status, "by": by, "at": now.isoformat(timespec="seconds"), **facts}
    record = {"doc_type": doc_type, **check,
              "checks": [*(before or {}).get("checks", []), check]}
    if before is None:
        s.execute(insert(papers).values(dossier_id=dossier.dossier_id, doc_type=doc_type,
                                        status=status, at=now, data=record))
    else:
        s.execute(update(papers).where(*where).values(status=status, at=now, data=record))
    return record


def dossier_papers(s: Session, dossier: Dossier) -> list[dict[str, Any]]:
    rows = s.execute(select(papers.c.data).where(papers.c.dossier_id == dossier.dossier_id)
                     .order_by(papers.c.doc_type))
    return [dict(r.data) for r in rows]
