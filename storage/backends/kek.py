"""Key-encryption keys (KEKs) for sealed objects, and the keyring a store reads with.

A KEK only wraps the per-object data keys (storage.backends.envelope); it never touches object
bytes. Two holders:

- ``FileKek``: 32 random bytes, base64 in a file (mode 0600, outside the store), wrapping with
  AES key wrap (RFC 3394, whose integrity check rejects a wrong key). Its id is derived from
  the key (a 16-hex-digit fingerprint), so an id can never name two different keys.
- ``Pkcs11Kek``: an AES-256 key generated on a PKCS#11 token (an HSM; SoftHSM2 in tests) that
  never leaves it; the data key is wrapped with AES-256-GCM on the token. Its id names the
  token and the key label: rotate by generating a key under a new label.

The ``Keyring`` seals with its current KEK and opens with any KEK it holds, so after a
rotation the objects sealed before stay readable and are never rewritten.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import os
import tempfile
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.keywrap import (
    InvalidUnwrap,
    aes_key_unwrap,
    aes_key_wrap,
)

from storage.backends.envelope import Kek

WRAP_AES_KW = 1
WRAP_AES_GCM = 2
KEK_BYTES = 32


class KekError(ValueError):
    """A KEK that cannot be loaded or made; the message says which file or token and why."""


class FileKek:
    """A KEK held in a file: base64 of 32 random bytes (one line)."""

    wrap_alg = WRAP_AES_KW

    def __init__(self, key: bytes, source: str = "") -> None:
        if len(key) != KEK_BYTES:
            raise KekError(f"a store KEK is {KEK_BYTES} bytes, not {len(key)} ({source})")
        self._key = key
        self.source = source
        self.kek_id = hashlib.sha256(b"ecopy store KEK id\x00" + key).hexdigest()[:16]

    @classmethod
    def from_file(cls, path: Path) -> FileKek:
        try:
            text = Path(path).read_text("ascii").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise KekError(f"cannot read the store KEK file {path}: "
                           f"{getattr(exc, 'strerror', None) or exc}") from None
        try:
            key = base64.b64decode(text, validate=True)
        except binascii.Error:
            raise KekError(f"the store KEK file {path} is not base64 (make one with "
                           "`head -c 32 /dev/urandom | base64`)") from None
        return cls(key, str(path))

    def wrap(self, data_key: bytes) -> bytes:
        return aes_key_wrap(self._key, data_key)

    def unwrap(self, wrapped: bytes) -> bytes:
        try:
            return aes_key_unwrap(self._key, wrapped)
        except (InvalidUnwrap, ValueError):
            raise ValueError("the data key does not unwrap with this KEK") from None


def ensure_kek_file(path: Path) -> FileKek:
    """The KEK in ``path``, created (32 random bytes, mode 0600) when the file is missing.

    Concurrent first runs agree on one key: the new file is written whole, then hard-linked
    into place, which fails when another process got there first (its key is then used).
    """
    path = Path(path)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".kek-", suffix=".part")
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w", encoding="ascii") as fh:
                fh.write(base64.b64encode(os.urandom(KEK_BYTES)).decode() + "\n")
                fh.flush()
                os.fsync(fh.fileno())
            with contextlib.suppress(FileExistsError):
                os.link(tmp, path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
    return FileKek.from_file(path)


class Pkcs11Kek:
    """An AES-256 key on a PKCS#11 token, found by label; wraps with AES-GCM on the token.

    Wrapped form: 12-byte random IV, then the GCM output (ciphertext and 16-byte tag), with
    the KEK id as associated data. One session per process (a forked child opens its own).
    """

    wrap_alg = WRAP_AES_GCM

    def __init__(self, module: Path, token_label: str, key_label: str, pin: str) -> None:
        self.module, self.token_label, self.key_label = Path(module), token_label, key_label
        self._pin = pin
        self.kek_id = f"pkcs11:{token_label}/{key_label}"
        if not self.kek_id.isascii() or len(self.kek_id) > 255:
            raise KekError(f"the KEK id {self.kek_id!r} (token and key label) must be ASCII, "
                           "at most 255 characters")
        self._lock = threading.Lock()
        self._pid = -1
        self._session: Any = None
        self._key: Any = None
        self._token_key()  # a wrong module, token, PIN or label fails here, not mid-request

    def _token_key(self) -> Any:
        import pkcs11
        from pkcs11 import KeyType, ObjectClass
        from pkcs11.exceptions import PKCS11Error, UserAlreadyLoggedIn

        with self._lock:
            if self._key is not None and self._pid == os.getpid():
                return self._key
            try:
                token = pkcs11.lib(str(self.module)).get_token(token_label=self.token_label)
                try:
                    session = token.open(user_pin=self._pin)
                except UserAlreadyLoggedIn:  # this process signs with the same token
                    session = token.open()
                key = session.get_key(object_class=ObjectClass.SECRET_KEY,
                                      key_type=KeyType.AES, label=self.key_label)
            except (PKCS11Error, OSError, RuntimeError) as exc:
                raise KekError(f"cannot use the store KEK {self.key_label!r} on PKCS#11 token "
                               f"{self.token_label!r} ({self.module}): "
                               f"{type(exc).__name__}") from None
            self._session, self._key, self._pid = session, key, os.getpid()
            return key

    def _gcm(self, iv: bytes) -> Any:
        from pkcs11 import GCMParams

        return GCMParams(iv, self.kek_id.encode("ascii"), 128)

    def wrap(self, data_key: bytes) -> bytes:
        from pkcs11 import Mechanism

        iv = os.urandom(12)
        return iv + bytes(self._token_key().encrypt(
            data_key, mechanism=Mechanism.AES_GCM, mechanism_param=self._gcm(iv)))

    def unwrap(self, wrapped: bytes) -> bytes:
        from pkcs11 import Mechanism
        from pkcs11.exceptions import PKCS11Error

        if len(wrapped) != 12 + KEK_BYTES + 16:
            raise ValueError("wrapped data key of the wrong length")
        try:
            return bytes(self._token_key().decrypt(
                wrapped[12:], mechanism=Mechanism.AES_GCM, mechanism_param=self._gcm(wrapped[:12])))
        except PKCS11Error:
            raise ValueError("the data key does not unwrap with this KEK") from None


class Keyring:
    """The KEK new objects are sealed with (``current``; None: read-only) and every KEK that
    may open an object (the current one and the previous ones), by id."""

    def __init__(self, current: Kek | None, previous: Iterable[Kek] = ()) -> None:
        self.current = current
        self._by_id: dict[str, Kek] = {}
        for kek in (*previous, *([current] if current is not None else [])):
            self._by_id[kek.kek_id] = kek

    def kek_for(self, kek_id: str) -> Kek | None:
        return self._by_id.get(kek_id)

    def ids(self) -> list[str]:
        return sorted(self._by_id)
