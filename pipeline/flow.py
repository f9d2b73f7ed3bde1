"""The chain, as plain functions over the two kinds of state (storage.state.State).

    file ─ intake ─ read_pages ─ understand ─┬─ certify ─ warehouse
           (steps/intake) (run/pagework:     ├─ review (steps/review) ─ clerk ─ certifier
                          rasterize, quality,└─ reject (reason code, original kept)
                          preprocess, ocr)
           understand = steps/classify + steps/extract + steps/review; certify =
           steps/assemble + steps/pdfa + steps/certify (register number, signatures).

The embedded orchestrator (``pipeline.run.orchestrator``, page-parallel in a process pool) and the
distributed rq jobs (``workers.jobs``, one stage per job) call the same functions, so the two
deployments cannot drift apart. Every stage reads what it needs from the store (originals,
OCR) and the database (the case) and writes its result back: evidence to the store, the
case's status through pipeline.casework.status; a queue only says what to do next.

    intake          file → stored original + claimed case (or duplicate / rejected)
    read_pages      original → inspected, rasterised and OCR'd pages (sequential; the
                    orchestrator does the same work page-parallel with the same tasks)
    understand      OCR pages → refused, held for review, or ready to certify (certified at
                    once, or left READY for a certifier when certify_when_sure is off)
    certify         ready → register number, signed e-copy, filed in the warehouse
    reject          any failure → record, audit event (and refusal record for Art 22 grounds)
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import tempfile
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from PIL import Image

from pipeline.casework.portal import enqueue_ecopy, enqueue_status
from pipeline.casework.status import claim, save_status
from pipeline.doctypes.model import active_model
from pipeline.limits import LEGAL_MIN_DPI, Limits
from pipeline.reasons import (
    REFUSAL_REASONS,
    EcopyError,
    Reason,
    Rejected,
    ground_text,
    message,
)
from pipeline.run.pagework import DEFAULT_ENGINE, TaskFailure, inspect_task, page_task
from pipeline.run.stored import load_ocr, ocr_pages_from_json, save_ocr  # noqa: F401
from pipeline.steps.certify import VN_TZ, CertifyContext, IssueInfo, certify_document
from pipeline.steps.classify import (
    DOCUMENT_NAMES,
    classify,
    refusal_mark,
)
from pipeline.steps.extract import extract
from pipeline.steps.intake import Inspection, check_size, sha256_file, sniff
from pipeline.steps.rasterize import rasterize_page
from pipeline.steps.review import (  # noqa: F401  (re-exported: callers name them here)
    NAME_REVIEW_CONF,
    conflicts,
    review_message,
    review_reasons,
    unsure_detail,
    unsure_names,
)
from pipeline.types import (
    Classification,
    DocStatus,
    DocumentOutcome,
    Extraction,
    Field,
    OcrPage,
    PageScan,
    to_jsonable,
)
from pipeline.vn.cardqr import CardQr, decode_card_qr, parse_card_payload
from storage.backends import ObjectStore
from storage.db.cases import Conflict, change_status, get_case, note
from storage.db.catalogue import add_copy, add_refusal
from storage.db.dossiers import Dossier, dossier_by_id
from storage.evidence.audit import append_event, record_refusal
from storage.evidence.originals import (
    original_key,
    retain_original,
    store_original,
)
from storage.evidence.warehouse import copy_key
from storage.state import State

ILLEGIBLE_CONF = 30.0
REVIEW_CONF = 0.8


@dataclass(frozen=True)
class StageOptions:
    """What the stages need to know about the run (a subset of ProcessOptions)."""

    person_id: str
    lang: str = "vie+eng"
    accept_signed: bool = False
    hold_for_review: bool = True
    limits: Limits = field(default_factory=Limits)
    lang_messages: str = "vi"
    ocr_engine: str = DEFAULT_ENGINE
    actor: str = "ecopy"
    # False (web uploads): a document with nothing to review waits as READY for a certifier
    certify_when_sure: bool = True


@dataclass(frozen=True)
class Understood:
    """A document the machine is sure enough about to certify."""

    classification: Classification
    extraction: Extraction
    review_reasons: tuple[str, ...]
    record: dict  # the fields written to the document record


def audit_original(store: ObjectStore, actor: str, action: str, sha: str,
                   details: dict | None = None) -> None:
    append_event(store, actor=actor, action=action, object=f"originals/{sha}",
                 object_sha256=sha, details=details)


def reject(
    state: State,
    opt: StageOptions,
    *,
    agency_code: str,
    source: str,
    name: str,
    sha: str,
    case_id: str,
    reason: str,
    params: dict,
    pages: int = 0,
    record_extra: dict | None = None,
    expect_status: set[str] | None = None,
) -> DocumentOutcome:
    """Record a rejection (or an Art 22 refusal) with its reason code; the original stays.
    ``record_extra`` adds facts to the case (the Art 22 ground code of a refusal);
    ``expect_status``: only from these statuses (storage.db.cases.Conflict otherwise, and
    nothing is recorded)."""
    store = state.store
    if case_id and expect_status is not None:
        with state.db.read() as s:
            current = get_case(s, case_id)
        if current is None or current["status"] not in expect_status:
            raise Conflict(current["status"] if current else "missing",
                           current["version"] if current else 0)
    text = message(Reason(reason), opt.lang_messages, **params)
    refused = reason in REFUSAL_REASONS
    if sha and refused:
        now = datetime.now(VN_TZ)
        refusal = record_refusal(
            store,
            agency_code=agency_code,
            year=now.year,
            sha256=sha,
            ground=reason,
            ground_code=str(params.get("ground_code") or ""),
            ground_detail=str(params["ground"]) if "ground" in params
            else ", ".join(f"{k}={v}" for k, v in sorted(params.items())),
            message=message(Reason(reason), "vi", **params),
            message_en=message(Reason(reason), "en", **params),
            actor=opt.actor,
            document_name=name,
            time=now.isoformat(timespec="seconds"),
        )
        retain_original(store, sha)  # refused on record: evidence, like the refusal
        with state.db.write() as s:
            add_refusal(s, refusal, case_id=case_id)
    append_event(
        store,
        actor=opt.actor,
        action="refuse" if refused else "reject",
        object=f"originals/{sha}" if sha else f"file:{name}",
        object_sha256=sha,
        details={"reason": str(reason), "name": name,
                 "params": {k: str(v)[:200] for k, v in params.items()}},
    )
    if case_id:
        save_status(state, case_id, DocStatus.REJECTED, actor=opt.actor, reason=reason,
                    message=text, message_en=message(Reason(reason), "en", **params),
                    owner="", expect_status=expect_status, **(record_extra or {}))
    return DocumentOutcome(source, sha, DocStatus.REJECTED, reason, text, pages=pages,
                           case_id=case_id)


@dataclass(frozen=True)
class Accepted:
    """A file taken in: its original is stored and its case claimed by this run."""

    case_id: str
    sha256: str
    kind: str
    size: int
    name: str
    copy_id: str = ""  # fixed by an earlier attempt that died while certifying


def intake(
    state: State, opt: StageOptions, *, dossier: Dossier, path: Path, refuse: str = "",
    refuse_detail: str = "",
    batch_id: str = "",
) -> Accepted | DocumentOutcome:
    """Size limit, sha256, store the original, sniff the type, claim the dossier's case.

    Returns an outcome instead when the file is missing, too big, already in the dossier
    (duplicate), of an unsupported type, or refused by the clerk (``refuse``: an Art 22
    ground). A file refused after its bytes were read still gets a case, rejected with its
    reason, and the original is kept.
    """
    source = str(path)
    try:
        if not path.is_file():
            raise Rejected(Reason.FILE_NOT_FOUND)
        size = check_size(path, opt.limits)
        sha = sha256_file(path)
    except (Rejected, OSError) as exc:
        reason = exc.reason if isinstance(exc, Rejected) else Reason.FILE_NOT_FOUND
        params = exc.params if isinstance(exc, Rejected) else {}
        return DocumentOutcome(source, "", DocStatus.REJECTED, reason,
                               message(reason, opt.lang_messages, **params))
    store = state.store
    new = store_original(store, sha, path)
    try:
        kind, refused = sniff(path), None
    except Rejected as exc:
        kind, refused = "", exc
    record, claimed = claim(state, dossier, sha, name=path.name, size=size,
                            person_id=opt.person_id, actor=opt.actor, kind=kind,
                            batch_id=batch_id)
    audit_original(store, opt.actor, "ingest", sha, {
        "name": path.name, "size": size, "new_original": new, "duplicate": not claimed,
        "case_id": record["case_id"]})
    if not claimed:
        return DocumentOutcome(
            source, sha, DocStatus.DUPLICATE, "duplicate",
            f"đã xử lý trước đây (trạng thái: {record.get('status', '?')})",
            doc_type=record.get("doc_type", ""), copy_id=record.get("copy_id", ""),
            register_number=record.get("register_number"), pages=record.get("pages", 0),
            case_id=record["case_id"],
        )  # fmt: skip
    common = {"agency_code": dossier.agency, "source": source, "name": path.name, "sha": sha,
              "case_id": record["case_id"]}
    if refused is not None:
        return reject(state, opt, **common, reason=refused.reason, params=refused.params)
    if refuse:
        return reject(state, opt, **common, reason=Reason.REFUSED_BY_CLERK,
                      params={"ground": ground_text(refuse, refuse_detail),
                              "ground_code": refuse})
    return Accepted(record["case_id"], sha, kind, size, path.name, record.get("copy_id") or "")


# ------------------------------------------------------------------ pages


def read_pages(
    original: Path, kind: str, workdir: Path, opt: StageOptions
) -> tuple[Inspection, list[tuple[PageScan, OcrPage]]] | TaskFailure:
    """Inspect, rasterise and OCR every page in this process, in order."""
    inspection = inspect_task(str(original), kind, opt.limits, opt.accept_signed)
    if isinstance(inspection, TaskFailure):
        return inspection
    pages = []
    for plan in inspection.pages:
        done = page_task(str(original), kind, plan, str(workdir), opt.limits, opt.lang,
                         opt.ocr_engine)
        if isinstance(done, TaskFailure):
            return done
        pages.append(done)
    return inspection, pages


def rasterize_again(
    original: Path, kind: str, workdir: Path, ocr_pages: Sequence[OcrPage], opt: StageOptions
) -> list[tuple[PageScan, OcrPage]] | TaskFailure:
    """The page images for the e-copy, re-made from the original on another machine.

    OCR results travel through the store; images do not (rendering is cheap next to OCR, and
    deterministic), so a sign worker needs only the original and the stored OCR.
    """
    inspection = inspect_task(str(original), kind, opt.limits, opt.accept_signed)
    if isinstance(inspection, TaskFailure):
        return inspection
    by_index = {p.index: p for p in ocr_pages}
    out = []
    for plan in inspection.pages:
        page = by_index.get(plan.index)
        if page is None:
            return TaskFailure(Reason.OCR_FAILED, {"page": plan.index + 1,
                                                   "detail": "no stored OCR for this page"})
        try:
            scan = rasterize_page(original, kind, plan, workdir, opt.limits)
        except EcopyError as exc:
            return TaskFailure(exc.reason, {k: str(v) for k, v in exc.params.items()})
        out.append((dataclasses.replace(scan, rotation=page.rotation), page))
    return out


# ------------------------------------------------------------------ understand + certify


def check_refusal(pages: Sequence[OcrPage]) -> None:
    if all(p.blank for p in pages):
        raise Rejected(Reason.BLANK_PAGE, page=1)
    mark = refusal_mark(pages)
    if mark:
        raise Rejected(Reason.CLASSIFIED, stamp=mark)
    words = [w for p in pages for w in p.words]
    if not words:
        raise Rejected(Reason.ILLEGIBLE, conf=0)
    mean = sum(w.conf for w in words) / len(words)
    if mean < ILLEGIBLE_CONF and len(words) >= 5:
        raise Rejected(Reason.ILLEGIBLE, conf=round(mean))


def understand(
    state: State,
    opt: StageOptions,
    *,
    agency_code: str,
    source: str,
    name: str,
    sha: str,
    case_id: str,
    ocr_pages: Sequence[OcrPage],
) -> DocumentOutcome | Understood:
    """Refusal grounds, classification, extraction and the review decision, recorded."""
    store = state.store
    words = [w.conf for p in ocr_pages for w in p.words]
    audit_original(store, opt.actor, "ocr", sha, {
        "pages": len(ocr_pages), "words": len(words),
        "mean_conf": round(sum(words) / len(words), 1) if words else 0})
    try:
        check_refusal(ocr_pages)
    except Rejected as exc:
        return reject(state, opt, agency_code=agency_code, source=source, name=name, sha=sha,
                      case_id=case_id, reason=exc.reason, params=exc.params,
                      pages=len(ocr_pages))
    classification = classify(ocr_pages, model=active_model(store, state.db))
    card = read_card_qr(store, sha, name, ocr_pages, opt) \
        if classification.doc_type == "citizen_id" else None
    extraction = extract(ocr_pages, classification.doc_type, *(card or ()))
    review = review_reasons(ocr_pages, classification, extraction, opt.person_id)
    audit_original(store, opt.actor, "classify", sha, {
        "doc_type": classification.doc_type, "confidence": round(classification.confidence, 3),
        "model": classification.model})
    # which fields were read, and how sure: names and confidences only (the values are
    # personal data; the case and the copy's manifest hold them)
    audit_original(store, opt.actor, "extract", sha, {
        "fields": {f.name: round(f.confidence, 3) for f in extraction.fields},
        "warnings": len(extraction.warnings), "case_id": case_id})
    record = {
        "doc_type": classification.doc_type,
        "document_name": DOCUMENT_NAMES[classification.doc_type],
        "classification": to_jsonable(classification),
        "fields": to_jsonable(extraction.fields),
        "warnings": list(extraction.warnings),
        "review_reasons": review,
    }
    if card is not None:  # kept so a later certify rebuilds the same extraction
        record["card_qr"] = {"payload": card[0].raw, "page": card[1], "box": card[0].box}
    if review and opt.hold_for_review:
        texts = {r: review_message(r, ocr_pages, extraction, opt, classification)
                 for r in review}
        save_status(state, case_id, DocStatus.NEEDS_REVIEW, actor=opt.actor, owner="",
                    **record, review_messages=texts)
        audit_original(store, opt.actor, "review", sha,
                       {"status": "needs_review", "reasons": review, "case_id": case_id})
        text = "; ".join(texts.values())
        return DocumentOutcome(source, sha, DocStatus.NEEDS_REVIEW, review[0], text,
                               doc_type=classification.doc_type, pages=len(ocr_pages),
                               review_reasons=tuple(review), case_id=case_id)
    if not opt.certify_when_sure:  # nothing is signed until a certifier approves it
        save_status(state, case_id, DocStatus.READY, actor=opt.actor, owner="", **record)
        audit_original(store, opt.actor, "ready", sha, {
            "status": "ready", "doc_type": classification.doc_type, "case_id": case_id})
        return DocumentOutcome(source, sha, DocStatus.READY, "", "",
                               doc_type=classification.doc_type, pages=len(ocr_pages),
                               review_reasons=tuple(review), case_id=case_id)
    return Understood(classification, extraction, tuple(review), record)


def read_card_qr(store: ObjectStore, sha: str, name: str, ocr_pages: Sequence[OcrPage],
                 opt: StageOptions) -> tuple[CardQr, int] | None:
    """The chip card's QR code and its page, from page images re-made from the original.

    Re-rendering (as a sign worker does) works in the main process and on any worker; only
    documents classified as ID cards pay for it.
    """
    with tempfile.TemporaryDirectory(prefix="ecopy-qr-") as tmp:
        work = Path(tmp)
        original = fetch_original(store, sha, work, name)
        try:
            pages = rasterize_again(original, sniff(original), work, ocr_pages, opt)
        except Rejected:
            return None
        if isinstance(pages, TaskFailure):
            return None
        return card_qr_in_images([(Path(scan.image_path), scan.rotation, scan.index)
                                  for scan, _page in pages])


def card_qr_in_images(images: Sequence[tuple[Path, int, int]]) -> tuple[CardQr, int] | None:
    """The first chip-card QR code in (image, clockwise turn to upright, page) triples, with
    its page; the code's box is in upright pixels like the OCR's."""
    for path, rotation, index in images:
        with Image.open(path) as im:
            card = decode_card_qr(im.rotate(-rotation, expand=True) if rotation else im)
        if card is not None:
            return card, index
    return None


def _stored_card(record: dict) -> tuple[CardQr, int] | tuple[()]:
    stored = record.get("card_qr")
    card = parse_card_payload(stored["payload"]) if stored else None
    if card is None:
        return ()
    box = tuple(stored["box"]) if stored.get("box") else None
    return dataclasses.replace(card, box=box), stored["page"]


def certify(
    ctx: CertifyContext,
    opt: StageOptions,
    *,
    source: str,
    name: str,
    sha: str,
    case_id: str,
    kind: str,
    size: int,
    pages: Sequence[tuple[PageScan, OcrPage]],
    understood: Understood,
    workdir: Path,
    copy_id: str | None = None,
) -> DocumentOutcome:
    """Register number, signed e-copy, warehouse; the case says FILED only at the end, in
    the transaction that indexes the copy and queues it for the portal.

    The copy id is written on the case before anything is signed: a run that dies after the
    copy reached the warehouse and before the case was marked leaves a copy id whose copy
    the next attempt (or `ecopy db check --repair`) finds, and only records, never signing
    a second copy of the same paper."""
    state = ctx.state
    doc_type = understood.classification.doc_type
    if copy_id is not None:
        filed = _filed_copy(ctx.store, opt.person_id, doc_type, copy_id)
        if filed is not None:
            metadata, pdf_key = filed
            save_filed(state, case_id, metadata, pdf_key, understood.record, actor=ctx.actor)
            return DocumentOutcome(
                source, sha, DocStatus.FILED, "", "", doc_type=metadata["doc_type"],
                copy_id=copy_id, register_number=metadata["register_entry"]["number"],
                pages=len(pages), ecopy_path=pdf_key,
                review_reasons=understood.review_reasons, case_id=case_id)
    low = min((p.quality_metrics.get("dpi") or LEGAL_MIN_DPI for _, p in pages),
              default=LEGAL_MIN_DPI)
    if low < LEGAL_MIN_DPI:  # whatever the gate's settings or a review said: never certified
        return reject(state, opt, agency_code=ctx.agency_code, source=source, name=name,
                      sha=sha, case_id=case_id, reason=Reason.LOW_RESOLUTION,
                      params={"dpi": round(low), "limit": LEGAL_MIN_DPI}, pages=len(pages))
    if copy_id is None:
        copy_id = uuid.uuid4().hex
        with state.db.write() as s:
            note(s, case_id, copy_id=copy_id)
    try:
        certified = certify_document(
            ctx,
            pages=pages,
            classification=understood.classification,
            extraction=understood.extraction,
            source_name=name,
            source_sha256=sha,
            source_kind=kind,
            source_size=size,
            person_id=opt.person_id,
            workdir=workdir,
            copy_id=copy_id,
            issue=issue_info(state, case_id),
        )
    except EcopyError as exc:
        return reject(state, opt, agency_code=ctx.agency_code, source=source, name=name,
                      sha=sha, case_id=case_id, reason=exc.reason, params=exc.params,
                      pages=len(pages))
    save_filed(state, case_id, certified.metadata, certified.ecopy_key,
               understood.record, actor=ctx.actor)
    return DocumentOutcome(
        source, sha, DocStatus.FILED, "", "",
        doc_type=understood.classification.doc_type, copy_id=certified.copy_id,
        register_number=certified.entry.number, pages=len(pages),
        ecopy_path=str(certified.ecopy_key), review_reasons=understood.review_reasons,
        case_id=case_id,
    )  # fmt: skip


def save_filed(state: State, case_id: str, metadata: dict, pdf_key: str, found: dict, *,
               actor: str) -> dict:
    """One transaction: the copy in the catalogue, the case FILED with what was found on the
    paper (``found``), and both events for the portal."""
    entry = metadata["register_entry"]
    with state.db.write() as s:
        add_copy(s, metadata, pdf_key=pdf_key, case_id=case_id)
        enqueue_ecopy(s, copy_id=metadata["copy_id"], person_id=metadata["person_id"],
                      doc_type=metadata["doc_type"], pdf_key=pdf_key,
                      pdf_sha256=metadata["pdf_sha256"], agency=entry["agency_code"])
        record = change_status(s, case_id, DocStatus.FILED, actor=actor,
                               deadlines=state.deadlines, **found,
                               copy_id=metadata["copy_id"], ecopy_key=pdf_key,
                               register_entry=entry, owner="", certifier=actor)
        enqueue_status(s, case_id, record["event_seq"])
    return record


def _filed_copy(store: ObjectStore, person_id: str, doc_type: str, copy_id: str
                ) -> tuple[dict, str] | None:
    """(metadata, PDF key) of the copy when it is in the warehouse already."""
    pdf_key = copy_key(person_id, doc_type, copy_id, "pdf")
    try:
        metadata = json.loads(store.get(pdf_key.removesuffix(".pdf") + ".json"))
    except KeyError:
        return None
    return (metadata, pdf_key) if store.exists(pdf_key) else None


def issue_info(state: State, case_id: str) -> IssueInfo:
    """The dossier code and procedure the issued copy's QR names (Circular 01/2023)."""
    with state.db.read() as s:
        case = get_case(s, case_id)
        dossier = dossier_by_id(s, case["dossier_id"]) if case else None
    if dossier is None:
        return IssueInfo()
    return IssueInfo(dossier.public_code, dossier.procedure)


# ------------------------------------------------------------------ from the store


class OriginalChanged(RuntimeError):
    """The bytes under originals/<sha256> are not those bytes: replaced in the store (an
    identity that may upload could overwrite an original not locked yet). Nothing is made
    from them; the job fails and the case waits."""


def fetch_original(store: ObjectStore, sha: str, workdir: Path, name: str) -> Path:
    """The stored original as a local file (streamed), named with its upload's suffix, after
    checking that its bytes still hash to the key it is stored under."""
    path = workdir / ("original" + Path(name).suffix.lower())
    store.get_to_file(original_key(sha), path)
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
    if digest.hexdigest() != sha:
        path.unlink(missing_ok=True)
        raise OriginalChanged(f"originals/{sha} holds other bytes ({digest.hexdigest()})")
    return path


def understood_from_record(record: dict, ocr_pages: Sequence[OcrPage]) -> Understood:
    """What understand decided, rebuilt from the stored OCR and the record.

    The classification is the stored one (a model retrained meanwhile must not change what was
    decided and shown to the clerk); extraction is a pure function of the OCR and the type, so
    it is recomputed. A clerk's corrections (``record["corrections"]``, written by ``ecopy
    review correct``) override the machine's type and fields.
    """
    corrections = record.get("corrections") or {}
    stored = record.get("classification")
    classification = Classification(**stored) if stored else classify(ocr_pages)
    if corrections.get("doc_type"):
        classification = Classification(corrections["doc_type"], 1.0, "", "clerk",
                                        model=classification.model)
    extraction = extract(ocr_pages, classification.doc_type, *_stored_card(record))
    fields = {f.name: f for f in extraction.fields}
    for name, value in (corrections.get("fields") or {}).items():
        fields[name] = Field(name, value, 1.0, page=-1)  # page -1: typed in by a clerk
    extraction = Extraction(tuple(fields.values()), extraction.warnings)
    record_fields = {
        "doc_type": classification.doc_type,
        "document_name": DOCUMENT_NAMES[classification.doc_type],
        "classification": to_jsonable(classification),
        "fields": to_jsonable(extraction.fields),
        "warnings": list(extraction.warnings),
        "review_reasons": list(record.get("review_reasons", ())),
    }
    return Understood(classification, extraction, tuple(record.get("review_reasons", ())),
                      record_fields)


def certify_stored(ctx: CertifyContext, opt: StageOptions, *, record: dict,
                   workdir: Path) -> DocumentOutcome:
    """Certify a case from what is kept: its original and OCR (store) and the case.

    Used by the distributed sign job and by a certifier approving a waiting case. The
    case's ``copy_id`` (when set) makes a retry reuse its register claim.
    """
    name, sha, case_id = record["name"], record["sha256"], record["case_id"]
    ocr_pages = load_ocr(ctx.store, sha)
    if ocr_pages is None:
        raise LookupError(f"no stored OCR for document {sha}")
    understood = understood_from_record(record, ocr_pages)
    original = fetch_original(ctx.store, sha, workdir, name)
    pages = rasterize_again(original, record["kind"], workdir, ocr_pages, opt)
    if isinstance(pages, TaskFailure):
        return reject(ctx.state, opt, agency_code=ctx.agency_code, source=name, name=name,
                      sha=sha, case_id=case_id, reason=pages.reason, params=pages.params)
    return certify(ctx, opt, source=name, name=name, sha=sha, case_id=case_id,
                   kind=record["kind"], size=record["size"], pages=pages,
                   understood=understood, workdir=workdir, copy_id=record.get("copy_id"))
