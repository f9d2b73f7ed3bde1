"""A person's e-copies (the catalogue of storage.evidence.warehouse) for signed-in staff,
and their download.

Only copies certified by the user's own agency (the register entry's commune code), or by a
commune it succeeded in the 2025 mergers (storage.db.successions), are listed or served;
another agency's copy answers 404 exactly like a copy that does not exist. Every look at a
person's warehouse and every download is recorded in the access log (who read whose data).
The personal ID is posted in the form body, never put in a URL: URLs end up in proxies'
access logs and browser histories. The list is an
indexed query of the catalogue, a page at a time; each row's name on the paper is read from
its metadata object by key.
"""

from __future__ import annotations

import json
import re
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from ecopy.web import i18n
from ecopy.web.access import record_read
from ecopy.web.app import render, t
from ecopy.web.security import check_csrf, require
from storage.backends import ObjectStore
from storage.db import Database
from storage.db.catalogue import cancellation_row, copies_of_person, copy_row
from storage.db.paging import BadCursor
from storage.db.successions import visible_agencies

router = APIRouter()

PERSON_ID = re.compile(r"^\d{12}$")
COPY_ID = re.compile(r"^[0-9a-f]{32}$")  # uuid4().hex, as pipeline.steps.certify makes them
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


def copy_of_agency(db: Database, copy_id: str, agency: str) -> Any:
    """The catalogue row of a copy certified by `agency` (or a commune it succeeded); None
    when absent or another's."""
    if not COPY_ID.match(copy_id):
        return None
    with db.read() as s:
        row = copy_row(s, copy_id)
        if row is None or row.agency not in visible_agencies(s, agency):
            return None
    return row


def _metadata(store: ObjectStore, pdf_key: str) -> dict[str, Any]:
    try:
        meta = json.loads(store.get(pdf_key.removesuffix(".pdf") + ".json"))
    except (KeyError, ValueError):
        return {}
    return meta if isinstance(meta, dict) else {}


def _row(store: ObjectStore, copy: Any, cancelled_ref: str) -> dict[str, Any]:
    meta = _metadata(store, copy.pdf_key)
    name = (meta.get("fields") or {}).get("full_name") or {}
    return {
        "copy_id": copy.copy_id, "document_name": copy.document_name, "doc_type": copy.doc_type,
        "full_name": str(name.get("value", "")) if isinstance(name, dict) else "",
        "number": copy.register_number, "book": copy.register_book,
        "date": str((meta.get("register_entry") or {}).get("date", "")),
        "pages": copy.pages or meta.get("pages", ""), "cancelled_ref": cancelled_ref,
        "linkable": bool(COPY_ID.match(copy.copy_id)),
    }


def agency_copies(db: Database, store: ObjectStore, person_id: str, agency: str,
                  cursor: str = "") -> tuple[list[dict[str, Any]], str]:
    """A page of the person's copies certified by `agency`, oldest first, as table rows;
    and the next page's cursor."""
    with db.read() as s:
        agencies = visible_agencies(s, agency)
        try:
            page = copies_of_person(s, person_id, agencies=agencies, cursor=cursor)
        except BadCursor:
            page = copies_of_person(s, person_id, agencies=agencies)
        refs = {}
        for copy in page.items:
            if copy.cancelled:
                found = cancellation_row(s, copy.copy_id)
                refs[copy.copy_id] = found.decision_ref if found else "?"
    return [_row(store, c, refs.get(c.copy_id, "")) for c in page.items], page.next_cursor


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/warehouse")
async def warehouse_lookup(request: Request) -> Response:
    require(request, *ROLES)
    return _no_store(render(request, "warehouse.html", {
        "person_id": "", "typed": "", "error": "", "rows": None}))


@router.post("/warehouse")
async def warehouse_person(request: Request) -> Response:
    account, session = require(request, *ROLES)
    form = await check_csrf(request, session)
    person_id, after = (str(form.get(name) or "").strip() for name in ("person_id", "after"))
    if not PERSON_ID.match(person_id):
        return _no_store(render(request, "warehouse.html", {
            "person_id": "", "typed": person_id[:40], "error": t(request, "warehouse.bad_id"),
            "rows": None}, status=400))
    rows, next_cursor = await run_in_threadpool(
        agency_copies, request.app.state.db, request.app.state.store, person_id,
        account.agency, after[:200])
    record_read(request, account, "warehouse", person_id)
    return _no_store(render(request, "warehouse.html", {
        "person_id": person_id, "typed": person_id, "error": "", "rows": rows,
        "next": next_cursor}))


@router.get("/copies/{copy_id}.pdf")
async def download_copy(request: Request, copy_id: str) -> Response:
    account, _session = require(request, *ROLES)
    store = request.app.state.store
    found = await run_in_threadpool(copy_of_agency, request.app.state.db, copy_id,
                                    account.agency)
    if found is None:
        raise HTTPException(404)
    try:
        data = await run_in_threadpool(store.get, found.pdf_key)
    except KeyError:
        raise HTTPException(404) from None
    record_read(request, account, "copy", found.person_id, ref=copy_id)
    return _no_store(Response(data, media_type="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="ban-sao-{copy_id}.pdf"'}))
