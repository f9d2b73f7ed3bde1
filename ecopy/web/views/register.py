"""The register books (Mẫu số 19) and the cancellation list of the user's own agency.

Read-only pages for every role (auditors included). The books and their CSV/PDF exports come
from ecopy.reports.books, so a download is byte-for-byte what `ecopy register export` writes; the
chain status is that of `ecopy register check`. Another agency's register cannot be asked
for: the commune is the signed-in user's, or (``?agency=``) one it succeeded in the 2025
mergers (storage.migration.succession: its books keep their old commune code); any other
code is 404.

Cancellations: /cancellations lists the agency's decisions for its signed-in users;
/cancellations/public.json is the publishable list of `ecopy cancellations publish` (no
personal ID, no actor) and the one page besides /verify that needs no login, because
Decree 23/2015 wants cancelled copies in a list the public and receiving agencies can read.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import datetime

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from ecopy.reports.books import Book, book_csv, book_pdf, load_book, vn_date
from ecopy.settings import Settings
from ecopy.web import i18n
from ecopy.web.app import audit_event, render
from ecopy.web.security import require
from signing.sign import VN_TZ
from storage.backends import ObjectStore
from storage.evidence.cancellations import PUBLIC_FIELDS, list_cancellations, public_list
from storage.migration.succession import visible_agencies

router = APIRouter()

ROLES = ("clerk", "certifier", "auditor", "admin")
YEAR = re.compile(r"^\d{4}$")
COPY_ID = re.compile(r"^[0-9a-f]{32}$")

i18n.register({
    "register.title": ("Sổ chứng thực bản sao từ bản chính", "Register of certified copies"),
    "register.form": ("Mẫu số 19", "Form no. 19"),
    "register.agency": ("Cơ quan: {name} (xã mã {code})", "Agency: {name} (commune {code})"),
    "register.book_of": ("Sổ của xã", "Register of commune"),
    "register.own": ("{code} (xã hiện nay)", "{code} (current commune)"),
    "register.former": ("{code} (xã cũ, trước sắp xếp)", "{code} (former commune, before the "
                                                         "merger)"),
    "register.year": ("Năm", "Year"),
    "register.show": ("Xem", "Show"),
    "register.months": ("Chọn tháng", "Choose a month"),
    "register.month": ("Tháng {m}", "Month {m}"),
    "register.whole_year": ("Cả năm", "Whole year"),
    "register.period_month": ("Tháng {m:02d} năm {y}", "{m:02d}/{y}"),
    "register.period_year": ("Năm {y}", "Year {y}"),
    "register.books": ("Quyển số: {books}", "Book: {books}"),
    "register.count": ("{n} mục trong kỳ", "{n} entries in this period"),
    "register.empty": ("Không có mục nào trong kỳ này.", "No entries in this period."),
    "register.export": ("Tải sổ của kỳ này", "Download this period"),
    "register.export_csv": ("Tải tệp CSV (Excel)", "Download CSV (Excel)"),
    "register.export_pdf": ("Tải tệp PDF để in", "Download printable PDF"),
    "register.chain_ok": ("Sổ chứng thực {code}/{y}: nguyên vẹn — không phát hiện mục bị sửa, "
                          "xóa hoặc chèn.",
                          "Register {code}/{y}: intact — no entry edited, removed or inserted."),
    "register.chain_bad": ("Sổ chứng thực {code}/{y}: {n} vấn đề", "Register {code}/{y}: {n} "
                                                                  "problem(s)"),
    "register.bad_period": ("Năm hoặc tháng không hợp lệ.", "Invalid year or month."),
    "register.col1": ("Số thứ tự/Số chứng thực", "No./Certification number"),
    "register.col2": ("Ngày, tháng, năm chứng thực", "Date certified"),
    "register.col3": ("Họ tên người yêu cầu chứng thực", "Requester"),
    "register.col4": ("Tên bản chính giấy tờ, văn bản", "Original document"),
    "register.col5": ("Họ tên, chức danh người ký chứng thực", "Signer and title"),
    "register.col6": ("Số bản sao đã được chứng thực", "Copies certified"),
    "register.col7": ("Lệ phí/Phí chứng thực", "Fee (VND)"),
    "register.col8": ("Bản sao điện tử", "Electronic copy"),
    "register.col9": ("Ghi chú", "Notes"),
    "cancellations.title": ("Danh sách bản sao chứng thực đã bị hủy",
                            "Cancelled certifications"),
    "cancellations.scope": ("Các quyết định hủy chứng thực của cơ quan bạn (xã mã {code}).",
                            "Cancellation decisions of your agency (commune {code})."),
    "cancellations.none": ("Cơ quan của bạn chưa hủy bản sao chứng thực nào.",
                           "Your agency has cancelled no certification."),
    "cancellations.public": ("Danh sách công khai (JSON, mọi người xem được)",
                             "Public list (JSON, readable by anyone)"),
    "cancellations.col_no": ("STT", "No."),
    "cancellations.col_ref": ("Số quyết định hủy", "Decision reference"),
    "cancellations.col_date": ("Ngày quyết định", "Decision date"),
    "cancellations.col_number": ("Số chứng thực", "Certification number"),
    "cancellations.col_document": ("Tên bản chính giấy tờ, văn bản", "Original document"),
    "cancellations.col_copy": ("Mã bản sao điện tử", "E-copy code"),
    "cancellations.col_reason": ("Lý do hủy", "Reason"),
    "cancellations.number": ("Số {number}, quyển {book}-SCT/BS", "No. {number}, book "
                                                                "{book}-SCT/BS"),
})


def register_years(store: ObjectStore, agency: str) -> list[int]:
    """Years with a register for `agency`, newest first."""
    years = set()
    for key in store.list(f"register/{agency}/"):
        parts = key.split("/")
        if len(parts) == 4 and YEAR.match(parts[2]):
            years.add(int(parts[2]))
    return sorted(years, reverse=True)


def _period(year: str | None, month: str | None, years: list[int],
            ) -> tuple[int, int | None] | None:
    """(year, month or None for the whole year) from the query, or None when invalid."""
    now = datetime.now(VN_TZ)
    if year in (None, ""):
        y = years[0] if years else now.year
    elif YEAR.match(year) and 2000 <= int(year) <= 2100:
        y = int(year)
    else:
        return None
    if month in (None, ""):
        return y, None  # the view picks the newest month with entries
    if month == "all":
        return y, None
    if month.isdigit() and 1 <= int(month) <= 12:
        return y, int(month)
    return None


def _agency(store: ObjectStore, own: str, wanted: str | None) -> tuple[str, tuple[str, ...]]:
    """The commune whose books are asked for, and every one the user may pick; 404 others."""
    allowed = visible_agencies(store, own)
    if wanted in (None, ""):
        return own, allowed
    if wanted not in allowed:
        raise HTTPException(404)
    return wanted, allowed


def _filter_month(book: Book, month: int) -> Book:
    """The month's rows of a year's book, as ecopy.reports.books.load_book(..., month)
    selects them."""
    prefix = f"{book.year}-{month:02d}-"
    rows = tuple(r for r in book.rows if r.entry.date.startswith(prefix))
    return Book(book.agency_code, book.agency_name, book.year, month, rows,
                book.chain_problems, book.unreadable)


@router.get("/register")
async def register_page(request: Request, year: str | None = None,
                        month: str | None = None, agency: str | None = None) -> Response:
    account, _session = require(request, *ROLES)
    store = request.app.state.store
    settings: Settings = request.app.state.settings
    code, allowed = await run_in_threadpool(_agency, store, account.agency, agency)
    years = await run_in_threadpool(register_years, store, code)
    period = _period(year, month, years)
    if period is None:
        raise HTTPException(400)
    y, m = period
    whole = await run_in_threadpool(load_book, store, code, y, None)
    per_month = Counter(int(r.entry.date[5:7]) for r in whole.rows
                        if r.entry.date[5:7].isdigit())
    if month in (None, "") and m is None:  # default: the newest month with entries
        m = max(per_month) if per_month else datetime.now(VN_TZ).month
    book = whole if m is None else _filter_month(whole, m)
    return _no_store(render(request, "register.html", {
        "years": sorted({*years, y}, reverse=True), "year": y, "month": m,
        "per_month": per_month, "book": book,
        "rows": [r.cells() for r in book.rows],
        "agency_name": book.agency_name or whole.agency_name or settings.agency_name,
        "agency": code, "agencies": allowed,
        "agency_q": "" if code == account.agency else f"&agency={code}",
        "chain_problems": [*book.chain_problems, *(f"unreadable: {k}" for k in book.unreadable)],
        "columns": [f"register.col{i}" for i in range(1, 10)],
        "query": f"year={y}" + (f"&month={m}" if m else "&month=all")
        + ("" if code == account.agency else f"&agency={code}"),
    }))


@router.get("/register/export")
async def register_export(request: Request, year: str = "", month: str = "",
                          format: str = "pdf", agency: str = "") -> Response:
    account, _session = require(request, *ROLES)
    store = request.app.state.store
    settings: Settings = request.app.state.settings
    code, _allowed = await run_in_threadpool(_agency, store, account.agency, agency)
    if format not in ("csv", "pdf") or not year:
        raise HTTPException(400)
    period = _period(year, month or "all", [])
    if period is None:
        raise HTTPException(400)
    y, m = period
    book = await run_in_threadpool(load_book, store, code, y, m)
    if format == "csv":
        data, media = book_csv(book), "text/csv; charset=utf-8"
    else:
        data = await run_in_threadpool(book_pdf, book, font_path=settings.font_path,
                                       bold_font_path=settings.bold_font_path)
        media = "application/pdf"
    name = f"so-chung-thuc-{code}-{y}" + (f"-{m:02d}" if m else "") + f".{format}"
    audit_event(request, account.username, "register_export",
                f"register/{code}/{y}", period=f"{y}-{m:02d}" if m else str(y),
                format=format, entries=len(book.rows))
    return _no_store(Response(data, media_type=media, headers={
        "Content-Disposition": f'attachment; filename="{name}"'}))


@router.get("/cancellations")
async def cancellations_page(request: Request) -> Response:
    account, _session = require(request, *ROLES)
    store = request.app.state.store
    decisions = await run_in_threadpool(list_cancellations, store)
    agencies = await run_in_threadpool(visible_agencies, store, account.agency)
    rows = []
    for d in decisions:
        if str(d.get("agency_code", "")) not in agencies:
            continue
        row = {k: d.get(k) for k in PUBLIC_FIELDS}
        row["decision_date"] = vn_date(str(row.get("decision_date") or ""))
        row["linkable"] = bool(COPY_ID.match(str(row.get("copy_id") or "")))
        rows.append(row)
    return _no_store(render(request, "cancellations.html", {"rows": rows}))


@router.get("/cancellations/public.json")
async def cancellations_public(request: Request) -> Response:
    """What `ecopy cancellations publish` writes as cancellations.json; no login needed."""
    listing = await run_in_threadpool(public_list, request.app.state.store)
    body = json.dumps(listing, ensure_ascii=False, indent=2) + "\n"
    return Response(body, media_type="application/json; charset=utf-8",
                    headers={"Cache-Control": "public, max-age=300"})


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response
