"""rq job functions: thin wrappers over ``pipeline.flow``, one stage per job.

A job takes only the case id and its batch id. Everything else comes from the database (the
case, the batch), the object store (the original, the OCR) and the worker's context, which
the shell installs once per worker process (``install``). rq forks a work-horse per job, and
the horse inherits it (storage.db drops its parent's connections in the child).

Every job is idempotent: it first reads the case and does nothing if its stage is already
done (a retried job, a duplicate enqueue, a reconcile run), and it saves its result with a
compare-and-set on the status it started from, so a copy of the job that finished first
wins and the other stops. A job only enqueues the next stage after it has saved its own
result. So losing Redis (or a worker) can delay a document, but can never lose it or certify
it twice. The sign stage reuses a register number already claimed under the case's copy_id
(see ``pipeline.steps.certify.certify_document``).

Cases are rejected or held for review with a reason code, or left READY for a certifier when
their batch says ``certify_when_sure: false`` (web uploads). Those are outcomes, not job
failures. A job fails (and rq retries it with backoff) only when infrastructure fails: the
store, the database or Redis is unreachable, or a worker dies.
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

from pipeline.casework.status import save_status
from pipeline.flow import (
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
from pipeline.run.pagework import TaskFailure
from pipeline.steps.certify import CertifyContext
from pipeline.types import DocStatus
from storage.db.batches import read_batch
from storage.db.cases import Conflict, get_case
from storage.evidence.originals import ocr_key
from storage.state import State

STAGES = ("ocr", "understand", "sign")
QUEUE_PREFIX = "ecopy-"
# Transient failures (store or network down) are retried with backoff. Work that keeps
# failing ends in rq's failed registry, where `ecopy status` shows it.
RETRY = Retry(max=6, interval=[2, 5, 10, 30, 60, 120])
JOB_TIMEOUT = {"ocr": 3600, "understand": 300, "sign": 900}
# READY (batches with certify_when_sure off) waits for a certifier, never for a sign job;
# CERTIFYING is a certifier's approval: in the web app (embedded) or an approve job
DONE = {DocStatus.FILED, DocStatus.NEEDS_REVIEW, DocStatus.READY, DocStatus.REJECTED,
        DocStatus.CERTIFYING}


@dataclass(frozen=True)
class WorkerContext:
    state: State
    redis: Redis
    agency_code: str
    defaults: StageOptions  # person_id etc. are replaced per batch
    # the signing context of a configured certifier, by name ("" = the deployment's own);
    # keys are loaded on the first sign job only
    certify_context: Callable[[str], CertifyContext]
    # finishes a certifier's approval queued by the web app (ecopy.actions.finish_approval);
    # a string saying what happened
    approve: Callable[[str], str] | None = None


_context: WorkerContext | None = None
_certify: dict[str, CertifyContext] = {}


def install(context: WorkerContext) -> None:
    """Called once by the shell in each worker process, before work starts."""
    global _context, _certify
    _context, _certify = context, {}


def _ctx() -> WorkerContext:
    if _context is None:
        raise RuntimeError("no worker context: start workers with `ecopy worker`")
    return _context


def _certify_ctx(certifier: str = "") -> CertifyContext:
    if certifier not in _certify:
        _certify[certifier] = _ctx().certify_context(certifier)
    return _certify[certifier]


def warm_up_signing() -> None:
    """Build the signing context and its per-process caches now (see run_worker)."""
    from signing.stampfont import stamp_font

    ctx = _certify_ctx()
    stamp_font(ctx.font_path)


def queue(redis: Redis, stage: str) -> Queue:
    return Queue(QUEUE_PREFIX + stage, connection=redis)


def job_id(stage: str, case_id: str) -> str:
    return f"ecopy-{stage}-{case_id}"


def enqueue(redis: Redis, stage: str, case_id: str, batch_id: str) -> bool:
    """Enqueue a stage for a document unless it is already queued or running. True if queued.

    A finished or failed job under the same id is replaced. This is how `reconcile`
    re-enqueues work after a crash.
    """
    funcs = {"ocr": ocr_job, "understand": understand_job, "sign": sign_job}
    q = queue(redis, stage)
    jid = job_id(stage, case_id)
    for _ in range(2):
        try:
            q.enqueue(funcs[stage], case_id, batch_id, job_id=jid, unique=True, retry=RETRY,
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


def _batch(batch_id: str) -> dict:
    with _ctx().state.db.read() as s:
        return read_batch(s, batch_id)


def _options(batch_id: str) -> StageOptions:
    ctx = _ctx()
    batch = _batch(batch_id)
    return replace(ctx.defaults, person_id=batch["person_id"],
                   hold_for_review=batch.get("hold_for_review", True),
                   accept_signed=batch.get("accept_signed", False),
                   certify_when_sure=batch.get("certify_when_sure", True),
                   actor=batch.get("actor") or ctx.defaults.actor)


def _agency(batch_id: str) -> str:
    """The commune the batch was submitted for (one deployment may serve several)."""
    return _batch(batch_id).get("commune_code") or _ctx().agency_code


def _record(case_id: str) -> dict:
    with _ctx().state.db.read() as s:
        record = get_case(s, case_id)
    if record is None:
        raise LookupError(f"no case {case_id}")
    return record


def ocr_job(case_id: str, batch_id: str) -> str:
    ctx = _ctx()
    state = ctx.state
    record = _record(case_id)
    if record.get("status") in DONE:
        return "done already"
    sha = record["sha256"]
    pages = load_ocr(state.store, sha)  # OCR is shared by the bytes: another case's will do
    if pages is None:
        opt = _options(batch_id)
        workdir = Path(tempfile.mkdtemp(prefix=f"ecopy-ocr-{case_id[:12]}-"))
        try:
            original = fetch_original(state.store, sha, workdir, record["name"])
            result = read_pages(original, record["kind"], workdir, opt)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        if isinstance(result, TaskFailure):
            reject(state, opt, agency_code=_agency(batch_id), source=record["name"],
                   name=record["name"], sha=sha, case_id=case_id, reason=result.reason,
                   params=result.params)
            return f"rejected: {result.reason}"
        pages = [page for _, page in result[1]]
        save_ocr(state.store, sha, pages)
    if record["status"] != DocStatus.OCR:
        try:
            save_status(state, case_id, DocStatus.OCR, actor=_options(batch_id).actor,
                        expect_status={DocStatus.RECEIVED}, pages=len(pages))
        except Conflict:
            return "done meanwhile"
    enqueue(ctx.redis, "understand", case_id, batch_id)
    return "ocr done"


def understand_job(case_id: str, batch_id: str) -> str:
    ctx = _ctx()
    state = ctx.state
    record = _record(case_id)
    if record.get("status") in DONE:
        return "done already"
    if record.get("copy_id"):  # understood earlier; the sign stage is next
        enqueue(ctx.redis, "sign", case_id, batch_id)
        return "understood already"
    sha = record["sha256"]
    ocr_pages = load_ocr(state.store, sha)
    if ocr_pages is None:  # should not happen: OCR enqueues us only after saving
        enqueue(ctx.redis, "ocr", case_id, batch_id)
        return "no OCR yet"
    opt = _options(batch_id)
    result = understand(state, opt, agency_code=_agency(batch_id), source=record["name"],
                        name=record["name"], sha=sha, case_id=case_id, ocr_pages=ocr_pages)
    if not isinstance(result, Understood):
        return f"{result.status}: {result.reason}"
    # The copy id is fixed before signing, so a retried sign job resumes its register claim.
    try:
        save_status(state, case_id, DocStatus.OCR, actor=opt.actor,
                    expect_version=record["version"], **result.record,
                    copy_id=uuid.uuid4().hex)
    except Conflict:
        return "done meanwhile"
    enqueue(ctx.redis, "sign", case_id, batch_id)
    return "ready to certify"


def enqueue_approval(redis: Redis, case_id: str) -> bool:
    """Queue a certifier's approval for the signing worker (the `sign` queue); False when it
    is queued or running already."""
    q = queue(redis, "sign")
    jid = job_id("approve", case_id)
    try:
        q.enqueue(approve_job, case_id, job_id=jid, unique=True, retry=RETRY,
                  job_timeout=JOB_TIMEOUT["sign"], result_ttl=86400, failure_ttl=7 * 86400)
    except DuplicateJobError:
        job = Job.fetch(jid, connection=redis)
        if job.get_status() in (JobStatus.QUEUED, JobStatus.STARTED, JobStatus.SCHEDULED,
                                JobStatus.DEFERRED):
            return False
        job.delete()
        return enqueue_approval(redis, case_id)
    return True


def approve_job(case_id: str) -> str:
    """Sign and file a case a certifier approved in the web app, as that certifier."""
    ctx = _ctx()
    if ctx.approve is None:
        raise RuntimeError("this worker cannot sign: start it with the sign queue")
    return ctx.approve(case_id)


def sign_job(case_id: str, batch_id: str) -> str:
    ctx = _ctx()
    record = _record(case_id)
    if record.get("status") in DONE:
        return "done already"
    has_ocr = ctx.state.store.exists(ocr_key(record["sha256"]))  # certify_stored reads it
    if not has_ocr or not record.get("copy_id"):
        enqueue(ctx.redis, "understand" if has_ocr else "ocr", case_id, batch_id)
        return "not understood yet"
    opt = _options(batch_id)
    # the certifier who submitted the batch with --certify-as signs it (their own act)
    certifier = _batch(batch_id).get("certifier", "")
    workdir = Path(tempfile.mkdtemp(prefix=f"ecopy-sign-{case_id[:12]}-"))
    try:
        outcome = certify_stored(_certify_ctx(certifier), opt, record=record, workdir=workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return f"{outcome.status}: {outcome.copy_id or outcome.reason}"
