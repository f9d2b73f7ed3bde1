"""Public performance figures per commune (Res. 131/NQ-CP; issue 8 point 4).

    GET /figures                 every commune of the deployment: one row each, for a period
    GET /figures.csv             the same rows as CSV (UTF-8 with BOM, English column names)
    GET /figures/{agency}        one commune, with its refused papers by reason

Period: `?month=YYYY-MM` (default: this month), `?year=YYYY`, or `?from=…&to=…` (ISO dates).
No login: only counts, times and reason codes are shown, never a name, ID, file name or
dossier. The numbers come from pipeline.casework.figures, the same function `ecopy figures`
uses, so page, CSV and CLI agree. Computing them reads every dossier of the period, so
requests are rate-limited per address and a result is reused for a minute.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from sqlalchemy import select

from ecopy.web import i18n
from ecopy.web.app import lang_of, render
from ecopy.web.security import allowed
from pipeline.casework.figures import (
    Figures,
    Period,
    PeriodError,
    compute_figures,
    figures_csv,
    parse_period,
)
from pipeline.casework.procedures import VN_TZ, calendar, procedure
from pipeline.reasons import label
from storage.db import Database
from storage.db.dossiers import AGENCY
from storage.db.schema import dossiers

router = APIRouter()
FIGURES_LIMIT, FIGURES_WINDOW_S = 30, 60.0
CACHE_SECONDS, CACHE_ENTRIES = 60.0, 64
# the page's columns, in order: CSV column name → interface string
COLUMNS = ("received", "finished_on_time", "finished_late", "on_time_pct", "open",
           "open_overdue", "median_hours", "median_working_hours", "online_share_pct",
           "refused_documents")

i18n.register({
    "figures.nav": ("Kết quả giải quyết", "Performance"),
    "figures.title": ("Kết quả giải quyết hồ sơ chứng thực theo xã, phường",
                      "Processing figures per commune"),
    "figures.intro": ("Số liệu công khai về các hồ sơ được tiếp nhận trong kỳ, tình trạng đến "
                      "thời điểm {as_of}. Thời hạn: {procedure} — trả kết quả trong ngày, hoặc "
                      "ngày làm việc tiếp theo nếu tiếp nhận sau {cutoff}; yêu cầu số lượng lớn "
                      "được kéo dài thêm không quá {extra} ngày làm việc.",
                      "Public figures on the dossiers received in the period, as they stand at "
                      "{as_of}. Time limit: {procedure} — the same working day, or the next one "
                      "when received after {cutoff}; bulk requests up to {extra} more working "
                      "days."),
    "figures.period": ("Kỳ số liệu", "Period"),
    "figures.by": ("Theo", "By"),
    "figures.by_month": ("Tháng", "Month"),
    "figures.by_year": ("Năm", "Year"),
    "figures.month": ("Tháng (YYYY-MM)", "Month (YYYY-MM)"),
    "figures.year": ("Năm", "Year"),
    "figures.show": ("Xem", "Show"),
    "figures.period_label": ("Kỳ: {label}", "Period: {label}"),
    "figures.download_csv": ("Tải tệp CSV (Excel)", "Download CSV (Excel)"),
    "figures.commune": ("Xã, phường", "Commune"),
    "figures.code": ("Mã", "Code"),
    "figures.total": ("Toàn tỉnh", "Province total"),
    "figures.col.received": ("Hồ sơ tiếp nhận", "Received"),
    "figures.col.finished_on_time": ("Giải quyết đúng hạn", "Finished on time"),
    "figures.col.finished_late": ("Giải quyết quá hạn", "Finished late"),
    "figures.col.on_time_pct": ("Tỷ lệ đúng hạn (%)", "On time (%)"),
    "figures.col.open": ("Đang giải quyết", "Still open"),
    "figures.col.open_overdue": ("Trong đó đã quá hạn", "Of which overdue"),
    "figures.col.median_hours": ("Thời gian giải quyết trung vị (giờ)",
                                 "Median processing time (hours)"),
    "figures.col.median_working_hours": ("Trung vị (giờ hành chính)",
                                         "Median (office hours)"),
    "figures.col.online_share_pct": ("Nộp trực tuyến (%)", "Submitted online (%)"),
    "figures.col.refused_documents": ("Giấy tờ bị từ chối", "Papers refused"),
    "figures.none": ("Chưa có xã, phường nào tiếp nhận hồ sơ.", "No commune has received "
                     "dossiers yet."),
    "figures.calendar_incomplete": ("Lịch ngày nghỉ lễ của một số năm trong kỳ chưa được cập "
                                    "nhật: thời hạn chỉ trừ thứ Bảy, Chủ nhật.",
                                    "The public holidays of some year of the period are not "
                                    "known: time limits skip weekends only."),
    "figures.detail_title": ("Kết quả giải quyết: {name}", "Processing figures: {name}"),
    "figures.refusals": ("Giấy tờ bị từ chối theo lý do", "Refused papers by reason"),
    "figures.reason": ("Lý do", "Reason"),
    "figures.reason_code": ("Mã lý do", "Reason code"),
    "figures.count": ("Số giấy tờ", "Papers"),
    "figures.no_refusals": ("Không có giấy tờ nào bị từ chối trong kỳ.",
                            "No paper was refused in the period."),
    "figures.back": ("Về bảng toàn tỉnh", "Back to the province table"),
    "figures.hours_note": ("Giờ hành chính: thời gian trong khung {start}–{end} các ngày làm "
                           "việc (thứ Hai đến thứ Sáu, trừ ngày nghỉ lễ, Tết).",
                           "Office hours: time within {start}–{end} on working days (Monday "
                           "to Friday, public holidays excluded)."),
})


def _period(request: Request) -> Period:
    q = request.query_params
    try:
        by = q.get("by", "")
        return parse_period(month=None if by == "year" else q.get("month") or None,
                            year=None if by == "month" else q.get("year") or None,
                            first=q.get("from") or None, last=q.get("to") or None)
    except PeriodError as exc:
        raise HTTPException(400, detail=str(exc)) from exc


def _query(period: Period) -> str:
    """The query string that asks for `period` again (links keep the period chosen)."""
    if period.kind in ("month", "year"):
        return f"{period.kind}={period.label}"
    last = period.end - timedelta(days=1)
    return f"from={period.start.isoformat()}&to={last.isoformat()}"


async def _figures(request: Request, period: Period, agency: str | None) -> Figures:
    """Computed at most once a minute per (period, commune): a public page cannot make the
    server run the aggregates on every request."""
    state = request.app.state
    cache: dict[tuple[str, str], tuple[float, Figures]] = getattr(state, "figures_cache", {})
    state.figures_cache = cache
    key, now = (period.label, agency or ""), time.monotonic()
    hit = cache.get(key)
    if hit and now - hit[0] < CACHE_SECONDS:
        return hit[1]
    figures = await run_in_threadpool(compute_figures, state.db, period, agency=agency)
    if len(cache) >= CACHE_ENTRIES:
        cache.clear()
    cache[key] = (now, figures)
    return figures


def _has_dossiers(db: Database, agency: str) -> bool:
    """Only communes of this deployment have a page (one indexed lookup)."""
    with db.read() as s:
        return s.execute(select(dossiers.c.dossier_id).where(dossiers.c.agency == agency)
                         .limit(1)).first() is not None


def _limited(request: Request) -> Response | None:
    if allowed(request, "figures", FIGURES_LIMIT, FIGURES_WINDOW_S):
        return None
    return render(request, "error.html", {"status": 429}, 429)


def _context(request: Request, figures: Figures) -> dict[str, Any]:
    lang = lang_of(request)
    proc = procedure("")
    cal = calendar()
    as_of = figures.as_of.astimezone(VN_TZ).strftime("%d/%m/%Y %H:%M")
    return {
        "figures": figures, "period": figures.period, "query": _query(figures.period),
        "columns": COLUMNS, "by": "year" if figures.period.kind == "year" else "month",
        "rows": [(c, c.row(figures.period)) for c in figures.communes],
        "total": figures.total.row(figures.period),
        "intro": i18n.text("figures.intro", lang, as_of=as_of, procedure=proc.name(lang),
                           cutoff=proc.time_limit.cutoff.strftime("%H:%M"),
                           extra=proc.time_limit.bulk_extra_working_days),
        "hours_note": i18n.text("figures.hours_note", lang,
                                start=cal.day_start.strftime("%H:%M"),
                                end=cal.day_end.strftime("%H:%M")),
    }


@router.get("/figures")
async def figures_page(request: Request) -> Response:
    if (refused := _limited(request)) is not None:
        return refused
    period = _period(request)
    figures = await _figures(request, period, None)
    return render(request, "figures.html", _context(request, figures))


@router.get("/figures.csv")
async def figures_csv_download(request: Request) -> Response:
    if not allowed(request, "figures", FIGURES_LIMIT, FIGURES_WINDOW_S):
        return Response("too many requests\n", 429, media_type="text/plain")
    period = _period(request)
    figures = await _figures(request, period, None)
    name = f"ket-qua-giai-quyet-{period.label.replace('..', '_')}.csv"
    return Response(figures_csv(figures), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/figures/{agency}")
async def figures_detail(request: Request, agency: str) -> Response:
    if (refused := _limited(request)) is not None:
        return refused
    if not AGENCY.match(agency):
        raise HTTPException(404)
    period = _period(request)
    if not await run_in_threadpool(_has_dossiers, request.app.state.db, agency):
        raise HTTPException(404)
    figures = await _figures(request, period, agency)
    commune = figures.communes[0]
    lang = lang_of(request)
    ctx = _context(request, figures)
    ctx.update({"commune": commune, "row": commune.row(figures.period),
                "refusals": [(code, label(code, lang), n) for code, n in commune.refusals]})
    return render(request, "figures_detail.html", ctx)
