"""A person's electronic data warehouse: warehouse/<person_id>/<doc_type>/<copy_id>.pdf + .json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from storage.records import dump
from storage.store import ObjectStore


def copy_key(person_id: str, doc_type: str, copy_id: str, suffix: str) -> str:
    return f"warehouse/{person_id}/{doc_type}/{copy_id}.{suffix}"


def file_copy(store: ObjectStore, *, person_id: str, doc_type: str, copy_id: str,
              pdf_path: Path, metadata: dict[str, Any]) -> str:
    """Store the signed e-copy and its metadata; the PDF first, so metadata never dangles."""
    pdf_key = copy_key(person_id, doc_type, copy_id, "pdf")
    store.put_file(pdf_key, pdf_path)
    store.put(copy_key(person_id, doc_type, copy_id, "json"), dump(metadata))
    return pdf_key


def list_copies(store: ObjectStore, person_id: str) -> list[dict[str, Any]]:
    out = []
    for key in store.list(f"warehouse/{person_id}/"):
        if key.endswith(".json"):
            meta = json.loads(store.get(key))
            meta["key"] = key.removesuffix(".json") + ".pdf"
            out.append(meta)
    return sorted(out, key=lambda m: m.get("certified_at", ""))
