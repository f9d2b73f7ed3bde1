"""The embedded default store: a directory (LocalStore)."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from storage.backends.base import check_key
from storage.backends.keyspace import check_deletable


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

    def put_stream(self, key: str, fill: Callable[[BinaryIO], None]) -> None:
        """Like put_file, the bytes written by ``fill`` into the new object's file: a wrapper
        that transforms them on the way (the sealed store) needs no staging copy."""
        self._write_atomically(key, fill)

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
                if name.startswith("."):  # temporary files, the embedded database: not keys
                    continue
                key = Path(dirpath, name).relative_to(base).as_posix()
                if key.startswith(prefix):
                    keys.append(key)
        return iter(sorted(keys))

    def delete(self, key: str) -> bool:
        target = self.path_of(check_deletable(key))
        try:
            target.unlink()
        except FileNotFoundError:
            return False
        # documents/<sha256>/ emptied: remove it too (never a top folder such as originals/,
        # which a concurrent writer may have just made for its own object)
        for folder in target.parents:
            if folder.parent == self.root or not folder.is_relative_to(self.root):
                break
            try:
                folder.rmdir()
            except OSError:  # not empty (or a concurrent writer's new file): keep it
                break
        return True

    def retain(self, key: str) -> bool:
        return False  # a directory has no object lock: evidence is kept by never deleting it

    def describe(self) -> str:
        return str(self.root)
