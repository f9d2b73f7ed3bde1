"""The certification register (Sổ chứng thực bản sao từ bản chính, Mẫu số 19).

One immutable object per number: register/<agency>/<year>/<number:06d>.json. A number is
claimed by creating its object with create-if-absent, and only after the previous number's
object exists, so numbers per (agency, year) are unique and gap-free however many certifiers
race. Each entry carries the sha256 of the previous one: the year's register is a hash chain,
so an edited, removed or inserted entry is detectable.

Finding the last number reads a head hint (``HEAD.json`` in the year's folder, rewritten after
each claim) and checks it forward, instead of listing the whole year: O(1) per number. The
hint is advisory: a stale one is walked forward, and one naming a number that does not exist
(damaged, edited) is ignored in favour of a listing, so it can never cause a gap.

The book ("Quyển số 01/2026-SCT/BS") is a column of the entry, not part of the key: numbers run
on across books within a year (Decree 23/2015), so uniqueness is per (agency, year).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass

from storage.backends import ObjectStore

MAX_ATTEMPTS = 1000


@dataclass(frozen=True)
class RegisterEntry:
    """One line of Mẫu số 19; the columns are numbered as on the printed book."""

    agency_code: str  # commune code, Decision 19/2025
    agency_name: str
    year: int
    book: str  # "01/2026" -> printed "Quyển số 01/2026-SCT/BS"
    number: int  # (1)
    date: str  # (2) ISO 8601 date
    requester_name: str  # (3)
    document_name: str  # (4)
    signer: str  # (5) name and title
    copies: int  # (6)
    fee_vnd: int  # (7)
    electronic: bool  # (8) printed "X"
    notes: str  # (9)
    copy_id: str
    prev_hash: str  # sha256 of the previous entry's canonical bytes; "" for number 1

    @property
    def book_label(self) -> str:
        return f"{self.book}-SCT/BS"

    def canonical_bytes(self) -> bytes:
        return canonical_json(asdict(self))

    @property
    def entry_hash(self) -> str:
        return hashlib.sha256(self.canonical_bytes()).hexdigest()

    @classmethod
    def from_dict(cls, data: dict) -> RegisterEntry:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__})


class RegisterExhausted(RuntimeError):
    """Too many lost races in a row: something else is wrong (e.g. a clock or store fault)."""


def canonical_json(data: object) -> bytes:
    return json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def register_prefix(agency_code: str, year: int) -> str:
    return f"register/{agency_code}/{year}/"


def entry_key(agency_code: str, year: int, number: int) -> str:
    return f"{register_prefix(agency_code, year)}{number:06d}.json"


def void_note_key(agency_code: str, year: int, number: int) -> str:
    """Why a claimed number never became a copy (written beside the register, never over
    an entry)."""
    return f"register-notes/{agency_code}/{year}/{number:06d}.json"


def head_key(agency_code: str, year: int) -> str:
    return f"{register_prefix(agency_code, year)}HEAD.json"


def _last_number(store: ObjectStore, agency_code: str, year: int) -> int:
    try:
        hint = int(json.loads(store.get(head_key(agency_code, year)))["number"])
    except (KeyError, ValueError, TypeError):  # absent or damaged: list instead
        hint = 0
    if hint < 1 or not store.exists(entry_key(agency_code, year, hint)):
        numbers = register_numbers(store, agency_code, year)
        return numbers[-1] if numbers else 0
    while store.exists(entry_key(agency_code, year, hint + 1)):
        hint += 1
    return hint


def register_numbers(store: ObjectStore, agency_code: str, year: int) -> list[int]:
    """The year's entry numbers, sorted (the head hint and other files are not entries)."""
    out = []
    for key in store.list(register_prefix(agency_code, year)):
        stem = key.rsplit("/", 1)[-1].removesuffix(".json")
        if stem.isdigit():
            out.append(int(stem))
    return sorted(out)


def allocate_register_number(
    store: ObjectStore,
    *,
    agency_code: str,
    year: int,
    make_entry: Callable[[int, str], RegisterEntry],
) -> RegisterEntry:
    """Claim the next number of (agency, year) and write its entry in the same atomic step.

    `make_entry(number, prev_hash)` builds the entry for a candidate number; it may be called
    again with a higher number when another certifier wins the race.
    """
    last = _last_number(store, agency_code, year)
    for _ in range(MAX_ATTEMPTS):
        prev_hash = ""
        if last:
            prev_hash = hashlib.sha256(store.get(entry_key(agency_code, year, last))).hexdigest()
        entry = make_entry(last + 1, prev_hash)
        if entry.number != last + 1 or entry.prev_hash != prev_hash:
            raise ValueError("make_entry must use the number and prev_hash it is given")
        if store.put_if_absent(entry_key(agency_code, year, entry.number), entry.canonical_bytes()):
            hint = canonical_json({"number": entry.number})
            store.put(head_key(agency_code, year), hint, durable=False)  # advisory only
            return entry
        last += 1
        while store.exists(entry_key(agency_code, year, last + 1)):
            last += 1
    raise RegisterExhausted(f"no register number after {MAX_ATTEMPTS} attempts")


def find_by_copy_id(
    store: ObjectStore, agency_code: str, year: int, copy_id: str, *, recent: int = 64
) -> RegisterEntry | None:
    """The entry already claimed for ``copy_id`` among the year's newest ``recent`` numbers
    (a resumed certification finds its own claim near the end of the register; the head
    hint finds the end without listing). None when it is not there."""
    last = _last_number(store, agency_code, year)
    for n in range(last, max(last - recent, 0), -1):
        raw = find_entry(store, agency_code, year, n)
        if raw is None:
            continue
        entry = RegisterEntry.from_dict(json.loads(raw))
        if entry.copy_id == copy_id:
            return entry
    return None


def read_entries(store: ObjectStore, agency_code: str, year: int) -> Iterator[RegisterEntry]:
    for n in register_numbers(store, agency_code, year):
        yield RegisterEntry.from_dict(json.loads(store.get(entry_key(agency_code, year, n))))


def find_entry(store: ObjectStore, agency_code: str, year: int, number: int) -> bytes | None:
    try:
        return store.get(entry_key(agency_code, year, number))
    except KeyError:
        return None


def check_chain(store: ObjectStore, agency_code: str, year: int) -> list[str]:
    """Problems in a year's register: gaps, broken links. Empty list means intact."""
    problems = []
    expected_prev = ""
    for i, n in enumerate(register_numbers(store, agency_code, year), start=1):
        raw = store.get(entry_key(agency_code, year, n))
        if n != i:
            problems.append(f"gap: expected number {i}, found {n}")
        entry = RegisterEntry.from_dict(json.loads(raw))
        if entry.prev_hash != expected_prev:
            problems.append(f"number {n}: previous-entry hash does not match")
        expected_prev = hashlib.sha256(raw).hexdigest()
    return problems


def check_against_audit(store: ObjectStore, agency_code: str, year: int,
                        events: Iterator[dict] | list[dict]) -> list[str]:
    """The year's entries against what was recorded when each number was claimed: the
    audit log's ``register`` events (number and entry hash) and the head hint. The hash chain
    alone cannot see the last entries deleted (the chain that is left is whole); this can.

    - a number the audit log registered whose entry is gone: deleted;
    - an entry whose bytes differ from the hash its event recorded: replaced;
    - an entry no event registered: inserted (or a claim whose event was never written, when
      a certification stopped between the two);
    - a head hint past the last entry: the entries after it were deleted."""
    prefix = register_prefix(agency_code, year)
    recorded: dict[int, tuple[str, int]] = {}
    for event in events:
        if event.get("action") != "register" or not str(event.get("object", "")).startswith(
                prefix):
            continue
        try:
            number = int((event.get("details") or {})["number"])
        except (KeyError, ValueError, TypeError):
            continue
        recorded[number] = (str(event.get("object_sha256") or ""), int(event.get("seq") or 0))
    numbers = register_numbers(store, agency_code, year)
    problems = [f"number {n}: registered in the audit log (event {recorded[n][1]}) but its "
                "entry is gone (deleted)" for n in sorted(set(recorded) - set(numbers))]
    for n in numbers:
        if n not in recorded:
            problems.append(f"number {n}: no register event in the audit log (inserted, or a "
                            "certification stopped before its event was written)")
            continue
        digest = hashlib.sha256(store.get(entry_key(agency_code, year, n))).hexdigest()
        if recorded[n][0] and digest != recorded[n][0]:
            problems.append(f"number {n}: differs from the entry the audit log registered "
                            f"(event {recorded[n][1]}): replaced")
    try:
        head = int(json.loads(store.get(head_key(agency_code, year)))["number"])
    except Exception:  # absent or damaged: the hint is advisory, the events above decide
        head = 0
    last = numbers[-1] if numbers else 0
    if head > last:
        problems.append(f"head of the register names number {head}, the last entry is {last}: "
                        "entries after it were deleted")
    return problems
