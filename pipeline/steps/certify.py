"""Certify and file: register number → e-copy with statement → two signatures → warehouse.

The register number is claimed first because the statement printed on the copy carries it.
If building or signing then fails, the number stays used (entries are never deleted) and a
note explaining the void is written beside it, so the register keeps no silent gaps.

Everything written here is evidence (the store) plus its catalogue rows; the case's status
and the portal's events are saved by the caller (pipeline.flow.certify) in one transaction
once the copy is filed.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from pipeline.casework.procedures import procedure as procedure_of
from pipeline.casework.procedures import procedures
from pipeline.reasons import Reason, Rejected
from pipeline.steps.assemble import AssembledCopy, build_ecopy
from pipeline.steps.classify import DOCUMENT_NAMES
from pipeline.steps.issueqr import issue_qr_text
from pipeline.types import (
    Certification,
    Certifier,
    Classification,
    Extraction,
    OcrPage,
    PageScan,
    RegisterEntry,
    to_jsonable,
)
from pipeline.vn.adminunits import units_of_fields
from pipeline.vn.tz import VN_TZ
from storage.backends import ObjectStore
from storage.db.catalogue import add_register_entry, void_register_entry
from storage.evidence import dump
from storage.evidence.audit import append_event
from storage.evidence.originals import retain_original
from storage.evidence.register import (
    RegisterExhausted,
    allocate_register_number,
    entry_key,
    find_by_copy_id,
    void_note_key,
)
from storage.evidence.warehouse import file_copy
from storage.state import State

MANIFEST_SCHEMA = "ecopy.manifest/1"

# Signs `unsigned` into `signed` (certifier, then agency); built by the shell from key sources.
SignFn = Callable[[Path, Path, AssembledCopy], None]


@dataclass(frozen=True)
class CertifyContext:
    state: State
    agency_code: str
    agency_name: str
    certifier: Certifier
    sign: SignFn
    font_path: Path
    bold_font_path: Path | None
    software: str  # "ecopy 0.1.0"
    verify_base_url: str
    test_mode: bool
    # the agency signature's lines (signing.sign.agency_stamp_lines): the assembler sizes
    # its box so that they print at 10 pt, never shrunk
    agency_stamp: tuple[str, ...]
    book: str | None = None  # None: "01/<year>"
    requester_name: str | None = None
    actor: str = "ecopy"  # who the audit log names for register, sign and file events

    @property
    def store(self) -> ObjectStore:
        return self.state.store


@dataclass(frozen=True)
class Certified:
    copy_id: str
    entry: RegisterEntry
    ecopy_key: str
    pdf_sha256: str
    metadata: dict[str, Any]  # the warehouse metadata (what the catalogue indexes)


@dataclass(frozen=True)
class IssueInfo:
    """What the QR of an issued copy names besides the copy (Circular 01/2023)."""

    dossier_code: str = ""
    procedure: str = ""


def fee_vnd(pages: int) -> int:
    """Circular 226/2016: 2,000 VND for each of the first two pages, 1,000 after, ≤ 200,000."""
    return min(200_000, 2_000 * min(pages, 2) + 1_000 * max(pages - 2, 0))


def certify_document(
    ctx: CertifyContext,
    *,
    pages: Sequence[tuple[PageScan, OcrPage]],
    classification: Classification,
    extraction: Extraction,
    source_name: str,
    source_sha256: str,
    source_kind: str,
    source_size: int,
    person_id: str,
    workdir: Path,
    copy_id: str | None = None,
    issue: IssueInfo = IssueInfo(),
) -> Certified:
    """``copy_id`` given (a distributed sign job, retried after a crash): if a register entry
    was already claimed for it, that number is reused, so a retry never costs a second number.
    """
    now = datetime.now(VN_TZ)
    resumed = find_by_copy_id(ctx.store, ctx.agency_code, now.year, copy_id) if copy_id else None
    copy_id = copy_id or uuid.uuid4().hex
    doc_type = classification.doc_type
    document_name = DOCUMENT_NAMES[doc_type]
    requester = ctx.requester_name or extraction.get("full_name") or ""
    signer = f"{ctx.certifier.full_name}, {ctx.certifier.title}"

    def make_entry(number: int, prev_hash: str) -> RegisterEntry:
        return RegisterEntry(
            agency_code=ctx.agency_code,
            agency_name=ctx.agency_name,
            year=now.year,
            book=ctx.book or f"01/{now.year}",
            number=number,
            date=now.date().isoformat(),
            requester_name=requester,
            document_name=document_name,
            signer=signer,
            copies=1,
            fee_vnd=fee_vnd(len(pages)),
            electronic=True,
            notes="TEST — not legally valid" if ctx.test_mode else "",
            copy_id=copy_id,
            prev_hash=prev_hash,
        )

    if resumed is not None:
        entry = resumed  # claimed by an earlier attempt that did not finish; audited then
    else:
        try:
            entry = allocate_register_number(
                ctx.store, agency_code=ctx.agency_code, year=now.year, make_entry=make_entry
            )
        except RegisterExhausted as exc:
            raise Rejected(Reason.REGISTER_CONFLICT) from exc
        append_event(
            ctx.store,
            actor=ctx.actor,
            action="register",
            object=entry_key(ctx.agency_code, entry.year, entry.number),
            object_sha256=entry.entry_hash,
            details={"number": entry.number, "book": entry.book, "copy_id": copy_id,
                     "original_sha256": source_sha256},
        )
    with ctx.state.db.write() as s:  # idempotent: a resumed claim may be indexed already
        add_register_entry(s, to_jsonable(entry), entry.entry_hash)
    procedure = issue.procedure
    if procedure in procedures() or not procedure:  # a code the data file no longer knows
        procedure = procedure_of(procedure).code  # is printed as the dossier has it
    qr_text = issue_qr_text(ctx.verify_base_url, copy_id, dossier_code=issue.dossier_code,
                            procedure=procedure, person_id=person_id, doc_type=doc_type,
                            issued_at=now)
    manifest = _manifest(
        ctx,
        entry,
        classification,
        extraction,
        person_id,
        pages,
        source_name,
        source_sha256,
        source_kind,
        source_size,
        now,
    )
    manifest["issue"] = {"dossier_code": issue.dossier_code, "procedure": procedure,
                         "qr": qr_text}
    unsigned, signed = workdir / f"{copy_id}.unsigned.pdf", workdir / f"{copy_id}.pdf"
    try:
        assembled = build_ecopy(
            pages,
            Certification(entry, ctx.certifier, qr_text, ctx.test_mode),
            manifest,
            unsigned,
            font_path=ctx.font_path,
            bold_font_path=ctx.bold_font_path,
            agency_stamp=ctx.agency_stamp,
        )
        ctx.sign(unsigned, signed, assembled)
    except Exception as exc:
        reason = f"{type(exc).__name__}: {exc}"[:500]
        ctx.store.put(
            void_note_key(ctx.agency_code, now.year, entry.number),
            dump({"number": entry.number, "copy_id": copy_id, "void": True, "reason": reason}),
        )
        with ctx.state.db.write() as s:
            void_register_entry(s, ctx.agency_code, now.year, entry.number, reason)
        raise Rejected(Reason.SIGNING_FAILED, detail=str(exc)[:200]) from exc
    with open(signed, "rb") as fh:  # streamed: a 300-page copy is hundreds of MB
        pdf_sha = hashlib.file_digest(fh, "sha256").hexdigest()
    append_event(
        ctx.store,
        # the person whose act this is: the approving certifier on the web, else the
        # configured certifier `ecopy process` acts as (never the program itself)
        actor=ctx.actor if ctx.actor != "ecopy" else ctx.certifier.full_name,
        action="sign",
        object=copy_id,
        object_sha256=pdf_sha,
        details={"signer": signer, "agency_code": ctx.agency_code, "number": entry.number,
                 "original_sha256": source_sha256},
    )
    metadata = {
        **{k: manifest[k] for k in ("copy_id", "person_id", "doc_type", "document_name",
                                    "fields", "test_mode")},
        "register_entry": to_jsonable(entry),
        "pdf_sha256": pdf_sha,
        "original_sha256": source_sha256,
        "certified_at": now.isoformat(),
        "pages": len(pages),
    }
    retain_original(ctx.store, source_sha256)  # a copy issued from it: evidence from now on
    key = file_copy(ctx.store, person_id=person_id, doc_type=doc_type, copy_id=copy_id,
                    pdf_path=signed, metadata=metadata)
    append_event(
        ctx.store,
        actor=ctx.actor,
        action="file",
        object=key,
        object_sha256=pdf_sha,
        details={"copy_id": copy_id, "doc_type": doc_type},
    )
    return Certified(copy_id, entry, key, pdf_sha, metadata)


def _manifest(
    ctx: CertifyContext,
    entry: RegisterEntry,
    classification: Classification,
    extraction: Extraction,
    person_id: str,
    pages: Sequence[tuple[PageScan, OcrPage]],
    source_name: str,
    source_sha256: str,
    source_kind: str,
    source_size: int,
    now: datetime,
) -> dict[str, Any]:
    return {
        "schema": MANIFEST_SCHEMA,
        "copy_id": entry.copy_id,
        "person_id": person_id,
        "doc_type": classification.doc_type,
        "document_name": entry.document_name,
        "classification": to_jsonable(classification),
        "fields": {f.name: to_jsonable(f) for f in extraction.fields},
        "warnings": list(extraction.warnings),
        "places": units_of_fields({f.name: f.value for f in extraction.fields}),
        "original": {
            "sha256": source_sha256,
            "name": source_name,
            "kind": source_kind,
            "size": source_size,
        },
        "scan_page_count": len(pages),
        "pages": [
            {"index": s.index, "dpi": s.dpi, "rotation": s.rotation, "ocr_mean_conf": o.mean_conf}
            for s, o in pages
        ],
        "register_entry": to_jsonable(entry),
        "register_entry_hash": entry.entry_hash,
        "software": ctx.software,
        "test_mode": ctx.test_mode,
        "created_at": now.isoformat(timespec="seconds"),
    }
