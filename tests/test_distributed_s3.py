"""Distributed mode with the store on a real S3 server (SeaweedFS `weed mini`) and Redis.

The e-copies, register, records and audit live in the bucket; the S3 server is stopped for
10 s in the middle of a batch and the jobs retry until it is back.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import pytest

from storage.evidence.register import check_chain, register_numbers
from tests.conftest import PERSON, pg_settings, run_cli
from tests.redisserver import RedisServer
from tests.s3server import REGION
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
    out.update(pg_settings(pg_server))
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
    store = s3_server.new_store(s3env["ECOPY_S3_BUCKET"])
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
    sub = run_cli(["submit", *map(str, SAMPLES), "--person-id", PERSON, "--certify-all"], s3env)
    assert sub.returncode == 0, sub.stderr
    work = run_cli(["worker", "--burst"], s3env)
    assert work.returncode == 0, work.stderr
    _filed_once_on_s3(s3env, s3_server, sub.stdout.strip(), tmp_path)


def test_s3_down_for_10_seconds_mid_batch(s3env: dict[str, str], s3_server,
                                          redis_server: RedisServer, tmp_path: Path) -> None:
    slow = {**s3env, "ECOPY_OCR_ENGINE": "tests.fault_engines:slow",
            "ECOPY_TEST_OCR_DELAY": "3"}
    sub = run_cli(["submit", *map(str, SAMPLES), "--person-id", PERSON, "--certify-all"], slow)
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
