"""Delivering the portal outbox (storage/outbox.py) over HTTP.

The portal's API, as configured by ECOPY_PORTAL_URL:
    POST <url>/ecopies        multipart/form-data: part "metadata" (the warehouse .json),
                              part "pdf" (the signed e-copy, streamed from a temporary file)
    POST <url>/status         JSON: the status event
    POST <url>/cancellations  JSON: the published fields of the cancellation
Every request carries `Idempotency-Key: <item key>` (the same on every attempt), and
`Authorization: Bearer <token>` when a token file is set; JSON bodies wrap the payload as
{"key", "kind", "ref", "enqueued_at", "payload"}.

Outcomes: 2xx → delivered, receipt stored (the portal's `receipt_id`, the HTTP status and the
sha256 of the response body); 408, 429, 5xx, timeouts and connection errors → tried again
after a backoff (Retry-After honoured, capped); other 4xx → failed for good, shown to
operators until an admin re-queues it.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import requests

from storage.backends import ObjectStore
from storage.outbox import (
    OutboxStatus,
    Pending,
    RetryPolicy,
    is_due,
    mark_delivered,
    mark_failed,
    mark_retry,
    pending_items,
)
from storage.state import State

ENDPOINTS = {"ecopy": "ecopies", "status": "status", "cancellation": "cancellations"}
RETRYABLE = {408, 425, 429}
MAX_RESPONSE = 1 << 20  # a receipt is small; a huge body is not read past this


@dataclass(frozen=True)
class PortalConfig:
    """Built by the shell from settings; the token is read from its file on every request,
    so a rotated token is used without a restart and never sits in a settings value."""

    url: str
    token_file: Path | None = None
    ca_file: Path | None = None
    connect_timeout_s: float = 10.0
    read_timeout_s: float = 30.0
    policy: RetryPolicy = field(default_factory=RetryPolicy)


@dataclass(frozen=True)
class Outcome:
    """One attempt's result: "delivered", "retry" or "failed"."""

    result: str
    http_status: int | None = None
    receipt_id: str = ""
    body_sha256: str = ""
    error: str = ""
    retry_after: float | None = None


@dataclass
class DeliveryReport:
    attempted: int = 0
    delivered: int = 0
    retrying: int = 0
    failed: int = 0
    waiting: int = 0  # not due yet, or behind an earlier item of the same ref

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


class _MultipartBody:
    """multipart/form-data whose file part is read from disk as it is sent: a 300-page copy
    never sits in memory. `requests` sends a file-like object with a length as-is."""

    def __init__(self, metadata: bytes, pdf: Path, pdf_name: str) -> None:
        self.boundary = uuid.uuid4().hex
        b = self.boundary
        head = (f"--{b}\r\nContent-Disposition: form-data; name=\"metadata\"; "
                f"filename=\"metadata.json\"\r\nContent-Type: application/json\r\n\r\n")
        self._parts: list[bytes | Path] = [
            head.encode() + metadata + b"\r\n",
            (f"--{b}\r\nContent-Disposition: form-data; name=\"pdf\"; filename=\"{pdf_name}\""
             f"\r\nContent-Type: application/pdf\r\n\r\n").encode(),
            pdf,
            f"\r\n--{b}--\r\n".encode(),
        ]
        self.len = sum(p.stat().st_size if isinstance(p, Path) else len(p) for p in self._parts)
        self._chunks = self._iterate()
        self._buffer = b""

    @property
    def content_type(self) -> str:
        return f"multipart/form-data; boundary={self.boundary}"

    def __len__(self) -> int:
        return self.len

    def _iterate(self) -> Iterator[bytes]:
        for part in self._parts:
            if isinstance(part, Path):
                with open(part, "rb") as fh:
                    while chunk := fh.read(1 << 16):
                        yield chunk
            else:
                yield part

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self._buffer) < size:
            chunk = next(self._chunks, None)
            if chunk is None:
                break
            self._buffer += chunk
        if size < 0:
            out, self._buffer = self._buffer, b""
        else:
            out, self._buffer = self._buffer[:size], self._buffer[size:]
        return out


def _retry_after(value: str | None, now: datetime) -> float | None:
    if not value:
        return None
    if value.strip().isdigit():
        return float(value.strip())
    try:
        return (parsedate_to_datetime(value) - now).total_seconds()
    except (TypeError, ValueError):
        return None


def _sha256_file(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


class PortalClient:
    """Sends one outbox item per call; it records nothing (deliver_due does)."""

    def __init__(self, config: PortalConfig, session: requests.Session | None = None) -> None:
        self.config = config
        self.session = session or requests.Session()

    def endpoint(self, kind: str) -> str:
        return f"{self.config.url.rstrip('/')}/{ENDPOINTS[kind]}"

    def _headers(self, key: str) -> dict[str, str]:
        headers = {"Idempotency-Key": key, "Accept": "application/json"}
        if self.config.token_file is not None:
            token = self.config.token_file.read_text(encoding="utf-8").strip()
            headers["Authorization"] = f"Bearer {token}"
        return headers

    def send(self, store: ObjectStore, item: dict[str, Any]) -> Outcome:
        kind = item.get("kind", "")
        if kind not in ENDPOINTS:
            return Outcome("failed", error=f"unknown kind {kind!r}")
        try:
            headers = self._headers(item["key"])
        except OSError as exc:  # a missing token file is a set-up fault: keep the item
            return Outcome("retry", error=f"token file: {exc}")
        if kind != "ecopy":
            body = {k: item.get(k) for k in ("key", "kind", "ref", "enqueued_at", "payload")}
            return self._post(kind, headers, data=json.dumps(body, ensure_ascii=False).encode(),
                              content_type="application/json")
        payload = item.get("payload", {})
        with tempfile.TemporaryDirectory(prefix="ecopy-sync-") as tmp:
            pdf = Path(tmp) / "copy.pdf"
            try:
                metadata = store.get(payload["metadata_key"])
                store.get_to_file(payload["pdf_key"], pdf)
            except KeyError as exc:
                return Outcome("failed", error=f"not in the warehouse any more: {exc}")
            if _sha256_file(pdf) != payload.get("pdf_sha256"):
                return Outcome("failed", error="the warehouse copy is not the one enqueued "
                                               "(pdf sha256 differs)")
            multipart = _MultipartBody(metadata, pdf, f"{payload.get('copy_id', 'copy')}.pdf")
            return self._post(kind, headers, data=multipart,
                              content_type=multipart.content_type)

    def _post(self, kind: str, headers: dict[str, str], *, data: Any,
              content_type: str) -> Outcome:
        cfg = self.config
        verify: bool | str = str(cfg.ca_file) if cfg.ca_file else True
        try:
            response = self.session.post(
                self.endpoint(kind), data=data, headers={**headers, "Content-Type": content_type},
                timeout=(cfg.connect_timeout_s, cfg.read_timeout_s), verify=verify, stream=True)
        except requests.RequestException as exc:
            return Outcome("retry", error=f"{type(exc).__name__}: {exc}"[:500])
        try:
            body = _read_limited(response)
        except requests.RequestException as exc:
            return Outcome("retry", http_status=response.status_code,
                           error=f"{type(exc).__name__}: {exc}"[:500])
        finally:
            response.close()
        status = response.status_code
        digest = hashlib.sha256(body).hexdigest()
        if 200 <= status < 300:
            return Outcome("delivered", status, _receipt_id(body, response), digest)
        text = body[:300].decode("utf-8", "replace")
        error = f"HTTP {status}: {text}".strip()
        if status in RETRYABLE or status >= 500:
            return Outcome("retry", status, error=error,
                           retry_after=_retry_after(response.headers.get("Retry-After"),
                                                    datetime.now(UTC)))
        return Outcome("failed", status, error=error)


def _read_limited(response: requests.Response) -> bytes:
    out = b""
    for chunk in response.iter_content(1 << 14):
        out += chunk
        if len(out) > MAX_RESPONSE:
            break
    return out[:MAX_RESPONSE]


def _receipt_id(body: bytes, response: requests.Response) -> str:
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    if isinstance(data, dict):
        for name in ("receipt_id", "id"):
            if isinstance(data.get(name), str | int):
                return str(data[name])[:200]
    return response.headers.get("Receipt-Id", "")[:200]


def deliver_due(state: State, client: PortalClient, now: datetime | None = None,
                limit: int = 100) -> DeliveryReport:
    """Send up to ``limit`` due items, oldest first, in order within each ref.

    An item of a ref waits while an earlier item of the same ref is still pending (not due,
    or just failed transiently): a dossier's statuses and a copy's cancellation reach the
    portal in the order they happened. An item that failed for good does not hold the ref.
    """
    moment = now or datetime.now(UTC)
    report = DeliveryReport()
    blocked: set[str] = set()
    with state.db.read() as s:  # the oldest first; refs keep their order within them
        backlog = pending_items(s, limit=limit * 20)
    for pending in backlog:
        ref = pending.state.ref
        if ref in blocked or not is_due(pending.state, moment) or report.attempted >= limit:
            blocked.add(ref)
            report.waiting += 1
            continue
        report.attempted += 1
        outcome = client.send(state.store, pending.item)
        _record(state, client, pending, outcome, moment, report)
        if outcome.result == "retry":
            blocked.add(ref)
    return report


def _record(state: State, client: PortalClient, pending: Pending, outcome: Outcome,
            moment: datetime, report: DeliveryReport) -> None:
    if outcome.result == "delivered":
        mark_delivered(state.db, state.store, pending, http_status=outcome.http_status or 200,
                       receipt_id=outcome.receipt_id, body_sha256=outcome.body_sha256,
                       endpoint=client.endpoint(pending.state.kind), now=datetime.now(UTC))
        report.delivered += 1
    elif outcome.result == "failed":
        mark_failed(state.db, pending, outcome.error, http_status=outcome.http_status,
                    now=moment)
        report.failed += 1
    else:
        after = mark_retry(state.db, pending, outcome.error, http_status=outcome.http_status,
                           retry_after=outcome.retry_after, policy=client.config.policy,
                           now=moment)
        if after.status is OutboxStatus.FAILED:
            report.failed += 1
        else:
            report.retrying += 1
