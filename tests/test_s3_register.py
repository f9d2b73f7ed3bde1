"""Register numbers on the real S3 server (SeaweedFS weed mini), and S3 outages.

Racing certifier processes, each with its own S3Store, claim numbers with put_if_absent
(If-None-Match: *): the numbers must come out unique and gap-free, as on the local store. A
stopped server must make store calls fail fast with StoreUnavailable, and a restarted one must
serve the same data again.
"""

from __future__ import annotations

import functools
import multiprocessing
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from storage.backends.s3 import S3Store, StoreUnavailable
from storage.evidence.register import allocate_register_number, check_chain
from tests.test_register import AGENCY, YEAR, _entry, race_certifiers

FAST = 5.0  # seconds within which a call to a down server must give up


def test_racing_certifiers_on_s3_get_unique_gap_free_numbers(s3_server) -> None:
    store = s3_server.new_store()
    race_certifiers(functools.partial(S3Store, **s3_server.store_args(store.bucket)))


def _claim_with_inherited_store(store: S3Store, worker: int, start: multiprocessing.Event,
                                ) -> None:
    start.wait()
    for i in range(10):
        store.put_if_absent(f"inherited/{i}", f"w{worker}".encode())


def test_store_inherited_across_fork_gets_its_own_connections(s3_server) -> None:
    """A store made before fork (as by an rq worker) stays usable in the children."""
    store = s3_server.new_store()
    store.put("warm", b"the parent's pool now holds an open connection")
    ctx = multiprocessing.get_context("fork")
    start = ctx.Event()
    procs = [ctx.Process(target=_claim_with_inherited_store, args=(store, w, start))
             for w in range(4)]
    for p in procs:
        p.start()
    start.set()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    assert store.get("warm").startswith(b"the parent")
    assert list(store.list("inherited/")) == [f"inherited/{i}" for i in range(10)]


def _timed(call: Callable[[], object]) -> float:
    began = time.monotonic()
    with pytest.raises(StoreUnavailable):
        call()
    return time.monotonic() - began


def test_down_server_fails_fast_and_recovers(s3_server, tmp_path: Path) -> None:
    assert issubclass(StoreUnavailable, ConnectionError)
    store = s3_server.new_store()
    store.put("keep/a.json", b"kept")
    src = tmp_path / "src.bin"
    src.write_bytes(b"s" * 1000)
    # no region given: the client must first ask the (down) server for the bucket's location
    fresh = S3Store(**{**s3_server.store_args(store.bucket), "region": None})
    s3_server.stop()
    try:
        calls = {
            "get": lambda: store.get("keep/a.json"),
            "get_to_file": lambda: store.get_to_file("keep/a.json", tmp_path / "out"),
            "put": lambda: store.put("keep/b.json", b"b"),
            "put_file": lambda: store.put_file("keep/c.bin", src),
            "put_if_absent": lambda: store.put_if_absent("keep/d.json", b"d"),
            "exists": lambda: store.exists("keep/a.json"),
            "list": lambda: store.list("keep/"),
            "ensure_bucket": lambda: store.ensure_bucket(),
            "fresh client": lambda: fresh.get("keep/a.json"),
        }
        took = {name: _timed(call) for name, call in calls.items()}
        assert max(took.values()) < FAST, took
        assert not (tmp_path / "out").exists()
    finally:
        s3_server.start()
    assert store.get("keep/a.json") == b"kept"
    assert fresh.get("keep/a.json") == b"kept"
    assert store.put_if_absent("keep/d.json", b"d")
    entry = allocate_register_number(store, agency_code=AGENCY, year=YEAR,
                                     make_entry=lambda n, h: _entry(n, h, "after-restart"))
    assert entry.number == 1
    assert check_chain(store, AGENCY, YEAR) == []
