"""A person's e-copies (storage.evidence.warehouse) for signed-in staff, and their download.

Only copies certified by the user's own agency (the register entry's commune code), or by a
commune it succeeded in the 2025 mergers (storage.migration.succession), are listed or
served; another agency's copy answers 404 exactly like a copy that does not exist. Every
look at a person's warehouse and every download is audited (they show personal data).
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from ecopy.web import i18n
from ecopy.web.app import audit_event, render, t
from ecopy.web.security import require
from storage.backends import ObjectStore
from storage.evidence.cancellations import find_cancellation, find_copy
from storage.evidence.warehouse import list_copies
from storage.migration.succession import visible_agencies

router = APIRouter()

PERSON_ID = re.compile(r"^\d{12}$")
COPY_ID = re.compile(r"^[0-9a-f]{32}$")  # uuid4().hex, as pipeline.certify makes them
ROLES = ("clerk", "certifier", "auditor", "admin")

i18n.register({
    "warehouse.title": ("Kho dữ liệu điện tử của công dân", "A person's electronic data store"),
    "warehouse.lookup": ("Tìm theo số định danh cá nhân", "Find by personal ID number"),
    "warehouse.person_id": ("Số định danh cá nhân (12 chữ số)", "Personal ID number (12 digits)"),
    "warehouse.open": ("Xem", "Show"),
    "warehouse.bad_id": ("Số định danh cá nhân phải gồm đúng 12 chữ số.",
                         "A personal ID number has exactly 12 digits."),
    "warehouse.of": ("Bản sao điện tử của công dân số định danh {person_id}",
                     "Electronic copies of personal ID {person_id}"),
    "warehouse.scope": ("Chỉ hiện các bản sao do cơ quan của bạn (xã mã {code}) chứng thực.",
                        "Only copies certified by your agency (commune {code}) are shown."),
    "warehouse.none": ("Chưa có bản sao điện tử nào do cơ quan của bạn chứng thực cho người "
                       "này.",
                       "Your agency has certified no electronic copy for this person yet."),
    "warehouse.count": ("{n} bản sao", "{n} copies"),
    "warehouse.col_document": ("Tên giấy tờ", "Document"),
    "warehouse.col_name": ("Họ tên trên giấy tờ", "Name on the document"),
    "warehouse.col_number": ("Số chứng thực", "Certification number"),
    "warehouse.col_date": ("Ngày chứng thực", "Date certified"),
    "warehouse.col_pages": ("Số trang", "Pages"),
    "warehouse.col_status": ("Tình trạng", "Status"),
    "warehouse.col_actions": ("Thao tác", "Actions"),
    "warehouse.valid": ("Đã chứng thực", "Certified"),
    "warehouse.cancelled": ("Đã hủy ({ref})", "Cancelled ({ref})"),
    "warehouse.download": ("Tải bản sao (PDF)", "Download the copy (PDF)"),
    "warehouse.download_label": ("Tải bản sao {document} số {number} (PDF)",
                                 "Download copy {document} no. {number} (PDF)"),
    "warehouse.verify": ("Báo cáo xác thực", "Verification report"),
    "warehouse.verify_label": ("Báo cáo xác thực của bản sao {document} số {number}",
                               "Verification report of copy {document} no. {number}"),
    "warehouse.number": ("Số {number}, quyển {book}-SCT/BS", "No. {number}, book {book}-SCT/BS"),
})


def copy_of_agency(store: ObjectStore, copy_id: str, agency: str,
                   ) -> tuple[str, dict[str, Any]] | None:
    """(PDF key, metadata) of a copy certified by `agency`; None when absent or another's."""
    if not COPY_ID.match(copy_id):
        return None
    found = find_copy(store, copy_id)
    if found is None:
        return None
    key, meta = found
    entry = meta.get("register_entry")
    if (not isinstance(entry, dict)
            or str(entry.get("agency_code", "")) not in visible_agencies(store, agency)):
        return None
    return key.removesuffix(".json") + ".pdf", meta


def _row(store: ObjectStore, meta: dict[str, Any]) -> dict[str, Any]:
    entry = meta.get("register_entry") or {}
    fields = meta.get("fields") or {}
    name = fields.get("full_name") or {}
    copy_id = str(meta.get("copy_id", ""))
    cancellation = find_cancellation(store, copy_id)
    return {
        "copy_id": copy_id,
        "document_name": str(meta.get("document_name") or entry.get("document_name") or ""),
        "doc_type": str(meta.get("doc_type", "")),
        "full_name": str(name.get("value", "")) if isinstance(name, dict) else "",
        "number": entry.get("number", ""),
        "book": entry.get("book", ""),
        "date": str(entry.get("date", "")),
        "pages": meta.get("pages", ""),
        "cancelled_ref": str((cancellation or {}).get("decision_ref", "")) if cancellation
        else "",
        "linkable": bool(COPY_ID.match(copy_id)),
    }


def agency_copies(store: ObjectStore, person_id: str, agency: str) -> list[dict[str, Any]]:
    """The person's copies certified by `agency`, oldest first, as table rows."""
    rows = []
    agencies = visible_agencies(store, agency)
    for meta in list_copies(store, person_id):
        entry = meta.get("register_entry")
        if isinstance(entry, dict) and str(entry.get("agency_code", "")) in agencies:
            rows.append(_row(store, meta))
    return rows


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/warehouse")
async def warehouse_lookup(request: Request, person_id: str | None = None) -> Response:
    require(request, *ROLES)
    error = ""
    if person_id is not None:
        wanted = person_id.strip()
        if PERSON_ID.match(wanted):
            return RedirectResponse(f"/warehouse/{wanted}", 303)
        error = t(request, "warehouse.bad_id")
    return _no_store(render(request, "warehouse.html", {
        "person_id": "", "typed": (person_id or "")[:40], "error": error, "rows": None},
        status=400 if error else 200))


@router.get("/warehouse/{person_id}")
async def warehouse_person(request: Request, person_id: str) -> Response:
    account, _session = require(request, *ROLES)
    if not PERSON_ID.match(person_id):
        raise HTTPException(404)
    store = request.app.state.store
    rows = await run_in_threadpool(agency_copies, store, person_id, account.agency)
    audit_event(request, account.username, "warehouse_view", f"warehouse/{person_id}",
                copies=len(rows))
    return _no_store(render(request, "warehouse.html", {
        "person_id": person_id, "typed": person_id, "error": "", "rows": rows}))


@router.get("/copies/{copy_id}.pdf")
async def download_copy(request: Request, copy_id: str) -> Response:
    account, _session = require(request, *ROLES)
    store = request.app.state.store
    found = await run_in_threadpool(copy_of_agency, store, copy_id, account.agency)
    if found is None:
        raise HTTPException(404)
    key, meta = found
    try:
        data = await run_in_threadpool(store.get, key)
    except KeyError:
        raise HTTPException(404) from None
    audit_event(request, account.username, "copy_download", copy_id,
                sha=str(meta.get("pdf_sha256", "")))
    return _no_store(Response(data, media_type="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="ban-sao-{copy_id}.pdf"'}))
