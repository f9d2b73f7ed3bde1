"""The portal outbox: events for the national/provincial portal, kept durably in the store.

Certifying, a dossier's status change and a cancellation each leave one item here; a separate
runner (`ecopy sync run`, workers/sync.py) delivers them. Nothing here talks to the network, so
an absent or failing portal never blocks certification: the item simply waits.

The store has no delete and, in production, keeps every object version for years (WORM), so
the layout uses immutable objects wherever it can and never needs to remove one:

    outbox/items/<key>.json               the event (create-if-absent: enqueued once per key)
    outbox/queue/<yyyymmdd>/<seq>.<key>   index marker, by the day it was (re)queued
    outbox/done/<yyyymmdd>/<seq>.<key>    that marker is settled (delivered or failed)
    outbox/state/<key>.json               attempts, next attempt, last error (rewritten per try)
    outbox/receipts/<key>.json            the portal's receipt (create-if-absent, final)
    outbox/failed/<key>                   marker: the item failed permanently once
    outbox/cursor.json                    first day whose queue may still hold pending items

The backlog is the queue markers minus the done markers of the days from the cursor on: two
listings per open day, however many items were delivered before. The idempotency key is
derived from (kind, ref, version), so the same event enqueued twice is one item and the portal
sees one key for every attempt. Items of one ref (a copy id, a dossier's public code) are
delivered in the order they were enqueued.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from storage.backends import ObjectStore
from storage.evidence.audit import append_event

KINDS = ("ecopy", "status", "cancellation")
PREFIX = "outbox/"
ITEMS, QUEUE, DONE = "outbox/items/", "outbox/queue/", "outbox/done/"
STATE, RECEIPTS, FAILED = "outbox/state/", "outbox/receipts/", "outbox/failed/"
CURSOR = "outbox/cursor.json"
SCHEMA = "ecopy.outbox/1"
ORPHAN_AFTER_NS = 3600 * 10**9  # a marker whose item is still missing after this is closed
MAX_LISTED = 100  # pending items a summary names (the oldest); counts cover them all


class OutboxStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter; an item is given up (failed) after max_attempts tries
    or when its first try is older than max_age_s, so a dead endpoint cannot hold it forever.
    """

    base_s: float = 30.0
    factor: float = 2.0
    cap_s: float = 3600.0
    jitter: float = 0.25  # the delay is drawn from [(1 - jitter) * d, d]
    max_attempts: int = 12
    max_age_s: float = 7 * 86400.0
    max_retry_after_s: float = 3600.0  # a portal's Retry-After is honoured up to this

    def delay(self, attempts: int, retry_after: float | None = None) -> float:
        raw = min(self.cap_s, self.base_s * self.factor ** max(attempts - 1, 0))
        wait = raw * random.uniform(1.0 - self.jitter, 1.0)
        if retry_after is not None:
            wait = max(wait, min(max(retry_after, 0.0), self.max_retry_after_s))
        return wait


@dataclass(frozen=True)
class ItemState:
    """What an operator needs to know about one item, nothing of its payload."""

    key: str
    kind: str
    ref: str
    agency: str
    enqueued_at: str
    status: OutboxStatus
    attempts: int = 0
    next_attempt_at: str = ""
    last_error: str = ""
    last_http_status: int | None = None
    receipt: dict[str, Any] | None = None

    def public(self) -> dict[str, Any]:
        return {"key": self.key, "kind": self.kind, "ref": self.ref, "agency": self.agency,
                "enqueued_at": self.enqueued_at, "status": str(self.status),
                "attempts": self.attempts, "next_attempt_at": self.next_attempt_at,
                "last_error": self.last_error, "last_http_status": self.last_http_status,
                "receipt": self.receipt}


@dataclass(frozen=True)
class Pending:
    """One undelivered item as the runner sees it: the item and its queue marker."""

    item: dict[str, Any]
    state: ItemState
    marker: str  # "<yyyymmdd>/<seq>.<key>"


def _dump(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False, sort_keys=True, indent=1).encode()


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def _parse(at: str) -> datetime | None:
    try:
        return datetime.fromisoformat(at)
    except (TypeError, ValueError):
        return None


def load_object(store: ObjectStore, key: str) -> dict[str, Any] | None:
    """A JSON object from the store; None when absent or not a JSON object."""
    try:
        data = json.loads(store.get(key))
    except (KeyError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def idempotency_key(kind: str, ref: str, version: str = "") -> str:
    """Deterministic per event: the portal dedupes on it, and it is a safe store key segment."""
    if kind not in KINDS:
        raise ValueError(f"unknown outbox kind {kind!r}")
    digest = hashlib.sha256(f"{kind}\0{ref}\0{version}".encode()).hexdigest()[:40]
    return f"{kind}-{digest}"


def _bucket(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%d")


def _queue(store: ObjectStore, key: str, moment: datetime) -> None:
    seq = time.time_ns()
    store.put_if_absent(f"{QUEUE}{_bucket(moment)}/{seq:020d}.{key}", _dump({"key": key}))


def enqueue(store: ObjectStore, kind: str, ref: str, payload: dict[str, Any], *,
            version: str = "", agency: str = "", now: datetime | None = None) -> str:
    """Record one event for the portal; returns its idempotency key. Enqueuing the same
    (kind, ref, version) again stores nothing new.

    The queue marker is written before the item: a crash in between leaves a marker without
    an item, which the runner ignores, never an item nobody will deliver.
    """
    key = idempotency_key(kind, ref, version)
    item_key = f"{ITEMS}{key}.json"
    if store.exists(item_key):
        return key
    moment = now or datetime.now(UTC)
    item = {"schema": SCHEMA, "key": key, "kind": kind, "ref": ref, "version": version,
            "agency": agency, "seq": time.time_ns(), "enqueued_at": _iso(moment),
            "payload": payload}
    _queue(store, key, moment)
    store.put_if_absent(item_key, _dump(item))
    return key


def enqueued(store: ObjectStore, kind: str, ref: str, version: str = "") -> bool:
    """Is this event in the outbox already (in any state)?"""
    return store.exists(f"{ITEMS}{idempotency_key(kind, ref, version)}.json")


def load_item(store: ObjectStore, key: str) -> dict[str, Any] | None:
    return load_object(store, f"{ITEMS}{key}.json") if _plain(key) else None


def _plain(key: str) -> bool:
    kind, _, digest = key.partition("-")
    return kind in KINDS and len(digest) == 40 and all(c in "0123456789abcdef" for c in digest)


def item_state(store: ObjectStore, key: str, item: dict[str, Any] | None = None,
               ) -> ItemState | None:
    """The item's state, or None when there is no such item."""
    item = item or load_item(store, key)
    if item is None:
        return None
    base = {"key": key, "kind": item.get("kind", ""), "ref": item.get("ref", ""),
            "agency": item.get("agency", ""), "enqueued_at": item.get("enqueued_at", "")}
    receipt = load_object(store, f"{RECEIPTS}{key}.json")
    state = load_object(store, f"{STATE}{key}.json") or {}
    if receipt is not None:
        return ItemState(**base, status=OutboxStatus.DELIVERED,
                         attempts=int(receipt.get("attempts", state.get("attempts", 0))),
                         receipt=receipt)
    status = OutboxStatus(state.get("status", OutboxStatus.PENDING))
    return ItemState(**base, status=status, attempts=int(state.get("attempts", 0)),
                     next_attempt_at=state.get("next_attempt_at", ""),
                     last_error=state.get("last_error", ""),
                     last_http_status=state.get("last_http_status"))


def _read_cursor(store: ObjectStore) -> str | None:
    data = load_object(store, CURSOR)
    day = data.get("bucket") if data else None
    return day if isinstance(day, str) and len(day) == 8 and day.isdigit() else None


def _open_days(store: ObjectStore, today: str) -> list[str]:
    """Queue days from the cursor to today; without a cursor, one full listing finds them."""
    start = _read_cursor(store)
    if start is None:
        days = sorted({k.split("/")[2] for k in store.list(QUEUE) if k.count("/") == 3})
        return [d for d in days if d <= today] or [today]
    out, day = [], datetime.strptime(start, "%Y%m%d").date()
    last = datetime.strptime(today, "%Y%m%d").date()
    while day <= last:
        out.append(day.strftime("%Y%m%d"))
        day += timedelta(days=1)
    return out


def _day_open_markers(store: ObjectStore, day: str) -> list[tuple[str, str]]:
    """(marker, key) of the markers queued on ``day`` and not settled, in queue order.

    A marker is "<day>/<seq>.<key>"; its done marker has the same name, so an item re-queued
    on the day it failed is open again under its new marker."""
    done = {name.removeprefix(DONE) for name in store.list(f"{DONE}{day}/")}
    out = []
    for name in store.list(f"{QUEUE}{day}/"):
        marker = name.removeprefix(QUEUE)
        if marker not in done:
            out.append((marker, marker.rsplit("/", 1)[1].partition(".")[2]))
    return out


def pending_items(store: ObjectStore, now: datetime | None = None) -> list[Pending]:
    """Every undelivered, not failed item, oldest enqueue first.

    Markers found settled on the way (delivered through another marker of the same key, or
    whose enqueue never wrote the item) are closed, so their day can leave the backlog."""
    moment = now or datetime.now(UTC)
    seen: set[str] = set()
    out = []
    for day in _open_days(store, _bucket(moment)):
        for marker, key in _day_open_markers(store, day):
            if key in seen:
                continue  # a second marker of a pending item: closed once it is settled
            item = load_item(store, key) if _plain(key) else None
            if item is None:
                seq = marker.rsplit("/", 1)[1].partition(".")[0]
                if not seq.isdigit() or time.time_ns() - int(seq) > ORPHAN_AFTER_NS:
                    _settle(store, marker)  # its enqueue was cut short long ago
                continue
            state = item_state(store, key, item)
            if state is None:
                continue
            if state.status is not OutboxStatus.PENDING:
                _settle(store, marker)
                continue
            seen.add(key)
            out.append(Pending(item, state, marker))
    return sorted(out, key=lambda p: (int(p.item.get("seq", 0)), p.state.key))


def _settle(store: ObjectStore, marker: str) -> None:
    store.put_if_absent(f"{DONE}{marker}", b"{}")


def advance_cursor(store: ObjectStore, now: datetime | None = None) -> str:
    """Move the cursor past the days whose queue is fully settled. It stays at least one day
    behind ``now``: a writer whose clock lags may still queue into yesterday."""
    moment = now or datetime.now(UTC)
    floor = _bucket(moment - timedelta(days=1))
    days = _open_days(store, _bucket(moment))
    first_open = next((d for d in days if d >= floor or _day_open_markers(store, d)), floor)
    first_open = min(first_open, floor)
    current = _read_cursor(store)
    if first_open != current and (current is None or first_open > current):
        store.put(CURSOR, _dump({"bucket": first_open}), durable=False)
        return first_open
    return current or first_open


def _write_state(store: ObjectStore, key: str, **state: Any) -> None:
    store.put(f"{STATE}{key}.json", _dump({"key": key, **state}))


def mark_delivered(store: ObjectStore, pending: Pending, *, http_status: int, receipt_id: str,
                   body_sha256: str, endpoint: str, now: datetime | None = None) -> dict:
    """Keep the portal's receipt (once: a later duplicate delivery keeps the first)."""
    key = pending.state.key
    receipt = {"key": key, "delivered_at": _iso(now or datetime.now(UTC)),
               "http_status": http_status, "receipt_id": receipt_id,
               "response_sha256": body_sha256, "attempts": pending.state.attempts + 1,
               "endpoint": endpoint}
    if not store.put_if_absent(f"{RECEIPTS}{key}.json", _dump(receipt)):
        receipt = load_object(store, f"{RECEIPTS}{key}.json") or receipt
    _settle(store, pending.marker)
    return receipt


def _first_attempt(store: ObjectStore, key: str, now: datetime) -> str:
    state = load_object(store, f"{STATE}{key}.json") or {}
    return state.get("first_attempt_at") or _iso(now)


def mark_failed(store: ObjectStore, pending: Pending, error: str, *,
                http_status: int | None = None, now: datetime | None = None) -> ItemState:
    """Permanent failure: the item leaves the backlog and shows among the failed ones."""
    moment = now or datetime.now(UTC)
    key = pending.state.key
    _write_state(store, key, status=str(OutboxStatus.FAILED),
                 attempts=pending.state.attempts + 1, next_attempt_at="",
                 last_error=error[:500], last_http_status=http_status,
                 first_attempt_at=_first_attempt(store, key, moment),
                 last_attempt_at=_iso(moment))
    store.put_if_absent(f"{FAILED}{key}", b"{}")
    _settle(store, pending.marker)
    return item_state(store, key)  # type: ignore[return-value]


def mark_retry(store: ObjectStore, pending: Pending, error: str, *,
               http_status: int | None = None, retry_after: float | None = None,
               policy: RetryPolicy = RetryPolicy(), now: datetime | None = None) -> ItemState:
    """A transient failure: try again after a backoff, or give up when the policy says so."""
    moment = now or datetime.now(UTC)
    key = pending.state.key
    attempts = pending.state.attempts + 1
    first = _first_attempt(store, key, moment)
    age = (moment - (_parse(first) or moment)).total_seconds()
    if attempts >= policy.max_attempts or age > policy.max_age_s:
        return mark_failed(store, pending, f"gave up after {attempts} attempts: {error}",
                           http_status=http_status, now=moment)
    at = moment + timedelta(seconds=policy.delay(attempts, retry_after))
    _write_state(store, key, status=str(OutboxStatus.PENDING), attempts=attempts,
                 next_attempt_at=_iso(at), last_error=error[:500],
                 last_http_status=http_status, first_attempt_at=first,
                 last_attempt_at=_iso(moment))
    return item_state(store, key)  # type: ignore[return-value]


def is_due(state: ItemState, now: datetime) -> bool:
    at = _parse(state.next_attempt_at)
    return at is None or at <= now


def failed_items(store: ObjectStore) -> list[ItemState]:
    """Items that failed permanently and were not retried since."""
    out = []
    for marker in store.list(FAILED):
        state = item_state(store, marker.rsplit("/", 1)[1])
        if state is not None and state.status is OutboxStatus.FAILED:
            out.append(state)
    return sorted(out, key=lambda s: s.enqueued_at)


def retry(store: ObjectStore, key: str, *, actor: str, now: datetime | None = None) -> bool:
    """Put a failed item back in the backlog with a fresh attempt count (admin action,
    audited). False when the item is unknown or not failed."""
    state = item_state(store, key) if _plain(key) else None
    if state is None or state.status is not OutboxStatus.FAILED:
        return False
    moment = now or datetime.now(UTC)
    _write_state(store, key, status=str(OutboxStatus.PENDING), attempts=0, next_attempt_at="",
                 last_error=f"re-queued by {actor} after: {state.last_error}"[:500],
                 last_http_status=state.last_http_status, first_attempt_at="",
                 last_attempt_at="")
    _queue(store, key, moment)
    if (cursor := _read_cursor(store)) is not None and cursor > _bucket(moment):
        store.put(CURSOR, _dump({"bucket": _bucket(moment)}), durable=False)
    append_event(store, actor=actor, action="sync-retry", object=f"{ITEMS}{key}.json",
                 object_sha256="", details={"kind": state.kind, "ref": state.ref,
                                            "attempts_before": state.attempts})
    return True


def summary(store: ObjectStore, now: datetime | None = None, *, agency: str | None = None,
            ) -> dict[str, Any]:
    """Backlog by kind, oldest pending age, failed items and the delivered count.

    ``agency`` limits it to one commune's items (the web page); None: the whole deployment.
    Counting receipts lists them all, which is fine for an operator's command, not a loop.
    """
    moment = now or datetime.now(UTC)
    pending = [p for p in pending_items(store, moment)
               if agency is None or p.state.agency == agency]
    failed = [s for s in failed_items(store) if agency is None or s.agency == agency]
    by_kind = {kind: 0 for kind in KINDS}
    for p in pending:
        by_kind[p.state.kind] = by_kind.get(p.state.kind, 0) + 1
    oldest = min((_parse(p.state.enqueued_at) for p in pending if p.state.enqueued_at),
                 default=None)
    if agency is None:
        delivered = sum(1 for k in store.list(RECEIPTS) if k.endswith(".json"))
    else:
        delivered = sum(1 for k in store.list(RECEIPTS) if k.endswith(".json") and
                        (load_item(store, k.rsplit("/", 1)[1].removesuffix(".json")) or {})
                        .get("agency") == agency)
    return {
        "pending": len(pending),
        "pending_by_kind": by_kind,
        "oldest_pending_at": _iso(oldest) if oldest else None,
        "oldest_pending_age_s": int((moment - oldest).total_seconds()) if oldest else None,
        "waiting_retry": sum(1 for p in pending if p.state.attempts),
        "pending_items": [p.state.public() for p in pending[:MAX_LISTED]],
        "failed": [s.public() for s in failed],
        "delivered": delivered,
    }


