"""The S3 object store (minio client): the distributed system of record.

Same protocol and key rules as LocalStore. What S3 changes and how it is handled here:

- create-if-absent is a PUT carrying the real ``If-None-Match: *`` header; the server answers
  412 PreconditionFailed when the key exists. minio's public ``put_object`` cannot send it (its
  ``metadata`` argument turns unknown headers into ``x-amz-meta-*`` user metadata and the PUT
  silently overwrites), so the PUT goes through the client's lower-level ``_put_object``, which
  sends the headers it is given unchanged.
- large files are uploaded part by part (multipart, ``part_size`` each) and downloaded as a
  stream into a temporary file beside the target, so neither holds the object in memory.
- network failures and server errors (connection refused, timeouts, 5xx) surface as
  ``StoreUnavailable`` (a ConnectionError) so callers can retry; the HTTP pool has short
  timeouts and few retries, so a down server fails in seconds instead of hanging.
- only bytes are stored: no user metadata (minio cannot send non-ASCII headers anyway); what
  callers need to know about an object lives in JSON objects they write themselves.
- object lock applies to evidence only: `ecopy storage init` (``lock_evidence``) leaves the
  bucket without a default retention and records the retention in the bucket
  (storage.backends.keyspace.LOCK_POLICY_KEY); every PUT of an evidence key then carries
  that retention itself, while uploads (``originals/``, ``documents/``) stay deletable until
  ``retain`` locks one that became evidence. ``delete`` removes every version of an upload
  and refuses evidence keys before asking the server.

Nothing here reads the environment: the caller passes endpoint, credentials and bucket.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import certifi
import urllib3
from minio import Minio
from minio.commonconfig import COMPLIANCE, ENABLED, GOVERNANCE
from minio.datatypes import Part
from minio.error import InvalidResponseError, MinioException, S3Error, ServerError
from minio.objectlockconfig import DAYS, ObjectLockConfig
from minio.retention import Retention
from minio.time import to_iso8601utc
from minio.versioningconfig import VersioningConfig
from urllib3.util import Retry, Timeout

from storage.backends import check_key
from storage.backends.keyspace import (
    LOCK_POLICY_KEY,
    PERMANENT_DAYS,
    ObjectLocked,
    check_deletable,
    is_deletable,
    is_permanent,
)

DEFAULT_PART_SIZE = 16 * 1024 * 1024  # multipart part size; S3 allows 5 MiB .. 5 GiB
_CHUNK = 1 << 20  # download chunk
_NOT_FOUND = frozenset({"NoSuchKey", "NoSuchObject"})
# an object without a retention of its own (AWS, MinIO / SeaweedFS)
_NO_RETENTION = frozenset({"NoSuchObjectLockConfiguration",
                           "ObjectLockConfigurationNotFoundError"})
_UNREAD = ("", 0)  # the bucket's lock policy was not read yet
_TRANSIENT_CODES = frozenset(
    {"InternalError", "ServiceUnavailable", "SlowDown", "RequestTimeout", "OperationAborted"})
# 409 ConditionalRequestConflict: another conditional write on the key was in flight. Nobody
# is known to have created the key, so it is retried (the retry ends in 201 or 412): treating
# it as a lost race could make a register allocator skip a number nobody took.
_CONFLICT_CODES = frozenset({"ConditionalRequestConflict"})
_CONFLICT_RETRIES = 6


class StoreUnavailable(ConnectionError):
    """The store could not be reached or failed on its side (network, timeout, 5xx): retry.

    After a failed put_if_absent the outcome is unknown (the request may have been applied
    before the connection broke): check with get/exists before retrying with other data.
    """


class StoreFeatureUnsupported(RuntimeError):
    """The server or the bucket refuses a feature asked for (versioning, object lock)."""


def _status(exc: MinioException) -> int:
    if isinstance(exc, S3Error):
        return exc.response.status if exc.response is not None else 0
    if isinstance(exc, ServerError):
        return exc.status_code
    if isinstance(exc, InvalidResponseError):
        return int(getattr(exc, "_code", 0) or 0)  # minio keeps the status only privately
    return 0


class S3Store:
    """An S3 bucket (optionally a key prefix inside it) behind the ObjectStore protocol.

    ``endpoint`` is ``host[:port]`` (no scheme: ``secure`` chooses https/http). ``ca_file``
    is a PEM bundle to trust instead of certifi's, e.g. for a private CA. ``prefix`` puts
    every key under ``<prefix>/`` so several stores can share a bucket; keys seen by callers
    never include it.
    """

    def __init__(
        self,
        endpoint: str,
        bucket: str,
        access_key: str,
        secret_key: str,
        secure: bool = True,
        region: str | None = None,
        ca_file: Path | None = None,
        prefix: str = "",
        *,
        part_size: int = DEFAULT_PART_SIZE,
        connect_timeout: float = 5.0,
        read_timeout: float = 60.0,
    ) -> None:
        if "://" in endpoint or "/" in endpoint:
            raise ValueError(f"endpoint must be host[:port] without scheme or path: {endpoint!r}")
        if not 5 * 1024 * 1024 <= part_size <= 5 * 1024 * 1024 * 1024:
            raise ValueError("part_size must be between 5 MiB and 5 GiB")
        prefix = prefix.strip("/")
        self.endpoint = endpoint
        self.bucket = bucket
        self.secure = secure
        self.region = region
        self.part_size = part_size
        self._prefix = f"{check_key(prefix)}/" if prefix else ""
        self._client_args = {
            "endpoint": endpoint, "access_key": access_key, "secret_key": secret_key,
            "secure": secure, "region": region,
        }
        self._timeout = Timeout(connect=connect_timeout, read=read_timeout)
        self._ca_certs = str(ca_file) if ca_file else certifi.where()
        self._pid = -1
        self._minio: Minio | None = None
        self._lock: tuple[str, int] | None = _UNREAD
        self._client  # noqa: B018 -- built now so a bad ca_file fails here, not on first use

    @property
    def _client(self) -> Minio:
        """This process's client: a forked child (e.g. an rq work horse) gets its own pool,
        since connections shared across fork would interleave their bytes."""
        if self._minio is None or self._pid != os.getpid():
            http = urllib3.PoolManager(
                timeout=self._timeout,
                maxsize=10,
                cert_reqs="CERT_REQUIRED",
                ca_certs=self._ca_certs,
                # Retry only what cannot have been applied twice: refused connections (the
                # request never left) and 5xx answers to GET/HEAD. A PUT that timed out is not
                # resent: for a conditional PUT a blind resend could turn our own success
                # into a 412.
                retries=Retry(
                    total=3, connect=2, read=0, redirect=0, other=0, status=2,
                    backoff_factor=0.2, status_forcelist=(500, 502, 503, 504),
                    allowed_methods=frozenset({"GET", "HEAD"}), raise_on_status=False,
                ),
            )
            self._minio = Minio(**self._client_args, http_client=http)
            self._pid = os.getpid()
        return self._minio

    # -- helpers -------------------------------------------------------------------------

    def _name(self, key: str) -> str:
        return self._prefix + check_key(key)

    def evidence_lock(self) -> tuple[str, int] | None:
        """(mode, days) every evidence object is written under, as `storage init` recorded it
        in the bucket; None: no per-object lock (a bucket without object lock, or one still
        under the default retention of an older init). Read once per store: a process
        started before `storage init` writes without it until restarted."""
        if self._lock == _UNREAD:
            try:
                raw = self.get(LOCK_POLICY_KEY)
            except KeyError:
                self._lock = None
            else:
                policy = json.loads(raw)
                self._lock = _checked_lock(str(policy["mode"]), int(policy["days"]))
        return self._lock

    def _retention(self, key: str) -> Retention | None:
        """The retention an object written now under ``key`` gets: evidence only, and for a
        century for the register and the audit log (keyspace PERMANENT_PREFIXES)."""
        lock = None if is_deletable(key) else self.evidence_lock()
        if lock is None:
            return None
        mode, days = lock
        if is_permanent(key):
            days = max(days, PERMANENT_DAYS)
        return Retention(mode, datetime.now(UTC) + timedelta(days=days))

    def _lock_headers(self, key: str) -> dict[str, str]:
        retention = self._retention(key)
        if retention is None:
            return {}
        return {"x-amz-object-lock-mode": retention.mode,
                "x-amz-object-lock-retain-until-date":
                    str(to_iso8601utc(retention.retain_until_date))}

    @contextlib.contextmanager
    def _translate(self, action: str) -> Iterator[None]:
        """Network trouble and server-side failures become StoreUnavailable."""
        try:
            yield
        except StoreUnavailable:
            raise
        except (urllib3.exceptions.HTTPError, ConnectionError, TimeoutError) as exc:
            raise StoreUnavailable(f"{self.describe()}: {action}: {exc}") from exc
        except MinioException as exc:
            code = getattr(exc, "code", None)
            if _status(exc) >= 500 or code in _TRANSIENT_CODES:
                raise StoreUnavailable(f"{self.describe()}: {action}: {exc}") from exc
            raise

    # -- ObjectStore -----------------------------------------------------------------------

    def put(self, key: str, data: bytes, *, durable: bool = True) -> None:
        # durable is ignored: S3 acknowledges a PUT only once the object is stored, and a PUT
        # replaces an object atomically (readers see the old or the new object, never half).
        name = self._name(key)
        with self._translate(f"put {key}"):
            self._client.put_object(self.bucket, name, io.BytesIO(data), len(data),
                                    part_size=self.part_size, num_parallel_uploads=1,
                                    retention=self._retention(key))

    def put_file(self, key: str, path: Path) -> None:
        name = self._name(key)
        size = Path(path).stat().st_size
        with self._translate(f"put {key}"):
            if size <= self.part_size:  # one PUT of at most one part's bytes
                with open(path, "rb") as fh:
                    self._client.put_object(self.bucket, name, fh, size,
                                            part_size=self.part_size, num_parallel_uploads=1,
                                            retention=self._retention(key))
            else:
                self._put_multipart(name, Path(path), size, self._lock_headers(key))

    def _put_multipart(self, name: str, path: Path, size: int, lock: dict[str, str]) -> None:
        """One part in memory at a time (minio's put_object keeps two while reading the next).

        The object appears only when the upload completes; on any failure it is aborted.
        """
        client = self._client
        upload_id = client._create_multipart_upload(
            self.bucket, name, {"Content-Type": "application/octet-stream", **lock})
        try:
            parts: list[Part] = []
            sent = 0
            with open(path, "rb") as fh:
                while chunk := fh.read(self.part_size):
                    number = len(parts) + 1
                    etag = client._upload_part(self.bucket, name, chunk, None, upload_id, number)
                    parts.append(Part(number, etag))
                    sent += len(chunk)
                    del chunk  # free this part before the next read allocates another
            if sent != size:
                raise OSError(f"{path} changed size during upload ({size} -> {sent} bytes)")
            client._complete_multipart_upload(self.bucket, name, upload_id, parts)
        except BaseException:
            with contextlib.suppress(Exception):
                client._abort_multipart_upload(self.bucket, name, upload_id)
            raise

    def put_if_absent(self, key: str, data: bytes) -> bool:
        name = self._name(key)
        headers = {"If-None-Match": "*", "Content-Type": "application/octet-stream",
                   **self._lock_headers(key)}
        for attempt in range(_CONFLICT_RETRIES):
            try:
                with self._translate(f"put_if_absent {key}"):
                    self._client._put_object(self.bucket, name, bytes(data), headers=dict(headers))
                return True
            except (S3Error, ServerError, InvalidResponseError) as exc:
                code = getattr(exc, "code", None)
                if _status(exc) == 412 or code == "PreconditionFailed":
                    return False
                if code in _CONFLICT_CODES:
                    time.sleep(0.05 * 2**attempt)
                    continue
                raise
        raise StoreUnavailable(
            f"{self.describe()}: put_if_absent {key}: conditional writes kept conflicting")

    def get(self, key: str) -> bytes:
        name = self._name(key)
        with self._translate(f"get {key}"):
            response = self._open(key, name)
            try:
                return response.read()
            finally:
                response.close()
                response.release_conn()

    def get_head(self, key: str, size: int) -> bytes:
        """The first ``size`` bytes (a sealed object's header) without downloading the rest."""
        name = self._name(key)
        with self._translate(f"get {key}"):
            try:
                response = self._open(key, name, length=size)
            except S3Error as exc:
                if exc.code == "InvalidRange":  # an empty object has no first byte
                    return b""
                raise
            try:
                return response.read()
            finally:
                response.close()
                response.release_conn()

    def _open(self, key: str, name: str, length: int = 0) -> urllib3.BaseHTTPResponse:
        try:
            return self._client.get_object(self.bucket, name, length=length)
        except S3Error as exc:
            if exc.code in _NOT_FOUND:
                raise KeyError(key) from None
            raise

    def get_to_file(self, key: str, path: Path) -> None:
        name = self._name(key)
        target = Path(path)
        with self._translate(f"get {key}"):
            response = self._open(key, name)
            try:
                fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=".part")
                try:
                    with os.fdopen(fd, "wb") as fh:
                        for chunk in response.stream(_CHUNK):
                            fh.write(chunk)
                    os.replace(tmp, target)
                except BaseException:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(tmp)
                    raise
            finally:
                response.close()
                response.release_conn()

    def exists(self, key: str) -> bool:
        name = self._name(key)
        with self._translate(f"exists {key}"):
            try:
                self._client.stat_object(self.bucket, name)
            except S3Error as exc:
                if exc.code in _NOT_FOUND:
                    return False
                raise
        return True

    def list(self, prefix: str) -> Iterator[str]:
        # Materialised so that a failure surfaces here (as StoreUnavailable), not mid-iteration.
        cut = len(self._prefix)
        with self._translate(f"list {prefix}"):
            names = [
                obj.object_name
                for obj in self._client.list_objects(
                    self.bucket, prefix=self._prefix + prefix, recursive=True)
                if obj.object_name and not obj.is_dir and not obj.object_name.endswith("/")
            ]
        return iter(sorted(name[cut:] for name in names))

    def delete(self, key: str) -> bool:
        """Every version of an upload (a delete marker alone would keep its bytes)."""
        name = self._name(check_deletable(key))
        removed, locked = False, 0
        with self._translate(f"delete {key}"):
            versions = [v for v in self._client.list_objects(
                self.bucket, prefix=name, include_version=True) if v.object_name == name]
            for version in versions:
                try:
                    self._client.remove_object(self.bucket, name, version_id=version.version_id)
                except S3Error as exc:
                    if exc.code != "AccessDenied":
                        raise
                    locked += 1
                    continue
                removed = removed or not version.is_delete_marker
        if locked:
            raise ObjectLocked(f"{self.describe()}: {key}: {locked} version(s) kept by object "
                               "lock (or this account may not delete)")
        return removed

    def retain(self, key: str) -> bool:
        lock = self.evidence_lock()
        if lock is None:
            return False
        name = self._name(key)
        mode, days = lock
        until = datetime.now(UTC) + timedelta(days=days)
        with self._translate(f"retain {key}"):
            try:
                current = self._client.get_object_retention(self.bucket, name)
            except S3Error as exc:
                if exc.code in _NOT_FOUND:
                    return False
                if exc.code not in _NO_RETENTION:
                    raise
                current = None
            held = current.retain_until_date if current is not None else None
            if held is None or held < until:  # a lock is only ever extended
                self._client.set_object_retention(self.bucket, name, Retention(mode, until))
        return True

    def describe(self) -> str:
        where = f"{self.bucket}/{self._prefix.rstrip('/')}" if self._prefix else self.bucket
        return f"s3://{where}@{self.endpoint}"

    # -- bucket administration -------------------------------------------------------------

    def ensure_bucket(self, *, versioning: bool = False, object_lock: bool = False) -> None:
        """Create the bucket if missing; optionally with object lock, and versioning on.

        Object lock can only be switched on when the bucket is created (it implies versioning);
        asking for it on an existing bucket without it raises StoreFeatureUnsupported.
        """
        client = self._client
        with self._translate(f"ensure bucket {self.bucket}"):
            if not client.bucket_exists(self.bucket):
                try:
                    client.make_bucket(self.bucket, location=self.region, object_lock=object_lock)
                except S3Error as exc:
                    if exc.code != "BucketAlreadyOwnedByYou":  # a concurrent creator won
                        raise
            if object_lock and not self.object_lock_enabled():
                raise StoreFeatureUnsupported(
                    f"{self.describe()}: bucket exists without object lock; object lock can "
                    "only be enabled when a bucket is created")
            if versioning or object_lock:
                try:
                    if client.get_bucket_versioning(self.bucket).status != ENABLED:
                        client.set_bucket_versioning(self.bucket, VersioningConfig(ENABLED))
                except S3Error as exc:
                    if exc.code == "NotImplemented":
                        raise StoreFeatureUnsupported(
                            f"{self.describe()}: server does not support versioning") from exc
                    raise
                if client.get_bucket_versioning(self.bucket).status != ENABLED:
                    raise StoreFeatureUnsupported(
                        f"{self.describe()}: versioning did not become Enabled")

    def versioning_enabled(self) -> bool:
        with self._translate(f"versioning of {self.bucket}"):
            return self._client.get_bucket_versioning(self.bucket).status == ENABLED

    def object_lock_enabled(self) -> bool:
        with self._translate(f"object lock of {self.bucket}"):
            try:
                self._client.get_object_lock_config(self.bucket)
            except S3Error as exc:
                if exc.code in ("ObjectLockConfigurationNotFoundError", "InvalidBucketState",
                                "NotImplemented"):
                    return False
                raise
        return True

    def lock_evidence(self, mode: str, days: int) -> None:
        """Object lock for evidence only: every evidence object written from now on is kept
        ``days`` days in ``mode`` (recorded in the bucket, LOCK_POLICY_KEY, and read by every
        store on it), and the bucket has no default retention, so uploads past their
        retention date can be deleted. Replaces the default retention an older init set
        (objects written under it keep theirs). Needs a bucket created with object lock."""
        mode, days = _checked_lock(mode, days)
        if not self.object_lock_enabled():
            raise StoreFeatureUnsupported(
                f"{self.describe()}: the bucket has no object lock; it can only be enabled "
                "when a bucket is created")
        self._lock = (mode, days)  # the policy object is evidence: written under it
        self.put(LOCK_POLICY_KEY, json.dumps({"mode": mode, "days": days,
                                              "applies_to": "evidence"}).encode())
        with self._translate(f"set object lock of {self.bucket}"):
            try:
                self._client.set_object_lock_config(self.bucket,
                                                    ObjectLockConfig(None, None, None))
                got = self._client.get_object_lock_config(self.bucket)
            except S3Error as exc:
                if exc.code in ("InvalidBucketState", "ObjectLockConfigurationNotFoundError",
                                "InvalidRequest", "NotImplemented"):
                    raise StoreFeatureUnsupported(
                        f"{self.describe()}: cannot remove the default retention "
                        f"({exc.code}: {exc.message})") from exc
                raise
        if got.mode or got.duration:
            raise StoreFeatureUnsupported(
                f"{self.describe()}: server kept a default retention ({got.mode} "
                f"{got.duration} {got.duration_unit}): uploads could not be deleted")

    def set_retention_default(self, mode: str, days: int) -> None:
        """Default retention for new objects: GOVERNANCE or COMPLIANCE, for ``days`` days.

        Needs a bucket created with object lock (``ensure_bucket(object_lock=True)``). Every
        object, uploads too, is then kept that long: `ecopy storage init` uses
        ``lock_evidence`` instead.
        """
        mode, days = _checked_lock(mode, days)
        wanted = ObjectLockConfig(mode, days, DAYS)
        with self._translate(f"set retention of {self.bucket}"):
            try:
                self._client.set_object_lock_config(self.bucket, wanted)
                got = self._client.get_object_lock_config(self.bucket)
            except S3Error as exc:
                if exc.code in ("InvalidBucketState", "ObjectLockConfigurationNotFoundError",
                                "InvalidRequest", "NotImplemented"):
                    raise StoreFeatureUnsupported(
                        f"{self.describe()}: cannot set default retention ({exc.code}: "
                        f"{exc.message}); the bucket needs object lock from its creation"
                    ) from exc
                raise
        if (got.mode, got.duration, got.duration_unit) != (mode, days, DAYS):
            raise StoreFeatureUnsupported(
                f"{self.describe()}: server did not keep the default retention "
                f"(asked {mode} {days} days, got {got.mode} {got.duration} {got.duration_unit})")


def _checked_lock(mode: str, days: int) -> tuple[str, int]:
    mode = mode.upper()
    if mode not in (GOVERNANCE, COMPLIANCE):
        raise ValueError(f"retention mode must be {GOVERNANCE} or {COMPLIANCE}, not {mode}")
    if days < 1:
        raise ValueError("retention days must be at least 1")
    return mode, days
