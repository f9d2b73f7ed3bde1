"""Batches of the distributed mode: batches/<batch_id>.json, written once by `ecopy submit`.

A batch lists its documents (by original sha256) and the options they are processed with.
Progress is not kept here: each document's record (storage.records) says where it stands,
so the batch object never changes and Redis never holds the only copy of anything.
"""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime
from typing import Any

from storage.backends import ObjectStore
from storage.records import dump


def batch_key(batch_id: str) -> str:
    return f"batches/{batch_id}.json"


def new_batch_id() -> str:
    """Sortable by submission time, unique without coordination."""
    return f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(4)}"


def create_batch(store: ObjectStore, batch_id: str, data: dict[str, Any]) -> None:
    if not store.put_if_absent(batch_key(batch_id), dump({**data, "batch_id": batch_id})):
        raise FileExistsError(f"batch {batch_id} exists")


def read_batch(store: ObjectStore, batch_id: str) -> dict[str, Any]:
    """Raise KeyError when there is no such batch."""
    return json.loads(store.get(batch_key(batch_id)))


def list_batches(store: ObjectStore) -> list[str]:
    return [k.removeprefix("batches/").removesuffix(".json") for k in store.list("batches/")
            if k.endswith(".json")]
