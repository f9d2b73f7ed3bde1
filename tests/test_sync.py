"""Portal sync (issue 8 points 2 and 3): the outbox in the store, delivered over real HTTP to a
local portal (tests/portalserver.py) with retries, idempotency keys and stored receipts.

One real e-copy is made once by `ecopy process` while ECOPY_PORTAL_URL points at a port where
nothing listens: certification must not care. Each test works on a copy of that store.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pipeline.types import DocStatus
from storage import outbox
from storage.backends import LocalStore
from storage.dossiers import link_document, open_dossier
from storage.evidence.cancellations import cancel_copy
from storage.portal_events import backfill
from storage.records import update_record
from tests.conftest import PERSON, ROOT, SAMPLES, run_cli
from tests.portalserver import PortalServer
from workers.sync import PortalClient, PortalConfig, deliver_due

TOKEN = "portal-token-2026"
LATER = timedelta(hours=2)  # past any backoff of the first attempts


def _dead_url() -> str:
    """A URL where nothing listens (the port was free a moment ago)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/portal"


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory, pki_dir: Path) -> dict:
    store_dir = tmp_path_factory.mktemp("sync-store")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ECOPY_")}
    env.update(ECOPY_PKI_DIR=str(pki_dir), ECOPY_PORTAL_URL=_dead_url(), OMP_THREAD_LIMIT="1")
    proc = run_cli(["process", str(SAMPLES / "birth_cert.jpg"), "--person-id", PERSON,
                    "--certify-all", "--out", str(store_dir), "--workers", "1", "--json",
                    "--no-progress"], env, timeout=600)
    assert proc.returncode == 0, proc.stderr
    (doc,) = json.loads(proc.stdout)["documents"]
    assert doc["status"] == "filed"
    return {"dir": store_dir, "copy_id": doc["copy_id"]}


@pytest.fixture
def store(made: dict, tmp_path: Path) -> LocalStore:
    shutil.copytree(made["dir"], tmp_path / "store")
    return LocalStore(tmp_path / "store")


@pytest.fixture
def portal(tmp_path: Path):
    server = PortalServer(token=TOKEN).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def token_file(tmp_path: Path) -> Path:
    path = tmp_path / "portal-token"
    path.write_text(TOKEN + "\n")
    return path


def _client(url: str, token_file: Path, read_timeout: float = 5.0) -> PortalClient:
    return PortalClient(PortalConfig(url, token_file=token_file, connect_timeout_s=2.0,
                                     read_timeout_s=read_timeout))


def _sync_env(env: dict[str, str], store: LocalStore, url: str, token_file: Path,
              **extra: str) -> dict[str, str]:
    return {**env, "ECOPY_STORE": str(store.root), "ECOPY_PORTAL_URL": url,
            "ECOPY_PORTAL_TOKEN_FILE": str(token_file), "ECOPY_PORTAL_TIMEOUT_S": "5", **extra}


def _wait_for(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _copy_meta(store: LocalStore, copy_id: str) -> tuple[str, dict]:
    (key,) = [k for k in store.list("warehouse/") if k.endswith(f"/{copy_id}.json")]
    return key, json.loads(store.get(key))


def test_ecopy_delivered_with_identical_bytes_and_receipt(
        store: LocalStore, made: dict, portal: PortalServer, token_file: Path,
        env: dict[str, str]) -> None:
    (pending,) = outbox.pending_items(store)  # the certification enqueued it, nothing else
    assert pending.state.kind == "ecopy" and pending.state.ref == made["copy_id"]
    assert b"%PDF" not in store.get(f"outbox/items/{pending.state.key}.json")  # no bytes

    proc = run_cli(["sync", "run", "--once"], _sync_env(env, store, portal.url + "/portal",
                                                       token_file))
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["delivered"] == 1
    (got,) = portal.stored("/portal/ecopies")
    assert got.key == pending.state.key and got.authorization == f"Bearer {TOKEN}"
    meta_key, meta = _copy_meta(store, made["copy_id"])
    pdf = store.get(meta_key.removesuffix(".json") + ".pdf")
    assert hashlib.sha256(got.parts["pdf"]).hexdigest() == meta["pdf_sha256"] == \
        hashlib.sha256(pdf).hexdigest()
    assert json.loads(got.parts["metadata"]) == meta
    state = outbox.item_state(store, pending.state.key)
    assert state.status == "delivered"
    assert state.receipt["receipt_id"] == portal.receipts[got.key]
    assert state.receipt["http_status"] == 201 and len(state.receipt["response_sha256"]) == 64
    assert outbox.pending_items(store) == []
    # a second pass sends nothing
    again = run_cli(["sync", "run", "--once"], _sync_env(env, store, portal.url + "/portal",
                                                        token_file))
    assert json.loads(again.stdout)["attempted"] == 0 and len(portal.requests) == 1


def test_transient_faults_retry_with_one_key_and_one_stored_copy(
        store: LocalStore, portal: PortalServer, token_file: Path) -> None:
    client = _client(portal.url + "/portal", token_file, read_timeout=1.0)
    (item,) = outbox.pending_items(store)
    key, now = item.state.key, datetime.now(UTC)
    portal.fail_next(2)  # 503, 503
    portal.drop_next()  # connection dropped without an answer
    portal.slow_next(2.5)  # answers after the client's read timeout, but stores it
    for n in range(1, 5):
        report = deliver_due(store, client, now, limit=10)
        assert report.retrying == 1 and report.delivered == 0, (n, report)
        state = outbox.item_state(store, key)
        assert state.attempts == n and state.status == "pending"
        # nothing is tried again before its backoff is over
        assert deliver_due(store, client, now, limit=10).attempted == 0
        now = datetime.fromisoformat(state.next_attempt_at) + timedelta(seconds=1)
    assert "ReadTimeout" in outbox.item_state(store, key).last_error
    _wait_for(lambda: len(portal.stored("/portal/ecopies")) == 1)  # the slow reply stored it
    portal.throttle_next(600)  # 429 Retry-After: 600
    deliver_due(store, client, now, limit=10)
    state = outbox.item_state(store, key)
    assert state.last_http_status == 429
    assert datetime.fromisoformat(state.next_attempt_at) >= now + timedelta(seconds=599)
    report = deliver_due(store, client, now + timedelta(seconds=601), limit=10)
    assert report.delivered == 1
    assert {r.key for r in portal.requests} == {key}  # one key on every attempt
    assert len(portal.requests) == 6
    assert len(portal.stored("/portal/ecopies")) == 1  # stored once (during the slow reply)
    assert portal.duplicates == 1  # the retry after the timeout was recognised
    receipt = outbox.item_state(store, key).receipt
    assert receipt["receipt_id"] == portal.receipts[key] and receipt["attempts"] == 6


def test_permanent_rejection_is_failed_visible_and_retried_by_admin(
        store: LocalStore, portal: PortalServer, token_file: Path, env: dict[str, str]) -> None:
    sync_env = _sync_env(env, store, portal.url + "/portal", token_file)
    portal.reject_next(400)
    proc = run_cli(["sync", "run", "--once"], sync_env)
    assert json.loads(proc.stdout)["failed"] == 1
    status = run_cli(["sync", "status", "--json"], sync_env)
    assert status.returncode == 3, status.stderr  # failed items
    info = json.loads(status.stdout)
    assert info["portal_configured"] is True and info["pending"] == 0
    (failed,) = info["failed"]
    assert failed["kind"] == "ecopy" and failed["attempts"] == 1
    assert "HTTP 400" in failed["last_error"] and failed["last_http_status"] == 400
    assert run_cli(["sync", "run", "--once"], sync_env).stdout.count('"attempted": 0') == 1

    refused = run_cli(["sync", "retry", failed["key"]], {**sync_env, "ECOPY_ROLE": "clerk",
                                                         "ECOPY_ACTOR": "can.bo"})
    assert refused.returncode == 1 and "admin" in refused.stderr
    admin = {**sync_env, "ECOPY_ROLE": "admin", "ECOPY_ACTOR": "quan.tri"}
    assert run_cli(["sync", "retry", "nope"], admin).returncode == 2
    again = run_cli(["sync", "retry", failed["key"]], admin)
    assert again.returncode == 0 and again.stdout.strip() == failed["key"]
    assert outbox.item_state(store, failed["key"]).status == "pending"
    assert json.loads(run_cli(["sync", "run", "--once"], sync_env).stdout)["delivered"] == 1
    final = json.loads(run_cli(["sync", "status", "--json"], sync_env).stdout)
    assert final["failed"] == [] and final["delivered"] == 1
    audit = [json.loads(store.get(k)) for k in store.list("audit/") if k != "audit/HEAD.json"]
    assert any(e["action"] == "sync-retry" and e["actor"] == "quan.tri" for e in audit)


def test_portal_down_never_blocks_certification_and_catches_up(
        store: LocalStore, made: dict, portal: PortalServer, token_file: Path,
        env: dict[str, str]) -> None:
    # the copy was certified while ECOPY_PORTAL_URL led nowhere (module fixture)
    down = _sync_env(env, store, _dead_url(), token_file)
    assert json.loads(run_cli(["sync", "run", "--once"], down).stdout)["retrying"] == 1
    info = json.loads(run_cli(["sync", "status", "--json"], down).stdout)
    assert info["pending_by_kind"]["ecopy"] == 1 and info["oldest_pending_age_s"] >= 0
    (item,) = info["pending_items"]
    assert item["ref"] == made["copy_id"] and "ConnectionError" in item["last_error"]
    plain = run_cli(["sync", "status"], down)
    assert "Đang chờ gửi: 1" in plain.stdout
    report = deliver_due(store, _client(portal.url + "/portal", token_file),
                         datetime.now(UTC) + LATER)
    assert report.delivered == 1 and len(portal.stored("/portal/ecopies")) == 1


def test_status_events_of_a_dossier_in_order_without_personal_data(
        tmp_path: Path, portal: PortalServer, token_file: Path) -> None:
    store = LocalStore(tmp_path / "fresh")
    name, dob = "Nguyễn Thị Mai Anh", "2001-02-05"
    dossier = open_dossier(store, agency="99999", person_id=PERSON, person_name=name,
                           date_of_birth=dob, opened_by="can.bo.lan")
    sha = "ab" * 32
    update_record(store, sha, DocStatus.RECEIVED)  # before the link: no dossier, no event
    assert outbox.pending_items(store) == []
    link_document(store, dossier, sha, "khai-sinh-Nguyen-Thi-Mai-Anh.jpg", "can.bo.lan")
    update_record(store, sha, DocStatus.OCR, name="khai-sinh-Nguyen-Thi-Mai-Anh.jpg")
    update_record(store, sha, DocStatus.READY, doc_type="birth_cert",
                  fields=[{"name": "full_name", "value": name}], person_id=PERSON)
    update_record(store, sha, DocStatus.FILED, doc_type="birth_cert", copy_id="c0ffee")
    pending = outbox.pending_items(store)
    # the RECEIVED written before the link is caught up with the first event after it
    assert [p.state.kind for p in pending] == ["status"] * 4
    assert {p.state.ref for p in pending} == {dossier.public_code}

    client = _client(portal.url + "/portal", token_file)
    now = datetime.now(UTC)
    portal.fail_next(1)  # the first event fails: the later ones must wait behind it
    report = deliver_due(store, client, now)
    assert report.attempted == 1 and report.waiting == 3 and portal.stored("/portal/status") == []
    assert deliver_due(store, client, now + LATER).delivered == 4
    bodies = [r.json for r in portal.stored("/portal/status")]
    assert [b["payload"]["status"] for b in bodies] == ["received", "ocr", "ready", "filed"]
    assert [b["payload"]["sequence"] for b in bodies] == [1, 2, 3, 4]
    assert {b["payload"]["public_code"] for b in bodies} == {dossier.public_code}
    assert bodies[2]["payload"]["document_type"] == "birth_cert"
    raw = b"".join(r.body for r in portal.requests).decode()
    for private in (name, "Nguyen", PERSON, dob, "khai-sinh", "can.bo.lan", sha, "c0ffee"):
        assert private not in raw, private
    # the same event enqueued again (a backfill) is the same item: nothing new goes out
    assert backfill(store) == {"ecopy": 0, "status": 0, "cancellation": 0}
    assert outbox.pending_items(store) == []


def test_cancellation_follows_its_copy(store: LocalStore, made: dict, portal: PortalServer,
                                       token_file: Path) -> None:
    decision = cancel_copy(store, made["copy_id"], decision_ref="15/QĐ-UBND",
                           decision_date="2026-11-20", reason="Bản chính bị tẩy xóa",
                           actor="Nguyễn Văn Thử", role="certifier")
    kinds = [p.state.kind for p in outbox.pending_items(store)]
    assert kinds == ["ecopy", "cancellation"]
    client = _client(portal.url + "/portal", token_file)
    portal.fail_next(1)  # the copy fails once: its cancellation waits behind it
    assert deliver_due(store, client, datetime.now(UTC)).waiting == 1
    assert portal.stored("/portal/cancellations") == []
    assert deliver_due(store, client, datetime.now(UTC) + LATER).delivered == 2
    (got,) = portal.stored("/portal/cancellations")
    assert [r.path for r in portal.accepted.values()] == ["/portal/ecopies",
                                                          "/portal/cancellations"]
    payload = got.json["payload"]
    assert payload["copy_id"] == made["copy_id"] and payload["decision_ref"] == "15/QĐ-UBND"
    assert payload["decision_date"] == "2026-11-20" and payload["register_number"] == 1
    assert decision["person_id"] == PERSON and PERSON not in got.body.decode()
    assert "Nguyễn Văn Thử" not in got.body.decode()  # the officer's name is not published


def test_run_loop_delivers_and_stops_cleanly_on_sigterm(
        store: LocalStore, portal: PortalServer, token_file: Path, env: dict[str, str]) -> None:
    (item,) = outbox.pending_items(store)
    runs = {"configured": _sync_env(env, store, portal.url + "/portal", token_file),
            "idle": {**env, "ECOPY_STORE": str(store.root)}}
    for name, run_env in runs.items():
        proc = subprocess.Popen([sys.executable, "-m", "ecopy.cli", "sync", "run", "--interval",
                                 "0.2"], env=run_env, cwd=ROOT, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        try:
            if name == "configured":
                _wait_for(lambda: outbox.item_state(store, item.state.key).status == "delivered")
            else:
                time.sleep(1.5)  # idles: no portal
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=15) == 0, proc.stderr.read()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert len(portal.stored("/portal/ecopies")) == 1
    assert "ECOPY_PORTAL_URL" in proc.stderr.read()  # the idle run said why it idles


def test_give_up_after_max_attempts(store: LocalStore, portal: PortalServer,
                                    token_file: Path) -> None:
    from storage.outbox import RetryPolicy

    client = PortalClient(PortalConfig(portal.url + "/portal", token_file=token_file,
                                       policy=RetryPolicy(max_attempts=3)))
    portal.fail_next(5, status=502)
    now = datetime.now(UTC)
    for _ in range(3):
        deliver_due(store, client, now)
        now += LATER
    (failed,) = outbox.failed_items(store)
    assert failed.attempts == 3 and failed.last_error.startswith("gave up after 3 attempts")
    assert outbox.pending_items(store) == []


def test_backfill_rebuilds_the_same_keys(store: LocalStore, made: dict) -> None:
    (before,) = outbox.pending_items(store)
    shutil.rmtree(store.root / "outbox")  # as if the enqueue had failed, or predated outboxes
    assert outbox.pending_items(store) == []
    assert backfill(store) == {"ecopy": 1, "status": 0, "cancellation": 0}
    (after,) = outbox.pending_items(store)
    assert after.state.key == before.state.key and after.item["payload"] == before.item["payload"]


def test_backlog_listing_skips_settled_days(tmp_path: Path, portal: PortalServer,
                                            token_file: Path) -> None:
    _backlog_over_days(LocalStore(tmp_path / "days"), portal, token_file)


def test_outbox_on_s3(s3_store, portal: PortalServer, token_file: Path) -> None:
    """The same behaviour on the real S3 store: create-if-absent dedup (If-None-Match),
    listings by day, the cursor, and a PDF streamed from S3 to the portal."""
    _backlog_over_days(s3_store, portal, token_file)
    pdf = os.urandom(300_000)
    s3_store.put("warehouse/001301012345/other/c1.pdf", pdf)
    s3_store.put("warehouse/001301012345/other/c1.json", b'{"copy_id": "c1"}')
    from storage.portal_events import enqueue_ecopy

    args = {"copy_id": "c1", "person_id": PERSON, "doc_type": "other",
            "pdf_key": "warehouse/001301012345/other/c1.pdf",
            "pdf_sha256": hashlib.sha256(pdf).hexdigest(), "agency": "99999"}
    key = enqueue_ecopy(s3_store, **args)
    assert enqueue_ecopy(s3_store, **args) == key
    assert [k for k in s3_store.list("outbox/items/") if key in k] == [f"outbox/items/{key}.json"]
    assert deliver_due(s3_store, _client(portal.url + "/portal", token_file)).delivered == 1
    (got,) = portal.stored("/portal/ecopies")
    assert got.parts["pdf"] == pdf
    assert outbox.item_state(s3_store, key).receipt["receipt_id"] == portal.receipts[key]


def _backlog_over_days(store, portal: PortalServer, token_file: Path) -> None:
    day1 = datetime(2026, 11, 1, 9, tzinfo=UTC)
    keys = [outbox.enqueue(store, "status", f"REF{n}", {"n": n}, version="1", now=day1)
            for n in range(3)]
    client = _client(portal.url + "/portal", token_file)
    portal.reject_next(422)
    day3 = day1 + timedelta(days=2)
    report = deliver_due(store, client, day3)
    assert (report.delivered, report.failed) == (2, 1)
    assert json.loads(store.get(outbox.CURSOR))["bucket"] == "20261102"  # day 1 is settled
    assert outbox.pending_items(store, day3) == []
    (failed,) = outbox.failed_items(store)
    assert failed.key == keys[0]
    assert outbox.retry(store, keys[0], actor="quan.tri", now=day3)
    assert [p.state.key for p in outbox.pending_items(store, day3)] == [keys[0]]
    assert deliver_due(store, client, day3).delivered == 1
    assert outbox.enqueue(store, "status", "REF0", {"n": 0}, version="1") == keys[0]
    assert outbox.pending_items(store) == []  # enqueued twice, stored and delivered once
