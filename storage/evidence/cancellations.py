"""Cancelled certifications: cancellations/<copy_id>.json, one immutable decision per copy.

An invalid certification is cancelled by a decision (reference, date, reason). The decision is
written with create-if-absent, so a copy is cancelled once: a second request returns the
decision already on record. A cancelled copy fails verification (signing.verify, through
find_cancellation) and appears in a publishable list (`public_list` of the catalogue's
decisions; rendered by ecopy.reports.cancellations). pipeline.casework.cancellation is the
whole act: this evidence, the catalogue row and the portal event.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import date, datetime, timedelta, timezone
from typing import Any

from storage.backends import ObjectStore
from storage.evidence import dump
from storage.evidence.audit import append_event

ALLOWED_ROLES = ("certifier",)  # Decree 280/2025 Art 5: admins do not cancel
PREFIX = "cancellations/"
_COPY_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")
_VN_TZ = timezone(timedelta(hours=7))

# What the published list shows: enough to identify the certification, nothing personal.
PUBLIC_FIELDS = (
    "copy_id", "decision_ref", "decision_date", "reason", "agency_code", "agency_name",
    "register_number", "register_book", "register_date", "document_name",
)


class CancellationError(ValueError):
    """A cancellation that cannot be made; the message says why (Vietnamese first)."""


class NotAllowed(CancellationError):
    """The actor's role may not cancel certifications."""


class UnknownCopy(CancellationError):
    """No e-copy with that id in the warehouse (the catalogue)."""


def cancellation_key(copy_id: str) -> str:
    return f"{PREFIX}{copy_id}.json"


def _valid_copy_id(copy_id: str) -> bool:
    return isinstance(copy_id, str) and bool(_COPY_ID_RE.match(copy_id))


def find_cancellation(store: ObjectStore, copy_id: str) -> dict[str, Any] | None:
    """The cancellation decision of a copy, or None when it is not cancelled."""
    if not _valid_copy_id(copy_id):
        return None
    try:
        raw = store.get(cancellation_key(copy_id))
    except KeyError:
        return None
    data = json.loads(raw)
    return data if isinstance(data, dict) else None


def make_decision(copy_id: str, copy_metadata: dict[str, Any], pdf_key: str, *,
                  decision_ref: str, decision_date: str | date | None, reason: str,
                  actor: str, role: str) -> dict[str, Any]:
    """The decision cancelling a copy, checked: NotAllowed unless ``role`` is certifier (an
    administrator administers, never certifies or cancels), CancellationError for a missing
    actor, reference, reason or a bad date."""
    if role not in ALLOWED_ROLES:
        raise NotAllowed(
            f"Vai trò {role or '(không có)'!r} không được hủy chứng thực; chỉ người thực hiện "
            f"chứng thực (certifier). / Role {role or '(none)'!r} may not cancel a "
            "certification: certifiers only (set ECOPY_ROLE)."
        )
    if not actor.strip():
        raise CancellationError(
            "Thiếu tên người thực hiện hủy (ECOPY_ACTOR). / Missing the actor's name "
            "(ECOPY_ACTOR)."
        )
    decision_ref, reason = decision_ref.strip(), reason.strip()
    if not decision_ref or not reason:
        raise CancellationError(
            "Cần số quyết định và lý do hủy. / A decision reference and a reason are required."
        )
    if decision_date is None or decision_date == "":
        decided = datetime.now(_VN_TZ).date()
    elif isinstance(decision_date, date):
        decided = decision_date
    else:
        try:
            decided = date.fromisoformat(str(decision_date))
        except ValueError:
            raise CancellationError(
                f"Ngày quyết định không hợp lệ: {decision_date!r} (YYYY-MM-DD). / "
                f"Invalid decision date: {decision_date!r} (YYYY-MM-DD)."
            ) from None
    meta = copy_metadata
    entry = meta.get("register_entry") if isinstance(meta.get("register_entry"), dict) else {}
    return {
        "copy_id": copy_id,
        "decision_ref": decision_ref,
        "decision_date": decided.isoformat(),
        "reason": reason,
        "actor": actor.strip(),
        "role": role,
        "recorded_at": datetime.now(_VN_TZ).isoformat(timespec="seconds"),
        "copy_key": pdf_key,
        "person_id": meta.get("person_id", ""),
        "document_name": meta.get("document_name", entry.get("document_name", "")),
        "agency_code": entry.get("agency_code", ""),
        "agency_name": entry.get("agency_name", ""),
        "register_number": entry.get("number"),
        "register_book": entry.get("book", ""),
        "register_date": entry.get("date", ""),
    }


def record_decision(store: ObjectStore, decision: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """Write the decision once: (the decision on record, True when this call wrote it). A copy
    already cancelled keeps its first decision, which is returned unchanged."""
    copy_id = decision["copy_id"]
    raw = dump(decision)
    if store.put_if_absent(cancellation_key(copy_id), raw):
        append_event(store, actor=decision["actor"], action="cancel", object=copy_id,
                     object_sha256=hashlib.sha256(raw).hexdigest(),
                     details={"decision_ref": decision["decision_ref"],
                              "reason": decision["reason"]})
        return decision, True
    return find_cancellation(store, copy_id) or decision, False


def scan_cancellations(store: ObjectStore) -> list[dict[str, Any]]:
    """Every decision in the store, by listing it: for rebuilding and checking the catalogue
    (`ecopy db import|check`), never on a request path."""
    out = []
    for key in store.list(PREFIX):
        if not key.endswith(".json") or key.count("/") != 1:
            continue
        try:
            data = json.loads(store.get(key))
        except (KeyError, ValueError):
            continue
        if isinstance(data, dict) and _valid_copy_id(str(data.get("copy_id", ""))):
            out.append(data)
    return sorted(out, key=lambda d: (str(d.get("decision_date", "")), str(d.get("copy_id"))))


def public_item(decision: dict[str, Any]) -> dict[str, Any]:
    """What the published list shows of one decision: no personal ID, no actor."""
    return {k: decision.get(k) for k in PUBLIC_FIELDS}


def public_list(decisions: list[dict[str, Any]], *, generated_at: str | None = None
                ) -> dict[str, Any]:
    """The publishable list: no personal ID, no actor; what a receiving agency needs."""
    moment = generated_at or datetime.now(_VN_TZ).isoformat(timespec="seconds")
    items = [public_item(d) for d in decisions]
    return {
        "title": "Danh sách bản sao chứng thực đã bị hủy",
        "generated_at": moment,
        "count": len(items),
        "cancellations": items,
    }
