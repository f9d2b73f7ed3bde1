"""Encryption at rest: a store wrapper that seals the objects holding personal data.

``SealedStore`` wraps a LocalStore or an S3Store and keeps its protocol: callers read and write
plaintext, the inner store only ever holds envelopes (storage.backends.envelope) for keys under
SEALED_PREFIXES. Keys stay the plaintext names ("originals/<sha256>"), so a duplicate is still
recognised by its key and create-if-absent still decides races.

Reading does not depend on the prefix list but on the bytes: an object with the envelope's
magic is opened, any other object is returned as it is. So a store written before sealing
stays readable, and objects sealed under an older prefix list never become unreadable.
Sealing keeps evidence confidential; its integrity is the signatures', hash chains' and
sha256 keys' job as before (a plaintext object planted under a sealed key is returned as it is).
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from storage.backends.base import ObjectStore
from storage.backends.envelope import (
    HEADER_MAX,
    MAGIC,
    SEGMENT_SIZE,
    Kek,
    SealError,
    SealReason,
    is_sealed,
    open_stream,
    read_header,
    seal_stream,
)
from storage.backends.kek import Keyring
from storage.backends.local import LocalStore

# The ONE list of what is sealed: every prefix whose objects carry a citizen's data.
SEALED_PREFIXES: tuple[str, ...] = (
    "originals/",  # the scans themselves
    "documents/",  # OCR text of each original (and pre-database case records)
    "warehouse/",  # the signed e-copies and their metadata (names, fields, person id)
    "register/",  # Mẫu số 19: the requester's name and the document (column 3, 4)
    "register-notes/",  # void numbers and refusal notes (the document refused)
    "refusals/",  # Art 22 refusals (document name, the clerk's message)
    "violations/",  # violation records of forged papers (who presented the paper)
    "cancellations/",  # decisions name the person id of the cancelled copy
    "dossiers/",  # pre-database working state copied by a migration (names, addresses)
    "complaints/",  # idem: complaints and the complainant's contact
)
# Not sealed, on purpose: audit/ and audit-archive/ (officials' actions, object hashes, no
# citizen data), models/, outbox/receipts/, agencies/, migrations/, health/.


def sealed_key(key: str, prefixes: tuple[str, ...] = SEALED_PREFIXES) -> bool:
    return key.startswith(prefixes)


class SealedStore:
    """An ObjectStore that seals objects under ``prefixes`` with ``keyring.current``.

    Any other attribute of the inner store (``root``, ``path_of``, ``ensure_bucket``,
    ``retain``, ...) is passed through: they deal in keys and buckets, never in contents.
    """

    def __init__(self, inner: ObjectStore, keyring: Keyring, *,
                 prefixes: tuple[str, ...] = SEALED_PREFIXES,
                 segment_size: int = SEGMENT_SIZE) -> None:
        self.inner = inner
        self.keyring = keyring
        self.prefixes = prefixes
        self.segment_size = segment_size

    def __getattr__(self, name: str) -> Any:
        if name in ("inner", "keyring", "prefixes", "segment_size"):  # unpickling, half-built
            raise AttributeError(name)
        return getattr(self.inner, name)

    def seals(self, key: str) -> bool:
        return sealed_key(key, self.prefixes)

    def _kek(self, key: str) -> Kek:
        if self.keyring.current is None:
            raise SealError(SealReason.NO_KEK, key)
        return self.keyring.current

    def _seal_bytes(self, key: str, data: bytes) -> bytes:
        out = io.BytesIO()
        seal_stream(io.BytesIO(data), out, key, self._kek(key), self.segment_size)
        return out.getvalue()

    # -- writing ---------------------------------------------------------------------------

    def put(self, key: str, data: bytes, *, durable: bool = True) -> None:
        if self.seals(key):
            data = self._seal_bytes(key, data)
        self.inner.put(key, data, durable=durable)

    def put_if_absent(self, key: str, data: bytes) -> bool:
        if self.seals(key):
            data = self._seal_bytes(key, data)
        return self.inner.put_if_absent(key, data)

    def put_file(self, key: str, path: Path) -> None:
        if not self.seals(key):
            self.inner.put_file(key, path)
            return
        kek = self._kek(key)
        with open(path, "rb") as src:
            if isinstance(self.inner, LocalStore):  # sealed straight into the new object
                self.inner.put_stream(
                    key, lambda dst: seal_stream(src, dst, key, kek, self.segment_size))
                return
            with _temporary() as tmp:  # S3 uploads a file: the envelope is staged first
                with open(tmp, "wb") as dst:
                    seal_stream(src, dst, key, kek, self.segment_size)
                self.inner.put_file(key, tmp)

    # -- reading ---------------------------------------------------------------------------

    def get(self, key: str) -> bytes:
        data = self.inner.get(key)
        if not is_sealed(data):
            return data
        out = io.BytesIO()
        open_stream(io.BytesIO(data), out, key, self.keyring.kek_for)
        return out.getvalue()

    def get_to_file(self, key: str, path: Path) -> None:
        """Streams: the sealed bytes are read a segment at a time and the target appears
        only once every segment has been authenticated."""
        target = Path(path)
        with self._sealed_source(key, target) as src:
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=".part")
            try:
                with os.fdopen(fd, "wb") as dst:
                    if is_sealed(src.read(len(MAGIC))):
                        src.seek(0)
                        open_stream(src, dst, key, self.keyring.kek_for)
                    else:  # made before sealing: as it is
                        src.seek(0)
                        while chunk := src.read(1 << 20):
                            dst.write(chunk)
                os.replace(tmp, target)
            except BaseException:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)
                raise

    @contextlib.contextmanager
    def _sealed_source(self, key: str, target: Path) -> Iterator[Any]:
        """The stored bytes as a file: a local store's own file, else a temporary copy."""
        if isinstance(self.inner, LocalStore):
            try:
                fh = open(self.inner.path_of(key), "rb")  # noqa: SIM115 -- closed just below
            except FileNotFoundError:
                raise KeyError(key) from None
            with fh:
                yield fh
            return
        with _temporary(beside=target) as tmp:
            self.inner.get_to_file(key, tmp)
            with open(tmp, "rb") as fh:
                yield fh

    def kek_id_of(self, key: str) -> str | None:
        """The id of the KEK that sealed ``key`` (from its header alone); None: not sealed.

        Raises SealError for a damaged header, KeyError when the object is absent."""
        head = self._head(key, HEADER_MAX)
        if not is_sealed(head):
            return None
        return read_header(io.BytesIO(head), key).kek_id

    def _head(self, key: str, size: int) -> bytes:
        if isinstance(self.inner, LocalStore):
            try:
                with open(self.inner.path_of(key), "rb") as fh:
                    return fh.read(size)
            except FileNotFoundError:
                raise KeyError(key) from None
        get_head = getattr(self.inner, "get_head", None)  # S3: a ranged GET
        return get_head(key, size) if get_head else self.inner.get(key)[:size]

    def exists(self, key: str) -> bool:
        return self.inner.exists(key)

    def delete(self, key: str) -> bool:
        """A key, not contents: the inner store's own guard decides (storage.backends.keyspace)."""
        return self.inner.delete(key)

    def list(self, prefix: str) -> Iterator[str]:
        return self.inner.list(prefix)

    def describe(self) -> str:
        return self.inner.describe()


@contextlib.contextmanager
def _temporary(beside: Path | None = None) -> Iterator[Path]:
    """A temporary file for an envelope in transit (never plaintext): next to ``beside`` (the
    caller's own folder, on the same disk), else in the system's temporary directory."""
    fd, name = tempfile.mkstemp(dir=beside.parent if beside else None, prefix=".tmp-seal-",
                                suffix=".part")
    os.close(fd)
    try:
        yield Path(name)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name)
