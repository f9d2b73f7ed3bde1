"""The in-process orchestrator of the embedded mode: a batch of files → filed e-copies.

It only wires stages: intake in the main process (cheap, header-only), structure inspection
and page render + OCR in the pool (untrusted parsing and heavy work stay in killable
processes), then classify → extract → certify → file back in the main process, one document
at a time as soon as its last page is read. Progress is reported from here only.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from pipeline.casework.status import save_status
from pipeline.flow import (
    StageOptions,
    certify,
    intake,
    reject,
    save_ocr,
    understand,
)
from pipeline.limits import Limits
from pipeline.reasons import Reason
from pipeline.run.pagework import DEFAULT_ENGINE, TaskFailure, inspect_task, page_task
from pipeline.run.pool import TaskPool
from pipeline.steps.certify import CertifyContext
from pipeline.steps.intake import Inspection
from pipeline.types import (
    DocStatus,
    DocumentOutcome,
    OcrPage,
    PageScan,
)
from storage.db.dossiers import Dossier
from storage.state import State


class Progress(Protocol):
    def batch_started(self, documents: int) -> None: ...
    def document_started(self, name: str, pages: int) -> None: ...
    def page_done(self, name: str) -> None: ...
    def document_done(self, outcome: DocumentOutcome) -> None: ...


class NoProgress:
    def batch_started(self, documents: int) -> None: ...
    def document_started(self, name: str, pages: int) -> None: ...
    def page_done(self, name: str) -> None: ...
    def document_done(self, outcome: DocumentOutcome) -> None: ...


@dataclass(frozen=True)
class ProcessOptions:
    person_id: str
    lang: str = "vie+eng"
    workers: int = 2
    accept_signed: bool = False
    hold_for_review: bool = True
    limits: Limits = field(default_factory=Limits)
    lang_messages: str = "vi"
    ocr_engine: str = DEFAULT_ENGINE  # see pipeline.run.pagework.resolve_engine
    actor: str = "ecopy"  # who the audit log names for this run's events
    # a clerk's refusal ground (Decree 23/2015 Art 22) for every document of the run: each is
    # refused with reason refused_by_clerk and the ground recorded, nothing is certified
    refuse: str = ""  # an Art 22 ground code (pipeline.reasons.REFUSAL_GROUNDS): refuse all
    refuse_detail: str = ""  # what the certifier adds to the ground
    # False: a document with nothing to review ends READY for a certifier (web uploads)
    certify_when_sure: bool = True

    def stage_options(self) -> StageOptions:
        return StageOptions(
            person_id=self.person_id, lang=self.lang, accept_signed=self.accept_signed,
            hold_for_review=self.hold_for_review, limits=self.limits,
            lang_messages=self.lang_messages, ocr_engine=self.ocr_engine, actor=self.actor,
            certify_when_sure=self.certify_when_sure,
        )  # fmt: skip


@dataclass
class _Doc:
    source: str
    path: Path
    case_id: str
    sha256: str
    kind: str
    size: int
    workdir: Path
    order: int
    copy_id: str = ""  # a retried case's copy id (pipeline.flow.certify)
    # set when its first task (the inspection, bounded by its own timeout) ends: time spent
    # waiting behind earlier documents is not held against it
    started: float | None = None
    inspection: Inspection | None = None
    pages: dict[int, tuple[PageScan, OcrPage]] = field(default_factory=dict)
    failed: bool = False


SUPPORTED_SUFFIXES = {".pdf", ".jpg", ".jpeg", ".png", ".tif", ".tiff"}


def expand_inputs(paths: Iterable[Path]) -> list[Path]:
    """Files as given, folders walked (sorted) for the file types we take."""
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            out.extend(
                sorted(
                    f
                    for f in p.rglob("*")
                    if f.is_file() and f.suffix.lower() in SUPPORTED_SUFFIXES
                )
            )
        else:
            out.append(p)
    return out


class BatchRunner:
    """One dossier's files through the stages. ``certify_ctx`` is None when nothing is
    certified here (web uploads wait for a certifier: ``certify_when_sure`` is off)."""

    def __init__(
        self,
        state: State,
        dossier: Dossier,
        certify_ctx: CertifyContext | None,
        options: ProcessOptions,
        progress: Progress | None = None,
    ) -> None:
        self.state = state
        self.dossier = dossier
        self.ctx = certify_ctx
        self.opt = options
        self.progress = progress or NoProgress()
        self.outcomes: list[DocumentOutcome] = []
        self.stage_opt = options.stage_options()

    # ------------------------------------------------------------ outcome helpers

    def _finish(self, outcome: DocumentOutcome) -> None:
        self.outcomes.append(outcome)
        self.progress.document_done(outcome)

    def _reject(self, doc: _Doc, reason: str, params: dict) -> None:
        doc.failed = True
        pages = doc.inspection.page_count if doc.inspection else 0
        self._finish(reject(self.state, self.stage_opt, agency_code=self.dossier.agency,
                            source=doc.source, name=doc.path.name, sha=doc.sha256,
                            case_id=doc.case_id, reason=reason, params=params, pages=pages))

    # ------------------------------------------------------------ intake

    def _intake(self, path: Path) -> _Doc | None:
        result = intake(self.state, self.stage_opt, dossier=self.dossier, path=path,
                        refuse=self.opt.refuse, refuse_detail=self.opt.refuse_detail)
        if isinstance(result, DocumentOutcome):
            self._finish(result)
            return None
        workdir = Path(tempfile.mkdtemp(prefix=f"ecopy-{result.sha256[:12]}-"))
        return _Doc(str(path), path, result.case_id, result.sha256, result.kind, result.size,
                    workdir, order=0, copy_id=result.copy_id)

    # ------------------------------------------------------------ run

    def run(self, paths: Sequence[Path]) -> list[DocumentOutcome]:
        files = expand_inputs(paths)
        self.progress.batch_started(len(files))
        docs: dict[str, _Doc] = {}
        pool = TaskPool(self.opt.workers)
        limits = self.opt.limits
        try:
            for path in files:
                doc = self._intake(path)
                if doc is None:
                    continue
                doc.order = len(docs)
                docs[doc.case_id] = doc
                pool.submit(
                    (doc.case_id, "inspect"),
                    inspect_task,
                    (str(path), doc.kind, limits, self.opt.accept_signed),
                    limits.inspect_timeout_s,
                    priority=(doc.order, -1),
                )
            while pool.pending():
                for (case_id, what), value, timed_out in pool.results():
                    self._on_result(pool, docs, case_id, what, value, timed_out)
        finally:
            pool.close()
            for doc in docs.values():
                shutil.rmtree(doc.workdir, ignore_errors=True)
        position = {str(p): i for i, p in enumerate(files)}
        self.outcomes.sort(key=lambda o: position.get(o.source, len(position)))
        return self.outcomes

    def _on_result(
        self,
        pool: TaskPool,
        docs: dict[str, _Doc],
        case_id: str,
        what: object,
        value: object,
        timed_out: bool,
    ) -> None:
        doc = docs[case_id]
        if doc.failed:
            return
        limits = self.opt.limits
        if doc.started is None:
            doc.started = time.monotonic()
        over_time = time.monotonic() - doc.started > limits.doc_timeout_s
        if timed_out or over_time:
            pool.cancel(lambda key: key[0] == case_id)
            limit = (
                limits.doc_timeout_s
                if over_time
                else (limits.inspect_timeout_s if what == "inspect" else limits.page_timeout_s)
            )
            self._reject(doc, Reason.TIMEOUT, {"limit": limit})
            return
        if isinstance(value, TaskFailure):
            pool.cancel(lambda key: key[0] == case_id)
            self._reject(doc, value.reason, value.params)
            return
        if isinstance(value, BaseException):
            pool.cancel(lambda key: key[0] == case_id)
            self._reject(doc, Reason.CORRUPT_FILE, {})
            return
        if what == "inspect":
            assert isinstance(value, Inspection)
            doc.inspection = value
            save_status(self.state, case_id, DocStatus.OCR, actor=self.opt.actor,
                        kind=value.kind, pages=value.page_count)
            self.progress.document_started(doc.source, value.page_count)
            for plan in value.pages:
                pool.submit(
                    (case_id, plan.index),
                    page_task,
                    (str(doc.path), doc.kind, plan, str(doc.workdir), limits, self.opt.lang,
                     self.opt.ocr_engine),
                    limits.page_timeout_s,
                    priority=(doc.order, plan.index),
                )
            return
        assert isinstance(what, int) and isinstance(value, tuple)
        doc.pages[what] = value
        self.progress.page_done(doc.source)
        if doc.inspection and len(doc.pages) == doc.inspection.page_count:
            self._complete(doc)

    # ------------------------------------------------------------ understand + certify

    def _complete(self, doc: _Doc) -> None:
        ordered = [doc.pages[i] for i in sorted(doc.pages)]
        ocr_pages = [p for _, p in ordered]
        save_ocr(self.state.store, doc.sha256, ocr_pages)
        result = understand(self.state, self.stage_opt, agency_code=self.dossier.agency,
                            source=doc.source, name=doc.path.name, sha=doc.sha256,
                            case_id=doc.case_id, ocr_pages=ocr_pages)
        if isinstance(result, DocumentOutcome):
            doc.failed = result.status == DocStatus.REJECTED
            self._finish(result)
            return
        if self.ctx is None:  # cannot happen: understand keeps the case READY without one
            raise RuntimeError("a batch without signing keys must not certify")
        self._finish(certify(self.ctx, self.stage_opt, source=doc.source, name=doc.path.name,
                             sha=doc.sha256, case_id=doc.case_id, kind=doc.kind,
                             size=doc.size, pages=ordered, understood=result,
                             workdir=doc.workdir, copy_id=doc.copy_id or None))


def process_batch(
    paths: Sequence[Path],
    ctx: CertifyContext | None,
    options: ProcessOptions,
    dossier: Dossier,
    progress: Progress | None = None,
    *,
    state: State | None = None,
) -> list[DocumentOutcome]:
    """Without a certifying context (``ctx`` None, ``state`` given) nothing is signed: what
    the machine is sure of waits READY for a certifier (``certify_when_sure`` off)."""
    if ctx is None and (state is None or options.certify_when_sure):
        raise ValueError("a batch that certifies needs its certifier's context")
    return BatchRunner(ctx.state if ctx else state, dossier, ctx, options, progress).run(paths)
