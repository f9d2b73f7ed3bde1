"""A person's electronic data warehouse: warehouse/<person_id>/<doc_type>/<copy_id>.pdf + .json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from storage.backends import ObjectStore
from storage.records import dump


def copy_key(person_id: str, doc_type: str, copy_id: str, suffix: str) -> str:
    return f"warehouse/{person_id}/{doc_type}/{copy_id}.{suffix}"


def pointer_key(copy_id: str) -> str:
    return f"copies/{copy_id}.json"


def file_copy(store: ObjectStore, *, person_id: str, doc_type: str, copy_id: str,
              pdf_path: Path, metadata: dict[str, Any]) -> str:
    """Store the signed e-copy and its metadata; the PDF first, so metadata never dangles.

    Then a pointer copies/<copy_id>.json to the metadata, so the copy is found by its id
    (QR link, cancellation, complaint) without listing the whole warehouse.
    """
    pdf_key = copy_key(person_id, doc_type, copy_id, "pdf")
    store.put_file(pdf_key, pdf_path)
    meta_key = copy_key(person_id, doc_type, copy_id, "json")
    store.put(meta_key, dump(metadata))
    store.put_if_absent(pointer_key(copy_id), dump({"key": meta_key}))
    return pdf_key


def copy_metadata_key(store: ObjectStore, copy_id: str) -> str | None:
    """The warehouse metadata key of a copy: its pointer, else (copies filed before pointers
    existed) a scan of the warehouse. ``copy_id`` must already be validated by the caller."""
    try:
        key = json.loads(store.get(pointer_key(copy_id)))["key"]
    except (KeyError, ValueError, TypeError):
        key = None
    if isinstance(key, str) and key.startswith("warehouse/") and key.endswith(f"/{copy_id}.json"):
        return key
    suffix = f"/{copy_id}.json"
    return next((k for k in store.list("warehouse/")
                 if k.endswith(suffix) and k.count("/") == 3), None)


def list_copies(store: ObjectStore, person_id: str) -> list[dict[str, Any]]:
    out = []
    for key in store.list(f"warehouse/{person_id}/"):
        if key.endswith(".json"):
            meta = json.loads(store.get(key))
            meta["key"] = key.removesuffix(".json") + ".pdf"
            out.append(meta)
    return sorted(out, key=lambda m: m.get("certified_at", ""))
