"""What a clerk or a certifier does to one document: the same code for the CLI and the web.

    correct_document       a clerk's corrections, each kept as made and merged into the case
    mark_reviewed          a clerk hands a reviewed case to the certifier (READY)
    split_document         a clerk cuts a file holding several papers into one case per paper
    approve_document       a certifier certifies it (register number, signatures, warehouse)
    refuse_document        refused under Decree 23/2015 Art 22, the ground recorded
    cancel_certification   an issued copy cancelled by a decision

Every act is written to the audit log with the acting person. Each one changes the case by
compare-and-set on the status it was shown in, so of two people acting on one case at once
exactly one succeeds; the other gets `NotWaiting` / `InProgress` (HTTP 409). Refusals to act
raise `ActionRefused` (its subclasses say why); bad input raises `FieldError` / ValueError.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import unicodedata
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

from ecopy.settings import Settings
from pipeline.types import FIELD_NAMES, DocStatus, DocumentOutcome
from pipeline.vn.text import fold as vn_fold
from storage.state import State

# Decree 280/2025 Art 5: the person who certifies is the commune's Chairman or one
# authorised or assigned by law; an administrator administers and never certifies
APPROVERS = ("certifier",)
WAITING = (DocStatus.NEEDS_REVIEW, DocStatus.READY)
DATE_FIELDS = frozenset(f for f in FIELD_NAMES if f.endswith(("date", "date_of_birth",
                                                             "date_of_death")))
MAX_VALUE = 300  # characters in one field value
APPROVAL_STALE = timedelta(minutes=15)  # an approval held longer died with its process


class ActionRefused(Exception):
    """The act is not allowed now (role, state); the message says why."""


class NotWaiting(ActionRefused):
    def __init__(self, status: str) -> None:
        self.status = status
        super().__init__(f"the document is {status}, not waiting for review or certification")


class NotAllowed(ActionRefused):
    pass


class InProgress(ActionRefused):
    """Another certifier's approval of the same document is running."""


class FieldError(ValueError):
    """One bad field value; ``code`` is one of unknown, empty, too_long, not_a_date, bad_id,
    bad_sex (the web shows its own message for each)."""

    def __init__(self, name: str, code: str, detail: str) -> None:
        self.name, self.code = name, code
        super().__init__(f"{name}: {detail}")


# ------------------------------------------------------------------ finding cases


class Ambiguous(ValueError):
    """A reference that names several cases of the commune (the same bytes in two dossiers):
    ``matches`` lists them so the user can name one by its case id."""

    def __init__(self, matches: list[dict]) -> None:
        self.matches = matches
        super().__init__("several cases match: " + ", ".join(m["case_id"] for m in matches))


def find_case(state: State, ref: str, agency: str) -> dict | None:
    """The commune's case named by its id, its original's sha256, or a prefix of either (at
    least 8 hex characters). None when there is none in this commune (another commune's case
    is not found either); Ambiguous when several match."""
    from storage.db.cases import find_cases, get_case

    with state.db.read() as s:
        found = find_cases(s, ref, agency=agency)
        if len(found) == 1:
            return get_case(s, found[0]["case_id"], agency=agency, with_history=True)
    if len(found) > 1:
        raise Ambiguous(found)
    return None


def waiting_since(record: dict) -> str:
    return record.get("status_at") or (record.get("history") or [{}])[-1].get("at", "")


def stage_options(record: dict, settings: Settings, actor: str) -> Any:
    from pipeline.flow import StageOptions

    return StageOptions(person_id=record.get("person_id", ""), lang=settings.ocr_lang,
                        limits=settings.limits, lang_messages=settings.lang, actor=actor)


def _check_waiting(record: dict) -> None:
    if record.get("status") not in WAITING:
        raise NotWaiting(str(record.get("status")))


# ------------------------------------------------------------------ corrections


def parse_fields(values: Mapping[str, str]) -> dict[str, str]:
    """Validated field values: dates to ISO 8601 (any form parse_date reads), IDs checked,
    sex M/F, text NFC without control characters."""
    from pipeline.vn.dates import parse_date
    from pipeline.vn.idnumber import parse_personal_id

    out = {}
    for name, raw in values.items():
        name = name.strip()
        value = unicodedata.normalize("NFC", " ".join(str(raw).split()))
        if name not in FIELD_NAMES:
            raise FieldError(name, "unknown", f"unknown field; one of "
                                              f"{', '.join(sorted(FIELD_NAMES))}")
        if not value:
            raise FieldError(name, "empty", "empty value")
        if len(value) > MAX_VALUE:
            raise FieldError(name, "too_long", f"longer than {MAX_VALUE} characters")
        if name in DATE_FIELDS:
            parsed = parse_date(value)
            if parsed is None:
                raise FieldError(name, "not_a_date", f"{value!r} is not a date")
            value = parsed.isoformat()
        if name.endswith("id_number"):
            try:
                parse_personal_id(value)
            except ValueError as exc:
                raise FieldError(name, "bad_id", str(exc)) from None
        if name == "sex" and value not in ("M", "F"):
            raise FieldError(name, "bad_sex", "M or F")
        out[name] = value
    return out


def correct_document(state: State, record: dict, *, actor: str, doc_type: str | None,
                     fields: Mapping[str, str]) -> dict:
    """Keep the correction as made (who, when, what the machine said) and merge it into the
    case, which keeps its status. Returns the merged corrections."""
    from pipeline.casework.status import save_status
    from pipeline.steps.classify import DOCUMENT_NAMES
    from storage.db.cases import Conflict, add_correction
    from storage.evidence.audit import append_event

    if doc_type and doc_type not in DOCUMENT_NAMES:
        raise ValueError(f"document type must be one of {', '.join(DOCUMENT_NAMES)}")
    checked = parse_fields(fields)
    if not checked and not doc_type:
        raise ValueError("nothing to correct")
    _check_waiting(record)
    merged = dict(record.get("corrections") or {})
    merged["fields"] = {**merged.get("fields", {}), **checked}
    if doc_type:
        merged["doc_type"] = doc_type
    try:
        save_status(state, record["case_id"], record["status"], actor=actor,
                    expect_version=record["version"], corrections=merged)
    except Conflict as exc:  # changed since the clerk opened it: look again
        raise NotWaiting(exc.status) from None
    with state.db.write() as s:
        add_correction(s, record["case_id"], actor=actor, doc_type=doc_type, fields=checked,
                       machine={"doc_type": record.get("doc_type"),
                                "fields": {f["name"]: f["value"]
                                           for f in record.get("fields", [])}})
    sha = record["sha256"]
    append_event(state.store, actor=actor, action="review", object=f"originals/{sha}",
                 object_sha256=sha, details={"act": "correct", "case_id": record["case_id"],
                                             "doc_type": doc_type, "fields": sorted(checked)})
    return merged


# Foreign papers (Decree 23/2015 Art 20, 22; Circular 01/2020 Art 6): certified only when
# consularly legalised, or of a kind exempt from legalisation. The clerk says which.
FOREIGN_EXEMPT: dict[str, tuple[str, str]] = {
    "passport": ("hộ chiếu", "passport"),
    "identity_card": ("thẻ căn cước, chứng minh nhân dân", "identity card"),
    "residence_card": ("thẻ thường trú, thẻ cư trú", "residence card"),
    "driving_licence": ("giấy phép lái xe", "driving licence"),
    "diploma": ("văn bằng", "diploma"),
    "transcript": ("bảng điểm, phụ lục văn bằng", "transcript"),
}
FOREIGN_STATES = ("none", "legalised", "not_legalised", *(f"exempt:{k}" for k in FOREIGN_EXEMPT))


class ForeignPaper(ActionRefused):
    """A foreign paper neither legalised nor exempt: it may not be certified (Art 22)."""


def mark_foreign(state: State, record: dict, *, actor: str, value: str) -> dict:
    """The clerk's finding on a paper issued abroad: ``none`` (a Vietnamese paper),
    ``legalised`` (consular legalisation seen), ``not_legalised``, or ``exempt:<kind>`` (a
    kind of FOREIGN_EXEMPT). Kept on the case with who and when, and audited."""
    from pipeline.casework.status import save_status
    from storage.db.cases import Conflict
    from storage.evidence.audit import append_event

    if value not in FOREIGN_STATES:
        raise ValueError(f"foreign must be one of {', '.join(FOREIGN_STATES)}")
    _check_waiting(record)
    finding = {"state": value, "actor": actor,
               "at": datetime.now(UTC).isoformat(timespec="seconds")}
    try:
        updated = save_status(state, record["case_id"], record["status"], actor=actor,
                              expect_version=record["version"], foreign=finding)
    except Conflict as exc:
        raise NotWaiting(exc.status) from None
    append_event(state.store, actor=actor, action="review", object=f"originals/{record['sha256']}",
                 object_sha256=record["sha256"],
                 details={"act": "foreign", "case_id": record["case_id"], "foreign": value})
    return updated


def foreign_problem(record: dict) -> str:
    """Why this case may not be certified as a foreign paper ("" when it may)."""
    state = ((record.get("foreign") or {}).get("state")) or "none"
    if state != "not_legalised":
        return ""
    kinds_vi = ", ".join(vi for vi, _en in FOREIGN_EXEMPT.values())
    kinds_en = ", ".join(en for _vi, en in FOREIGN_EXEMPT.values())
    return ("Giấy tờ do cơ quan nước ngoài cấp chưa được hợp pháp hóa lãnh sự: không được chứng "
            "thực (Điều 22 Nghị định 23/2015); từ chối với lý do `foreign`, trừ khi là giấy tờ "
            f"được miễn hợp pháp hóa ({kinds_vi}). / A paper issued abroad and not legalised "
            "may not be certified (Decree 23/2015 Art 22): refuse it on the ground `foreign`, "
            f"unless it is of a kind exempt from legalisation ({kinds_en}).")


def mark_reviewed(state: State, record: dict, *, actor: str) -> dict:
    """A clerk checked the case: it now waits for a certifier (READY)."""
    from pipeline.casework.status import save_status
    from storage.db.cases import Conflict
    from storage.evidence.audit import append_event

    try:
        updated = save_status(state, record["case_id"], DocStatus.READY, actor=actor,
                              expect_status={DocStatus.NEEDS_REVIEW}, reviewed_by=actor,
                              reviewed_at=datetime.now(UTC).isoformat(timespec="seconds"))
    except Conflict as exc:
        raise NotWaiting(exc.status) from None
    sha = record["sha256"]
    append_event(state.store, actor=actor, action="review", object=f"originals/{sha}",
                 object_sha256=sha, details={"act": "mark_reviewed", "case_id":
                                             record["case_id"],
                                             "reasons": record.get("review_reasons", [])})
    return updated


def proposed_split(state: State, record: dict) -> str:
    """The split the machine proposes for a case ("1; 2-3"), from its stored OCR; "" for a
    one-page file."""
    from pipeline.flow import load_ocr
    from pipeline.steps.classify import papers_in
    from pipeline.steps.split import parts_text, proposed_parts

    pages = load_ocr(state.store, record["sha256"]) or []
    if len(pages) < 2:
        return ""
    return parts_text(proposed_parts(papers_in(pages), len(pages)))


def split_document(settings: Settings, state: State, record: dict, *, actor: str,
                   parts: str) -> tuple[Any, list[str]]:
    """A clerk splits a file that holds several papers (issue 16 point 3: one number per
    original paper, Decree 23/2015 Art 13): each part ("1; 2-3": pages per paper) becomes a
    file of its own, taken in as a new case of the same dossier; the file's own case ends
    REJECTED with `split_into_papers` and the file stays stored, untouched, as evidence. The
    audit log links the file to its parts. Returns the dossier and the new case ids, still to
    be processed (ecopy.web.processing.Processor.submit). ValueError for a split that does not
    cover every page once, in order."""
    from pipeline.flow import Accepted, fetch_original, intake, reject
    from pipeline.reasons import Reason
    from pipeline.steps.split import parse_parts, parts_text, write_parts
    from storage.db.cases import Conflict, note
    from storage.db.dossiers import dossier_by_id
    from storage.evidence.audit import append_event

    if record.get("status") != DocStatus.NEEDS_REVIEW:
        raise NotWaiting(record.get("status", ""))
    page_count = int(record.get("pages") or 0)
    chosen = parse_parts(parts, page_count)
    with state.db.read() as s:
        dossier = dossier_by_id(s, record["dossier_id"])
    if dossier is None:
        raise NotWaiting("missing")
    opt = stage_options(record, settings, actor)
    sha = record["sha256"]
    work = Path(tempfile.mkdtemp(prefix="ecopy-split-"))
    try:
        original = fetch_original(state.store, sha, work, record.get("name") or "scan")
        files = write_parts(original, record.get("kind", ""), chosen, work / "parts",
                            record.get("name", ""))
        try:  # the file's own case first: of two clerks splitting at once, one goes on
            reject(state, opt, agency_code=dossier.agency, source=record.get("name", ""),
                   name=record.get("name", ""), sha=sha, case_id=record["case_id"],
                   reason=Reason.SPLIT_INTO_PAPERS,
                   params={"count": len(chosen), "split": parts_text(chosen)},
                   record_extra={"split_into": parts_text(chosen)},
                   expect_status={DocStatus.NEEDS_REVIEW})
        except Conflict as exc:
            raise NotWaiting(exc.status) from None
        made: list[tuple[str, str, str]] = []
        for part, path in zip(chosen, files, strict=True):
            taken = intake(state, opt, dossier=dossier, path=path)
            if isinstance(taken, Accepted):
                with state.db.write() as s:
                    note(s, taken.case_id, split_from={"case_id": record["case_id"],
                                                       "sha256": sha,
                                                       "pages": parts_text([part])})
                made.append((taken.case_id, taken.sha256, parts_text([part])))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    append_event(state.store, actor=actor, action="split", object=f"originals/{sha}",
                 object_sha256=sha, details={
                     "case_id": record["case_id"],
                     "parts": [{"case_id": c, "sha256": h, "pages": p} for c, h, p in made]})
    return dossier, [case_id for case_id, _, _ in made]


# ------------------------------------------------------------------ certify, refuse, cancel


def settings_for_signer(settings: Settings, full_name: str, title: str) -> Settings:
    """Settings whose certifier is the person approving: one of the commune's configured
    certifiers (ECOPY_CERTIFIERS_FILE, or the ECOPY_CERTIFIER_* one), with their position,
    basis and key. Anyone else is refused: a copy is signed only by a person the law lets
    certify (Decree 280/2025 Art 5), with the key bound to them.

    With the dev PKI and no certifiers file, a TEST certificate is issued to whichever
    certifier account approves, as the Chairman or a Vice-Chairman by their title (or the
    configured one); any other title is refused as it would be at start-up.
    """
    from ecopy.settings import certifiers, with_certifier_key
    from pipeline.casework.certifiers import CertifierEntry, find_certifier
    from pipeline.vn.tz import VN_TZ

    full_name, title = full_name.strip(), title.strip()
    if not full_name:
        full_name = settings.certifier_name
    entry = find_certifier(certifiers(settings), settings.commune_code, full_name)
    if entry is None and settings.key_source == "dev" and settings.certifiers_file is None:
        position = title or settings.certifier_title
        basis = "chairman" if vn_fold(position).startswith("CHU TICH") else "vice_chairman"
        entry = CertifierEntry(name=full_name, position=position, basis=basis,
                               commune=settings.commune_code, decision="TEST",
                               specimen_notice="TEST")
        problems = entry.problems(real_keys=False)
        if problems:
            raise NotAllowed(f"{full_name}: {'; '.join(problems)}")
    if entry is None:
        raise NotAllowed(f"{full_name} không phải người thực hiện chứng thực đã cấu hình của xã "
                         f"{settings.commune_code}. / {full_name} is not a configured "
                         f"certifier of commune {settings.commune_code}.")
    if not entry.holds_on(datetime.now(VN_TZ).date()):
        raise NotAllowed(f"{entry.name}: căn cứ ký ({entry.decision}) không còn hiệu lực hôm "
                         f"nay ({entry.valid_from or '…'} – {entry.valid_until or '…'}). / "
                         f"the basis to certify ({entry.decision}) does not hold today.")
    return with_certifier_key(
        replace(settings, certifier_name=entry.name, certifier_title=entry.position,
                certifier_basis=entry.basis, certifier_decision=entry.decision,
                certifier_decision_date=entry.decision_date,
                certifier_specimen=entry.specimen_notice,
                certifier_certificate_sha256=entry.certificate_sha256),
        entry.key)


def _claim_approval(state: State, record: dict, actor: str,
                    queued: dict | None = None) -> dict:
    """Move the case to CERTIFYING for this approval (compare-and-set): of two approvals at
    once exactly one gets it, so no case gets two register numbers. An approval left
    CERTIFYING longer than APPROVAL_STALE died with its process: it is taken over with its
    copy id, so a register number it had claimed is reused, not lost."""
    from pipeline.casework.status import save_status
    from storage.db.cases import Conflict

    now = datetime.now(UTC)
    claim = {"actor": actor, "at": now.isoformat(timespec="seconds"),
             **({"queued": True, **queued} if queued else {})}
    try:
        return save_status(state, record["case_id"], DocStatus.CERTIFYING, actor=actor,
                           expect_status=WAITING, copy_id=record.get("copy_id") or uuid4().hex,
                           approval=claim, approved_from=record["status"])
    except Conflict as exc:
        if exc.status != DocStatus.CERTIFYING:
            raise NotWaiting(exc.status) from None
    current = find_case(state, record["case_id"], record["agency"]) or {}
    held = current.get("approval") or {}
    since = datetime.fromisoformat(current.get("status_at") or now.isoformat())
    if now - since < APPROVAL_STALE:
        raise InProgress(f"{held.get('actor', '?')} is already certifying this document")
    try:
        return save_status(state, record["case_id"], DocStatus.CERTIFYING, actor=actor,
                           expect_version=current["version"],
                           approval={**claim, "taken_over_from": held})
    except Conflict:
        raise InProgress("another approval took this document over") from None


def approve_document(settings: Settings, state: State, record: dict, *, actor: str,
                     role: str, requester_name: str | None = None) -> DocumentOutcome:
    """Certify a waiting case now with the configured keys (``settings`` names the signer,
    see `settings_for_signer`). FILED on success, else REJECTED with the reason."""
    claimed = _approve(state, record, actor=actor, role=role)
    return _certify_claimed(settings, state, record, claimed, actor=actor,
                            requester_name=requester_name)


def queue_approval(settings: Settings, state: State, record: dict, *, actor: str, role: str,
                   requester_name: str | None, enqueue: Any) -> dict:
    """A certifier's approval in the distributed deployment: the case is claimed for it
    (CERTIFYING, compare-and-set) and `enqueue(case_id)` hands it to the signing worker,
    which alone holds the keys (`finish_approval`). The web app signs nothing."""
    claimed = _approve(state, record, actor=actor, role=role, queued={
        "signer_name": settings.certifier_name, "signer_title": settings.certifier_title,
        "requester_name": requester_name or ""})
    enqueue(record["case_id"])
    return claimed


def finish_approval(settings: Settings, state: State, case_id: str) -> DocumentOutcome | None:
    """The signing worker's half of `queue_approval`: certify the claimed case as the
    certifier who approved it (None when the case is no longer waiting for it)."""
    from storage.db.cases import get_case

    with state.db.read() as s:
        record = get_case(s, case_id)
    approval = (record or {}).get("approval") or {}
    if not record or record.get("status") != DocStatus.CERTIFYING or not approval.get("queued"):
        return None
    signer = settings_for_signer(settings, approval.get("signer_name", ""),
                                 approval.get("signer_title", ""))
    origin = {**record, "status": record.get("approved_from") or DocStatus.READY}
    # a crash leaves the case CERTIFYING: rq retries the job, which takes it up again
    return _certify_claimed(signer, state, origin, record, actor=approval["actor"],
                            requester_name=approval.get("requester_name") or None,
                            give_back=False)


def _approve(state: State, record: dict, *, actor: str, role: str,
             queued: dict | None = None) -> dict:
    from storage.evidence.audit import append_event

    if role not in APPROVERS:
        raise NotAllowed(f"role {role or '(none)'!r} may not approve a certification "
                         "(certifiers only)")
    problem = foreign_problem(record)
    if problem:
        raise ForeignPaper(problem)
    if record.get("status") not in (*WAITING, DocStatus.CERTIFYING):  # certifying: see claim
        raise NotWaiting(str(record.get("status")))
    claimed = _claim_approval(state, record, actor, queued)
    sha = record["sha256"]
    append_event(state.store, actor=actor, action="review", object=f"originals/{sha}",
                 object_sha256=sha, details={"act": "approve", "case_id": record["case_id"],
                                             "copy_id": claimed["copy_id"],
                                             "queued": bool(queued),
                                             "reasons": record.get("review_reasons", [])})
    return claimed


def _certify_claimed(settings: Settings, state: State, record: dict, claimed: dict, *,
                     actor: str, requester_name: str | None,
                     give_back: bool = True) -> DocumentOutcome:
    from ecopy.keys import build_certify_context
    from pipeline.casework.status import save_status
    from pipeline.flow import certify_stored
    from storage.db.cases import Conflict

    settings = replace(settings, actor=actor)
    workdir = Path(tempfile.mkdtemp(prefix=f"ecopy-approve-{record['case_id'][:12]}-"))
    try:
        return certify_stored(build_certify_context(settings, state,
                                                    requester_name=requester_name),
                              stage_options(record, settings, actor), record=claimed,
                              workdir=workdir)
    except BaseException:  # not a refusal but a crash: the case waits again, same copy id
        with contextlib.suppress(Conflict):  # unless it got past CERTIFYING meanwhile
            if give_back:
                save_status(state, record["case_id"],
                            claimed.get("approved_from") or record["status"], actor=actor,
                            expect_status={DocStatus.CERTIFYING})
        raise
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def refuse_document(settings: Settings, state: State, record: dict, *, actor: str, role: str,
                    ground_code: str, agency_code: str, detail: str = ""
                    ) -> tuple[DocumentOutcome, str]:
    """Refuse under Decree 23/2015 Art 22 on one of its grounds (``ground_code``, a key of
    pipeline.reasons.REFUSAL_GROUNDS), with what the certifier adds (``detail``): the case,
    the refusal record, the register book's refusals and the audit log keep both. Only a
    certifier refuses (Art 22 names the person who certifies), as only a certifier approves.
    Returns the outcome and the store key of the violation record a forged paper gets ("" for
    any other ground)."""
    from pipeline.flow import reject
    from pipeline.reasons import REFUSAL_GROUNDS, Reason, ground_text
    from storage.db.cases import Conflict

    if role not in APPROVERS:
        raise NotAllowed(f"role {role or '(none)'!r} may not refuse a certification "
                         "(certifiers only)")

    if ground_code not in REFUSAL_GROUNDS:
        raise ValueError(f"the ground must be one of {', '.join(REFUSAL_GROUNDS)} "
                         "(Decree 23/2015 Art 22)")
    detail = " ".join(detail.split())
    ground = ground_text(ground_code, detail)
    _check_waiting(record)
    try:
        outcome = reject(state, stage_options(record, settings, actor),
                         agency_code=agency_code, source=record.get("name", ""),
                         name=record.get("name", ""), sha=record["sha256"],
                         case_id=record["case_id"], reason=Reason.REFUSED_BY_CLERK,
                         params={"ground": ground, "ground_code": ground_code},
                         record_extra={"ground_code": ground_code},
                         expect_status=set(WAITING))
    except Conflict as exc:
        raise NotWaiting(exc.status) from None
    violation = _violation_record(state, record, agency_code=agency_code, actor=actor,
                                  detail=detail) if ground_code == "forged" else ""
    return outcome, violation


def _violation_record(state: State, record: dict, *, agency_code: str, actor: str,
                      detail: str) -> str:
    """A forged paper (Circular 01/2020 Art 11): the violation record, kept as evidence with
    the refusal, and its audit event. The key of the record."""
    from pipeline.vn.tz import VN_TZ
    from storage.db.dossiers import load_dossier
    from storage.evidence.audit import append_event
    from storage.evidence.violations import record_violation

    now = datetime.now(VN_TZ)
    with state.db.read() as s:
        dossier = load_dossier(s, agency_code, record.get("dossier_id", ""))
    requester = {"person_id": dossier.person_id, "name": dossier.person_name} if dossier \
        else {}
    key, kept = record_violation(
        state.store, agency_code=agency_code, year=now.year, case_id=record["case_id"],
        sha256=record["sha256"], document_name=record.get("document_name") or
        record.get("doc_type") or "", found_at=now.isoformat(timespec="seconds"),
        certifier=actor, detail=detail, requester=requester)
    append_event(state.store, actor=actor, action="violation", object=key,
                 object_sha256=record["sha256"],
                 details={"case_id": record["case_id"], "legal_basis": kept["legal_basis"],
                          "paper_retained": True})
    return key


def cancel_certification(state: State, copy_id: str, *, decision_ref: str,
                         decision_date: str | None, reason: str, actor: str, role: str,
                         agencies: tuple[str, ...] | None = None) -> tuple[dict, bool]:
    """(decision on record, True when it was already cancelled before this call).

    Raises storage.evidence.cancellations.NotAllowed / UnknownCopy / CancellationError."""
    from pipeline.casework.cancellation import cancel_copy

    decision, made = cancel_copy(state, copy_id, decision_ref=decision_ref,
                                 decision_date=decision_date, reason=reason, actor=actor,
                                 role=role, agencies=agencies)
    return decision, not made
