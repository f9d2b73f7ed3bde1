"""The sealed-object envelope: one object's bytes encrypted with AES-256-GCM under a data key of
its own, that key wrapped by a key-encryption key (KEK). Format version 1, big-endian:

    magic      8  b"\\x89ECSEAL\\n"  (never the start of JSON, PDF, JPEG, PNG or TIFF)
    version    1  1
    wrap_alg   1  how the data key is wrapped (kek.WRAP_*): 1 AES key wrap (RFC 3394),
                  2 AES-256-GCM (a PKCS#11 token's key)
    id_len     1  then the KEK id, ASCII (which KEK opens this object)
    wrap_len   2  then the wrapped data key
    segment    4  plaintext bytes per segment (1 MiB)
    segments      ciphertext + 16-byte GCM tag each; every segment is full but the last, and
                  an empty object still has one (empty) last segment

Segment i is encrypted with nonce = i as 12 big-endian bytes (the data key is random and used
for this one object, so a counter never repeats a (key, nonce) pair) and associated data
binding it to its place: a digest of the header, the object's key, i, and a last-segment flag.
So a flipped byte, a dropped or reordered segment, a cut-off tail, or an object copied to
another key fails authentication: reading never returns wrong plaintext. A segment at a time
is in memory, so scans of hundreds of MB stream through.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import BinaryIO, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MAGIC = b"\x89ECSEAL\n"
VERSION = 1
SEGMENT_SIZE = 1 << 20
TAG_SIZE = 16
HEADER_MAX = len(MAGIC) + 3 + 255 + 2 + 0xFFFF + 4  # the longest header possible
MAX_SEGMENT_SIZE = 64 << 20  # a header asking for more is damaged, not a reason to allocate
_AAD_LABEL = b"ecopy-seal-v1\x00"


class SealReason(StrEnum):
    """Why a sealed object could not be read (stable codes; messages in MESSAGES)."""

    BAD_HEADER = "seal_bad_header"
    UNKNOWN_KEK = "seal_unknown_kek"
    UNWRAP_FAILED = "seal_unwrap_failed"
    TAMPERED = "seal_tampered"
    TRUNCATED = "seal_truncated"
    NO_KEK = "seal_no_kek"


MESSAGES: dict[SealReason, tuple[str, str]] = {
    SealReason.BAD_HEADER: (
        "Phần đầu của đối tượng mã hóa bị hỏng hoặc không được hỗ trợ.",
        "The sealed object's header is damaged or of an unsupported version.",
    ),
    SealReason.UNKNOWN_KEK: (
        "Đối tượng được mã hóa bằng khóa {kek_id} mà hệ thống này không có: thêm tệp khóa cũ "
        "vào ECOPY_STORE_KEK_PREVIOUS_FILES.",
        "The object is sealed with KEK {kek_id}, which this deployment does not have: add that "
        "key file to ECOPY_STORE_KEK_PREVIOUS_FILES.",
    ),
    SealReason.UNWRAP_FAILED: (
        "Khóa {kek_id} không mở được khóa dữ liệu của đối tượng (sai khóa hoặc phần đầu bị sửa).",
        "KEK {kek_id} does not open the object's data key (a different key under that id, or "
        "an altered header).",
    ),
    SealReason.TAMPERED: (
        "Nội dung đối tượng đã bị thay đổi, bị sắp xếp lại hoặc được chép từ khóa khác.",
        "The object's content was altered, reordered or copied from another key.",
    ),
    SealReason.TRUNCATED: (
        "Đối tượng bị cắt cụt: thiếu phần cuối.",
        "The object is truncated: its last part is missing.",
    ),
    SealReason.NO_KEK: (
        "Chưa cấu hình khóa mã hóa kho (ECOPY_STORE_KEK_FILE): không thể ghi đối tượng này.",
        "No store key-encryption key is configured (ECOPY_STORE_KEK_FILE): this object cannot "
        "be written.",
    ),
}


class SealError(Exception):
    """A sealed object that cannot be read (or written): ``reason`` is stable, the message
    says what to do (Vietnamese, then English)."""

    def __init__(self, reason: SealReason, key: str, kek_id: str = "", detail: str = "") -> None:
        self.reason, self.key, self.kek_id = reason, key, kek_id
        vi, en = (m.format(kek_id=kek_id or "?") for m in MESSAGES[reason])
        extra = f" ({detail})" if detail else ""
        super().__init__(f"{key}: [{reason}] {vi} / {en}{extra}")


class Kek(Protocol):
    """A key-encryption key: wraps and unwraps 32-byte data keys; never leaves its holder."""

    kek_id: str
    wrap_alg: int

    def wrap(self, data_key: bytes) -> bytes: ...

    def unwrap(self, wrapped: bytes) -> bytes:
        """Raise ValueError when ``wrapped`` does not open with this key."""


@dataclass(frozen=True)
class Header:
    version: int
    wrap_alg: int
    kek_id: str
    wrapped_key: bytes
    segment_size: int
    raw: bytes  # the header's bytes, bound into every segment


def is_sealed(head: bytes) -> bool:
    """True when bytes start with the envelope's magic (an object made before sealing, or
    under a prefix that is not sealed, does not)."""
    return head.startswith(MAGIC)


def _header_bytes(kek: Kek, wrapped: bytes, segment_size: int) -> bytes:
    kek_id = kek.kek_id.encode("ascii")
    return b"".join((MAGIC, struct.pack(">BBB", VERSION, kek.wrap_alg, len(kek_id)), kek_id,
                     struct.pack(">H", len(wrapped)), wrapped, struct.pack(">I", segment_size)))


def _read_exact(src: BinaryIO, size: int) -> bytes:
    parts, left = [], size
    while left > 0:
        chunk = src.read(left)
        if not chunk:
            break
        parts.append(chunk)
        left -= len(chunk)
    return b"".join(parts)


def read_header(src: BinaryIO, key: str) -> Header:
    """The header at the start of ``src`` (positioned just after it on return)."""
    fixed = _read_exact(src, len(MAGIC) + 3)
    if len(fixed) < len(MAGIC) + 3 or not is_sealed(fixed):
        raise SealError(SealReason.BAD_HEADER, key)
    version, wrap_alg, id_len = struct.unpack(">BBB", fixed[len(MAGIC):])
    if version != VERSION:
        raise SealError(SealReason.BAD_HEADER, key, detail=f"version {version}")
    kek_id = _read_exact(src, id_len)
    wrap_len = _read_exact(src, 2)
    if len(kek_id) < id_len or len(wrap_len) < 2:
        raise SealError(SealReason.TRUNCATED, key)
    (n,) = struct.unpack(">H", wrap_len)
    wrapped = _read_exact(src, n)
    seg = _read_exact(src, 4)
    if len(wrapped) < n or len(seg) < 4:
        raise SealError(SealReason.TRUNCATED, key)
    (segment_size,) = struct.unpack(">I", seg)
    if not 1 <= segment_size <= MAX_SEGMENT_SIZE:
        raise SealError(SealReason.BAD_HEADER, key, detail=f"segment size {segment_size}")
    try:
        kek_text = kek_id.decode("ascii")
    except UnicodeDecodeError:
        raise SealError(SealReason.BAD_HEADER, key) from None
    return Header(version, wrap_alg, kek_text, wrapped, segment_size,
                  fixed + kek_id + wrap_len + wrapped + seg)


def _aad(header_digest: bytes, key: bytes, index: int, last: bool) -> bytes:
    return b"".join((_AAD_LABEL, header_digest, struct.pack(">H", len(key)), key,
                     struct.pack(">QB", index, last)))


def _nonce(index: int) -> bytes:
    return index.to_bytes(12, "big")


def seal_stream(src: BinaryIO, dst: BinaryIO, key: str, kek: Kek,
                segment_size: int = SEGMENT_SIZE) -> None:
    """Write ``src``'s bytes to ``dst`` sealed for object ``key`` with a fresh data key."""
    data_key = AESGCM.generate_key(bit_length=256)
    header = _header_bytes(kek, kek.wrap(data_key), segment_size)
    digest, name = hashlib.sha256(header).digest(), key.encode()
    aead = AESGCM(data_key)
    dst.write(header)
    index, current = 0, _read_exact(src, segment_size)
    while True:
        following = _read_exact(src, segment_size) if len(current) == segment_size else b""
        last = not following
        dst.write(aead.encrypt(_nonce(index), current, _aad(digest, name, index, last)))
        if last:
            return
        index, current = index + 1, following


def open_stream(src: BinaryIO, dst: BinaryIO, key: str,
                kek_for: Callable[[str], Kek | None]) -> None:
    """Write the plaintext of the sealed object ``src`` (stored under ``key``) to ``dst``.

    Raises SealError before writing anything the object does not vouch for: each segment is
    authenticated before its bytes are written. ``dst`` may hold earlier segments when a later
    one fails, so callers write to a temporary file and discard it on error.
    """
    header = read_header(src, key)
    kek = kek_for(header.kek_id)
    if kek is None or kek.wrap_alg != header.wrap_alg:
        raise SealError(SealReason.UNKNOWN_KEK, key, header.kek_id)
    try:
        data_key = kek.unwrap(header.wrapped_key)
    except ValueError:
        raise SealError(SealReason.UNWRAP_FAILED, key, header.kek_id) from None
    if len(data_key) != 32:
        raise SealError(SealReason.UNWRAP_FAILED, key, header.kek_id)
    aead, digest, name = AESGCM(data_key), hashlib.sha256(header.raw).digest(), key.encode()
    size = header.segment_size + TAG_SIZE
    index, current = 0, _read_exact(src, size)
    if not current:
        raise SealError(SealReason.TRUNCATED, key, header.kek_id)
    while True:
        following = _read_exact(src, size) if len(current) == size else b""
        last = not following
        dst.write(_open_segment(aead, current, digest, name, index, last, key, header.kek_id))
        if last:
            return
        index, current = index + 1, following


def _open_segment(aead: AESGCM, sealed: bytes, digest: bytes, name: bytes, index: int,
                  last: bool, key: str, kek_id: str) -> bytes:
    try:
        return aead.decrypt(_nonce(index), sealed, _aad(digest, name, index, last))
    except InvalidTag:
        pass
    if last:  # did this segment expect a successor? then the object's tail was cut off
        try:
            aead.decrypt(_nonce(index), sealed, _aad(digest, name, index, False))
        except InvalidTag:
            pass
        else:
            raise SealError(SealReason.TRUNCATED, key, kek_id) from None
    if len(sealed) < TAG_SIZE:
        raise SealError(SealReason.TRUNCATED, key, kek_id)
    raise SealError(SealReason.TAMPERED, key, kek_id, detail=f"segment {index}")
