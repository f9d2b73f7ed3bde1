"""The object store's protocol: where the evidence lives (architecture.md, "Two kinds of state").

Keys are '/'-separated ASCII paths ("originals/<sha256>", "register/..."). Everything kept as
evidence goes through this protocol, so the embedded LocalStore and the distributed S3 store
are interchangeable. Working state (cases, dossiers, accounts, ...) is in the database
(storage.db), never here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol, runtime_checkable

_KEY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-]*(/[A-Za-z0-9][A-Za-z0-9._\-]*)*$")


class InvalidKey(ValueError):
    """A key that could escape the store or is not plain ASCII."""


def check_key(key: str) -> str:
    if not _KEY_RE.match(key) or ".." in key.split("/"):
        raise InvalidKey(f"invalid object key: {key!r}")
    return key


@runtime_checkable
class ObjectStore(Protocol):
    """MUST be safe for concurrent writers from several processes."""

    def put(self, key: str, data: bytes, *, durable: bool = True) -> None:
        """Store data under key, replacing what was there; readers see old or new, never half.

        ``durable=False`` is for advisory objects (hints) that may revert to an older version
        after a crash; a store may then skip its sync. Never for records, copies or logs.
        """

    def put_file(self, key: str, path: Path) -> None:
        """Like put, streaming from a file (large objects must not be held in memory)."""

    def put_if_absent(self, key: str, data: bytes) -> bool:
        """Create key only if it does not exist; True if this call created it. Atomic."""

    def get(self, key: str) -> bytes:
        """Raise KeyError when absent."""

    def get_to_file(self, key: str, path: Path) -> None:
        """Copy an object to a local file without holding it in memory."""

    def exists(self, key: str) -> bool: ...

    def list(self, prefix: str) -> Iterator[str]:
        """Keys starting with prefix, sorted."""

    def delete(self, key: str) -> bool:
        """Remove an upload past its retention date, every version of it; True when something
        was removed. MUST refuse every other key (storage.backends.keyspace.check_deletable:
        evidence is never deleted) before touching the store; raises keyspace.ObjectLocked
        when the store's object lock keeps the object."""

    def retain(self, key: str) -> bool:
        """Make an existing object evidence where the store can lock it (S3 object lock, as
        `ecopy storage init` configured it): an upload once a copy is issued or a refusal
        recorded from it. True when the object is now locked; False for a store without a
        lock (a directory) or an absent object."""

    def describe(self) -> str:
        """Where the store is, for messages."""
