"""Originals and their OCR, keyed by the bytes: originals/<sha256>, documents/<sha256>/ocr.json.

The same scan brought to two dossiers is stored once and read once; everything else about
it (status, fields, corrections) belongs to each case (storage.db.cases).
"""

from __future__ import annotations

from pathlib import Path

from storage.backends import ObjectStore


def original_key(sha256: str) -> str:
    return f"originals/{sha256}"


def ocr_key(sha256: str) -> str:
    return f"documents/{sha256}/ocr.json"


def store_original(store: ObjectStore, sha256: str, path: Path) -> bool:
    """Keep the uploaded bytes; False when they were already stored. They stay an upload,
    which a retention run may delete once refused and past its date, until `retain_original`
    makes them evidence (storage.backends.keyspace)."""
    key = original_key(sha256)
    if store.exists(key):
        return False
    store.put_file(key, path)
    return True


def retain_original(store: ObjectStore, sha256: str) -> None:
    """The original and its OCR become evidence: a copy is being issued or a refusal recorded
    from them. Locked where the store can (S3 object lock); never deleted in any store."""
    store.retain(original_key(sha256))
    store.retain(ocr_key(sha256))
