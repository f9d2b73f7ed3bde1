"""Public processing status (Res. 131/NQ-CP): a citizen follows a dossier with its code.

    GET /status              a form to type the code
    GET /status/{code}       the dossier's documents: type, status and its history
    GET /status/{code}.json  the same as JSON

No login: the code (10 characters, 50 bits, on the clerk's receipt) is the key. Nothing
personal is shown: no name, ID, file name or field, only what the paper is (its type), where
it stands and when it moved. Requests are rate-limited per address like the verify page.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from ecopy.web import i18n
from ecopy.web.app import lang_of, render
from ecopy.web.security import allowed
from ecopy.web.views.verify import VERIFY_LIMIT, VERIFY_WINDOW_S
from pipeline.steps.classify import DOCUMENT_NAMES
from storage.db.cases import cases_of_dossier, history
from storage.db.dossiers import dossier_by_code

router = APIRouter()
VN = ZoneInfo("Asia/Ho_Chi_Minh")

i18n.register({
    "status.page_title": ("Tra cứu tình trạng hồ sơ", "Dossier processing status"),
    "status.code_label": ("Mã tra cứu (trên giấy biên nhận)", "Status code (on your receipt)"),
    "status.look_up": ("Tra cứu", "Look up"),
    "status.unknown_code": ("Không có hồ sơ nào với mã này. Vui lòng kiểm tra lại mã trên giấy "
                            "biên nhận.", "No dossier has this code. Check the code on your "
                            "receipt."),
    "status.too_many": ("Quá nhiều lượt tra cứu; vui lòng thử lại sau một phút.",
                        "Too many look-ups; try again in a minute."),
    "status.opened": ("Hồ sơ tiếp nhận ngày {date}", "Dossier received on {date}"),
    "status.col_no": ("STT", "No."),
    "status.col_type": ("Giấy tờ", "Paper"),
    "status.col_now": ("Tình trạng", "Status"),
    "status.col_history": ("Diễn biến", "History"),
    "status.no_documents": ("Chưa có giấy tờ nào được tiếp nhận.", "No paper received yet."),
    "status.code_for_citizen": ("Mã tra cứu tình trạng cho công dân: {code} (tại trang {url})",
                                "Status code for the citizen: {code} (on the page {url})"),
})


def _local(at: str) -> str:
    try:
        return datetime.fromisoformat(at).astimezone(VN).strftime("%d/%m/%Y %H:%M")
    except ValueError:
        return ""


def public_status(request: Request, code: str) -> dict[str, Any] | None:
    """What anyone holding the code may see, in the interface language."""
    with request.app.state.db.read() as s:
        dossier = dossier_by_code(s, code)
        if dossier is None:
            return None
        records = [(r, history(s, r["case_id"])) for r in cases_of_dossier(s,
                                                                           dossier.dossier_id)]
    lang = lang_of(request)

    def label(status: str) -> str:
        text = i18n.text(f"status.{status}", lang)
        return i18n.text("status.unknown", lang) if text == f"status.{status}" else text

    documents = []
    for n, (record, events) in enumerate(records, 1):
        doc_type = record.get("doc_type") or ""
        status = record.get("status", "received")
        documents.append({
            "n": n, "document_type": doc_type,
            "document_name": DOCUMENT_NAMES.get(doc_type, "") if doc_type else "",
            "status": status, "status_text": label(status), "reason": record.get("reason", ""),
            "history": [{"status": h.status, "status_text": label(h.status),
                         "at": h.at.isoformat(timespec="seconds"),
                         "at_local": _local(h.at.isoformat())} for h in events]})
    return {"code": dossier.public_code, "opened_at": dossier.opened_at,
            "opened_local": _local(dossier.opened_at), "documents": documents}


@router.get("/status")
async def status_form(request: Request, code: str | None = None) -> Response:
    if code:
        return RedirectResponse(f"/status/{code.strip().upper()[:20]}", 303)
    return render(request, "status.html", {"found": None, "error": "", "code": ""})


@router.get("/status/{code}.json")
async def status_json(request: Request, code: str) -> Response:
    if not allowed(request, "status", VERIFY_LIMIT, VERIFY_WINDOW_S):
        return JSONResponse({"error": "too_many_requests"}, 429)
    found = public_status(request, code)
    if found is None:
        return JSONResponse({"error": "unknown_code"}, 404)
    return JSONResponse(found, headers={"Cache-Control": "no-store"})


@router.get("/status/{code}")
async def status_page(request: Request, code: str) -> Response:
    if not allowed(request, "status", VERIFY_LIMIT, VERIFY_WINDOW_S):
        return render(request, "status.html", {"found": None, "code": code[:20],
                                               "error": i18n.text("status.too_many",
                                                                  lang_of(request))}, 429)
    found = public_status(request, code)
    if found is None:
        return render(request, "status.html", {"found": None, "code": code[:20],
                                               "error": i18n.text("status.unknown_code",
                                                                  lang_of(request))}, 404)
    response = render(request, "status.html", {"found": found, "code": found["code"],
                                                "error": ""})
    response.headers["Cache-Control"] = "no-store"
    return response
