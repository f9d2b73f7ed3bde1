"""The audit log: append-only, hash-chained events, one immutable object each.

Keys are audit/<yyyy>/<seq:010d>.json. The sequence is GLOBAL (one chain for the whole store);
the year in the key only keeps listings short. An event is appended by creating the object of
the next number with create-if-absent, as the register does, so concurrent writers get unique,
gap-free numbers. Each event carries the sha256 of the previous event object's bytes, so an
edited, removed or inserted event breaks the chain. The last event has no successor to vouch
for it, so audit/HEAD.json keeps the newest event's number and hash: deleting or rewriting the
tail without also rewriting HEAD is detected. (Anchoring HEAD outside the store, e.g. with a
timestamp token, is what would make a full tail rewrite detectable too.)

Refusal records (Decree 23/2015 Art 22: "the refusal reason is recorded") live here as well:
they are evidence written next to the audit event that reports them.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime
from typing import Any

from storage.backends import ObjectStore

AUDIT_PREFIX = "audit/"
HEAD_KEY = "audit/HEAD.json"
MAX_ATTEMPTS = 10_000
_EVENT_KEY_RE = re.compile(r"^audit/(\d{4})/(\d{10})\.json$")


class AuditExhausted(RuntimeError):
    """Too many lost races in a row: something else is wrong with the store."""


def canonical_json(data: object) -> bytes:
    return json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def event_key(year: int, seq: int) -> str:
    return f"{AUDIT_PREFIX}{year:04d}/{seq:010d}.json"


def _content_hash(event: dict[str, Any]) -> str:
    """The event's own hash, over every field but itself: catches a naive edit anywhere."""
    body = {k: v for k, v in event.items() if k != "hash"}
    return hashlib.sha256(canonical_json(body)).hexdigest()


def _parse_key(key: str) -> tuple[int, int] | None:
    m = _EVENT_KEY_RE.match(key)
    return (int(m.group(1)), int(m.group(2))) if m else None


def _read_head(store: ObjectStore) -> dict[str, Any] | None:
    try:
        head = json.loads(store.get(HEAD_KEY))
    except (KeyError, ValueError):
        return None
    return head if isinstance(head, dict) else None


def _find_next(store: ObjectStore, year: int, seq: int) -> int | None:
    """The year holding event seq+1: normally seq's own or the next; a skewed clock may have
    filed it a year off, which verify_audit then reports."""
    for y in dict.fromkeys((year, year + 1, datetime.now(UTC).year, year - 1)):
        if store.exists(event_key(y, seq + 1)):
            return y
    return None


def _probe_forward(store: ObjectStore, year: int, seq: int) -> tuple[int, int]:
    while (nxt := _find_next(store, year, seq)) is not None:
        year, seq = nxt, seq + 1
    return year, seq


def _locate_last(store: ObjectStore, now_year: int) -> tuple[int, int]:
    """(year, seq) of the newest event, (0, 0) for an empty log.

    HEAD is a hint (O(1)); when it is missing or points nowhere, the current year's listing
    is, and only an empty current year with no usable HEAD falls back to listing everything.
    """
    head = _read_head(store)
    if head:
        try:
            year, seq = int(head["year"]), int(head["seq"])
        except (KeyError, TypeError, ValueError):
            year = seq = 0
        if seq and store.exists(event_key(year, seq)):
            return _probe_forward(store, year, seq)
    for prefix in (f"{AUDIT_PREFIX}{now_year:04d}/", AUDIT_PREFIX):
        found = [p for k in store.list(prefix) if (p := _parse_key(k))]
        if found:
            year, seq = max(found, key=lambda p: (p[1], p[0]))
            return _probe_forward(store, year, seq)
    return 0, 0


def _advance_head(store: ObjectStore, year: int, seq: int) -> None:
    """Point HEAD at the newest event, however writers interleave.

    Every writer puts HEAD and then looks for a successor; whoever puts last has seen no
    successor, and any event created after that look puts HEAD after it: HEAD ends on the tail.
    """
    while True:
        year, seq = _probe_forward(store, year, seq)
        raw = store.get(event_key(year, seq))
        store.put(
            HEAD_KEY,
            canonical_json(
                {"seq": seq, "year": year, "key": event_key(year, seq),
                 "hash": hashlib.sha256(raw).hexdigest()}
            ),
        )
        if _find_next(store, year, seq) is None:
            return


def append_event(
    store: ObjectStore,
    *,
    actor: str,
    action: str,
    object: str,  # the audit vocabulary: actor, action, object
    object_sha256: str = "",
    details: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Append one event to the global chain and return it as stored."""
    now = datetime.now(UTC)
    year, last = _locate_last(store, now.year)
    for _ in range(MAX_ATTEMPTS):
        prev_hash = hashlib.sha256(store.get(event_key(year, last))).hexdigest() if last else ""
        seq = last + 1
        event: dict[str, Any] = {
            "seq": seq,
            "time": now.isoformat(timespec="microseconds"),
            "actor": actor,
            "action": action,
            "object": object,
            "object_sha256": object_sha256,
            "details": details or {},
            "prev_hash": prev_hash,
        }
        event["hash"] = _content_hash(event)
        # the same number in a neighbouring year (clock skew, New Year) is taken as well
        taken = any(store.exists(event_key(y, seq)) for y in (now.year - 1, now.year + 1))
        if not taken and store.put_if_absent(event_key(now.year, seq), canonical_json(event)):
            _advance_head(store, now.year, seq)
            return event
        year, last = _probe_forward(store, year, last)
        now = max(now, datetime.now(UTC))
    raise AuditExhausted(f"no audit sequence number after {MAX_ATTEMPTS} attempts")


def _event_keys(store: ObjectStore) -> tuple[list[tuple[int, int, str]], list[str]]:
    events, strays = [], []
    for key in store.list(AUDIT_PREFIX):
        parsed = _parse_key(key)
        if parsed:
            events.append((parsed[1], parsed[0], key))
        elif key != HEAD_KEY:
            strays.append(key)
    events.sort()
    return events, strays


def read_events(store: ObjectStore, last: int | None = None) -> list[dict[str, Any]]:
    """Events in sequence order; only the newest `last` when given."""
    keys, _ = _event_keys(store)
    if last is not None:
        keys = keys[-last:] if last > 0 else []
    return [json.loads(store.get(key)) for _, _, key in keys]


def verify_audit(store: ObjectStore) -> list[str]:
    """Problems in the audit log: edited, inserted, deleted events, a moved tail. [] = intact."""
    problems: list[str] = []
    keys, strays = _event_keys(store)
    problems += [f"{k}: unexpected object in the audit log" for k in strays]
    expected_seq, prev_raw_hash, prev_seq = 1, "", 0
    last_key, last_hash = "", ""
    for seq, year, key in keys:
        raw = store.get(key)
        if seq == prev_seq:
            problems.append(f"{key}: duplicate sequence number {seq}")
        elif seq != expected_seq:
            problems.append(f"{key}: gap: expected sequence number {expected_seq}, found {seq}")
        try:
            event = json.loads(raw)
            if not isinstance(event, dict):
                raise ValueError("not an object")
        except ValueError:
            problems.append(f"{key}: not a readable event")
            event = {}
        if event:
            if event.get("seq") != seq:
                problems.append(f"{key}: sequence number inside ({event.get('seq')}) differs")
            if str(event.get("time", ""))[:4] != f"{year:04d}":
                problems.append(f"{key}: event time {event.get('time')} is not in year {year}")
            if event.get("hash") != _content_hash(event):
                problems.append(f"{key}: content does not match its own hash (edited)")
            if event.get("prev_hash") != prev_raw_hash:
                problems.append(f"{key}: previous-event hash does not match (edited, removed "
                                "or inserted event before it)")
        prev_raw_hash = hashlib.sha256(raw).hexdigest()
        prev_seq, expected_seq = seq, seq + 1
        last_key, last_hash = key, prev_raw_hash
    head = _read_head(store)
    if head is None:
        if keys or store.exists(HEAD_KEY):
            problems.append(f"{HEAD_KEY}: missing or unreadable")
    elif not keys:
        problems.append(f"{HEAD_KEY}: records event {head.get('seq')} but the log is empty")
    elif head.get("key") != last_key or head.get("hash") != last_hash:
        problems.append(
            f"{HEAD_KEY}: records event {head.get('seq')} ({head.get('key')}) but the log ends "
            f"at {last_key} or its hash differs (last events removed, rewritten or appended)"
        )
    return problems


# ---------------------------------------------------------------- refusals (Decree 23/2015 Art 22)


def refusal_key(agency_code: str, year: int, sha256: str) -> str:
    return f"refusals/{agency_code}/{year}/{sha256}.json"


def refusal_note_key(agency_code: str, year: int, sha256: str) -> str:
    return f"register-notes/{agency_code}/{year}/refusal-{sha256}.json"


def record_refusal(
    store: ObjectStore,
    *,
    agency_code: str,
    year: int,
    sha256: str,
    ground: str,
    ground_detail: str,
    message: str,
    message_en: str,
    actor: str,
    document_name: str,
    time: str,
    ground_code: str = "",
) -> dict[str, Any]:
    """Keep why a paper was refused: a refusal record, and the note the register export reads.

    A paper refused again (e.g. after a rescan) overwrites its record; the audit log keeps
    every refusal.
    """
    record = {
        "refusal": True,
        "agency_code": agency_code,
        "year": year,
        "sha256": sha256,
        "ground": ground,
        "ground_detail": ground_detail,
        "ground_code": ground_code,  # the Art 22 ground a certifier chose (REFUSAL_GROUNDS)
        "message": message,
        "message_en": message_en,
        "actor": actor,
        "document_name": document_name,
        "time": time,
    }
    data = json.dumps(record, ensure_ascii=False, indent=1, sort_keys=True).encode()
    store.put(refusal_key(agency_code, year, sha256), data)
    store.put(refusal_note_key(agency_code, year, sha256), data)
    return record
