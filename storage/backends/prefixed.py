"""One folder of a store presented as a store of its own, read-only.

An archived audit chain (audit-archive/<source>/audit/...) is then checked by the same
storage.evidence.audit code as a live one.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from storage.backends.base import ObjectStore, check_key


class PrefixedStore:
    """A read-only view of the keys under `prefix`, with the prefix taken off."""

    def __init__(self, store: ObjectStore, prefix: str) -> None:
        self._store = store
        self._prefix = check_key(prefix.strip("/")) + "/"

    def _full(self, key: str) -> str:
        return self._prefix + key

    def get(self, key: str) -> bytes:
        return self._store.get(self._full(key))

    def get_to_file(self, key: str, path: Path) -> None:
        self._store.get_to_file(self._full(key), path)

    def exists(self, key: str) -> bool:
        return self._store.exists(self._full(key))

    def list(self, prefix: str) -> Iterator[str]:
        return (k.removeprefix(self._prefix) for k in self._store.list(self._full(prefix)))

    def describe(self) -> str:
        return f"{self._store.describe()} ({self._prefix})"

    def _read_only(self, *_args: object, **_kw: object) -> None:
        raise PermissionError("an archive is read-only")

    put = put_file = put_if_absent = delete = retain = _read_only
