"""What a clerk or a certifier does to one document: the same code for the CLI and the web.

    correct_document       a clerk's corrections, kept as immutable objects and merged
    mark_reviewed          a clerk hands a reviewed document to the certifier (READY)
    approve_document       a certifier certifies it (register number, signatures, warehouse)
    refuse_document        refused under Decree 23/2015 Art 22, the ground recorded
    cancel_certification   an issued copy cancelled by a decision

Every act is written to the audit log with the acting person. Refusals to act raise
`ActionRefused` (its subclasses say why); bad input raises `FieldError` / ValueError.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import unicodedata
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

from ecopy.settings import Settings
from pipeline.types import FIELD_NAMES, DocStatus, DocumentOutcome
from storage.backends import ObjectStore

APPROVERS = ("certifier", "admin")
WAITING = (DocStatus.NEEDS_REVIEW, DocStatus.READY)
DATE_FIELDS = frozenset(f for f in FIELD_NAMES if f.endswith(("date", "date_of_birth",
                                                             "date_of_death")))
MAX_VALUE = 300  # characters in one field value
APPROVAL_STALE = timedelta(minutes=15)  # an approval held longer died with its process


class ActionRefused(Exception):
    """The act is not allowed now (role, state); the message says why."""


class NotWaiting(ActionRefused):
    def __init__(self, status: str) -> None:
        self.status = status
        super().__init__(f"the document is {status}, not waiting for review or certification")


class NotAllowed(ActionRefused):
    pass


class InProgress(ActionRefused):
    """Another certifier's approval of the same document is running."""


class FieldError(ValueError):
    """One bad field value; ``code`` is one of unknown, empty, too_long, not_a_date, bad_id,
    bad_sex (the web shows its own message for each)."""

    def __init__(self, name: str, code: str, detail: str) -> None:
        self.name, self.code = name, code
        super().__init__(f"{name}: {detail}")


# ------------------------------------------------------------------ finding documents


def find_document(store: ObjectStore, ref: str) -> dict | None:
    """The record for a full sha256 or a unique prefix of at least 8 characters."""
    from storage.records import read_record

    ref = ref.strip().lower()
    if not ref or any(c not in "0123456789abcdef" for c in ref):
        return None
    if len(ref) == 64:
        return read_record(store, ref)
    if len(ref) < 8:
        return None
    shas = {k.split("/")[1] for k in store.list(f"documents/{ref}")}
    return read_record(store, shas.pop()) if len(shas) == 1 else None


def waiting_documents(store: ObjectStore, statuses: tuple[str, ...] = (DocStatus.NEEDS_REVIEW,)
                      ) -> list[dict]:
    """Records in one of ``statuses``, longest waiting first."""
    from storage.records import read_record

    out = []
    for key in store.list("documents/"):
        if key.endswith("/record.json"):
            record = read_record(store, key.split("/")[1])
            if record and record.get("status") in statuses:
                out.append(record)
    return sorted(out, key=waiting_since)


def waiting_since(record: dict) -> str:
    return (record.get("history") or [{}])[-1].get("at", "")


def stage_options(record: dict, settings: Settings, actor: str) -> Any:
    from pipeline.stages import StageOptions

    return StageOptions(person_id=record.get("person_id", ""), lang=settings.ocr_lang,
                        limits=settings.limits, lang_messages=settings.lang, actor=actor)


def _check_waiting(record: dict) -> None:
    if record.get("status") not in WAITING:
        raise NotWaiting(str(record.get("status")))


# ------------------------------------------------------------------ corrections


def parse_fields(values: Mapping[str, str]) -> dict[str, str]:
    """Validated field values: dates to ISO 8601 (any form parse_date reads), IDs checked,
    sex M/F, text NFC without control characters."""
    from pipeline.dates import parse_date
    from pipeline.idnumber import parse_personal_id

    out = {}
    for name, raw in values.items():
        name = name.strip()
        value = unicodedata.normalize("NFC", " ".join(str(raw).split()))
        if name not in FIELD_NAMES:
            raise FieldError(name, "unknown", f"unknown field; one of "
                                              f"{', '.join(sorted(FIELD_NAMES))}")
        if not value:
            raise FieldError(name, "empty", "empty value")
        if len(value) > MAX_VALUE:
            raise FieldError(name, "too_long", f"longer than {MAX_VALUE} characters")
        if name in DATE_FIELDS:
            parsed = parse_date(value)
            if parsed is None:
                raise FieldError(name, "not_a_date", f"{value!r} is not a date")
            value = parsed.isoformat()
        if name.endswith("id_number"):
            try:
                parse_personal_id(value)
            except ValueError as exc:
                raise FieldError(name, "bad_id", str(exc)) from None
        if name == "sex" and value not in ("M", "F"):
            raise FieldError(name, "bad_sex", "M or F")
        out[name] = value
    return out


def correct_document(store: ObjectStore, record: dict, *, actor: str, doc_type: str | None,
                     fields: Mapping[str, str]) -> dict:
    """Keep the correction as an immutable object (who, when, what the machine said) and merge
    it into the record; the document keeps its status. Returns the merged corrections."""
    from pipeline.classify import DOCUMENT_NAMES
    from storage.evidence.audit import append_event
    from storage.records import dump, update_record

    if doc_type and doc_type not in DOCUMENT_NAMES:
        raise ValueError(f"document type must be one of {', '.join(DOCUMENT_NAMES)}")
    checked = parse_fields(fields)
    if not checked and not doc_type:
        raise ValueError("nothing to correct")
    _check_waiting(record)
    sha = record["sha256"]
    now = datetime.now(UTC)
    correction = {"sha256": sha, "actor": actor, "at": now.isoformat(timespec="seconds"),
                  "doc_type": doc_type, "fields": checked,
                  "machine": {"doc_type": record.get("doc_type"),
                              "fields": {f["name"]: f["value"]
                                         for f in record.get("fields", [])}}}
    n = 0
    while not store.put_if_absent(f"documents/{sha}/corrections/{now:%Y%m%dT%H%M%SZ}-{n}.json",
                                  dump(correction)):
        n += 1
    merged = dict(record.get("corrections") or {})
    merged["fields"] = {**merged.get("fields", {}), **checked}
    if doc_type:
        merged["doc_type"] = doc_type
    update_record(store, sha, record["status"], corrections=merged)
    append_event(store, actor=actor, action="review", object=f"originals/{sha}",
                 object_sha256=sha, details={"act": "correct", "doc_type": doc_type,
                                             "fields": sorted(checked)})
    return merged


def mark_reviewed(store: ObjectStore, record: dict, *, actor: str) -> dict:
    """A clerk checked the document: it now waits for a certifier (READY)."""
    from storage.evidence.audit import append_event
    from storage.records import update_record

    if record.get("status") != DocStatus.NEEDS_REVIEW:
        raise NotWaiting(str(record.get("status")))
    sha = record["sha256"]
    updated = update_record(store, sha, DocStatus.READY, reviewed_by=actor,
                            reviewed_at=datetime.now(UTC).isoformat(timespec="seconds"))
    append_event(store, actor=actor, action="review", object=f"originals/{sha}",
                 object_sha256=sha, details={"act": "mark_reviewed",
                                             "reasons": record.get("review_reasons", [])})
    return updated


# ------------------------------------------------------------------ certify, refuse, cancel


def _same_person(a: str, b: str) -> bool:
    def norm(s: str) -> str:
        return " ".join(unicodedata.normalize("NFC", s).casefold().split())

    return norm(a) == norm(b)


def settings_for_signer(settings: Settings, full_name: str, title: str) -> Settings:
    """Settings whose certifier is the person approving.

    The dev PKI issues a TEST certificate to whoever signs. A real key (PKCS#12/#11) belongs to
    the certifier configured with it: someone else may not sign with it.
    """
    full_name, title = full_name.strip(), title.strip()
    if not full_name:
        return settings
    if settings.key_source == "dev":
        return replace(settings, certifier_name=full_name,
                       certifier_title=title or settings.certifier_title)
    if not _same_person(full_name, settings.certifier_name):
        raise NotAllowed(f"the configured signing key belongs to {settings.certifier_name}, "
                         f"not {full_name}")
    return replace(settings, certifier_title=title or settings.certifier_title)


def _claim_approval(store: ObjectStore, record: dict, actor: str) -> str:
    """One approval at a time per waiting spell; returns the copy id to certify under.

    A second click (or a second certifier) while one runs is refused, so no document gets two
    register numbers. A claim left by a process that died is taken over with its copy id, so
    a register number it had claimed is reused, not lost.
    """
    from storage.records import dump

    key = f"documents/{record['sha256']}/approvals/{len(record.get('history', [])):04d}.json"
    now = datetime.now(UTC)
    claim = {"actor": actor, "at": now.isoformat(timespec="seconds"), "copy_id": uuid4().hex}
    if store.put_if_absent(key, dump(claim)):
        return claim["copy_id"]
    held = json.loads(store.get(key))
    if now - datetime.fromisoformat(held["at"]) < APPROVAL_STALE:
        raise InProgress(f"{held['actor']} is already certifying this document")
    store.put(key, dump({**claim, "copy_id": held["copy_id"], "taken_over_from": held}))
    return held["copy_id"]


def approve_document(settings: Settings, store: ObjectStore, record: dict, *, actor: str,
                     role: str, requester_name: str | None = None) -> DocumentOutcome:
    """Certify a waiting document now with the configured keys (``settings`` names the signer,
    see `settings_for_signer`). FILED on success, else REJECTED with the reason."""
    from ecopy.keys import build_certify_context
    from pipeline.stages import certify_stored
    from storage.evidence.audit import append_event

    if role not in APPROVERS:
        raise NotAllowed(f"role {role or '(none)'!r} may not approve a certification "
                         "(certifier or admin)")
    _check_waiting(record)
    sha = record["sha256"]
    copy_id = _claim_approval(store, record, actor)
    append_event(store, actor=actor, action="review", object=f"originals/{sha}",
                 object_sha256=sha, details={"act": "approve", "copy_id": copy_id,
                                             "reasons": record.get("review_reasons", [])})
    settings = replace(settings, actor=actor)
    workdir = Path(tempfile.mkdtemp(prefix=f"ecopy-approve-{sha[:12]}-"))
    try:
        return certify_stored(build_certify_context(settings, store,
                                                    requester_name=requester_name),
                              stage_options(record, settings, actor), sha=sha,
                              record={**record, "copy_id": copy_id}, workdir=workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def refuse_document(settings: Settings, store: ObjectStore, record: dict, *, actor: str,
                    ground: str, agency_code: str, ground_code: str = "") -> DocumentOutcome:
    """Refuse under Decree 23/2015 Art 22: record, refusal record and audit keep ``ground``."""
    from pipeline.reasons import Reason
    from pipeline.stages import reject

    ground = " ".join(ground.split())
    if not ground:
        raise ValueError("a refusal needs its ground")
    _check_waiting(record)
    return reject(store, stage_options(record, settings, actor), agency_code=agency_code,
                  source=record.get("name", ""), name=record.get("name", ""),
                  sha=record["sha256"], reason=Reason.REFUSED_BY_CLERK,
                  params={"ground": ground},
                  record_extra={"ground_code": ground_code} if ground_code else None)


def cancel_certification(store: ObjectStore, copy_id: str, *, decision_ref: str,
                         decision_date: str | None, reason: str, actor: str,
                         role: str) -> tuple[dict, bool]:
    """(decision on record, True when it was already cancelled before this call).

    Raises storage.evidence.cancellations.NotAllowed / UnknownCopy / CancellationError.
    """
    from storage.evidence.cancellations import cancel_copy, find_cancellation

    before = find_cancellation(store, copy_id)
    decision = cancel_copy(store, copy_id, decision_ref=decision_ref,
                           decision_date=decision_date, reason=reason, actor=actor, role=role)
    return decision, before is not None
