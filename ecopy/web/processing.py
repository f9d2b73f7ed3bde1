"""What happens to a document after its upload: OCR, classification, extraction, a status.

`Processor.submit` hands documents already taken in (original stored, record claimed, kind
written) to one of two modes, chosen per call:

- distributed, when an S3 store is configured and Redis answers: a batch object is written and
  the OCR jobs are queued exactly as `ecopy submit` does (ecopy.commands.distributed), so the
  rq workers do the work;
- embedded otherwise: one background thread in the web process runs the embedded
  orchestrator's page-parallel pool over the stored originals, one upload after another.

Either way nothing is signed: the options say `certify_when_sure=False`, so a document the
machine is sure of ends READY for a certifier, the others NEEDS_REVIEW or REJECTED. Progress
is only ever read from the document records (storage.records).
"""

from __future__ import annotations

import logging
import tempfile
import threading
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from ecopy.settings import Settings
from pipeline.orchestrator import BatchRunner, ProcessOptions, _Doc
from pipeline.reasons import Reason
from pipeline.stages import reject
from pipeline.types import DocStatus
from storage.backends import ObjectStore
from storage.dossiers import Dossier
from storage.records import original_key, read_record

log = logging.getLogger(__name__)
WAITING = {DocStatus.RECEIVED, DocStatus.OCR}  # statuses the processor still has to move on


@dataclass(frozen=True)
class _Agency:
    """All of a CertifyContext that BatchRunner reads when it never certifies."""

    agency_code: str


class _Stopped(Exception):
    """The web app is shutting down: the running batch gives up (its pool is terminated)."""


class _StoredBatch(BatchRunner):
    """The embedded orchestrator over originals taken in by the upload: no intake here."""

    def __init__(self, store: ObjectStore, agency: str, options: ProcessOptions,
                 taken: dict[str, tuple[str, str, int]], stop: threading.Event) -> None:
        super().__init__(store, _Agency(agency), options)  # type: ignore[arg-type]
        self.taken = taken  # local path of the fetched original → (sha256, kind, size)
        self.stop = stop

    def _intake(self, path: Path) -> _Doc | None:
        sha, kind, size = self.taken[str(path)]
        return _Doc(str(path), path, sha, kind, size, path.parent, order=0)

    def _on_result(self, *args: object, **kwargs: object) -> None:
        if self.stop.is_set():
            raise _Stopped()
        super()._on_result(*args, **kwargs)  # type: ignore[arg-type]


class Processor:
    """Background processing of uploaded documents; `close` on app shutdown."""

    def __init__(self, settings: Settings, store: ObjectStore) -> None:
        self.settings = settings
        self.store = store
        self._executor: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._redis: object | None = None

    # ------------------------------------------------------------ public

    def options(self, dossier: Dossier, actor: str) -> ProcessOptions:
        s = self.settings
        return ProcessOptions(person_id=dossier.person_id, lang=s.ocr_lang, workers=s.workers,
                              limits=s.limits, lang_messages=s.lang, actor=actor,
                              hold_for_review=True, certify_when_sure=False)

    def mode(self) -> str:
        """"distributed" when an S3 store is configured and Redis answers, else "embedded"."""
        return "distributed" if self._queue() is not None else "embedded"

    def submit(self, dossier: Dossier, shas: Sequence[str], actor: str) -> Future | None:
        """Process documents taken in for `dossier`; returns the embedded run's future."""
        shas = list(dict.fromkeys(shas))
        if not shas:
            return None
        redis = self._queue()
        if redis is not None:
            self._submit_distributed(redis, dossier, shas, actor)
            return None
        with self._lock:
            if self._stop.is_set():
                raise RuntimeError("the processor is shut down")
            if self._executor is None:
                self._executor = ThreadPoolExecutor(max_workers=1,
                                                    thread_name_prefix="ecopy-process")
            return self._executor.submit(self._run_embedded, dossier, shas, actor)

    def close(self) -> None:
        """Stop taking work; a running batch stops after its current page, waiting ones are
        dropped (their documents stay "received" and are taken again when re-uploaded)."""
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

    def _submit_distributed(self, redis: object, dossier: Dossier, shas: list[str],
                            actor: str) -> None:
        from redis.exceptions import RedisError

        from ecopy.commands.distributed import batch_document, queue_batch
        from storage.batches import new_batch_id

        batch_id = new_batch_id()
        source = f"dossier:{dossier.agency}/{dossier.dossier_id}"
        documents = []
        for sha in shas:
            record = read_record(self.store, sha) or {}
            if record.get("status") == DocStatus.RECEIVED and record.get("kind"):
                documents.append(batch_document(self.store, batch_id, sha, record["kind"],
                                                record.get("name", ""), source))
        if not documents:
            return
        try:
            queue_batch(self.store, redis, batch_id, documents, {
                "person_id": dossier.person_id, "hold_for_review": True,
                "certify_when_sure": False, "accept_signed": False, "actor": actor,
                "commune_code": dossier.agency, "dossier": source, "not_queued": []})
        except RedisError:  # the batch is stored: `ecopy reconcile` queues it later
            log.exception("batch %s stored but not queued", batch_id)

    # ------------------------------------------------------------ embedded

    def _run_embedded(self, dossier: Dossier, shas: list[str], actor: str) -> None:
        options = self.options(dossier, actor)
        try:
            with tempfile.TemporaryDirectory(prefix="ecopy-web-") as tmp:
                taken: dict[str, tuple[str, str, int]] = {}
                for sha in shas:
                    record = read_record(self.store, sha) or {}
                    if record.get("status") != DocStatus.RECEIVED or not record.get("kind"):
                        continue  # processed meanwhile (a duplicate upload), or not ours
                    folder = Path(tmp) / sha[:16]
                    folder.mkdir()
                    # the name was made safe at upload; a single component, in our own folder
                    path = folder / (Path(record.get("name") or "original").name or "original")
                    self.store.get_to_file(original_key(sha), path)
                    taken[str(path)] = (sha, record["kind"], int(record["size"]))
                if taken:
                    runner = _StoredBatch(self.store, dossier.agency, options, taken,
                                          self._stop)
                    runner.run([Path(p) for p in taken])
        except _Stopped:
            log.info("processing of %d document(s) stopped at shutdown", len(shas))
        except Exception:  # the documents must not wait for ever: say so on each
            log.exception("processing failed for %s", ", ".join(shas))
            self._fail(dossier, shas, options)

    def _fail(self, dossier: Dossier, shas: list[str], options: ProcessOptions) -> None:
        opt = options.stage_options()
        for sha in shas:
            try:
                record = read_record(self.store, sha) or {}
                if record.get("status") in WAITING:
                    name = record.get("name", "")
                    reject(self.store, opt, agency_code=dossier.agency, source=name, name=name,
                           sha=sha, reason=Reason.OCR_FAILED,
                           params={"page": 1, "detail": "lỗi hệ thống (internal error)"})
            except Exception:  # the store itself is down: nothing more to do here
                log.exception("could not record the failure of %s", sha)
