"""Document records and originals: documents/<sha256>/record.json, originals/<sha256>.

A document is identified by its original's sha256, so every step is idempotent on the bytes:
the same scan uploaded twice is recognised, not processed twice.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import socket
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from storage.backends import ObjectStore

FINAL_STATUSES = {"needs_review", "ready", "certified", "filed"}


def original_key(sha256: str) -> str:
    return f"originals/{sha256}"


def record_key(sha256: str) -> str:
    return f"documents/{sha256}/record.json"


def ocr_key(sha256: str) -> str:
    return f"documents/{sha256}/ocr.json"


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def dump(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True).encode()


def store_original(store: ObjectStore, sha256: str, path: Path) -> bool:
    """Keep the uploaded bytes forever; False when they were already stored."""
    key = original_key(sha256)
    if store.exists(key):
        return False
    store.put_file(key, path)
    return True


def read_record(store: ObjectStore, sha256: str) -> dict | None:
    try:
        return json.loads(store.get(record_key(sha256)))
    except KeyError:
        return None


def _owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _owner_alive(owner: str) -> bool:
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return True  # another machine's claim: assume alive (reconcile handles it)
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def claim_document(store: ObjectStore, sha256: str, initial: dict) -> tuple[bool, dict | None]:
    """Take a document for processing. Returns (claimed, existing record when not claimed).

    A rejected document may be tried again (the user may have fixed the cause, e.g. with
    --accept-signed); a claim left by a process that died on this host is taken over.
    """
    record = {**initial, "status": "received", "owner": _owner(),
              "history": [{"status": "received", "at": now_iso()}]}
    if store.put_if_absent(record_key(sha256), dump(record)):
        return True, None
    existing = read_record(store, sha256) or {}
    status = existing.get("status")
    if status in FINAL_STATUSES:
        return False, existing
    if status == "rejected" or not _owner_alive(existing.get("owner", "")):
        record["history"] = [*existing.get("history", []), *record["history"]]
        store.put(record_key(sha256), dump(record))
        return True, None
    return False, existing


def update_record(store: ObjectStore, sha256: str, status: str, **changes: Any) -> dict:
    record = read_record(store, sha256) or {"sha256": sha256, "history": []}
    record.update(changes)
    record["status"] = status
    event = {"status": status, "at": now_iso()}
    if changes.get("reason"):
        event["reason"] = changes["reason"]
    record["history"] = [*record.get("history", []), event]
    store.put(record_key(sha256), dump(record))
    _push_status(store, sha256, record)
    return record


def _push_status(store: ObjectStore, sha256: str, record: dict) -> None:
    """Dossiers' status changes go to the portal outbox (issue 8 point 3). The record is
    already written, so a failure here is logged, not raised: `ecopy sync backfill` can
    enqueue the missed event again from the history (the key is deterministic)."""
    from storage.portal_events import enqueue_status_change  # lazily: it imports dossiers

    try:
        enqueue_status_change(store, sha256, record)
    except Exception:
        logging.getLogger(__name__).warning("portal outbox: status of %s not enqueued",
                                            sha256[:12], exc_info=True)


def to_jsonable(value: Any) -> Any:
    """Dataclasses (nested) to plain JSON values; tuples become lists."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    return value
