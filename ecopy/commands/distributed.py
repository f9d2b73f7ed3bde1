"""Distributed mode: `ecopy submit`, `ecopy worker`, `ecopy status`, `ecopy reconcile`.

The store (ECOPY_S3_ENDPOINT, or ECOPY_STORE for a shared directory) keeps the evidence and
the database (ECOPY_DATABASE_URL) the cases and batches; Redis (ECOPY_REDIS_URL) only holds
queues. A scan station can run `ecopy worker --queues ocr` and a signing host
`ecopy worker --queues understand,sign`.

Exit codes: 0 ok; 2 bad input; status: 0 all done, 1 some still in progress, 4 some rejected.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

from ecopy.settings import Settings
from pipeline.run import pagework

EXIT_OK, EXIT_PENDING, EXIT_USAGE, EXIT_REJECTED = 0, 1, 2, 4


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    su = subparsers.add_parser("submit", parents=[common],
                               help="store scans and queue them for the workers; prints the "
                                    "batch id")
    su.add_argument("paths", nargs="+", type=Path)
    su.add_argument("--person-id", required=True)
    su.add_argument("--dossier", metavar="CODE",
                    help="the dossier's public status code (default: the person's dossier "
                         "this command opened before at the commune, or a new one)")
    su.add_argument("--store", type=Path, help="store directory (default: S3 or $ECOPY_STORE)")
    su.add_argument("--certify-as", metavar="NAME", default="",
                    help="the signing worker certifies what the machine is sure of as this "
                         "configured certifier; without it everything waits for a certifier")
    su.add_argument("--certify-all", action="store_true",
                    help="with --certify-as: certify without holding uncertain documents for "
                         "review")
    su.add_argument("--accept-signed", action="store_true")
    su.add_argument("--json", action="store_true")
    su.set_defaults(handler=cmd_submit)

    wo = subparsers.add_parser("worker", parents=[common], help="run pipeline workers")
    wo.add_argument("--queues", default="ocr,understand,sign",
                    help="comma-separated stages to serve (ocr, understand, sign)")
    wo.add_argument("--processes", type=int, default=0,
                    help="worker processes, restarted when they die (default: one per core)")
    wo.add_argument("--burst", action="store_true",
                    help="one process, exit when the queues are empty")
    wo.add_argument("--name", help=argparse.SUPPRESS)  # set by the supervisor for its children
    wo.add_argument("--store", type=Path, help="store directory (default: S3 or $ECOPY_STORE)")
    wo.set_defaults(handler=cmd_worker)

    st = subparsers.add_parser("status", parents=[common], help="progress of a batch")
    st.add_argument("batch_id")
    st.add_argument("--store", type=Path)
    st.add_argument("--json", action="store_true")
    st.set_defaults(handler=cmd_status)

    re = subparsers.add_parser("reconcile", parents=[common],
                               help="re-enqueue every unfinished document (after Redis loss)")
    re.add_argument("--store", type=Path)
    re.add_argument("--json", action="store_true")
    re.set_defaults(handler=cmd_reconcile)

    he = subparsers.add_parser("health", parents=[common],
                               help="exit 0 when the store, the database and Redis answer "
                                    "(health checks)")
    he.add_argument("--store", type=Path)
    he.add_argument("--json", action="store_true")
    he.set_defaults(handler=cmd_health)


def _redis(settings: Settings, **options: Any) -> Any:
    from redis import Redis

    password = None
    if settings.redis_password_file is not None:
        password = settings.redis_password_file.read_text(encoding="utf-8").strip()
    return Redis.from_url(settings.redis_url, password=password, **options) if password \
        else Redis.from_url(settings.redis_url, **options)


def cmd_submit(args: argparse.Namespace, settings: Settings) -> int:
    from redis.exceptions import RedisError

    from ecopy.wiring import open_state
    from pipeline.flow import Accepted, StageOptions, intake
    from pipeline.reasons import Reason, message
    from pipeline.run.orchestrator import expand_inputs
    from pipeline.vn.idnumber import parse_personal_id
    from storage.db.batches import new_batch_id
    from storage.db.dossiers import desk_dossier, dossier_by_code

    try:
        parse_personal_id(args.person_id)
    except ValueError as exc:
        print(message(Reason.INVALID_PERSON_ID, settings.lang, value=args.person_id,
                      detail=str(exc)), file=sys.stderr)
        return EXIT_USAGE
    certifier = ""
    if args.certify_as:  # a certifier's own act: the signing worker signs as them
        from ecopy.actions import NotAllowed, settings_for_signer

        try:
            certifier = settings_for_signer(settings, args.certify_as, "").certifier_name
        except NotAllowed as exc:
            print(f"ecopy: {exc}", file=sys.stderr)
            return EXIT_USAGE
    elif args.certify_all:
        print("ecopy: --certify-all cần --certify-as TÊN (người chứng thực ký). / "
              "--certify-all needs --certify-as NAME (a certifier signs).", file=sys.stderr)
        return EXIT_USAGE
    state = open_state(args, settings)
    actor = settings.actor or "ecopy"
    with state.db.write() as s:
        dossier = (dossier_by_code(s, args.dossier) if args.dossier else
                   desk_dossier(s, agency=settings.commune_code, person_id=args.person_id,
                                opened_by=actor, deadlines=state.deadlines))
    if dossier is None or dossier.agency != settings.commune_code:
        print(f"ecopy: no dossier {args.dossier!r} at commune {settings.commune_code}",
              file=sys.stderr)
        return EXIT_USAGE
    redis = _redis(settings)
    opt = StageOptions(person_id=args.person_id, limits=settings.limits,
                       lang_messages=settings.lang, actor=actor)
    batch_id = new_batch_id()
    documents, outcomes = [], []
    for path in expand_inputs(args.paths):
        result = intake(state, opt, dossier=dossier, path=path, batch_id=batch_id)
        if isinstance(result, Accepted):
            documents.append({"case_id": result.case_id, "sha256": result.sha256,
                              "name": result.name, "source": str(path)})
        else:
            outcomes.append({"source": str(path), "case_id": result.case_id,
                             "sha256": result.sha256, "status": str(result.status),
                             "reason": result.reason, "message": result.message})
    try:
        queue_batch(state, redis, batch_id, documents, {
            "person_id": args.person_id, "hold_for_review": not args.certify_all,
            "certify_when_sure": bool(certifier), "certifier": certifier,
            "accept_signed": args.accept_signed, "actor": actor,
            "commune_code": settings.commune_code, "dossier_id": dossier.dossier_id,
            "not_queued": outcomes})
    except RedisError as exc:
        # nothing is lost: originals, cases and the batch are kept
        print(f"ecopy: batch {batch_id} is stored but could not be queued ({exc}); "
              "run `ecopy reconcile` when Redis is back", file=sys.stderr)
        return EXIT_PENDING
    if args.json:
        print(json.dumps({"batch_id": batch_id, "dossier": dossier.dossier_id,
                          "queued": documents, "not_queued": outcomes},
                         ensure_ascii=False, indent=2))
    else:
        print(batch_id)
        for o in outcomes:
            print(f"{o['source']}: {o['status']} {o['message']}", file=sys.stderr)
    return EXIT_OK


def queue_batch(state: Any, redis: Any, batch_id: str, documents: list[dict[str, str]],
                options: dict[str, Any]) -> None:
    """Write the batch (options: person_id, hold_for_review, ...), then queue each case's OCR
    job. Raises RedisError when Redis is down: the batch is kept by then, so `ecopy
    reconcile` can queue it later."""
    from storage.db.batches import create_batch
    from workers.jobs import enqueue

    with state.db.write() as s:
        create_batch(s, batch_id, {**options, "documents": documents})
    for doc in documents:  # after the batch exists: jobs read it
        enqueue(redis, "ocr", doc["case_id"], batch_id)


def redis_reachable(settings: Settings) -> Any | None:
    """A Redis client when Redis answers a ping, else None."""
    try:
        redis = _redis(settings, socket_connect_timeout=2)
        redis.ping()
    except Exception:  # unreachable, refused, bad URL or password: not distributed
        return None
    return redis


def _worker_context(settings: Settings, state: Any) -> Any:
    from ecopy.actions import settings_for_signer
    from ecopy.keys import build_certify_context
    from pipeline.flow import StageOptions
    from workers.jobs import WorkerContext

    defaults = StageOptions(person_id="", lang=settings.ocr_lang, limits=settings.limits,
                            lang_messages=settings.lang, actor=settings.actor or "ecopy",
                            ocr_engine=os.environ.get("ECOPY_OCR_ENGINE", pagework.DEFAULT_ENGINE))
    def approve(case_id: str) -> str:
        from ecopy.actions import finish_approval

        outcome = finish_approval(settings, state, case_id)
        return f"{outcome.status}: {outcome.copy_id or outcome.reason}" if outcome else \
            "not waiting for an approval"

    return WorkerContext(state=state, redis=_redis(settings), agency_code=settings.commune_code,
                         defaults=defaults,
                         certify_context=lambda certifier: build_certify_context(
                             settings_for_signer(settings, certifier, ""), state),
                         approve=approve)


def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    from ecopy.wiring import open_state
    from workers.supervisor import Supervisor, run_worker

    os.environ["OMP_THREAD_LIMIT"] = "1"  # one single-threaded tesseract per worker process
    stages = [s.strip() for s in args.queues.split(",") if s.strip()]
    count = args.processes or settings.workers
    if args.burst or args.name or count == 1:
        name = args.name or f"ecopy-{socket.gethostname()}-{os.getpid()}"
        try:
            run_worker(_worker_context(settings, open_state(args, settings)), stages, name,
                       burst=args.burst)
        except ValueError as exc:
            print(f"ecopy: {exc}", file=sys.stderr)
            return EXIT_USAGE
        return EXIT_OK

    def spawn(name: str) -> subprocess.Popen:
        argv = [sys.executable, "-m", "ecopy.cli", "worker", "--queues", ",".join(stages),
                "--name", name]
        if args.store:
            argv += ["--store", str(args.store)]
        return subprocess.Popen(argv, start_new_session=True)  # its own group: killable whole

    state = open_state(args, settings)

    def waiting(older_than_s: float) -> list[dict]:
        from datetime import UTC, datetime, timedelta

        from storage.db.cases import unfinished

        before = datetime.now(UTC) - timedelta(seconds=older_than_s)
        with state.db.read() as s:
            return [r for r in unfinished(s, ("received", "ocr")) if r.get("batch_id")
                    and datetime.fromisoformat(r["status_at"]) < before]

    prefix = f"ecopy-{socket.gethostname()}-{os.getpid()}"
    sweep = float(os.environ.get("ECOPY_WORKER_SWEEP_S", "60"))
    return Supervisor(_redis(settings), count, spawn, prefix, waiting=waiting,
                      sweep_every_s=sweep).run()


def _progress(state: Any, redis: Any, batch: dict) -> list[dict[str, Any]]:
    from rq.job import Job

    from storage.db.cases import get_case
    from workers.jobs import STAGES, job_id

    rows = []
    for doc in batch["documents"]:
        with state.db.read() as s:
            record = get_case(s, doc["case_id"]) or {}
        row = {"name": doc["name"], "case_id": doc["case_id"], "sha256": doc["sha256"],
               "status": record.get("status", "unknown"), "reason": record.get("reason", ""),
               "message": record.get("message", ""), "copy_id": record.get("copy_id", ""),
               "register_number": record.get("register_number"),
               "ecopy_key": record.get("ecopy_key", ""), "job": None}
        for stage in reversed(STAGES):  # the latest stage with a job says what is going on
            try:
                job = Job.fetch(job_id(stage, doc["case_id"]), connection=redis)
            except Exception:  # no such job (finished long ago, or Redis was reset)
                continue
            info = {"stage": stage, "state": str(job.get_status().value)}
            if job.is_failed:
                lines = (job.latest_result().exc_string or "").strip().splitlines() \
                    if job.latest_result() else []
                info["error"] = lines[-1][:300] if lines else ""
            row["job"] = info
            break
        rows.append(row)
    return rows


DONE = {"filed", "needs_review", "ready", "rejected", "duplicate"}


def cmd_status(args: argparse.Namespace, settings: Settings) -> int:
    from rich.console import Console
    from rich.table import Table

    from ecopy.wiring import open_state
    from storage.db.batches import read_batch

    state = open_state(args, settings)
    try:
        with state.db.read() as s:
            batch = read_batch(s, args.batch_id)
    except KeyError:
        print(f"ecopy: no batch {args.batch_id} in {state.db.describe()}", file=sys.stderr)
        return EXIT_USAGE
    rows = _progress(state, _redis(settings), batch)
    if args.json:
        print(json.dumps({"batch_id": args.batch_id, "person_id": batch["person_id"],
                          "documents": rows, "not_queued": batch.get("not_queued", [])},
                         ensure_ascii=False, indent=2))
    else:
        table = Table(title=f"{args.batch_id} · {batch['person_id']}")
        for col in ("document", "status", "register", "reason / job"):
            table.add_column(col)
        for r in rows:
            job = r["job"] or {}
            detail = r["reason"] or (f"{job.get('stage')}: {job.get('state')} "
                                     f"{job.get('error', '')}" if job else "")
            table.add_row(r["name"], r["status"], str(r["register_number"] or ""), detail)
        Console().print(table)
    if any(r["status"] not in DONE for r in rows):
        return EXIT_PENDING
    return EXIT_REJECTED if any(r["status"] == "rejected" for r in rows) else EXIT_OK


def cmd_reconcile(args: argparse.Namespace, settings: Settings) -> int:
    """Queue again every case a batch left unfinished: an indexed query of the database,
    however long the history."""
    from ecopy.wiring import open_state
    from storage.db.cases import unfinished
    from workers.jobs import enqueue, enqueue_approval

    state = open_state(args, settings)
    redis = _redis(settings)
    queued = []
    with state.db.read() as s:
        waiting = [r for r in unfinished(s, ("received", "ocr")) if r.get("batch_id")]
    for record in waiting:
        # each stage job skips what is done already, so starting at OCR is always safe;
        # it finds stored OCR and moves straight on
        if enqueue(redis, "ocr", record["case_id"], record["batch_id"]):
            queued.append({"batch_id": record["batch_id"], "case_id": record["case_id"],
                           "sha256": record["sha256"], "status": record["status"]})
    with state.db.read() as s:  # approvals queued by the web app whose job was lost
        approving = [r for r in unfinished(s, ("certifying",))
                     if (r.get("approval") or {}).get("queued")]
    for record in approving:
        if enqueue_approval(redis, record["case_id"]):
            queued.append({"batch_id": record.get("batch_id", ""), "case_id": record["case_id"],
                           "sha256": record["sha256"], "status": record["status"]})
    if args.json:
        print(json.dumps({"requeued": queued}, ensure_ascii=False, indent=2))
    else:
        print(f"{len(queued)} document(s) re-enqueued")
    return EXIT_OK


def cmd_health(args: argparse.Namespace, settings: Settings) -> int:
    from ecopy.wiring import open_database, open_store

    checks: dict[str, str] = {}
    store = None
    try:
        store = open_store(args, settings)
        store.exists("health/probe")
        checks["store"] = f"ok {store.describe()}"
    except Exception as exc:  # any failure is the answer here
        checks["store"] = f"FAILED {type(exc).__name__}: {exc}"[:300]
    try:
        db = open_database(settings, store) if store is not None else None
        if db is None:
            raise RuntimeError("no store to find the embedded database beside")
        checks["database"] = f"ok {db.describe()}"
        db.close()
    except Exception as exc:  # unreachable, wrong password, schema behind the code
        checks["database"] = f"FAILED {type(exc).__name__}: {exc}"[:300]
    try:
        _redis(settings).ping()
        checks["redis"] = "ok"
    except Exception as exc:
        checks["redis"] = f"FAILED {type(exc).__name__}: {exc}"[:300]
    if args.json:
        print(json.dumps(checks, ensure_ascii=False, indent=2))
    else:
        for name, result in checks.items():
            print(f"{name}: {result}")
    return EXIT_OK if all(v.startswith("ok") for v in checks.values()) else EXIT_PENDING
