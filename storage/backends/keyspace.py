"""Which store keys are evidence and which are uploads a retention run may delete: the ONE list.

Evidence is never deleted (architecture.md, "Two kinds of state") and, on S3, every version of
it is written under object lock (storage.backends.s3). Only two kinds of object may ever be
deleted, and only by `ecopy retention run` (pipeline.casework.retention), which decides from
the database whether one is due:

- ``originals/<sha256>``: uploaded bytes. An upload becomes evidence once a copy is issued or
  an Art 22 refusal is recorded from it (then it is locked with ``ObjectStore.retain`` and the
  retention run never picks it); until then it is an upload that may be refused and deleted.
- ``documents/<sha256>/…``: what was derived from those bytes (the OCR result; in stores
  made before the database, the record of the upload).

Every other key is evidence: the store's ``delete`` refuses it before touching anything, so an
unknown prefix is kept, never lost. ``EVIDENCE_PREFIXES`` names what the code writes today
(for the docs and the tests that prove each is refused).
"""

from __future__ import annotations

import re

from storage.backends.base import check_key

DELETABLE_PATTERNS: tuple[re.Pattern[str], ...] = (
    re.compile(r"^originals/[0-9a-f]{64}$"),
    re.compile(r"^documents/[0-9a-f]{64}/[A-Za-z0-9][A-Za-z0-9._/-]*$"),
)
DELETABLE_PREFIXES: tuple[str, ...] = ("originals/", "documents/")

EVIDENCE_PREFIXES: tuple[str, ...] = (
    "warehouse/",  # signed e-copies and their metadata (storage.evidence.warehouse)
    "register/",  # register entries, one per number, and the year's HEAD hint
    "register-notes/",  # void numbers and refusal notes beside the register
    "cancellations/",  # cancellation decisions
    "refusals/",  # Art 22 refusal records
    "violations/",  # violation records of forged papers (storage.evidence.violations)
    "audit/",  # the hash-chained audit log and its HEAD
    "audit-archive/",  # former units' audit chains, archived whole by `ecopy migrate`
    "outbox/receipts/",  # the portal's receipts
    "models/",  # document-type models, never overwritten
    "models-archive/",  # former units' models
    "migrations/",  # merger migration reports
    "agencies/",  # which former communes a commune took over
    "storage/",  # the store's own lock policy (LOCK_POLICY_KEY)
)
# Records the law keeps for good (Decree 23/2015 Art 13: the certification book is kept
# permanently; the audit log proves it): on S3 each object under these prefixes is written
# with the evidence lock's mode but for PERMANENT_DAYS (a century) instead of the evidence
# retention (storage.backends.s3). A legal hold was the other choice, but whoever may set one
# may lift it (s3:PutObjectLegalHold), and every writer of the register would need it; a
# COMPLIANCE retention cannot be shortened by anyone, the bucket's owner included.
PERMANENT_DAYS = 36_500
PERMANENT_PREFIXES: tuple[str, ...] = (
    "register/", "register-notes/", "refusals/", "violations/", "cancellations/", "audit/",
    "audit-archive/",
)


def is_permanent(key: str) -> bool:
    return key.startswith(PERMANENT_PREFIXES)


# Working state of stores made before the database (dossiers/, accounts/, complaints/,
# copies/, batches/, outbox/, web/): read once by `ecopy db import` and kept as written.

LOCK_POLICY_KEY = "storage/object-lock.json"  # written by `ecopy storage init` (S3)


class EvidenceKey(PermissionError):
    """A key that is evidence (or not known to be deletable): it is never deleted."""


class ObjectLocked(PermissionError):
    """The store's object lock keeps the object (e.g. an upload written under the default
    retention of an older `storage init`): it cannot be deleted before the lock expires."""


def is_deletable(key: str) -> bool:
    check_key(key)
    return any(p.match(key) for p in DELETABLE_PATTERNS)


def check_deletable(key: str) -> str:
    """The key when a retention run may delete it; `EvidenceKey` otherwise."""
    if not is_deletable(key):
        raise EvidenceKey(f"{key}: evidence is never deleted (only originals/<sha256> and "
                          "documents/<sha256>/... uploads may be)")
    return key
