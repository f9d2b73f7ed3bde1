"""Distributed mode with the store on a real S3 server (SeaweedFS `weed mini`) and Redis.

The e-copies, register, records and audit live in the bucket; the S3 server is stopped for
10 s in the middle of a batch and the jobs retry until it is back.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import replace
from pathlib import Path

import pytest

from storage.evidence.register import check_chain, register_numbers
from tests.conftest import CACHED_OCR, CERTIFY_AS, PERSON, pg_settings, run_cli, sealed
from tests.support.redisserver import RedisServer
from tests.support.s3server import REGION
from tests.test_distributed import (
    COMMUNE,
    SAMPLES,
    _run_supervised,
    _stop,
    _wait_done,
    _wait_for_ocr_job,
)


@pytest.fixture
def redis_server(tmp_path: Path):
    server = RedisServer(tmp_path / "redis").start()
    yield server
    server.stop()


def _s3_env(env: dict[str, str], s3_server, bucket: str) -> dict[str, str]:
    return {**env, "ECOPY_S3_ENDPOINT": s3_server.endpoint, "ECOPY_S3_BUCKET": bucket,
            "ECOPY_S3_SECURE": "0", "ECOPY_S3_REGION": REGION,
            "ECOPY_S3_ACCESS_KEY_ENV": "TEST_S3_ACCESS", "TEST_S3_ACCESS": s3_server.access_key,
            "ECOPY_S3_SECRET_KEY_ENV": "TEST_S3_SECRET", "TEST_S3_SECRET": s3_server.secret_key,
            "ECOPY_COMMUNE": COMMUNE}


@pytest.fixture
def s3env(env: dict[str, str], s3_server, redis_server: RedisServer, pg_server
          ) -> dict[str, str]:
    s3_server.start()  # an earlier test may have stopped it
    out = _s3_env(env, s3_server, f"e-{uuid.uuid4().hex[:12]}")
    out["ECOPY_REDIS_URL"] = redis_server.url
    out.update(pg_settings(pg_server), **CACHED_OCR)
    init = run_cli(["storage", "init", "--retention-days", "1", "--mode", "GOVERNANCE",
                    "--json"], out)
    assert init.returncode == 0, init.stdout + init.stderr
    assert json.loads(init.stdout)["object_lock"] is True
    return out


def test_storage_init_is_idempotent_and_refuses_a_bucket_without_lock(
    env: dict[str, str], s3_server
) -> None:
    s3_server.start()
    bucket = f"i-{uuid.uuid4().hex[:12]}"
    senv = _s3_env(env, s3_server, bucket)
    for _ in range(2):
        done = run_cli(["storage", "init", "--retention-days", "2", "--json"], senv)
        assert done.returncode == 0, done.stdout + done.stderr
        result = json.loads(done.stdout)
        assert result["versioning"] and result["object_lock"]
        assert result["retention"] == {"mode": "COMPLIANCE", "days": 2}
    plain = s3_server.new_store()  # created without object lock
    no_lock = run_cli(["storage", "init", "--json"], _s3_env(env, s3_server, plain.bucket))
    assert no_lock.returncode == 1 and "object lock" in json.loads(no_lock.stdout)["error"]


def _filed_once_on_s3(s3env: dict[str, str], s3_server, batch: str, tmp_path: Path) -> None:
    done = run_cli(["status", batch, "--json"], s3env)
    status = json.loads(done.stdout)
    assert done.returncode == 0, status
    assert [d["status"] for d in status["documents"]] == ["filed", "filed"]
    store = sealed(s3_server.new_store(s3env["ECOPY_S3_BUCKET"]))  # as the workers sealed it
    pdfs = [k for k in store.list(f"warehouse/{PERSON}/") if k.endswith(".pdf")]
    assert len(pdfs) == 2
    year = int(time.strftime("%Y"))
    assert register_numbers(store, COMMUNE, year) == [1, 2]
    assert check_chain(store, COMMUNE, year) == []
    local = tmp_path / "copy.pdf"
    store.get_to_file(pdfs[0], local)
    verified = run_cli(["verify", str(local), "--json"], s3env)  # register looked up in S3
    report = json.loads(verified.stdout)
    assert verified.returncode == 0 and report["register_status"] == "found", report


def test_batch_on_s3(s3env: dict[str, str], s3_server, tmp_path: Path) -> None:
    sub = run_cli(["submit", *CERTIFY_AS,
                   *map(str, SAMPLES), "--person-id", PERSON, "--certify-all"], s3env)
    assert sub.returncode == 0, sub.stderr
    work = run_cli(["worker", "--burst"], s3env)
    assert work.returncode == 0, work.stderr
    _filed_once_on_s3(s3env, s3_server, sub.stdout.strip(), tmp_path)


def test_s3_down_for_10_seconds_mid_batch(s3env: dict[str, str], s3_server,
                                          redis_server: RedisServer, tmp_path: Path) -> None:
    slow = {**s3env, "ECOPY_OCR_ENGINE": "tests.support.fault_engines:slow",
            "ECOPY_TEST_OCR_DELAY": "14"}  # longer than the outage: the jobs see it mid-OCR
    sub = run_cli(["submit", *CERTIFY_AS,
                   *map(str, SAMPLES), "--person-id", PERSON, "--certify-all"], slow)
    assert sub.returncode == 0, sub.stderr
    supervisor = _run_supervised(slow)
    try:
        _wait_for_ocr_job(redis_server)
        s3_server.stop()
        time.sleep(10)
        s3_server.start()
        _wait_done(slow, sub.stdout.strip())
        _filed_once_on_s3(slow, s3_server, sub.stdout.strip(), tmp_path)
    finally:
        _stop(supervisor)


def test_web_approval_is_signed_by_the_signing_worker(s3env: dict[str, str], s3_server,
                                                      tmp_path: Path, monkeypatch,
                                                      store_kek: Path) -> None:
    """The web app holds no keys: a certifier's approval is queued, and the signing worker
    (which alone has them) signs and files the copy in the certifier's name."""
    import re

    from fastapi.testclient import TestClient

    from ecopy import accounts
    from ecopy.settings import load_settings
    from ecopy.web.app import create_app
    from ecopy.wiring import open_state
    from storage.db.cases import get_case
    from tests.conftest import sign_in

    for name in ("TEST_S3_ACCESS", "TEST_S3_SECRET"):  # the web app reads them here
        monkeypatch.setenv(name, s3env[name])
    no_keys = tmp_path / "web-has-no-keys"
    no_keys.mkdir()
    # the store's key-encryption key, as compose gives every service: not a signing key
    settings = load_settings({**s3env, "ECOPY_PKI_DIR": str(no_keys),
                              "ECOPY_STORE_KEK_FILE": str(store_kek)})
    state = open_state(None, settings)
    password = "mật khẩu đủ dài 2026"
    accounts.create(state.db, "lan", "Trần Thị Lan", "clerk", COMMUNE, password)
    accounts.create(state.db, "chu.tich", "Trần Văn Duyệt", "certifier", COMMUNE, password,
                    "Chủ tịch Ủy ban nhân dân xã")
    app = create_app(replace(settings, web_secure_cookies=False), state)

    def csrf(page: str) -> str:
        return re.search(r'name="csrf" value="([^"]+)"', page).group(1)

    with TestClient(app, follow_redirects=False) as clerk:  # a web upload, as a clerk would
        assert sign_in(clerk, "lan", password).status_code == 303
        made = clerk.post("/dossiers", data={
            "csrf": csrf(clerk.get("/dossiers").text), "person_id": PERSON,
            "person_name": "Nguyễn Thị Mai Anh", "date_of_birth": "", "channel": "counter",
            "procedure": ""})
        dossier = made.headers["location"]
        sent = clerk.post(f"{dossier}/upload", headers={
            "X-CSRF-Token": csrf(clerk.get(dossier).text), "Accept": "application/json"},
            files=[("files", (SAMPLES[0].name, SAMPLES[0].read_bytes(), "image/jpeg"))])
        assert sent.status_code == 200, sent.text
    work = run_cli(["worker", "--queues", "ocr,understand", "--burst"], s3env)
    assert work.returncode == 0, work.stderr
    with TestClient(app, follow_redirects=False) as web:
        assert sign_in(web, "chu.tich", password).status_code == 303
        queue = web.get("/certify").text
        case_id = re.search(r'href="/certify/([0-9a-f]{32})"', queue).group(1)
        page = web.get(f"/certify/{case_id}")
        approved = web.post(f"/certify/{case_id}/approve", data={"csrf": csrf(page.text)})
        assert approved.headers["location"] == f"/certify/{case_id}?done=queued"
        waiting = web.get(f"/certify/{case_id}?done=queued")
        assert "Máy ký số đang ký" in waiting.text and 'http-equiv="refresh"' in waiting.text
    assert list(no_keys.iterdir()) == []  # nothing was signed (or a key made) in the web app
    signer = run_cli(["worker", "--queues", "sign", "--burst"], s3env)
    assert signer.returncode == 0, signer.stderr
    with state.db.read() as s:
        assert get_case(s, case_id)["status"] == "filed"
    store = sealed(s3_server.new_store(s3env["ECOPY_S3_BUCKET"]))
    (pdf,) = [k for k in store.list(f"warehouse/{PERSON}/") if k.endswith(".pdf")]
    local = tmp_path / "copy.pdf"
    store.get_to_file(pdf, local)
    verified = json.loads(run_cli(["verify", str(local), "--json"], s3env).stdout)
    assert verified["indication"] == "TOTAL-PASSED"
    assert "Trần Văn Duyệt" in json.dumps(verified, ensure_ascii=False)  # signed as approver
