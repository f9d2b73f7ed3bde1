"""The object store is the system of record; this is its small protocol and the local store.

Keys are '/'-separated ASCII paths ("originals/<sha256>", "register/..."). Everything the
pipeline keeps goes through this protocol so the embedded LocalStore and the distributed S3
store are interchangeable.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO, Protocol, runtime_checkable

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

    def describe(self) -> str:
        """Where the store is, for messages."""


class LocalStore:
    """A directory; the embedded default.

    put_if_absent writes a temporary file and hard-links it into place: link() fails when the
    name exists, so creation is atomic and the object is complete when it becomes visible
    (O_EXCL alone would expose a half-written file to a concurrent reader).
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root).absolute()
        self.root.mkdir(parents=True, exist_ok=True)

    def path_of(self, key: str) -> Path:
        return self.root / check_key(key)

    def _tmp_beside(self, target: Path) -> tuple[int, str]:
        target.parent.mkdir(parents=True, exist_ok=True)
        return tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=".part")

    def _write_atomically(
        self, key: str, fill: Callable[[BinaryIO], None], *, durable: bool = True
    ) -> None:
        """Readers see the old object or the new one, never a half-written file."""
        target = self.path_of(key)
        fd, tmp = self._tmp_beside(target)
        try:
            with os.fdopen(fd, "wb") as fh:
                fill(fh)
                fh.flush()
                if durable:
                    os.fsync(fh.fileno())
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise

    def put(self, key: str, data: bytes, *, durable: bool = True) -> None:
        self._write_atomically(key, lambda fh: fh.write(data), durable=durable)

    def put_file(self, key: str, path: Path) -> None:
        def copy(out: BinaryIO) -> None:
            with open(path, "rb") as src:
                shutil.copyfileobj(src, out, 1 << 20)

        self._write_atomically(key, copy)

    def put_if_absent(self, key: str, data: bytes) -> bool:
        target = self.path_of(key)
        if target.exists():
            return False
        fd, tmp = self._tmp_beside(target)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            try:
                os.link(tmp, target)
            except FileExistsError:
                return False
            return True
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)

    def get(self, key: str) -> bytes:
        try:
            return self.path_of(key).read_bytes()
        except FileNotFoundError:
            raise KeyError(key) from None

    def get_to_file(self, key: str, path: Path) -> None:
        src = self.path_of(key)
        if not src.exists():
            raise KeyError(key)
        with open(src, "rb") as fin, open(path, "wb") as fout:
            while chunk := fin.read(1 << 20):
                fout.write(chunk)

    def exists(self, key: str) -> bool:
        return self.path_of(key).is_file()

    def list(self, prefix: str) -> Iterator[str]:
        base = self.root
        start = base / prefix.rstrip("/") if prefix else base
        search = start if start.is_dir() else start.parent
        if not search.is_dir():
            return iter(())
        keys = []
        for dirpath, _dirs, files in os.walk(search):
            for name in files:
                if name.startswith(".tmp-"):
                    continue
                key = Path(dirpath, name).relative_to(base).as_posix()
                if key.startswith(prefix):
                    keys.append(key)
        return iter(sorted(keys))

    def describe(self) -> str:
        return str(self.root)
