"""Reuse before asking, on the dossier: the clerk ticks the papers the procedure needs, the
system answers from the warehouse and the authoritative registers
(pipeline/casework/once_only/availability.py),
attaches what is available by reference and records why the rest must be asked for.

GET  /dossiers/{id}/papers   what was asked, found and still needed (clerk, admin, auditor)
POST /dossiers/{id}/papers   check the ticked types now (clerk, admin)
"""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from ecopy.commands.reuse import configured_sources
from ecopy.settings import Settings
from ecopy.web import i18n
from ecopy.web.access import record_read
from ecopy.web.app import lang_of, render, t
from ecopy.web.security import check_csrf, require
from ecopy.web.views.dossiers import READERS, WRITERS, _dossier_or_404, local_time
from pipeline.casework.once_only.availability import check_dossier_needs
from pipeline.steps.classify import DOCUMENT_NAMES
from storage.db.dossiers import Dossier
from storage.db.papers import dossier_papers

router = APIRouter()

NEEDABLE = tuple(k for k in DOCUMENT_NAMES if k != "other")
DOC_NAMES_EN = {
    "birth_cert": "Birth certificate", "marriage_cert": "Marriage certificate",
    "death_extract": "Death register extract", "marital_status": "Marital status confirmation",
    "citizen_id": "Citizen ID card", "driving_license": "Driving licence",
    "university_diploma": "University diploma",
    "business_registration": "Business registration certificate",
    "land_use_cert": "Land use right certificate",
}

i18n.register({
    "papers.title": ("Giấy tờ cần có", "Papers needed"),
    "papers.link": ("Giấy tờ cần có — tra cứu trước khi yêu cầu công dân",
                    "Papers needed — look them up before asking the citizen"),
    "papers.intro": (
        "Đánh dấu các giấy tờ thủ tục yêu cầu. Hệ thống tra cứu kho dữ liệu điện tử của công dân "
        "(mọi xã trong tỉnh) và các cơ sở dữ liệu quốc gia đã kết nối; giấy tờ còn hiệu lực được "
        "đính kèm hồ sơ theo tham chiếu, không phải quét lại. Chỉ yêu cầu công dân nộp những "
        "giấy tờ còn thiếu.",
        "Tick the papers the procedure needs. The system looks in the citizen's electronic data "
        "warehouse (every commune of the province) and the connected national databases; valid "
        "papers are attached to the dossier by reference, without scanning them again. Ask the "
        "citizen only for what is still missing."),
    "papers.check": ("Tra cứu", "Look up"),
    "papers.none_checked": ("Chưa tra cứu giấy tờ nào cho hồ sơ này.",
                            "No paper has been looked up for this dossier yet."),
    "papers.no_id": ("Hồ sơ không có số định danh cá nhân nên không tra cứu được; hãy yêu "
                     "cầu công dân xuất trình giấy tờ.",
                     "The dossier has no personal ID, so nothing can be looked up; ask the "
                     "citizen to show the papers."),
    "papers.choose": ("Hãy chọn ít nhất một loại giấy tờ.", "Choose at least one paper."),
    "papers.col_paper": ("Giấy tờ", "Paper"),
    "papers.col_result": ("Kết quả", "Result"),
    "papers.col_where": ("Nguồn", "Source"),
    "papers.col_when": ("Tra cứu lúc", "Looked up"),
    "papers.reused": ("Đã có — dùng lại", "Held — reused"),
    "papers.requested": ("Cần yêu cầu công dân nộp", "Ask the citizen"),
    "papers.warehouse": ("Kho dữ liệu điện tử, bản sao {ref} (xã {agency})",
                         "Data warehouse, copy {ref} (commune {agency})"),
    "papers.external": ("{source}, số {ref}", "{source}, no. {ref}"),
    "papers.verify": ("Kiểm tra bản sao", "Verify the copy"),
    "papers.summary": ("{found}/{total} giấy tờ đã có sẵn.", "{found} of {total} papers held."),
})


def _doc_name(doc_type: str, lang: str) -> str:
    return DOC_NAMES_EN.get(doc_type, doc_type) if lang == "en" else DOCUMENT_NAMES[doc_type]


def _page(request: Request, dossier: Dossier, *, may_write: bool, error: str = "",
          status: int = 200) -> Response:
    lang = lang_of(request)
    settings: Settings = request.app.state.settings
    titles = {s.name: (s.title_en if lang == "en" else s.title_vi)
              for s in configured_sources(settings)}
    rows = []
    with request.app.state.db.read() as s:
        papers = dossier_papers(s, dossier)
    for paper in sorted(papers,
                        key=lambda p: NEEDABLE.index(p["doc_type"])
                        if p["doc_type"] in NEEDABLE else 99):
        reused = paper["status"] == "reused"
        if not reused:
            where = paper.get("message_en" if lang == "en" else "message", "")
        elif paper.get("where") == "warehouse":
            where = t(request, "papers.warehouse", ref=paper.get("ref", ""),
                      agency=paper.get("agency", ""))
        else:
            where = t(request, "papers.external", ref=paper.get("ref", ""),
                      source=titles.get(paper.get("where", ""), paper.get("where", "")))
        rows.append({"doc_type": paper["doc_type"], "name": _doc_name(paper["doc_type"], lang),
                     "reused": reused, "where": where, "reason": paper.get("reason", ""),
                     "verify": f"/verify/{paper['ref']}" if reused
                     and paper.get("where") == "warehouse" else "",
                     "when": local_time(paper.get("at", "")), "by": paper.get("by", "")})
    return render(request, "dossier_papers.html", {
        "dossier": dossier, "rows": rows, "may_write": may_write, "error": error,
        "choices": [(k, _doc_name(k, lang), any(r["doc_type"] == k for r in rows))
                    for k in NEEDABLE],
        "found": sum(r["reused"] for r in rows)}, status=status)


@router.get("/dossiers/{dossier_id}/papers")
def papers_page(request: Request, dossier_id: str) -> Response:
    account, _session = require(request, *READERS)
    dossier = _dossier_or_404(request, account, dossier_id)
    record_read(request, account, "dossier_papers", dossier.person_id, dossier.dossier_id)
    return _page(request, dossier, may_write=account.role in WRITERS)


@router.post("/dossiers/{dossier_id}/papers")
async def papers_check(request: Request, dossier_id: str) -> Response:
    account, session = require(request, *WRITERS)
    form = await check_csrf(request, session)
    dossier = _dossier_or_404(request, account, dossier_id)
    needs = [n for n in form.getlist("needs") if n in NEEDABLE]
    if not dossier.person_id:
        return _page(request, dossier, may_write=True, error=t(request, "papers.no_id"),
                     status=400)
    if not needs:
        return _page(request, dossier, may_write=True, error=t(request, "papers.choose"),
                     status=400)
    settings: Settings = request.app.state.settings
    await run_in_threadpool(
        check_dossier_needs, request.app.state.work, dossier, needs,
        configured_sources(settings), today=date.today(),
        test_mode=settings.key_source == "dev", actor=account.username)
    return RedirectResponse(f"/dossiers/{dossier.dossier_id}/papers", 303)
