"""Distributed mode against a real redis-server: submit → rq workers → filed e-copies.

Faults are real: worker process groups are SIGKILLed mid-OCR, Redis loses its data. The
store is a LocalStore directory here; tests/test_distributed_s3.py runs the same flow on S3.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rq import Worker

from storage.backends import LocalStore
from storage.evidence.register import check_chain, register_numbers
from tests.conftest import (
    CACHED_OCR,
    CERTIFY_AS,
    PERSON,
    ROOT,
    export_copy,
    pg_settings,
    run_cli,
    sealed,
    sign_in,
)
from tests.support.redisserver import RedisServer

SAMPLES = [ROOT / "samples" / "birth_cert.jpg", ROOT / "samples" / "citizen_id.png"]
COMMUNE = "99999"
# these tests are about queues, workers and faults, not OCR: remembered OCR (conftest)


@pytest.fixture
def redis_server(tmp_path: Path):
    server = RedisServer(tmp_path / "redis").start()
    yield server
    server.stop()


@pytest.fixture
def denv(env: dict[str, str], redis_server: RedisServer, pg_server, tmp_path: Path
         ) -> dict[str, str]:
    return {**env, "ECOPY_REDIS_URL": redis_server.url, "ECOPY_STORE": str(tmp_path / "store"),
            "ECOPY_COMMUNE": COMMUNE, **pg_settings(pg_server), **CACHED_OCR}


def _submit(denv: dict[str, str]) -> str:
    done = run_cli(["submit", *CERTIFY_AS,
                    *map(str, SAMPLES), "--person-id", PERSON, "--certify-all",
                    "--json"], denv)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert len(out["queued"]) == 2 and not out["not_queued"]
    return out["batch_id"]


def _status(denv: dict[str, str], batch: str) -> tuple[int, dict]:
    done = run_cli(["status", batch, "--json"], denv)
    return done.returncode, json.loads(done.stdout)


def _assert_filed_once(denv: dict[str, str], batch: str) -> None:
    code, status = _status(denv, batch)
    assert code == 0, [(d["name"], d["status"], d.get("job")) for d in status["documents"]]
    assert [d["status"] for d in status["documents"]] == ["filed", "filed"]
    store_dir = Path(denv["ECOPY_STORE"])
    store = sealed(LocalStore(store_dir))
    pdfs = [k for k in store.list(f"warehouse/{PERSON}/") if k.endswith(".pdf")]
    assert len(pdfs) == 2  # exactly one e-copy per document
    year = int(time.strftime("%Y"))
    assert register_numbers(store, COMMUNE, year) == [1, 2]  # no gap, no second number
    assert check_chain(store, COMMUNE, year) == []
    assert sorted(d["register_number"] for d in status["documents"]) == [1, 2]
    copy = export_copy(store_dir, pdfs[0], store_dir.with_name(store_dir.name + "-copy.pdf"))
    verified = run_cli(["verify", str(copy), "--store", str(store_dir), "--json"], denv)
    assert verified.returncode == 0, verified.stdout


def test_stages_run_on_separate_workers(denv: dict[str, str]) -> None:
    """A scan station runs OCR only; a signing host does the rest."""
    batch = _submit(denv)
    code, status = _status(denv, batch)
    assert code == 1 and {d["job"]["state"] for d in status["documents"]} == {"queued"}
    ocr = run_cli(["worker", "--queues", "ocr", "--burst"], denv)
    assert ocr.returncode == 0, ocr.stderr
    code, status = _status(denv, batch)
    assert code == 1
    assert [(d["status"], d["job"]["stage"]) for d in status["documents"]] == [
        ("ocr", "understand"), ("ocr", "understand")]
    rest = run_cli(["worker", "--queues", "understand,sign", "--burst"], denv)
    assert rest.returncode == 0, rest.stderr
    _assert_filed_once(denv, batch)
    # running everything again changes nothing: jobs are idempotent
    again = run_cli(["reconcile", "--json"], denv)
    assert json.loads(again.stdout)["requeued"] == []


def test_redis_data_loss_then_reconcile(denv: dict[str, str],
                                        redis_server: RedisServer) -> None:
    batch = _submit(denv)
    run_cli(["worker", "--queues", "ocr", "--burst"], denv)  # half-way: OCR stored
    redis_server.client().flushall()  # every queue and job is gone
    code, status = _status(denv, batch)
    assert code == 1 and {d["status"] for d in status["documents"]} == {"ocr"}
    rec = run_cli(["reconcile", "--json"], denv)
    assert rec.returncode == 0, rec.stderr
    assert len(json.loads(rec.stdout)["requeued"]) == 2
    work = run_cli(["worker", "--burst"], denv)
    assert work.returncode == 0, work.stderr
    _assert_filed_once(denv, batch)


def test_sigkill_worker_mid_ocr(denv: dict[str, str], redis_server: RedisServer) -> None:
    """The supervisor restarts the killed worker and requeues its job: exactly one e-copy."""
    slow = {**denv, "ECOPY_OCR_ENGINE": "tests.support.fault_engines:slow",
            "ECOPY_TEST_OCR_DELAY": "5"}
    batch = _submit(slow)
    supervisor = _run_supervised(slow)
    try:
        _wait_for_ocr_job(redis_server)
        # rq puts each work-horse in a process group of its own: kill the worker and its
        # horse, as a power cut or the OOM killer taking the machine's processes would
        victim, horses = _ocr_worker_and_horse(redis_server)
        for pid in [victim, *horses]:
            os.kill(pid, signal.SIGKILL)
        _wait_done(slow, batch)
        _assert_filed_once(slow, batch)
    except AssertionError as exc:  # what the workers said is the first thing to read
        raise AssertionError(f"{exc}\n--- workers ---\n{_stop(supervisor)[-6000:]}") from None
    finally:
        out = _stop(supervisor) if supervisor.poll() is None else ""
    assert "requeued ecopy-ocr-" in out, out[-2000:]


def test_worker_killed_while_redis_is_down(denv: dict[str, str],
                                          redis_server: RedisServer) -> None:
    """The line drops and the worker dies with it: the supervisor cannot requeue the job
    until Redis answers again, and then does (a scan station after a power cut)."""
    slow = {**denv, "ECOPY_OCR_ENGINE": "tests.support.fault_engines:slow",
            "ECOPY_TEST_OCR_DELAY": "5"}
    batch = _submit(slow)
    supervisor = _run_supervised(slow)
    try:
        _wait_for_ocr_job(redis_server)
        victim, horses = _ocr_worker_and_horse(redis_server)
        redis_server.stop()
        for pid in [victim, *horses]:
            os.kill(pid, signal.SIGKILL)
        time.sleep(3)  # the supervisor sees the death while Redis is away
        redis_server.start()
        _wait_done(slow, batch, seconds=180)
        _assert_filed_once(slow, batch)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n--- workers ---\n{_stop(supervisor)[-6000:]}") from None
    finally:
        out = _stop(supervisor) if supervisor.poll() is None else ""
    assert "once Redis was back" in out, out[-3000:]


def _run_supervised(env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "ecopy.cli", "worker", "--processes", "2"], env=env, cwd=ROOT,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _wait_for_ocr_job(redis_server: RedisServer) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if any((w.get_current_job_id() or "").startswith("ecopy-ocr-")
               for w in Worker.all(connection=redis_server.client())):
            return
        time.sleep(0.2)
    raise AssertionError("no worker started an OCR job")


def _ocr_worker_and_horse(redis_server: RedisServer) -> tuple[int, list[int]]:
    """The pid of the worker running an OCR job and of its work-horse. rq marks the job as
    the worker's current one a moment before it forks the horse, so wait for the fork."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for worker in Worker.all(connection=redis_server.client()):
            if not (worker.get_current_job_id() or "").startswith("ecopy-ocr-"):
                continue
            horses = subprocess.run(["pgrep", "-P", str(worker.pid)], capture_output=True,
                                    text=True).stdout.split()
            if horses:
                return worker.pid, [int(pid) for pid in horses]
        time.sleep(0.1)
    raise AssertionError("the OCR job's work-horse was not found")


def _wait_done(env: dict[str, str], batch: str, seconds: float = 300) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and _status(env, batch)[0] == 1:
        time.sleep(1)


def _stop(supervisor: subprocess.Popen) -> str:
    supervisor.send_signal(signal.SIGTERM)
    try:
        return supervisor.communicate(timeout=90)[0]
    except subprocess.TimeoutExpired:
        supervisor.kill()
        return supervisor.communicate()[0]


def test_redis_restart_mid_batch(denv: dict[str, str], redis_server: RedisServer) -> None:
    """redis-server stops and starts again (append-only file on) while jobs run: nothing
    lost, nothing doubled."""
    slow = {**denv, "ECOPY_OCR_ENGINE": "tests.support.fault_engines:slow",
            "ECOPY_TEST_OCR_DELAY": "4"}
    batch = _submit(slow)
    supervisor = _run_supervised(slow)
    try:
        _wait_for_ocr_job(redis_server)
        redis_server.stop()
        time.sleep(3)
        redis_server.start()
        _wait_done(slow, batch)
        _assert_filed_once(slow, batch)
    except AssertionError as exc:  # what the workers said is the first thing to read
        raise AssertionError(f"{exc}\n--- workers ---\n{_stop(supervisor)[-6000:]}") from None
    finally:
        if supervisor.poll() is None:
            _stop(supervisor)


def test_health_reports_each_dependency(denv: dict[str, str],
                                        redis_server: RedisServer) -> None:
    ok = run_cli(["health", "--json"], denv)
    checks = json.loads(ok.stdout)
    assert ok.returncode == 0 and checks["redis"] == "ok", ok.stdout
    assert checks["database"].startswith("ok postgresql"), checks
    gone = {**denv, "ECOPY_DATABASE_URL": denv["ECOPY_DATABASE_URL"].replace("/t", "/absent")}
    down = run_cli(["health", "--json"], gone)
    assert down.returncode == 1 and json.loads(down.stdout)["database"].startswith("FAILED")
    redis_server.stop()
    try:
        down = run_cli(["health", "--json"], denv)
        checks = json.loads(down.stdout)
        assert down.returncode == 1
        assert checks["redis"].startswith("FAILED") and checks["store"].startswith("ok")
    finally:
        redis_server.start()


def test_redis_password_comes_from_a_file(env: dict[str, str], tmp_path: Path) -> None:
    server = RedisServer(tmp_path / "locked", password="s3cret-from-file").start()
    try:
        secret = tmp_path / "redis_password"
        secret.write_text("s3cret-from-file\n")
        base = {**env, "ECOPY_REDIS_URL": server.url, "ECOPY_STORE": str(tmp_path / "store")}
        without = run_cli(["health", "--json"], base)
        assert without.returncode == 1 and "FAILED" in json.loads(without.stdout)["redis"]
        with_file = run_cli(["health", "--json"], {**base,
                                                   "ECOPY_REDIS_PASSWORD_FILE": str(secret)})
        assert with_file.returncode == 0, with_file.stdout
    finally:
        server.stop()


def test_a_job_lost_between_dequeue_and_start_is_requeued(redis_server: RedisServer) -> None:
    """rq parks a dequeued job in an intermediate list until it starts; a connection lost in
    between (Redis restarting) leaves it there. The supervisor's rescue puts it back."""
    from rq.intermediate_queue import IntermediateQueue

    from workers.jobs import enqueue, queue
    from workers.supervisor import rescue_stuck

    redis = redis_server.client()
    sha = "ab" * 32
    assert enqueue(redis, "ocr", sha, "20261123T000000Z-00000000")
    q = queue(redis, "ocr")
    (job_id,) = q.job_ids
    parked = IntermediateQueue(q.key, connection=redis)
    redis.lmove(q.key, parked.key, "RIGHT", "LEFT")  # what a dequeue does before the start
    assert q.job_ids == [] and parked.get_job_ids() == [job_id]
    assert rescue_stuck(redis, stuck_after_s=0.5) == []  # first seen now: not yet stuck
    time.sleep(0.6)
    assert rescue_stuck(redis, stuck_after_s=0.5) == [job_id]
    assert q.job_ids == [job_id] and parked.get_job_ids() == []
    assert list(q.fetch_job(job_id).args) == [sha, "20261123T000000Z-00000000"]


def test_a_worker_killed_between_fork_and_start_loses_no_job(redis_server: RedisServer
                                                             ) -> None:
    """rq registers a job as started and forks its work-horse; only the horse marks the job
    STARTED. A worker and horse killed in between leave a job marked QUEUED that is on no
    queue: the supervisor requeues it when it sees the worker dead, and its minute sweep does
    if that was missed (the CI failure of test_sigkill_worker_mid_ocr on a slow machine)."""
    from workers.jobs import enqueue, queue
    from workers.supervisor import requeue_abandoned, requeue_lost

    redis = redis_server.client()
    case, batch = "cd" * 16, "20261207T000000Z-00000000"
    q = queue(redis, "ocr")

    def dequeued_then_killed(name: str) -> str:
        assert enqueue(redis, "ocr", case, batch)
        worker = Worker([q], connection=redis, name=name)
        worker.register_birth()
        job, _ = worker.dequeue_job_and_maintain_ttl(timeout=1)
        worker.prepare_execution(job)  # in the started registry; the horse never ran
        assert job.get_status() == "queued" and q.job_ids == []
        return job.id

    def back_on_its_queue(job_id: str) -> None:
        assert q.job_ids == [job_id]
        assert job_id not in q.started_job_registry.get_job_ids(cleanup=False)
        assert redis.lrange(q.intermediate_queue_key, 0, -1) == []
        assert list(q.fetch_job(job_id).args) == [case, batch]

    job_id = dequeued_then_killed("killed-at-fork")
    assert requeue_abandoned(redis, "killed-at-fork") == job_id
    back_on_its_queue(job_id)
    assert requeue_abandoned(redis, "killed-at-fork") is None  # once only

    # the same loss seen only by the sweep (the supervisor itself was restarted meanwhile)
    redis.delete(q.key)
    q.fetch_job(job_id).delete()
    job_id = dequeued_then_killed("killed-unseen")
    redis.delete(Worker.redis_worker_namespace_prefix + "killed-unseen")  # its key expired
    redis.srem(Worker.redis_workers_keys, Worker.redis_worker_namespace_prefix + "killed-unseen")
    assert requeue_lost(redis, [{"status": "received", "case_id": case,
                                 "batch_id": batch}]) == [case]
    back_on_its_queue(job_id)
    # a job that really waits on its queue is left where it is
    assert requeue_lost(redis, [{"status": "received", "case_id": case,
                                 "batch_id": batch}]) == []
    assert q.job_ids == [job_id]


def test_serve_with_one_process_per_core_shares_the_database(denv: dict[str, str],
                                                             tmp_path: Path) -> None:
    """`ecopy serve --workers 2`: two server processes, one PostgreSQL; a session opened
    through one is known to the other, and the pages of a clerk answer."""
    import socket

    import requests

    password = tmp_path / "password"
    password.write_text("mật khẩu đủ dài 2026\n")
    added = run_cli(["user", "add", "lan", "--role", "clerk", "--agency", COMMUNE,
                     "--full-name", "Trần Thị Lan", "--password-file", str(password)], denv)
    assert added.returncode == 0, added.stderr
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**denv, "ECOPY_WEB_SECURE_COOKIES": "0"}
    server = subprocess.Popen([sys.executable, "-m", "ecopy.cli", "serve", "--port", str(port),
                               "--workers", "2"], env=env, cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if requests.get(f"{base}/healthz", timeout=2).ok:
                    break
            except requests.ConnectionError:
                pass
            assert server.poll() is None and time.monotonic() < deadline, "serve did not start"
            time.sleep(0.3)
        children = subprocess.run(["ps", "--ppid", str(server.pid), "-o", "pid="],
                                  capture_output=True, text=True).stdout.split()
        assert len(children) >= 2, children  # the two server processes (and a helper)
        clerk = requests.Session()
        done = sign_in(clerk, "lan", "mật khẩu đủ dài 2026", base=base)
        assert done.status_code == 303, done.text
        for _ in range(10):  # new connections: the processes take turns accepting them
            fresh = requests.Session()
            fresh.cookies.update(clerk.cookies)
            for page in ("/dossiers", "/review"):
                answer = fresh.get(base + page, timeout=10, allow_redirects=False)
                assert answer.status_code == 200, (page, answer.status_code)
        assert "Giấy tờ cần kiểm tra (0)" in fresh.get(f"{base}/review", timeout=10).text
    finally:
        out = _stop(server)
    assert server.returncode == 0, out


def test_a_job_lost_from_redis_is_queued_again_by_the_supervisor(
        denv: dict[str, str], redis_server: RedisServer) -> None:
    """Whatever way a job is lost (here: every queue wiped while the workers run), the
    supervisor finds the documents the database says are waiting and queues them again,
    with nobody running `ecopy reconcile`."""
    env = {**denv, "ECOPY_WORKER_SWEEP_S": "3"}
    batch = _submit(env)
    redis_server.client().flushall()  # the jobs are gone; the cases wait in the database
    supervisor = _run_supervised(env)
    try:
        _wait_done(env, batch, seconds=180)
        _assert_filed_once(env, batch)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n--- workers ---\n{_stop(supervisor)[-6000:]}") from None
    finally:
        out = _stop(supervisor) if supervisor.poll() is None else ""
    assert "its job was lost" in out, out[-3000:]
