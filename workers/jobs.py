"""rq job functions: thin wrappers over ``pipeline.stages``, one stage per job.

A job takes only the document's sha256 and its batch id. Everything else comes from the
object store (the system of record) and from the worker's context, which the shell installs
once per worker process (``install``). rq forks a work-horse per job, and the horse inherits it.

Every job is idempotent: it first reads the document record and does nothing if its stage
is already done (a retried job, a duplicate enqueue, a reconcile run). A job only enqueues
the next stage after it has written its own result to the store. So losing Redis (or a
worker) can delay a document, but can never lose it or certify it twice. The sign stage
reuses a register number already claimed under the document's copy_id (see
``pipeline.certify.certify_document``).

Documents are rejected or held for review with a reason code written to their record, or
left READY for a certifier when their batch says ``certify_when_sure: false`` (web uploads).
Those are outcomes, not job failures. A job fails (and rq retries it with backoff) only
when infrastructure fails: the store or Redis is unreachable, or a worker dies.
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from redis import Redis
from rq import Queue, Retry
from rq.exceptions import DuplicateJobError
from rq.job import Job, JobStatus

from pipeline.certify import CertifyContext
from pipeline.pagework import TaskFailure
from pipeline.stages import (
    StageOptions,
    Understood,
    certify_stored,
    fetch_original,
    load_ocr,
    read_pages,
    reject,
    save_ocr,
    understand,
)
from pipeline.types import DocStatus
from storage.backends import ObjectStore
from storage.batches import read_batch
from storage.records import ocr_key, read_record, update_record

STAGES = ("ocr", "understand", "sign")
QUEUE_PREFIX = "ecopy-"
# Transient failures (store or network down) are retried with backoff. Work that keeps
# failing ends in rq's failed registry, where `ecopy status` shows it.
RETRY = Retry(max=6, interval=[2, 5, 10, 30, 60, 120])
JOB_TIMEOUT = {"ocr": 3600, "understand": 300, "sign": 900}
# READY (batches with certify_when_sure off) waits for a certifier, never for a sign job
DONE = {DocStatus.FILED, DocStatus.NEEDS_REVIEW, DocStatus.READY, DocStatus.REJECTED,
        DocStatus.DUPLICATE}


@dataclass(frozen=True)
class WorkerContext:
    store: ObjectStore
    redis: Redis
    agency_code: str
    defaults: StageOptions  # person_id etc. are replaced per batch
    certify_context: Callable[[], CertifyContext]  # keys are loaded on first sign job only


_context: WorkerContext | None = None
_certify: CertifyContext | None = None


def install(context: WorkerContext) -> None:
    """Called once by the shell in each worker process, before work starts."""
    global _context, _certify
    _context, _certify = context, None


def _ctx() -> WorkerContext:
    if _context is None:
        raise RuntimeError("no worker context: start workers with `ecopy worker`")
    return _context


def _certify_ctx() -> CertifyContext:
    global _certify
    if _certify is None:
        _certify = _ctx().certify_context()
    return _certify


def warm_up_signing() -> None:
    """Build the signing context and its per-process caches now (see run_worker)."""
    from signing.stampfont import stamp_font

    ctx = _certify_ctx()
    stamp_font(ctx.font_path)


def queue(redis: Redis, stage: str) -> Queue:
    return Queue(QUEUE_PREFIX + stage, connection=redis)


def job_id(stage: str, sha: str) -> str:
    return f"ecopy-{stage}-{sha}"


def enqueue(redis: Redis, stage: str, sha: str, batch_id: str) -> bool:
    """Enqueue a stage for a document unless it is already queued or running. True if queued.

    A finished or failed job under the same id is replaced. This is how `reconcile`
    re-enqueues work after a crash.
    """
    funcs = {"ocr": ocr_job, "understand": understand_job, "sign": sign_job}
    q = queue(redis, stage)
    jid = job_id(stage, sha)
    for _ in range(2):
        try:
            q.enqueue(funcs[stage], sha, batch_id, job_id=jid, unique=True, retry=RETRY,
                      job_timeout=JOB_TIMEOUT[stage], result_ttl=86400, failure_ttl=7 * 86400)
            return True
        except DuplicateJobError:
            try:
                job = Job.fetch(jid, connection=redis)
            except Exception:  # vanished meanwhile: try again
                continue
            if job.get_status() in (JobStatus.QUEUED, JobStatus.STARTED, JobStatus.SCHEDULED,
                                    JobStatus.DEFERRED):
                return False
            job.delete()
    return False


def _options(batch_id: str) -> StageOptions:
    ctx = _ctx()
    batch = read_batch(ctx.store, batch_id)
    return replace(ctx.defaults, person_id=batch["person_id"],
                   hold_for_review=batch.get("hold_for_review", True),
                   accept_signed=batch.get("accept_signed", False),
                   certify_when_sure=batch.get("certify_when_sure", True),
                   actor=batch.get("actor") or ctx.defaults.actor)


def _agency(batch_id: str) -> str:
    """The commune the batch was submitted for (one deployment may serve several)."""
    return read_batch(_ctx().store, batch_id).get("commune_code") or _ctx().agency_code


def _record(sha: str) -> dict:
    record = read_record(_ctx().store, sha)
    if record is None:
        raise LookupError(f"no record for document {sha}")
    return record


def _finished_meanwhile(sha: str) -> bool:
    """Re-read before writing: a copy of this job (requeued after its worker died while the
    work-horse lived on) may have finished the document meanwhile, and a record must never
    move back from a final status. Records have no compare-and-set, so this narrows the race
    to the read-write gap; a sign job that still runs twice reuses its register claim."""
    return _record(sha).get("status") in DONE


def ocr_job(sha: str, batch_id: str) -> str:
    ctx = _ctx()
    record = _record(sha)
    if record.get("status") in DONE:
        return "done already"
    if load_ocr(ctx.store, sha) is None:
        opt = _options(batch_id)
        workdir = Path(tempfile.mkdtemp(prefix=f"ecopy-ocr-{sha[:12]}-"))
        try:
            original = fetch_original(ctx.store, sha, workdir, record["name"])
            result = read_pages(original, record["kind"], workdir, opt)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        if isinstance(result, TaskFailure):
            reject(ctx.store, opt, agency_code=_agency(batch_id), source=record["name"],
                   name=record["name"], sha=sha, reason=result.reason, params=result.params)
            return f"rejected: {result.reason}"
        inspection, pages = result
        if _finished_meanwhile(sha):
            return "done meanwhile"
        save_ocr(ctx.store, sha, [page for _, page in pages])
        update_record(ctx.store, sha, DocStatus.OCR, pages=inspection.page_count)
    enqueue(ctx.redis, "understand", sha, batch_id)
    return "ocr done"


def understand_job(sha: str, batch_id: str) -> str:
    ctx = _ctx()
    record = _record(sha)
    if record.get("status") in DONE:
        return "done already"
    if record.get("copy_id"):  # understood earlier; the sign stage is next
        enqueue(ctx.redis, "sign", sha, batch_id)
        return "understood already"
    ocr_pages = load_ocr(ctx.store, sha)
    if ocr_pages is None:  # should not happen: OCR enqueues us only after saving
        enqueue(ctx.redis, "ocr", sha, batch_id)
        return "no OCR yet"
    opt = _options(batch_id)
    result = understand(ctx.store, opt, agency_code=_agency(batch_id), source=record["name"],
                        name=record["name"], sha=sha, ocr_pages=ocr_pages)
    if not isinstance(result, Understood):
        return f"{result.status}: {result.reason}"
    if _finished_meanwhile(sha):
        return "done meanwhile"
    # The copy id is fixed before signing, so a retried sign job resumes its register claim.
    update_record(ctx.store, sha, DocStatus.OCR, **result.record, copy_id=uuid.uuid4().hex)
    enqueue(ctx.redis, "sign", sha, batch_id)
    return "ready to certify"


def sign_job(sha: str, batch_id: str) -> str:
    ctx = _ctx()
    record = _record(sha)
    if record.get("status") in DONE:
        return "done already"
    has_ocr = ctx.store.exists(ocr_key(sha))  # certify_stored reads it; no need to here
    if not has_ocr or not record.get("copy_id"):
        enqueue(ctx.redis, "understand" if has_ocr else "ocr", sha, batch_id)
        return "not understood yet"
    opt = _options(batch_id)
    workdir = Path(tempfile.mkdtemp(prefix=f"ecopy-sign-{sha[:12]}-"))
    try:
        outcome = certify_stored(_certify_ctx(), opt, sha=sha, record=record, workdir=workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return f"{outcome.status}: {outcome.copy_id or outcome.reason}"
