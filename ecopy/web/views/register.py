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
import time
from dataclasses import dataclass
from datetime import datetime

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from ecopy.accounts import Account
from ecopy.reports.books import BookRow, book_csv, book_pdf, load_book, vn_date
from ecopy.settings import Settings
from ecopy.web import i18n
from ecopy.web.access import record_many
from ecopy.web.app import audit_event, render
from ecopy.web.security import require
from signing.sign import VN_TZ
from storage.db import Database
from storage.db.access import copy_reads
from storage.db.catalogue import (
    all_cancellations,
    cancellations_of,
    cancellations_page,
    chain_problems,
    register_chain,
    register_month_counts,
    register_period,
    register_year_list,
)
from storage.db.paging import MAX_PAGE, BadCursor
from storage.db.successions import visible_agencies
from storage.evidence.cancellations import public_item, public_list
from storage.evidence.register import RegisterEntry

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
    "register.col1": ("Số thứ tự/số chứng thực", "No./Certification number"),
    "register.col2": ("Ngày, tháng, năm chứng thực", "Date certified"),
    "register.col3": ("Họ tên của người yêu cầu chứng thực", "Requester"),
    "register.col4": ("Tên của bản chính giấy tờ, văn bản", "Original document"),
    "register.col5": ("Họ tên, chức danh người ký chứng thực", "Signer and title"),
    "register.col6": ("Số lượng bản sao đã được chứng thực", "Copies certified"),
    "register.col7": ("Phí chứng thực", "Fee (VND)"),
    "register.col8": ("Bản sao điện tử từ bản chính", "Electronic copy"),
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


def _agency(db: Database, own: str, wanted: str | None) -> tuple[str, tuple[str, ...]]:
    """The commune whose books are asked for, and every one the user may pick; 404 others."""
    with db.read() as s:
        allowed = visible_agencies(s, own)
    if wanted in (None, ""):
        return own, allowed
    if wanted not in allowed:
        raise HTTPException(404)
    return wanted, allowed


@dataclass(frozen=True)
class _Shown:
    """One page of a register period, from the catalogue alone."""

    years: list[int]
    per_month: dict[int, int]
    rows: list[BookRow]
    next_cursor: str
    chain_problems: list[str]


def _shown(db: Database, code: str, year: str | None, month: str | None, cursor: str
           ) -> tuple[_Shown, int, int | None]:
    with db.read() as s:
        years = register_year_list(s, code)
        period = _period(year, month, years)
        if period is None:
            raise HTTPException(400)
        y, m = period
        per_month = register_month_counts(s, code, y)
        if month in (None, "") and m is None:  # default: the newest month with entries
            m = max(per_month) if per_month else datetime.now(VN_TZ).month
        try:
            page = register_period(s, (code,), y, m, cursor=cursor, limit=MAX_PAGE)
        except BadCursor:
            page = register_period(s, (code,), y, m, limit=MAX_PAGE)
        cancelled = cancellations_of(s, [r.copy_id for r in page.items])
        problems = chain_problems(register_chain(s, code, y))
    rows = [BookRow(RegisterEntry.from_dict(r.entry),
                    {"reason": r.void_reason} if r.void_reason is not None else None,
                    cancelled.get(r.copy_id)) for r in page.items]
    return _Shown(years, per_month, rows, page.next_cursor, problems), y, m


def _record_rows(request: Request, account: Account, what: str, copy_ids: list[str]) -> None:
    with request.app.state.db.read() as s:
        reads = copy_reads(s, copy_ids)
    record_many(request, account, what, reads)


@router.get("/register")
async def register_page(request: Request, year: str | None = None,
                        month: str | None = None, agency: str | None = None,
                        after: str = "") -> Response:
    """A period of the register, a page at a time, from the catalogue; the chain status is
    that of the catalogue (each entry was checked against its object when it was indexed;
    the export reads the objects again)."""
    account, _session = require(request, *ROLES)
    db = request.app.state.db
    settings: Settings = request.app.state.settings
    code, allowed = await run_in_threadpool(_agency, db, account.agency, agency)
    shown, y, m = await run_in_threadpool(_shown, db, code, year, month, after[:200])
    query = (f"year={y}" + (f"&month={m}" if m else "&month=all")
             + ("" if code == account.agency else f"&agency={code}"))
    books = list(dict.fromkeys(r.entry.book_label for r in shown.rows))
    await run_in_threadpool(_record_rows, request, account, "register",
                            [r.entry.copy_id for r in shown.rows])
    return _no_store(render(request, "register.html", {
        "years": sorted({*shown.years, y}, reverse=True), "year": y, "month": m,
        "per_month": shown.per_month, "book_label": ", ".join(books) or f"01/{y}-SCT/BS",
        "total": shown.per_month.get(m, 0) if m else sum(shown.per_month.values()),
        "rows": [r.cells() for r in shown.rows],
        "agency_name": (shown.rows[0].entry.agency_name if shown.rows
                        else settings.agency_name),
        "agency": code, "agencies": allowed,
        "agency_q": "" if code == account.agency else f"&agency={code}",
        "chain_problems": shown.chain_problems,
        "columns": [f"register.col{i}" for i in range(1, 10)],
        "query": query,
        "next": f"/register?{query}&after={shown.next_cursor}" if shown.next_cursor else "",
    }))


@router.get("/register/export")
async def register_export(request: Request, year: str = "", month: str = "",
                          format: str = "pdf", agency: str = "") -> Response:
    account, _session = require(request, *ROLES)
    settings: Settings = request.app.state.settings
    code, _allowed = await run_in_threadpool(_agency, request.app.state.db, account.agency,
                                             agency)
    if format not in ("csv", "pdf") or not year:
        raise HTTPException(400)
    period = _period(year, month or "all", [])
    if period is None:
        raise HTTPException(400)
    y, m = period
    book = await run_in_threadpool(load_book, request.app.state.work, code, y, m)
    if format == "csv":
        data, media = book_csv(book), "text/csv; charset=utf-8"
    else:
        data = await run_in_threadpool(book_pdf, book, font_path=settings.font_path,
                                       bold_font_path=settings.bold_font_path)
        media = "application/pdf"
    name = f"so-chung-thuc-{code}-{y}" + (f"-{m:02d}" if m else "") + f".{format}"
    await run_in_threadpool(_record_rows, request, account, "register_export",
                            [r.entry.copy_id for r in book.rows])
    audit_event(request, account.username, "register_export",
                f"register/{code}/{y}", period=f"{y}-{m:02d}" if m else str(y),
                format=format, entries=len(book.rows))
    return _no_store(Response(data, media_type=media, headers={
        "Content-Disposition": f'attachment; filename="{name}"'}))


@router.get("/cancellations")
async def cancellations_list(request: Request, after: str = "") -> Response:
    account, _session = require(request, *ROLES)
    db = request.app.state.db

    def page() -> tuple[list[dict], str]:
        with db.read() as s:
            agencies = visible_agencies(s, account.agency)
            try:
                found = cancellations_page(s, agencies=agencies, cursor=after[:200])
            except BadCursor:
                found = cancellations_page(s, agencies=agencies)
        return found.items, found.next_cursor

    decisions, next_cursor = await run_in_threadpool(page)
    rows = []
    for d in decisions:
        row = public_item(d)
        row["decision_date"] = vn_date(str(row.get("decision_date") or ""))
        row["linkable"] = bool(COPY_ID.match(str(row.get("copy_id") or "")))
        rows.append(row)
    return _no_store(render(request, "cancellations.html", {
        "rows": rows, "next": f"/cancellations?after={next_cursor}" if next_cursor else ""}))


@router.get("/cancellations/public.json")
async def cancellations_public(request: Request) -> Response:
    """What `ecopy cancellations publish` writes as cancellations.json; no login needed.

    The whole list is built from the catalogue a page at a time and kept for the cache time
    (5 minutes): a public page cannot be made to query the database on every hit."""
    body = await run_in_threadpool(_public_json, request)
    return Response(body, media_type="application/json; charset=utf-8",
                    headers={"Cache-Control": "public, max-age=300"})


def _public_json(request: Request) -> str:
    cached = getattr(request.app.state, "cancellations_public", None)
    now = time.monotonic()
    if cached is not None and now - cached[0] < 300:
        return cached[1]
    with request.app.state.db.read() as s:
        decisions = all_cancellations(s)
    body = json.dumps(public_list(decisions), ensure_ascii=False, indent=2) + "\n"
    request.app.state.cancellations_public = (now, body)
    return body


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response
