"""What happens to a document after its upload: OCR, classification, extraction, a status.

`Processor.submit` hands cases already taken in (original stored, case claimed, kind known)
to one of two modes, chosen per call:

- distributed, when an S3 store is configured and Redis answers: a batch object is written and
  the OCR jobs are queued exactly as `ecopy submit` does (ecopy.commands.distributed), so the
  rq workers do the work;
- embedded otherwise: one background thread in the web process runs the embedded
  orchestrator's page-parallel pool over the stored originals, one upload after another.

Either way nothing is signed: the options say `certify_when_sure=False`, so a document the
machine is sure of ends READY for a certifier, the others NEEDS_REVIEW or REJECTED. Progress
is only ever read from the cases (storage.db.cases).
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from ecopy.settings import Settings
from pipeline.flow import reject
from pipeline.reasons import Reason
from pipeline.run import pagework
from pipeline.run.orchestrator import BatchRunner, ProcessOptions, _Doc
from pipeline.types import DocStatus
from storage.db.cases import assign_batch, get_case
from storage.db.dossiers import Dossier
from storage.evidence.originals import original_key
from storage.state import State

log = logging.getLogger(__name__)
WAITING = {DocStatus.RECEIVED, DocStatus.OCR}  # statuses the processor still has to move on


class _Stopped(Exception):
    """The web app is shutting down: the running batch gives up (its pool is terminated)."""


class _StoredBatch(BatchRunner):
    """The embedded orchestrator over originals taken in by the upload: no intake here."""

    def __init__(self, state: State, dossier: Dossier, options: ProcessOptions,
                 taken: dict[str, dict], stop: threading.Event) -> None:
        super().__init__(state, dossier, None, options)
        self.taken = taken  # local path of the fetched original → its case
        self.stop = stop

    def _intake(self, path: Path) -> _Doc | None:
        case = self.taken[str(path)]
        return _Doc(str(path), path, case["case_id"], case["sha256"], case["kind"],
                    int(case["size"]), path.parent, order=0, copy_id=case["copy_id"])

    def _on_result(self, *args: object, **kwargs: object) -> None:
        if self.stop.is_set():
            raise _Stopped()
        super()._on_result(*args, **kwargs)  # type: ignore[arg-type]


class Processor:
    """Background processing of uploaded documents; `close` on app shutdown."""

    def __init__(self, settings: Settings, state: State) -> None:
        self.settings = settings
        self.state = state
        self._executor: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._redis: object | None = None

    # ------------------------------------------------------------ public

    def options(self, dossier: Dossier, actor: str) -> ProcessOptions:
        s = self.settings
        return ProcessOptions(person_id=dossier.person_id, lang=s.ocr_lang, workers=s.workers,
                              limits=s.limits, lang_messages=s.lang, actor=actor,
                              hold_for_review=True, certify_when_sure=False,
                              # the same engine as `ecopy process` and the workers
                              ocr_engine=os.environ.get("ECOPY_OCR_ENGINE",
                                                        pagework.DEFAULT_ENGINE))

    def mode(self) -> str:
        """"distributed" when an S3 store is configured and Redis answers, else "embedded"."""
        return "distributed" if self._queue() is not None else "embedded"

    def submit(self, dossier: Dossier, case_ids: Sequence[str], actor: str) -> Future | None:
        """Process cases taken in for `dossier`; returns the embedded run's future."""
        case_ids = list(dict.fromkeys(case_ids))
        if not case_ids:
            return None
        redis = self._queue()
        if redis is not None:
            self._submit_distributed(redis, dossier, case_ids, actor)
            return None
        with self._lock:
            if self._stop.is_set():
                raise RuntimeError("the processor is shut down")
            if self._executor is None:
                self._executor = ThreadPoolExecutor(max_workers=1,
                                                    thread_name_prefix="ecopy-process")
            return self._executor.submit(self._run_embedded, dossier, case_ids, actor)

    def enqueue_approval(self, case_id: str) -> None:
        """Hand a certifier's approval to the signing worker (distributed mode only)."""
        from workers.jobs import enqueue_approval

        redis = self._queue()
        try:
            if redis is None:
                raise RuntimeError("Redis does not answer")
            enqueue_approval(redis, case_id)  # type: ignore[arg-type]
        except Exception:  # the claim is saved: `ecopy reconcile` queues it when Redis is back
            log.exception("approval of case %s claimed but not queued", case_id)

    def close(self) -> None:
        """Stop taking work; a running batch stops after its current page, waiting ones are
        dropped (their cases stay "received" and are taken again when re-uploaded)."""
        self._stop.set()
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)

    # ------------------------------------------------------------ distributed

    def _queue(self) -> object | None:
        if not self.settings.s3_endpoint:
            return None
        from ecopy.commands.distributed import redis_reachable

        if self._redis is not None:
            try:
                self._redis.ping()  # type: ignore[attr-defined]
                return self._redis
            except Exception:  # went away: try a fresh connection below
                self._redis = None
        self._redis = redis_reachable(self.settings)
        return self._redis

    def _cases(self, case_ids: list[str]) -> list[dict]:
        """The cases still waiting to be processed (not a duplicate upload done meanwhile)."""
        with self.state.db.read() as s:
            found = [get_case(s, case_id) for case_id in case_ids]
        return [c for c in found if c and c["status"] == DocStatus.RECEIVED and c["kind"]]

    def _submit_distributed(self, redis: object, dossier: Dossier, case_ids: list[str],
                            actor: str) -> None:
        from redis.exceptions import RedisError

        from ecopy.commands.distributed import queue_batch
        from storage.db.batches import new_batch_id

        batch_id = new_batch_id()
        source = f"dossier:{dossier.agency}/{dossier.dossier_id}"
        documents = [{"case_id": c["case_id"], "sha256": c["sha256"], "name": c["name"],
                      "source": source} for c in self._cases(case_ids)]
        if not documents:
            return
        with self.state.db.write() as s:
            assign_batch(s, [d["case_id"] for d in documents], batch_id)
        try:
            queue_batch(self.state, redis, batch_id, documents, {
                "person_id": dossier.person_id, "hold_for_review": True,
                "certify_when_sure": False, "accept_signed": False, "actor": actor,
                "commune_code": dossier.agency, "dossier_id": dossier.dossier_id,
                "not_queued": []})
        except RedisError:  # the batch is stored: `ecopy reconcile` queues it later
            log.exception("batch %s stored but not queued", batch_id)

    # ------------------------------------------------------------ embedded

    def _run_embedded(self, dossier: Dossier, case_ids: list[str], actor: str) -> None:
        options = self.options(dossier, actor)
        try:
            with tempfile.TemporaryDirectory(prefix="ecopy-web-") as tmp:
                taken: dict[str, dict] = {}
                for case in self._cases(case_ids):
                    folder = Path(tmp) / case["case_id"]
                    folder.mkdir()
                    # the name was made safe at upload; a single component, in our own folder
                    path = folder / (Path(case["name"] or "original").name or "original")
                    self.state.store.get_to_file(original_key(case["sha256"]), path)
                    taken[str(path)] = case
                if taken:
                    runner = _StoredBatch(self.state, dossier, options, taken, self._stop)
                    runner.run([Path(p) for p in taken])
        except _Stopped:
            log.info("processing of %d document(s) stopped at shutdown", len(case_ids))
        except Exception:  # the cases must not wait for ever: say so on each
            log.exception("processing failed for %d case(s) of a dossier", len(case_ids))
            self._fail(dossier, case_ids, options)

    def _fail(self, dossier: Dossier, case_ids: list[str], options: ProcessOptions) -> None:
        opt = options.stage_options()
        for case_id in case_ids:
            try:
                with self.state.db.read() as s:
                    case = get_case(s, case_id) or {}
                if case.get("status") in WAITING:
                    name = case.get("name", "")
                    reject(self.state, opt, agency_code=dossier.agency, source=name,
                           name=name, sha=case["sha256"], case_id=case_id,
                           reason=Reason.OCR_FAILED,
                           params={"page": 1, "detail": "lỗi hệ thống (internal error)"})
            except Exception:  # the database itself is down: nothing more to do here
                log.exception("could not record the failure of case %s", case_id)
