"""Benchmark: distributed mode throughput with 1 and 2 rq worker processes, plus queue overhead.

Everything is real: a redis-server started here (unix socket), a LocalStore directory, the
dev PKI, tesseract. The batch is ``--pages`` single-page documents: samples/birth_cert.jpg
with a few distinct bytes appended after its end-of-image marker, so each has its own sha256
and is processed in full: OCR, classification, register number, two signatures, filing.
The clock runs from the workers' start until every case of the batch (in the embedded
database beside the store) is finished.

Queue overhead: a trivial job function (``workers.jobs.job_id``) run ``--noop-jobs`` times
through rq (enqueue, fork a work-horse, record the result) compared with calling it directly.
It is given per job and as a share of one page's processing time measured with one worker.

    .venv/bin/python scripts/bench_workers.py [--pages 40] [--noop-jobs 200]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from redis import Redis  # noqa: E402
from rq import Queue, Worker  # noqa: E402
from sqlalchemy import select  # noqa: E402

from ecopy.keys import dev_pki  # noqa: E402
from ecopy.settings import load_settings  # noqa: E402
from storage.db import Database, sqlite_url  # noqa: E402
from storage.db.schema import cases  # noqa: E402
from tests.support.redisserver import RedisServer  # noqa: E402
from workers.jobs import job_id  # noqa: E402 - a trivial importable function

PERSON = "001301012345"
DONE = {"filed", "needs_review", "rejected"}


def make_documents(folder: Path, count: int) -> list[Path]:
    data = (ROOT / "samples" / "birth_cert.jpg").read_bytes()
    folder.mkdir(parents=True)
    paths = []
    for i in range(count):
        path = folder / f"page-{i:03d}.jpg"
        path.write_bytes(data + f"bench-{i}".encode())  # after EOI: same image, new sha256
        paths.append(path)
    return paths


def run(env: dict[str, str], docs: list[Path], workers: int) -> tuple[float, int]:
    submit = subprocess.run(
        [sys.executable, "-m", "ecopy.cli", "submit", *map(str, docs), "--person-id", PERSON,
         "--certify-all"], env=env, cwd=ROOT, capture_output=True, text=True, check=True)
    batch_id = submit.stdout.strip().splitlines()[-1]
    db = Database(sqlite_url(Path(env["ECOPY_STORE"])))
    of_batch = select(cases.c.status).where(cases.c.batch_id == batch_id)
    start = time.perf_counter()
    supervisor = subprocess.Popen(
        [sys.executable, "-m", "ecopy.cli", "worker", "--processes", str(workers)], env=env,
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            with db.read() as s:
                statuses = list(s.execute(of_batch).scalars())
            if len(statuses) == len(docs) and all(st in DONE for st in statuses):
                break
            time.sleep(0.2)
        elapsed = time.perf_counter() - start
    finally:
        supervisor.send_signal(signal.SIGTERM)
        supervisor.wait(timeout=120)
        db.close()
    return elapsed, sum(st == "filed" for st in statuses)


def queue_overhead(redis: Redis, jobs: int) -> float:
    """Seconds per job that rq adds around a no-op function."""
    start = time.perf_counter()
    for i in range(jobs):
        job_id("noop", str(i))
    direct = time.perf_counter() - start
    q = Queue("bench-noop", connection=redis)
    for i in range(jobs):
        q.enqueue(job_id, "noop", str(i), result_ttl=60)
    start = time.perf_counter()
    Worker([q], connection=redis).work(burst=True, logging_level="ERROR")
    through_rq = time.perf_counter() - start
    return (through_rq - direct) / jobs


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pages", type=int, default=40)
    ap.add_argument("--noop-jobs", type=int, default=200)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="ecopy-bench-workers-") as tmp:
        base = Path(tmp)
        server = RedisServer(base / "redis").start()
        try:
            env = {k: v for k, v in os.environ.items() if not k.startswith("ECOPY_")}
            env.update(ECOPY_REDIS_URL=server.url, ECOPY_PKI_DIR=str(base / "pki"),
                       OMP_THREAD_LIMIT="1")
            dev_pki(load_settings(env))  # made once up front, not inside the first timing
            rates = {}
            for workers in (1, 2):
                server.client().flushall()
                env["ECOPY_STORE"] = str(base / f"store-{workers}")
                docs = make_documents(base / f"docs-{workers}", args.pages)
                elapsed, filed = run(env, docs, workers)
                rates[workers] = args.pages / elapsed
                print(f"{workers} worker(s): {args.pages} pages in {elapsed:6.1f} s = "
                      f"{rates[workers]:.2f} pages/s ({filed} filed)", flush=True)
                shutil.rmtree(docs[0].parent)
            print(f"speed-up with 2 workers: {rates[2] / rates[1]:.2f}× (goal ≥ 1.8×)")
            per_job = queue_overhead(server.client(), args.noop_jobs)
            page_s = 1 / rates[1]
            # a page passes through three jobs (ocr, understand, sign) in this batch
            print(f"queue overhead: {per_job * 1000:.1f} ms per job; 3 jobs per page = "
                  f"{3 * per_job / page_s:.1%} of a page's {page_s:.2f} s (goal < 5%)")
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
