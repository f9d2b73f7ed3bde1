"""A person's electronic data warehouse: warehouse/<person_id>/<doc_type>/<copy_id>.pdf + .json.

The objects are the evidence; finding them (a person's copies, a copy by its id) is the
catalogue's job (storage.db.catalogue), so no request lists the warehouse.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from storage.backends import ObjectStore
from storage.evidence import dump

PREFIX = "warehouse/"


def copy_key(person_id: str, doc_type: str, copy_id: str, suffix: str) -> str:
    return f"{PREFIX}{person_id}/{doc_type}/{copy_id}.{suffix}"


def file_copy(store: ObjectStore, *, person_id: str, doc_type: str, copy_id: str,
              pdf_path: Path, metadata: dict[str, Any]) -> str:
    """Store the signed e-copy and its metadata; the PDF first, so metadata never dangles."""
    pdf_key = copy_key(person_id, doc_type, copy_id, "pdf")
    store.put_file(pdf_key, pdf_path)
    store.put(copy_key(person_id, doc_type, copy_id, "json"), metadata_bytes(metadata))
    return pdf_key


def metadata_bytes(metadata: dict[str, Any]) -> bytes:
    return dump(metadata)


def scan_metadata_keys(store: ObjectStore) -> Iterator[str]:
    """Every copy's metadata key, by listing the whole warehouse: for rebuilding and checking
    the catalogue (`ecopy db import|check`), never on a request path."""
    for key in store.list(PREFIX):
        if key.endswith(".json") and key.count("/") == 3:
            yield key
