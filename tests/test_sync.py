"""Portal sync (issue 8 points 2 and 3): the outbox in the database, delivered over real HTTP
to a local portal (tests/support/portalserver.py) with retries, idempotency keys and stored
receipts.

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
from sqlalchemy import delete

from pipeline.casework.cancellation import cancel_copy
from pipeline.casework.portal import backfill, enqueue_ecopy
from pipeline.casework.status import claim, save_status
from pipeline.types import DocStatus
from storage import outbox
from storage.backends import LocalStore
from storage.db.dossiers import open_dossier
from storage.db.schema import outbox as outbox_table
from storage.evidence.audit import read_events
from storage.state import State
from tests.conftest import CACHED_OCR, CERTIFY_AS, PERSON, ROOT, SAMPLES, open_state, run_cli
from tests.support.portalserver import PortalServer
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
    env.update(CACHED_OCR)  # not about OCR
    env.update(ECOPY_PKI_DIR=str(pki_dir), ECOPY_PORTAL_URL=_dead_url(), OMP_THREAD_LIMIT="1")
    proc = run_cli(["process", *CERTIFY_AS, str(SAMPLES / "birth_cert.jpg"), "--person-id",
                    PERSON,
                    "--certify-all", "--out", str(store_dir), "--workers", "1", "--json",
                    "--no-progress"], env, timeout=600)
    assert proc.returncode == 0, proc.stderr
    (doc,) = json.loads(proc.stdout)["documents"]
    assert doc["status"] == "filed"
    return {"dir": store_dir, "copy_id": doc["copy_id"]}


@pytest.fixture
def state(made: dict, tmp_path: Path) -> State:
    shutil.copytree(made["dir"], tmp_path / "store")
    return open_state(LocalStore(tmp_path / "store"))


def pending(state: State) -> list[outbox.Pending]:
    with state.db.read() as s:
        return outbox.pending_items(s)


def item_state(state: State, key: str) -> outbox.ItemState:
    with state.db.read() as s:
        found = outbox.item_state(s, key)
    assert found is not None
    return found


def failed_items(state: State) -> list[outbox.ItemState]:
    with state.db.read() as s:
        return outbox.failed_items(s)


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


def _sync_env(env: dict[str, str], state: State, url: str, token_file: Path,
              **extra: str) -> dict[str, str]:
    return {**env, "ECOPY_STORE": str(state.store.root), "ECOPY_PORTAL_URL": url,
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
        state: State, made: dict, portal: PortalServer, token_file: Path,
        env: dict[str, str]) -> None:
    store = state.store
    (item,) = pending(state)  # the certification enqueued it, nothing else
    assert item.state.kind == "ecopy" and item.state.ref == made["copy_id"]
    assert "%PDF" not in json.dumps(item.item)  # the item names the copy, holds no bytes

    proc = run_cli(["sync", "run", "--once"], _sync_env(env, state, portal.url + "/portal",
                                                       token_file))
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["delivered"] == 1
    (got,) = portal.stored("/portal/ecopies")
    assert got.key == item.state.key and got.authorization == f"Bearer {TOKEN}"
    meta_key, meta = _copy_meta(store, made["copy_id"])
    pdf = store.get(meta_key.removesuffix(".json") + ".pdf")
    assert hashlib.sha256(got.parts["pdf"]).hexdigest() == meta["pdf_sha256"] == \
        hashlib.sha256(pdf).hexdigest()
    assert json.loads(got.parts["metadata"]) == meta
    now = item_state(state, item.state.key)
    assert now.status == "delivered"
    assert now.receipt["receipt_id"] == portal.receipts[got.key]
    assert now.receipt["http_status"] == 201 and len(now.receipt["response_sha256"]) == 64
    kept = json.loads(store.get(f"outbox/receipts/{item.state.key}.json"))  # as evidence too
    assert kept == now.receipt
    (delivered,) = [e for e in read_events(store) if e["action"] == "deliver"]  # audited
    assert delivered["details"]["ref"] == made["copy_id"]
    assert delivered["details"]["receipt_id"] == now.receipt["receipt_id"]
    assert pending(state) == []
    # a second pass sends nothing
    again = run_cli(["sync", "run", "--once"], _sync_env(env, state, portal.url + "/portal",
                                                        token_file))
    assert json.loads(again.stdout)["attempted"] == 0 and len(portal.requests) == 1


def test_transient_faults_retry_with_one_key_and_one_stored_copy(
        state: State, portal: PortalServer, token_file: Path) -> None:
    client = _client(portal.url + "/portal", token_file, read_timeout=1.0)
    (item,) = pending(state)
    key, now = item.state.key, datetime.now(UTC)
    portal.fail_next(2)  # 503, 503
    portal.drop_next()  # connection dropped without an answer
    portal.slow_next(2.5)  # answers after the client's read timeout, but stores it
    for n in range(1, 5):
        report = deliver_due(state, client, now, limit=10)
        assert report.retrying == 1 and report.delivered == 0, (n, report)
        now_state = item_state(state, key)
        assert now_state.attempts == n and now_state.status == "pending"
        # nothing is tried again before its backoff is over
        assert deliver_due(state, client, now, limit=10).attempted == 0
        now = datetime.fromisoformat(now_state.next_attempt_at) + timedelta(seconds=1)
    assert "ReadTimeout" in item_state(state, key).last_error
    _wait_for(lambda: len(portal.stored("/portal/ecopies")) == 1)  # the slow reply stored it
    portal.throttle_next(600)  # 429 Retry-After: 600
    deliver_due(state, client, now, limit=10)
    now_state = item_state(state, key)
    assert now_state.last_http_status == 429
    assert datetime.fromisoformat(now_state.next_attempt_at) >= now + timedelta(seconds=599)
    report = deliver_due(state, client, now + timedelta(seconds=601), limit=10)
    assert report.delivered == 1
    assert {r.key for r in portal.requests} == {key}  # one key on every attempt
    assert len(portal.requests) == 6
    assert len(portal.stored("/portal/ecopies")) == 1  # stored once (during the slow reply)
    assert portal.duplicates == 1  # the retry after the timeout was recognised
    receipt = item_state(state, key).receipt
    assert receipt["receipt_id"] == portal.receipts[key] and receipt["attempts"] == 6


def test_permanent_rejection_is_failed_visible_and_retried_by_admin(
        state: State, portal: PortalServer, token_file: Path, env: dict[str, str]) -> None:
    store = state.store
    sync_env = _sync_env(env, state, portal.url + "/portal", token_file)
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
    assert item_state(state, failed["key"]).status == "pending"
    assert json.loads(run_cli(["sync", "run", "--once"], sync_env).stdout)["delivered"] == 1
    final = json.loads(run_cli(["sync", "status", "--json"], sync_env).stdout)
    assert final["failed"] == [] and final["delivered"] == 1
    audit = [json.loads(store.get(k)) for k in store.list("audit/") if k != "audit/HEAD.json"]
    assert any(e["action"] == "sync-retry" and e["actor"] == "quan.tri" for e in audit)


def test_portal_down_never_blocks_certification_and_catches_up(
        state: State, made: dict, portal: PortalServer, token_file: Path,
        env: dict[str, str]) -> None:
    # the copy was certified while ECOPY_PORTAL_URL led nowhere (module fixture)
    down = _sync_env(env, state, _dead_url(), token_file)
    assert json.loads(run_cli(["sync", "run", "--once"], down).stdout)["retrying"] == 1
    info = json.loads(run_cli(["sync", "status", "--json"], down).stdout)
    assert info["pending_by_kind"]["ecopy"] == 1 and info["oldest_pending_age_s"] >= 0
    (item,) = info["pending_items"]
    assert item["ref"] == made["copy_id"] and "ConnectionError" in item["last_error"]
    plain = run_cli(["sync", "status"], down)
    assert "Đang chờ gửi: 1" in plain.stdout
    report = deliver_due(state, _client(portal.url + "/portal", token_file),
                         datetime.now(UTC) + LATER)
    assert report.delivered == 1 and len(portal.stored("/portal/ecopies")) == 1


def test_status_events_of_a_dossier_in_order_without_personal_data(
        tmp_path: Path, portal: PortalServer, token_file: Path) -> None:
    state = open_state(LocalStore(tmp_path / "fresh"))
    name, dob = "Nguyễn Thị Mai Anh", "2001-02-05"
    with state.db.write() as s:
        dossier = open_dossier(s, agency="99999", person_id=PERSON, person_name=name,
                               date_of_birth=dob, opened_by="can.bo.lan",
                               deadlines=state.deadlines)
    sha = "ab" * 32
    case, _ = claim(state, dossier, sha, name="khai-sinh-Nguyen-Thi-Mai-Anh.jpg", size=1,
                    person_id=PERSON, actor="can.bo.lan")
    case_id = case["case_id"]
    save_status(state, case_id, DocStatus.OCR, actor="ecopy")
    save_status(state, case_id, DocStatus.READY, actor="ecopy", doc_type="birth_cert",
                fields=[{"name": "full_name", "value": name}])
    save_status(state, case_id, DocStatus.FILED, actor="ecopy", doc_type="birth_cert",
                copy_id="c0ffee" * 5 + "aa")
    items = pending(state)
    assert [p.state.kind for p in items] == ["status"] * 4
    assert {p.state.ref for p in items} == {dossier.public_code}

    client = _client(portal.url + "/portal", token_file)
    now = datetime.now(UTC)
    portal.fail_next(1)  # the first event fails: the later ones must wait behind it
    report = deliver_due(state, client, now)
    assert report.attempted == 1 and report.waiting == 3 and portal.stored("/portal/status") == []
    assert deliver_due(state, client, now + LATER).delivered == 4
    bodies = [r.json for r in portal.stored("/portal/status")]
    assert [b["payload"]["status"] for b in bodies] == ["received", "ocr", "ready", "filed"]
    assert [b["payload"]["sequence"] for b in bodies] == [1, 2, 3, 4]
    assert {b["payload"]["public_code"] for b in bodies} == {dossier.public_code}
    assert bodies[2]["payload"]["document_type"] == "birth_cert"
    raw = b"".join(r.body for r in portal.requests).decode()
    for private in (name, "Nguyen", PERSON, dob, "khai-sinh", "can.bo.lan", sha, "c0ffee",
                    case_id):
        assert private not in raw, private
    # the same event enqueued again (a backfill) is the same item: nothing new goes out
    with state.db.write() as s:
        assert backfill(s) == {"ecopy": 0, "status": 0, "cancellation": 0}
    assert pending(state) == []


def test_cancellation_follows_its_copy(state: State, made: dict, portal: PortalServer,
                                       token_file: Path) -> None:
    decision, _made = cancel_copy(state, made["copy_id"], decision_ref="15/QĐ-UBND",
                                  decision_date="2026-11-20", reason="Bản chính bị tẩy xóa",
                                  actor="Nguyễn Văn Thử", role="certifier")
    kinds = [p.state.kind for p in pending(state)]
    assert kinds == ["ecopy", "cancellation"]
    client = _client(portal.url + "/portal", token_file)
    portal.fail_next(1)  # the copy fails once: its cancellation waits behind it
    assert deliver_due(state, client, datetime.now(UTC)).waiting == 1
    assert portal.stored("/portal/cancellations") == []
    assert deliver_due(state, client, datetime.now(UTC) + LATER).delivered == 2
    (got,) = portal.stored("/portal/cancellations")
    assert [r.path for r in portal.accepted.values()] == ["/portal/ecopies",
                                                          "/portal/cancellations"]
    payload = got.json["payload"]
    assert payload["copy_id"] == made["copy_id"] and payload["decision_ref"] == "15/QĐ-UBND"
    assert payload["decision_date"] == "2026-11-20" and payload["register_number"] == 1
    assert decision["person_id"] == PERSON and PERSON not in got.body.decode()
    assert "Nguyễn Văn Thử" not in got.body.decode()  # the officer's name is not published


def test_run_loop_delivers_and_stops_cleanly_on_sigterm(
        state: State, portal: PortalServer, token_file: Path, env: dict[str, str]) -> None:
    (item,) = pending(state)
    runs = {"configured": _sync_env(env, state, portal.url + "/portal", token_file),
            "idle": {**env, "ECOPY_STORE": str(state.store.root)}}
    for name, run_env in runs.items():
        proc = subprocess.Popen([sys.executable, "-m", "ecopy.cli", "sync", "run", "--interval",
                                 "0.2"], env=run_env, cwd=ROOT, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        try:
            if name == "configured":
                _wait_for(lambda: item_state(state, item.state.key).status == "delivered")
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


def test_give_up_after_max_attempts(state: State, portal: PortalServer,
                                    token_file: Path) -> None:
    from storage.outbox import RetryPolicy

    client = PortalClient(PortalConfig(portal.url + "/portal", token_file=token_file,
                                       policy=RetryPolicy(max_attempts=3)))
    portal.fail_next(5, status=502)
    now = datetime.now(UTC)
    for _ in range(3):
        deliver_due(state, client, now)
        now += LATER
    (failed,) = failed_items(state)
    assert failed.attempts == 3 and failed.last_error.startswith("gave up after 3 attempts")
    assert pending(state) == []


def test_backfill_rebuilds_the_same_keys(state: State, made: dict) -> None:
    (before,) = pending(state)
    with state.db.write() as s:  # as if the enqueue had failed, or predated the outbox
        s.execute(delete(outbox_table))
    assert pending(state) == []
    with state.db.write() as s:
        assert backfill(s) == {"ecopy": 1, "status": 0, "cancellation": 0}
    (after,) = pending(state)
    assert after.state.key == before.state.key and after.item["payload"] == before.item["payload"]


def test_failed_retried_and_enqueued_again(tmp_path: Path, portal: PortalServer,
                                           token_file: Path) -> None:
    _backlog(open_state(LocalStore(tmp_path / "store")), portal, token_file)


def test_outbox_on_postgresql_and_s3(s3_store, pg_server, portal: PortalServer,
                                     token_file: Path) -> None:
    """The distributed deployment: the outbox in PostgreSQL (dedup by the unique key under
    concurrent enqueues) and a PDF streamed from the S3 store to the portal."""
    state = open_state(s3_store, pg_server.new_database(), pg_server.password)
    _backlog(state, portal, token_file)
    pdf = os.urandom(300_000)
    s3_store.put("warehouse/001301012345/other/c1.pdf", pdf)
    s3_store.put("warehouse/001301012345/other/c1.json", b'{"copy_id": "c1"}')
    args = {"copy_id": "c1", "person_id": PERSON, "doc_type": "other",
            "pdf_key": "warehouse/001301012345/other/c1.pdf",
            "pdf_sha256": hashlib.sha256(pdf).hexdigest(), "agency": "99999"}
    with state.db.write() as s:
        key = enqueue_ecopy(s, **args)
        assert enqueue_ecopy(s, **args) == key
    assert [p.state.key for p in pending(state)] == [key]
    assert deliver_due(state, _client(portal.url + "/portal", token_file)).delivered == 1
    (got,) = portal.stored("/portal/ecopies")
    assert got.parts["pdf"] == pdf
    assert item_state(state, key).receipt["receipt_id"] == portal.receipts[key]
    assert s3_store.exists(f"outbox/receipts/{key}.json")


def _backlog(state: State, portal: PortalServer, token_file: Path) -> None:
    day1 = datetime(2026, 11, 1, 9, tzinfo=UTC)
    with state.db.write() as s:
        keys = [outbox.enqueue(s, "status", f"REF{n}", {"n": n}, version="1", now=day1)
                for n in range(3)]
    client = _client(portal.url + "/portal", token_file)
    portal.reject_next(422)
    day3 = day1 + timedelta(days=2)
    report = deliver_due(state, client, day3)
    assert (report.delivered, report.failed) == (2, 1)
    assert pending(state) == []
    (failed,) = failed_items(state)
    assert failed.key == keys[0]
    assert outbox.retry(state.db, state.store, keys[0], actor="quan.tri")
    assert [p.state.key for p in pending(state)] == [keys[0]]
    assert deliver_due(state, client, day3).delivered == 1
    with state.db.write() as s:
        assert outbox.enqueue(s, "status", "REF0", {"n": 0}, version="1") == keys[0]
    assert pending(state) == []  # enqueued twice, stored and delivered once
