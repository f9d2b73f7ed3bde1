"""Worker processes and the supervisor that keeps them running.

``ecopy worker --processes N`` starts N worker processes, each running one rq worker
(``run_worker``) in its own session, and restarts any that dies. Every minute it also
looks for documents the database says wait for OCR whose job Redis no longer has
(``requeue_lost``). When a worker is killed
in the middle of a job (SIGKILL, OOM, power cut on a scan station), rq would only notice
the abandoned job once its heartbeat TTL expires, minutes later. The supervisor knows at
once, so it requeues that job itself (``requeue_abandoned``). Jobs are idempotent
(``workers.jobs``), so running the same stage twice is harmless. That matters: rq gives each
work-horse its own process group, so when only the worker process dies its horse may still
finish the job while the requeued copy runs; jobs re-read the record before writing.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import time
from collections.abc import Callable, Sequence

from redis import Redis
from rq import SimpleWorker, Worker
from rq.job import Job, JobStatus

from workers.jobs import (
    QUEUE_PREFIX,
    STAGES,
    WorkerContext,
    enqueue,
    install,
    queue,
    warm_up_signing,
)

log = logging.getLogger("ecopy.workers")
RESTART_BACKOFF_S = (1, 2, 5, 10, 30)


def run_worker(context: WorkerContext, stages: Sequence[str], name: str,
               *, burst: bool = False) -> bool:
    """One rq worker in this process; returns whether it did any job (burst mode)."""
    unknown = set(stages) - set(STAGES)
    if unknown:
        raise ValueError(f"unknown queue(s): {', '.join(sorted(unknown))}; "
                         f"choose from {', '.join(STAGES)}")
    install(context)
    if "sign" in stages:
        # Load keys, build the signing context and warm the stamp-font cache once, here.
        warm_up_signing()
    # OCR runs in a forked work-horse per job: native code (tesseract, poppler) that crashes
    # or leaks takes only the horse down. A worker without OCR runs jobs in its own process
    # (rq's SimpleWorker): the signing context above stays warm, and a PKCS#11 session is
    # never used across fork (tokens forbid that). With PKCS#11 keys, serve `sign` from such
    # a worker (`--queues understand,sign`), as docker-compose.yml does.
    worker_class = Worker if "ocr" in stages else SimpleWorker
    worker = worker_class([queue(context.redis, s) for s in stages], connection=context.redis,
                          name=name, job_monitoring_interval=5)
    return worker.work(burst=burst, with_scheduler=True, logging_level="WARNING")


def requeue_abandoned(redis: Redis, worker_name: str) -> str | None:
    """The job a dead worker was running goes back on its queue. Returns its id, if any.

    rq registers the job as started and forks the work-horse; only the horse marks the job
    STARTED. A worker killed between the two leaves a job still marked QUEUED that is on no
    queue (it sits in the started registry and the intermediate list): that one is requeued
    too, and only a job still waiting on its queue is left alone."""
    worker = Worker.find_by_key(Worker.redis_worker_namespace_prefix + worker_name,
                                connection=redis)
    if worker is None:
        return None
    job_id = worker.get_current_job_id()
    worker.register_death()
    if not job_id:
        return None
    try:
        job = Job.fetch(job_id, connection=redis)
    except Exception:  # expired or deleted meanwhile: nothing to requeue
        return None
    if not job.origin.startswith(QUEUE_PREFIX):
        return None
    status = job.get_status()
    if status == JobStatus.QUEUED and _waits_on_queue(redis, job):
        return None
    if status not in (JobStatus.STARTED, JobStatus.QUEUED):
        return None
    _requeue(redis, job)
    return job_id


def _waits_on_queue(redis: Redis, job: Job) -> bool:
    return redis.lpos(queue(redis, job.origin.removeprefix(QUEUE_PREFIX)).key, job.id) is not None


def _requeue(redis: Redis, job: Job) -> None:
    """Put a lost job back on its queue: forget its executions and its place in the
    intermediate list (rq leaves both behind when the worker dies), then enqueue it anew."""
    stage = job.origin.removeprefix(QUEUE_PREFIX)
    q = queue(redis, stage)
    q.started_job_registry.remove_executions(job)
    redis.lrem(q.intermediate_queue_key, 0, job.id)
    sha, batch_id = job.args
    job.delete()
    enqueue(redis, stage, sha, batch_id)


STUCK_AFTER_S = 20  # a job this long between dequeue and start was lost in a dequeue


def rescue_stuck(redis: Redis, stuck_after_s: float = STUCK_AFTER_S) -> list[str]:
    """Jobs a worker took off a queue but never started go back on their queue.

    rq moves a job from its queue to an "intermediate" list and from there into the started
    registry. When the connection drops between the two (Redis restarting, a worker killed at
    that moment) the job stays in the intermediate list, and rq's own clean-up, every ten
    minutes, only marks it failed. The supervisor checks every few seconds and requeues such a
    job once it has been seen there, unstarted, for `stuck_after_s`. Returns the ids requeued.
    """
    from rq.intermediate_queue import IntermediateQueue

    rescued = []
    for stage in STAGES:
        q = queue(redis, stage)
        waiting = IntermediateQueue(q.key, connection=redis)
        for job_id in waiting.get_job_ids():
            if job_id in q.started_job_registry or waiting.set_first_seen(job_id):
                continue  # running, or seen for the first time now
            first_seen = waiting.get_first_seen(job_id)
            if first_seen is None or time.time() - first_seen.timestamp() < stuck_after_s:
                continue
            waiting.remove(job_id)
            job = q.fetch_job(job_id)
            if job is None:
                continue
            _requeue(redis, job)
            rescued.append(job_id)
    return rescued


def requeue_lost(redis: Redis, waiting: Sequence[dict]) -> list[str]:
    """Cases the database says wait for OCR or for understanding (``waiting``: records with
    a batch) whose job is gone from Redis, or started by no live worker, are queued again.
    The safety net under the two rescues above: whatever way a job was lost while the line
    was down (a Redis restart between two writes, a horse that died unseen), the document
    goes on without anyone running `ecopy reconcile`. Jobs are idempotent, so a job requeued twice
    does its stage once. Returns the case ids queued."""
    from rq.exceptions import NoSuchJobError

    from workers.jobs import job_id

    busy = {w.get_current_job_id() for w in Worker.all(connection=redis)}
    queued = []
    for record in waiting:  # received: its OCR job; ocr (read): its understand job
        stage = "ocr" if record["status"] == "received" else "understand"
        jid = job_id(stage, record["case_id"])
        try:
            job = Job.fetch(jid, connection=redis)
            status = job.get_status()
        except NoSuchJobError:
            status = None
        if status in (JobStatus.SCHEDULED, JobStatus.DEFERRED) or jid in busy:
            continue
        if status == JobStatus.QUEUED and _waits_on_queue(redis, job):
            continue
        if status == JobStatus.FAILED:
            continue  # out of retries: `ecopy status` shows it; not retried for ever here
        if status is not None:  # finished (yet the case waits) or abandoned: run it again
            _requeue(redis, job)
            queued.append(record["case_id"])
        elif enqueue(redis, stage, record["case_id"], record["batch_id"]):
            queued.append(record["case_id"])
    return queued


class Supervisor:
    """Keeps ``count`` worker processes alive; ``spawn(name)`` starts one."""

    def __init__(self, redis: Redis, count: int, spawn: Callable[[str], subprocess.Popen],
                 prefix: str, *, waiting: Callable[[float], list[dict]] | None = None,
                 sweep_every_s: float = 60) -> None:
        self.redis = redis
        self.count = count
        self.spawn = spawn
        self.prefix = prefix
        # `waiting(older_than_s)`: cases waiting for OCR for longer than that (the database)
        self.waiting = waiting
        self.sweep_every_s = sweep_every_s
        self.children: dict[str, subprocess.Popen] = {}
        self.restarts = 0
        self._stopping = False

    def _name(self, slot: int) -> str:
        return f"{self.prefix}-{slot}-{self.restarts}"

    def stop(self, *_: object) -> None:
        self._stopping = True

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)
        slots = {slot: self._start(slot) for slot in range(self.count)}
        failures = [0] * self.count
        next_rescue = time.monotonic()
        next_sweep = time.monotonic() + self.sweep_every_s
        orphaned: set[str] = set()  # dead workers whose job could not be requeued yet
        try:
            while not self._stopping:
                time.sleep(0.5)
                for name in sorted(orphaned):
                    try:
                        requeued = requeue_abandoned(self.redis, name)
                    except Exception:  # Redis still down: the next round
                        continue
                    orphaned.discard(name)
                    log.warning("worker %s: requeued %s once Redis was back", name,
                                requeued or "nothing")
                if time.monotonic() >= next_rescue:
                    next_rescue = time.monotonic() + 5
                    try:
                        for job_id in rescue_stuck(self.redis):
                            log.warning("requeued %s, lost between dequeue and start", job_id)
                    except Exception as exc:  # Redis down: try again at the next round
                        log.debug("rescue skipped: %s", exc)
                if self.waiting is not None and time.monotonic() >= next_sweep:
                    next_sweep = time.monotonic() + self.sweep_every_s
                    try:
                        for case_id in requeue_lost(self.redis,
                                                    self.waiting(self.sweep_every_s)):
                            log.warning("requeued case %s: its job was lost", case_id)
                    except Exception as exc:  # Redis or the database down: next round
                        log.debug("sweep skipped: %s", exc)
                for slot, name in list(slots.items()):
                    proc = self.children[name]
                    if proc.poll() is None:
                        continue
                    del self.children[name]
                    try:
                        requeued = requeue_abandoned(self.redis, name)
                    except Exception as exc:  # Redis down: again each round until it is back
                        orphaned.add(name)
                        requeued = f"nothing yet ({type(exc).__name__}: {exc})"
                    log.warning("worker %s exited with %s; requeued %s", name, proc.returncode,
                                requeued or "nothing")
                    failures[slot] = failures[slot] + 1 if proc.returncode else 0
                    if failures[slot] > 1:
                        time.sleep(RESTART_BACKOFF_S[min(failures[slot], 5) - 1])
                    self.restarts += 1
                    slots[slot] = self._start(slot)
        finally:
            for proc in self.children.values():
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)  # rq finishes the current job (warm stop)
            deadline = time.monotonic() + 60
            for proc in self.children.values():
                try:
                    proc.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
        return 0

    def _start(self, slot: int) -> str:
        name = self._name(slot)
        self.children[name] = self.spawn(name)
        return name
