"""The portal outbox: events for the national/provincial portal, kept in the database.

Certifying, a case's status change and a cancellation each leave one item here, written in
the same transaction as the change it reports (`enqueue` takes the caller's session), so a
change and its event are both kept or both not. A separate runner (`ecopy sync run`,
workers/sync.py) delivers them; nothing here talks to the network, so an absent or failing
portal never blocks certification: the item simply waits.

The idempotency key is derived from (kind, ref, version): the same event enqueued twice is one
item, and the portal sees one key for every attempt. Items are delivered in the order they
were enqueued (``seq``), in order within each ref (a copy id, a dossier's public code). The
portal's receipt is kept twice: in the item's row (for operators) and as write-once evidence
in the store (``outbox/receipts/<key>.json``).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storage.backends import ObjectStore
from storage.db import Database
from storage.db.paging import Page, keyset, page_of, page_size
from storage.db.schema import outbox
from storage.evidence.audit import append_event

KINDS = ("ecopy", "status", "cancellation")
RECEIPTS = "outbox/receipts/"
SCHEMA = "ecopy.outbox/1"
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
    """One undelivered item as the runner sees it."""

    item: dict[str, Any]
    state: ItemState


def _iso(moment: datetime | None) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds") if moment else ""


def idempotency_key(kind: str, ref: str, version: str = "") -> str:
    """Deterministic per event: the portal dedupes on it, and it is a safe store key segment."""
    if kind not in KINDS:
        raise ValueError(f"unknown outbox kind {kind!r}")
    digest = hashlib.sha256(f"{kind}\0{ref}\0{version}".encode()).hexdigest()[:40]
    return f"{kind}-{digest}"


def plain_key(key: str) -> bool:
    kind, _, digest = key.partition("-")
    return kind in KINDS and len(digest) == 40 and all(c in "0123456789abcdef" for c in digest)


def enqueue(s: Session, kind: str, ref: str, payload: dict[str, Any], *, version: str = "",
            agency: str = "", now: datetime | None = None) -> str:
    """Record one event for the portal in the caller's transaction; returns its idempotency
    key. Enqueuing the same (kind, ref, version) again stores nothing new."""
    key = idempotency_key(kind, ref, version)
    if enqueued_key(s, key):
        return key
    try:
        with s.begin_nested():
            s.execute(insert(outbox).values(
                key=key, kind=kind, ref=ref, version=version, agency=agency,
                enqueued_at=now or datetime.now(UTC), payload=payload,
                status=str(OutboxStatus.PENDING), attempts=0, last_error=""))
    except IntegrityError:  # the same event, enqueued by another process meanwhile
        pass
    return key


def enqueued_key(s: Session, key: str) -> bool:
    return s.execute(select(outbox.c.seq).where(outbox.c.key == key)).first() is not None


def enqueued(s: Session, kind: str, ref: str, version: str = "") -> bool:
    """Is this event in the outbox already (in any state)?"""
    return enqueued_key(s, idempotency_key(kind, ref, version))


def _state(row: Any) -> ItemState:
    return ItemState(key=row.key, kind=row.kind, ref=row.ref, agency=row.agency,
                     enqueued_at=_iso(row.enqueued_at), status=OutboxStatus(row.status),
                     attempts=row.attempts, next_attempt_at=_iso(row.next_attempt_at),
                     last_error=row.last_error, last_http_status=row.last_http_status,
                     receipt=row.receipt)


def _item(row: Any) -> dict[str, Any]:
    return {"schema": SCHEMA, "key": row.key, "kind": row.kind, "ref": row.ref,
            "version": row.version, "agency": row.agency, "seq": row.seq,
            "enqueued_at": _iso(row.enqueued_at), "payload": row.payload}


def load_item(s: Session, key: str) -> dict[str, Any] | None:
    if not plain_key(key):
        return None
    row = s.execute(select(outbox).where(outbox.c.key == key)).first()
    return _item(row) if row else None


def item_state(s: Session, key: str) -> ItemState | None:
    if not plain_key(key):
        return None
    row = s.execute(select(outbox).where(outbox.c.key == key)).first()
    return _state(row) if row else None


def pending_items(s: Session, *, limit: int | None = None) -> list[Pending]:
    """Undelivered, not failed items, oldest enqueue first (the runner's work list)."""
    query = select(outbox).where(outbox.c.status == str(OutboxStatus.PENDING)) \
        .order_by(outbox.c.seq)
    if limit is not None:
        query = query.limit(limit)
    return [Pending(_item(r), _state(r)) for r in s.execute(query)]


def is_due(state: ItemState, now: datetime) -> bool:
    if not state.next_attempt_at:
        return True
    return datetime.fromisoformat(state.next_attempt_at) <= now


def _set(db: Database, key: str, **values: Any) -> ItemState:
    with db.write() as s:
        s.execute(update(outbox).where(outbox.c.key == key).values(**values))
        found = item_state(s, key)
    assert found is not None
    return found


def mark_delivered(db: Database, store: ObjectStore, pending: Pending, *, http_status: int,
                   receipt_id: str, body_sha256: str, endpoint: str,
                   now: datetime | None = None) -> dict[str, Any]:
    """Keep the portal's receipt: once in the store (a later duplicate delivery keeps the
    first, as evidence), and in the item's row."""
    key = pending.state.key
    moment = now or datetime.now(UTC)
    receipt = {"key": key, "delivered_at": _iso(moment), "http_status": http_status,
               "receipt_id": receipt_id, "response_sha256": body_sha256,
               "attempts": pending.state.attempts + 1, "endpoint": endpoint}
    raw = json.dumps(receipt, ensure_ascii=False, sort_keys=True, indent=1).encode()
    if store.put_if_absent(f"{RECEIPTS}{key}.json", raw):
        # the delivery is a step of the copy's life: audited (legal brief requirement 17);
        # a later duplicate delivery keeps the first receipt and adds no event
        append_event(store, actor="ecopy-sync", action="deliver",
                     object=f"{RECEIPTS}{key}.json",
                     object_sha256=hashlib.sha256(raw).hexdigest(),
                     details={"kind": pending.state.kind, "ref": pending.state.ref,
                              "receipt_id": receipt_id, "http_status": http_status,
                              "endpoint": endpoint})
    else:
        with contextlib.suppress(KeyError, ValueError):
            receipt = json.loads(store.get(f"{RECEIPTS}{key}.json"))
    _set(db, key, status=str(OutboxStatus.DELIVERED), attempts=pending.state.attempts + 1,
         delivered_at=moment, last_attempt_at=moment, next_attempt_at=None, receipt=receipt)
    return receipt


def mark_failed(db: Database, pending: Pending, error: str, *,
                http_status: int | None = None, now: datetime | None = None) -> ItemState:
    """Permanent failure: the item leaves the backlog and shows among the failed ones."""
    moment = now or datetime.now(UTC)
    key = pending.state.key
    return _set(db, key, status=str(OutboxStatus.FAILED),
                attempts=pending.state.attempts + 1, next_attempt_at=None,
                last_error=error[:500], last_http_status=http_status,
                first_attempt_at=_first_attempt(db, key, moment), last_attempt_at=moment)


def _first_attempt(db: Database, key: str, moment: datetime) -> datetime:
    with db.read() as s:
        first = s.execute(select(outbox.c.first_attempt_at).where(outbox.c.key == key)
                          ).scalar_one_or_none()
    return first or moment


def mark_retry(db: Database, pending: Pending, error: str, *,
               http_status: int | None = None, retry_after: float | None = None,
               policy: RetryPolicy = RetryPolicy(), now: datetime | None = None) -> ItemState:
    """A transient failure: try again after a backoff, or give up when the policy says so."""
    moment = now or datetime.now(UTC)
    key = pending.state.key
    attempts = pending.state.attempts + 1
    first = _first_attempt(db, key, moment)
    if attempts >= policy.max_attempts or (moment - first).total_seconds() > policy.max_age_s:
        return mark_failed(db, pending, f"gave up after {attempts} attempts: {error}",
                           http_status=http_status, now=moment)
    at = moment + timedelta(seconds=policy.delay(attempts, retry_after))
    return _set(db, key, status=str(OutboxStatus.PENDING), attempts=attempts,
                next_attempt_at=at, last_error=error[:500], last_http_status=http_status,
                first_attempt_at=first, last_attempt_at=moment)


def failed_items(s: Session, *, agency: str | None = None) -> list[ItemState]:
    """Items that failed permanently and were not retried since."""
    query = select(outbox).where(outbox.c.status == str(OutboxStatus.FAILED))
    if agency is not None:
        query = query.where(outbox.c.agency == agency)
    return [_state(r) for r in s.execute(query.order_by(outbox.c.seq))]


def failed_page(s: Session, *, agency: str | None = None, cursor: str = "",
                limit: int | None = None) -> Page[ItemState]:
    """The failed items, oldest enqueue first, a page at a time (the operators' list)."""
    size = page_size(limit)
    query = select(outbox).where(outbox.c.status == str(OutboxStatus.FAILED))
    if agency is not None:
        query = query.where(outbox.c.agency == agency)
    rows, nxt = page_of(s.execute(keyset(query, (outbox.c.seq,), cursor, (int,), size)).all(),
                        size, lambda r: (r.seq,))
    return Page([_state(r) for r in rows], nxt)


def retry(db: Database, store: ObjectStore, key: str, *, actor: str) -> bool:
    """Put a failed item back in the backlog with a fresh attempt count (admin action,
    audited). False when the item is unknown or not failed."""
    with db.write() as s:
        state = item_state(s, key)
        if state is None or state.status is not OutboxStatus.FAILED:
            return False
        s.execute(update(outbox).where(outbox.c.key == key).values(
            status=str(OutboxStatus.PENDING), attempts=0, next_attempt_at=None,
            last_error=f"re-queued by {actor} after: {state.last_error}"[:500],
            first_attempt_at=None, last_attempt_at=None))
    append_event(store, actor=actor, action="sync-retry", object=f"outbox/{key}",
                 object_sha256="", details={"kind": state.kind, "ref": state.ref,
                                            "attempts_before": state.attempts})
    return True


def summary(s: Session, now: datetime | None = None, *, agency: str | None = None,
            failed_cursor: str = "") -> dict[str, Any]:
    """Backlog by kind, oldest pending age, failed items (their number and one page of them)
    and the delivered count: indexed aggregates, for one commune (the web page) or the whole
    deployment (None)."""
    moment = now or datetime.now(UTC)
    scope = [] if agency is None else [outbox.c.agency == agency]
    counts = dict(s.execute(select(outbox.c.status, func.count()).where(*scope)
                            .group_by(outbox.c.status)).all())
    pending_where = [*scope, outbox.c.status == str(OutboxStatus.PENDING)]
    by_kind = {kind: 0 for kind in KINDS}
    by_kind.update(dict(s.execute(select(outbox.c.kind, func.count()).where(*pending_where)
                                  .group_by(outbox.c.kind)).all()))
    oldest_seq = s.execute(select(func.min(outbox.c.seq)).where(*pending_where)).scalar()
    oldest = None
    if oldest_seq is not None:
        oldest = s.execute(select(outbox.c.enqueued_at)
                           .where(outbox.c.seq == oldest_seq)).scalar_one()
    waiting_retry = s.execute(select(func.count()).where(*pending_where,
                                                          outbox.c.attempts > 0)).scalar_one()
    listed = s.execute(select(outbox).where(*pending_where).order_by(outbox.c.seq)
                       .limit(MAX_LISTED)).all()
    failed = failed_page(s, agency=agency, cursor=failed_cursor)
    return {
        "pending": counts.get(str(OutboxStatus.PENDING), 0),
        "pending_by_kind": by_kind,
        "oldest_pending_at": _iso(oldest) or None,
        "oldest_pending_age_s": int((moment - oldest).total_seconds()) if oldest else None,
        "waiting_retry": waiting_retry,
        "pending_items": [_state(r).public() for r in listed],
        "failed_total": counts.get(str(OutboxStatus.FAILED), 0),
        "failed": [st.public() for st in failed.items],
        "failed_next": failed.next_cursor,
        "delivered": counts.get(str(OutboxStatus.DELIVERED), 0),
    }
