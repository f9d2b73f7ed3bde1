"""Register numbers: unique and gap-free under racing processes; the chain exposes edits."""

from __future__ import annotations

import functools
import json
import multiprocessing
from collections.abc import Callable
from pathlib import Path

from storage.backends import LocalStore, ObjectStore
from storage.evidence.register import (
    RegisterEntry,
    allocate_register_number,
    check_chain,
    entry_key,
    read_entries,
)

AGENCY, YEAR = "26734", 2026


def _entry(number: int, prev_hash: str, copy_id: str) -> RegisterEntry:
    return RegisterEntry(
        agency_code=AGENCY, agency_name="Ủy ban nhân dân phường Bến Thành", year=YEAR,
        book=f"01/{YEAR}", number=number, date=f"{YEAR}-11-23", requester_name="Trần Văn Bình",
        document_name="Giấy khai sinh", signer="Nguyễn Văn A, Phó Chủ tịch", copies=1,
        fee_vnd=2000, electronic=True, notes="", copy_id=copy_id, prev_hash=prev_hash)


def _certify_many(make_store: Callable[[], ObjectStore], worker: int, count: int,
                  start: multiprocessing.Event) -> None:
    store = make_store()  # each certifier process has its own store (and connections)
    start.wait()
    for i in range(count):
        allocate_register_number(
            store, agency_code=AGENCY, year=YEAR,
            make_entry=lambda n, h, i=i: _entry(n, h, f"w{worker}-{i}"))


def race_certifiers(make_store: Callable[[], ObjectStore], workers: int = 8, each: int = 6,
                    ) -> None:
    """Processes race for numbers; they must come out 1..N, unique, chained."""
    ctx = multiprocessing.get_context("fork")
    start = ctx.Event()
    procs = [ctx.Process(target=_certify_many, args=(make_store, w, each, start))
             for w in range(workers)]
    for p in procs:
        p.start()
    start.set()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    store = make_store()
    entries = list(read_entries(store, AGENCY, YEAR))
    assert [e.number for e in entries] == list(range(1, workers * each + 1))
    assert len({e.copy_id for e in entries}) == workers * each
    assert check_chain(store, AGENCY, YEAR) == []


def test_racing_certifiers_get_unique_gap_free_numbers(tmp_path: Path) -> None:
    race_certifiers(functools.partial(LocalStore, tmp_path))


def test_numbers_restart_each_year_and_agency(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    for year in (2025, 2026):
        for agency in ("00001", "00004"):
            e = allocate_register_number(
                store, agency_code=agency, year=year,
                make_entry=lambda n, h, a=agency, y=year: RegisterEntry(
                    **{**_entry(n, h, f"{a}-{y}").__dict__, "agency_code": a, "year": y}))
            assert e.number == 1 and e.prev_hash == ""


def test_chain_detects_edit_and_removal(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    for i in range(3):
        allocate_register_number(store, agency_code=AGENCY, year=YEAR,
                                 make_entry=lambda n, h, i=i: _entry(n, h, f"c{i}"))
    key = entry_key(AGENCY, YEAR, 2)
    edited = json.loads(store.get(key))
    edited["requester_name"] = "Người Khác"
    store.put(key, json.dumps(edited).encode())
    assert any("number 3" in p for p in check_chain(store, AGENCY, YEAR))
    store.path_of(key).unlink()
    assert any("gap" in p for p in check_chain(store, AGENCY, YEAR))


def test_put_if_absent_never_overwrites(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    assert store.put_if_absent("register/x/1.json", b"first")
    assert not store.put_if_absent("register/x/1.json", b"second")
    assert store.get("register/x/1.json") == b"first"
    assert list(store.list("register/")) == ["register/x/1.json"]


def test_store_refuses_escaping_keys(tmp_path: Path) -> None:
    import pytest

    from storage.backends import InvalidKey

    store = LocalStore(tmp_path / "s")
    for bad in ("../etc/passwd", "/abs", "a/../../b", "a//b", "tên/tệp"):
        with pytest.raises(InvalidKey):
            store.put(bad, b"x")


def test_local_store_is_an_object_store_and_replaces_atomically(tmp_path: Path) -> None:
    from storage.backends import ObjectStore

    store = LocalStore(tmp_path / "s")
    assert isinstance(store, ObjectStore)
    assert "put" in ObjectStore.__dict__ and "_write_atomically" not in ObjectStore.__dict__
    store.put("a/b.json", b"one")
    source = tmp_path / "big.bin"
    source.write_bytes(b"x" * (3 << 20))
    store.put_file("a/b.json", source)
    assert store.get("a/b.json") == source.read_bytes()
    assert not list((tmp_path / "s" / "a").glob(".tmp-*"))  # no temporary left behind


class _ListingCounter(LocalStore):
    """A real LocalStore that counts directory listings (the O(n) step the hint avoids)."""

    listings = 0

    def list(self, prefix: str):
        self.listings += 1
        return super().list(prefix)


def _allocate(store: LocalStore, tag: str) -> RegisterEntry:
    return allocate_register_number(store, agency_code=AGENCY, year=YEAR,
                                    make_entry=lambda n, h: _entry(n, h, tag))


def test_head_hint_avoids_listing_and_is_only_advisory(tmp_path: Path) -> None:
    store = _ListingCounter(tmp_path)
    for i in range(5):
        _allocate(store, f"c{i}")
    assert store.listings == 1  # the first number of the year; afterwards the hint
    hint = tmp_path / "register" / AGENCY / str(YEAR) / "HEAD.json"
    assert json.loads(hint.read_text()) == {"number": 5}
    # stale (another certifier's older write won): walked forward
    hint.write_text('{"number": 2}')
    assert _allocate(store, "stale").number == 6
    # names a number that does not exist (edited): ignored, the listing decides
    hint.write_text('{"number": 40}')
    assert _allocate(store, "ahead").number == 7
    for damaged in ("not json", '{"number": "x"}', "[]", '{"n": 1}'):
        hint.write_text(damaged)
        _allocate(store, damaged)
    hint.unlink()
    last = _allocate(store, "missing")
    assert last.number == 12
    assert [e.number for e in read_entries(store, AGENCY, YEAR)] == list(range(1, 13))
    assert check_chain(store, AGENCY, YEAR) == []
