"""Cancelling an issued copy by a decision: the evidence, the catalogue, the portal event."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from pipeline.casework.portal import enqueue_cancellation
from storage.db.catalogue import add_cancellation, copy_row
from storage.evidence.cancellations import (
    UnknownCopy,
    make_decision,
    record_decision,
)
from storage.state import State


def cancel_copy(state: State, copy_id: str, *, decision_ref: str,
                decision_date: str | date | None = None, reason: str, actor: str,
                role: str, agencies: tuple[str, ...] | None = None
                ) -> tuple[dict[str, Any], bool]:
    """(the decision on record, True when this call made it).

    The copy is found in the catalogue (only among copies certified by ``agencies`` when
    given: another commune's copy is unknown); UnknownCopy, NotAllowed or CancellationError
    (storage.evidence.cancellations) say why not. The decision object is written first
    (write-once evidence, audited); then the catalogue marks the copy cancelled and the
    portal's event is queued, in one transaction. A second call with the copy cancelled
    already returns the first decision and repairs a missing catalogue row or event."""
    with state.db.read() as s:
        row = copy_row(s, copy_id)
    if row is None or (agencies is not None and row.agency not in agencies):
        raise UnknownCopy(
            f"Không có bản sao điện tử mã {copy_id!r} trong kho. / "
            f"No e-copy {copy_id!r} in the warehouse.")
    try:
        meta = json.loads(state.store.get(row.pdf_key.removesuffix(".pdf") + ".json"))
    except (KeyError, ValueError):
        meta = {}
    decision = make_decision(copy_id, meta if isinstance(meta, dict) else {}, row.pdf_key,
                             decision_ref=decision_ref, decision_date=decision_date,
                             reason=reason, actor=actor, role=role)
    on_record, made = record_decision(state.store, decision)
    with state.db.write() as s:
        add_cancellation(s, on_record)
        enqueue_cancellation(s, on_record)
    return on_record, made
