"""The public verify page: upload an e-copy or open its QR link, read the verification report.

No login. The checks are those of `ecopy verify --store` (ecopy.keys.verify_file: signatures,
timestamps, register entry, cancellation), which also writes the audit event (copy id, file
hash and verdict; no client address, no personal data). The page shows the report of
signing/report_render (same rows and labels), restricted to what the copy itself carries plus
the outcome of the register and cancellation checks: nothing else from the store is shown (the
cancellation decision only in its published fields, no person data, no store keys).

The upload form changes no state, but it is still protected against cross-site posting without
a session: GET /verify sets a random token in a SameSite=Strict, HttpOnly cookie scoped to
/verify and in a hidden field; POST /verify needs both and equal (double submit), so a form on
another site cannot post here with the visitor's browser. Verifications (uploads and QR links)
are rate-limited per client address. The uploaded bytes live in a temporary file that is
closed (deleted) before the response is sent.
"""

from __future__ import annotations

import dataclasses
import re
import secrets
import tempfile
from collections.abc import AsyncGenerator
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from ecopy.keys import record_verification, verify_file
from ecopy.settings import Settings
from ecopy.web import i18n
from ecopy.web.app import lang_of, render
from ecopy.web.isolation import VerifyLimit, verify_isolated
from ecopy.web.security import allowed, current, same_token
from signing.report_render import (
    document_rows,
    indication_text,
    problem_messages,
    render_pdf,
    report_labels,
    signature_rows,
)
from signing.report_text import TOTAL_FAILED, TOTAL_PASSED, VerificationReport
from storage.db.catalogue import copy_row
from storage.db.dossiers import PUBLIC_CODE
from storage.evidence.cancellations import public_item

router = APIRouter()

COPY_ID = re.compile(r"^[0-9a-f]{32}$")  # uuid4().hex, as pipeline.steps.certify makes them
TOKEN_COOKIE = "ecopy_verify"
FORM_OVERHEAD = 64 * 1024  # multipart boundaries and the token field around the file
VERIFY_LIMIT, VERIFY_WINDOW_S = 20, 60  # verifications per client address per minute
HEAD_SNIFF = 1024  # PDF readers accept junk before %PDF- within the first KiB

i18n.register({
    "verify.title": ("Kiểm tra bản sao điện tử", "Verify an electronic copy"),
    "verify.intro": (
        "Chọn tệp PDF của bản sao điện tử được chứng thực để kiểm tra chữ ký số, dấu thời "
        "gian, số chứng thực trong sổ và việc hủy chứng thực. Không cần đăng nhập.",
        "Choose the PDF file of a certified electronic copy to check its digital signatures, "
        "timestamps, its register number and whether it was cancelled. No sign-in needed."),
    "verify.file": ("Tệp PDF bản sao điện tử", "PDF file of the electronic copy"),
    "verify.file_hint": ("Chỉ nhận tệp PDF, tối đa {limit}. Tệp chỉ dùng để kiểm tra, "
                         "không được lưu lại.",
                         "PDF only, at most {limit}. The file is used for the check only "
                         "and is not kept."),
    "verify.submit": ("Kiểm tra", "Verify"),
    "verify.by_code": ("Hoặc nhập mã bản sao (in ở trang cuối của bản sao)",
                       "Or enter the copy code (printed on the copy's last page)"),
    "verify.code": ("Mã bản sao", "Copy code"),
    "verify.open": ("Xem kết quả", "Show the result"),
    "verify.bad_code": ("Mã bản sao gồm 32 ký tự 0–9 và a–f.",
                        "A copy code is 32 characters 0–9 and a–f."),
    "verify.not_pdf": ("Tệp này không phải là tệp PDF. Vui lòng chọn tệp PDF của bản sao "
                       "điện tử.",
                       "This file is not a PDF. Please choose the PDF file of the electronic "
                       "copy."),
    "verify.empty": ("Chưa chọn tệp hoặc tệp rỗng.", "No file chosen, or the file is empty."),
    "verify.limit_time": ("Không kiểm tra xong tệp trong thời gian cho phép. Tệp có thể bị "
                          "hỏng hoặc quá phức tạp; hãy xin cơ quan cấp một bản khác.",
                          "The file could not be checked within the time allowed. It may be "
                          "damaged or too complex; ask the issuing agency for another copy."),
    "verify.limit_memory": ("Tệp cần quá nhiều bộ nhớ để kiểm tra. Tệp có thể bị hỏng; hãy "
                            "xin cơ quan cấp một bản khác.",
                            "Checking the file needs too much memory. It may be damaged; ask "
                            "the issuing agency for another copy."),
    "verify.unreadable": ("Không đọc được tệp PDF này để kiểm tra.",
                          "This PDF file cannot be read for a check."),
    "verify.too_large": ("Tệp quá lớn (tối đa {limit}).", "The file is too large (at most "
                                                          "{limit})."),
    "verify.expired": ("Biểu mẫu đã hết hạn. Vui lòng chọn lại tệp và bấm Kiểm tra.",
                       "The form has expired. Please choose the file again and press Verify."),
    "verify.bad_form": ("Không đọc được biểu mẫu đã gửi.", "The form sent cannot be read."),
    "verify.too_many": ("Quá nhiều lần kiểm tra trong thời gian ngắn. Vui lòng thử lại sau "
                        "một phút.",
                        "Too many checks in a short time. Please try again in a minute."),
    "verify.result": ("Kết quả kiểm tra", "Result of the check"),
    "verify.of_file": ("Tệp đã kiểm tra: {name}", "File checked: {name}"),
    "verify.of_copy": ("Bản sao mã {copy_id} trong kho lưu trữ của hệ thống",
                       "Copy {copy_id} as held by this system"),
    "verify.ok": ("Bản sao điện tử này HỢP LỆ: hai chữ ký số (người chứng thực và cơ quan) "
                  "đúng, nội dung không bị thay đổi sau khi ký, số chứng thực có trong sổ và "
                  "bản sao chưa bị hủy.",
                  "This electronic copy is VALID: both digital signatures (certifier and "
                  "agency) are correct, nothing was changed after signing, its number is in "
                  "the register and it has not been cancelled."),
    "verify.cancelled": ("Bản sao này ĐÃ BỊ HỦY chứng thực theo quyết định dưới đây; không "
                         "được sử dụng.",
                         "The certification of this copy was CANCELLED by the decision "
                         "below; it must not be used."),
    "verify.failed": ("Bản sao này KHÔNG HỢP LỆ; không được sử dụng. Xem các vấn đề bên "
                      "dưới.",
                      "This copy is NOT VALID; it must not be used. See the problems below."),
    "verify.indeterminate": ("Chưa khẳng định được bản sao này hợp lệ. Xem các vấn đề bên "
                             "dưới.",
                             "This copy could not be confirmed as valid. See the problems "
                             "below."),
    "verify.document": ("Tên giấy tờ", "Document"),
    "verify.decision": ("Quyết định hủy chứng thực", "Cancellation decision"),
    "verify.decision_ref": ("Số quyết định", "Decision reference"),
    "verify.decision_date": ("Ngày quyết định", "Decision date"),
    "verify.reason": ("Lý do hủy", "Reason"),
    "verify.other_lang": ("Xem báo cáo bằng tiếng Anh (English)",
                          "Xem báo cáo bằng tiếng Việt (Vietnamese)"),
    "verify.report_pdf": ("Tải báo cáo (PDF)", "Download the report (PDF)"),
    "verify.again": ("Kiểm tra tệp khác", "Verify another file"),
    "verify.follow_dossier": ("Theo dõi hồ sơ {code}", "Follow dossier {code}"),
    "verify.unknown_title": ("Không có bản sao này", "No such copy"),
    "verify.unknown": ("Hệ thống không có bản sao điện tử nào mang mã {copy_id}. Hãy kiểm tra "
                       "lại mã, hoặc tải tệp PDF của bản sao lên để kiểm tra.",
                       "This system holds no electronic copy with the code {copy_id}. Check "
                       "the code, or upload the copy's PDF file to verify it."),
    "verify.details": ("Chi tiết kỹ thuật", "Technical details"),
})


def _actor(request: Request) -> str:
    found = current(request)
    return f"web:{found[0].username}" if found else "web:anonymous"


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


# ------------------------------------------------------------------ the report as shown


def public_report(report: VerificationReport) -> VerificationReport:
    """The report minus store data the copy does not carry (the decision's actor, person id,
    store key): what remains is the copy's own content and the outcome of the checks."""
    if report.cancellation is None:
        return report
    return dataclasses.replace(report, cancellation=public_item(report.cancellation))


def report_view(report: VerificationReport, lang: str) -> dict[str, Any]:
    """Rows and words of the report in `lang`, from signing.report_render's own helpers."""
    labels = report_labels(lang)
    cancelled = report.sub_indication == "CANCELLED"
    if report.indication == TOTAL_PASSED:
        tone, summary = "success", "verify.ok"
    elif cancelled:
        tone, summary = "alert", "verify.cancelled"
    elif report.indication == TOTAL_FAILED:
        tone, summary = "alert", "verify.failed"
    else:
        tone, summary = "notice", "verify.indeterminate"
    rows = document_rows(report, labels, lang, with_cancellation=False)  # a table of its own
    entry = report.register_entry or {}
    if entry.get("document_name"):
        rows.insert(0, (i18n.text("verify.document", lang), str(entry["document_name"])))
    decision = []
    if cancelled and report.cancellation:
        c = report.cancellation
        decision = [(i18n.text("verify.decision_ref", lang), str(c.get("decision_ref") or "")),
                    (i18n.text("verify.decision_date", lang), str(c.get("decision_date") or "")),
                    (i18n.text("verify.reason", lang), str(c.get("reason") or ""))]
    return {
        "lang": lang,
        "labels": labels,
        "tone": tone,
        "indication": report.indication,
        "verdict": indication_text(labels, report.indication, report.sub_indication),
        "summary": i18n.text(summary, lang),
        "is_test": report.is_test,
        "rows": rows,
        "decision": decision,
        "decision_title": i18n.text("verify.decision", lang),
        "signatures": [{"title": f"{labels['signature']} {i}: {sig.field_name}",
                        "indication": sig.indication, "rows": signature_rows(sig, labels, lang)}
                       for i, sig in enumerate(report.signatures, 1)],
        "problems": problem_messages(report, lang),
        "other_lang": i18n.text("verify.other_lang", lang),
    }


def _views(request: Request, report: VerificationReport) -> list[dict[str, Any]]:
    """The report in the interface language first, the other language second."""
    first = lang_of(request)
    shown = public_report(report)
    return [report_view(shown, lang) for lang in (first, "en" if first == "vi" else "vi")]


def _verify(request: Request, data: bytes) -> VerificationReport:
    settings: Settings = request.app.state.settings
    acting = dataclasses.replace(settings, actor=_actor(request))
    report, _text = verify_file(data, acting, store=request.app.state.store)
    return report


# ------------------------------------------------------------------ pages


def _form_page(request: Request, *, error: str = "", status: int = 200,
               code: str = "") -> Response:
    token = request.cookies.get(TOKEN_COOKIE, "")
    fresh = not re.fullmatch(r"[A-Za-z0-9_-]{43}", token)
    if fresh:
        token = secrets.token_urlsafe(32)
    settings: Settings = request.app.state.settings
    response = render(request, "verify.html", {
        "vtoken": token, "error": error, "code": code, "reports": None,
        "limit": _limit_text(settings)}, status=status)
    if fresh:
        response.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="strict",
                            secure=settings.web_secure_cookies, path="/verify")
    return _no_store(response)


def _message(request: Request, key: str, status: int, **params: object) -> Response:
    return _form_page(request, error=i18n.text(key, lang_of(request), **params), status=status)


@router.get("/verify")
async def verify_form(request: Request, copy_id: str | None = None) -> Response:
    if copy_id is not None:
        code = copy_id.strip().lower()
        if COPY_ID.match(code):
            return RedirectResponse(f"/verify/{code}", 303)
        return _form_page(request, error=i18n.text("verify.bad_code", lang_of(request)),
                          status=400, code=copy_id[:64])
    return _form_page(request)


async def _bounded(request: Request, cap: int) -> AsyncGenerator[bytes, None]:
    total = 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > cap:
            raise HTTPException(413)
        yield chunk


def _verify_upload(request: Request, data: bytes) -> VerificationReport:
    """A visitor's file: checked in a child process within its time and memory limits
    (ecopy.web.isolation), then recorded here."""
    settings: Settings = request.app.state.settings
    acting = dataclasses.replace(settings, actor=_actor(request))
    report = verify_isolated(data, acting, request.app.state.store)
    record_verification(request.app.state.store, acting, report)
    return report


def _limit_text(settings: Settings) -> str:
    return f"{settings.web_verify_max_bytes / 1e6:g} MB"


@router.post("/verify")
async def verify_upload(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    limit = settings.web_verify_max_bytes
    cookie = request.cookies.get(TOKEN_COOKIE, "")
    if not cookie:
        return _message(request, "verify.expired", 403)
    if not allowed(request, "verify", VERIFY_LIMIT, VERIFY_WINDOW_S):
        return _message(request, "verify.too_many", 429)
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit + FORM_OVERHEAD:
        return _message(request, "verify.too_large", 413, limit=_limit_text(settings))
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        return _message(request, "verify.bad_form", 400)
    try:
        form = await MultiPartParser(request.headers, _bounded(request, limit + FORM_OVERHEAD),
                                     max_files=1, max_fields=4, max_part_size=4096).parse()
    except HTTPException:
        return _message(request, "verify.too_large", 413, limit=_limit_text(settings))
    except MultiPartException:
        return _message(request, "verify.bad_form", 400)
    try:
        presented = form.get("vtoken")
        if not same_token(cookie, presented):
            return _message(request, "verify.expired", 403)
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            return _message(request, "verify.empty", 400)
        data = await upload.read(limit + 1)
        name = (upload.filename or "")[-200:]
    finally:
        await form.close()  # the spooled temporary file goes away here
    if not data:
        return _message(request, "verify.empty", 400)
    if len(data) > limit:
        return _message(request, "verify.too_large", 413, limit=_limit_text(settings))
    if b"%PDF-" not in data[:HEAD_SNIFF]:
        return _message(request, "verify.not_pdf", 400)
    try:
        report = await run_in_threadpool(_verify_upload, request, data)
    except VerifyLimit as exc:
        return _message(request, f"verify.limit_{exc.reason}", 422)
    except RuntimeError:
        return _message(request, "verify.unreadable", 422)
    finally:
        del data
    return _no_store(render(request, "verify.html", {
        "reports": _views(request, report), "source": ("file", name), "vtoken": cookie,
        "error": "", "code": "", "limit": _limit_text(settings)}))


def _stored_copy(request: Request, copy_id: str) -> bytes | None:
    if not COPY_ID.match(copy_id):
        return None
    with request.app.state.db.read() as s:
        found = copy_row(s, copy_id)
    if found is None:
        return None
    try:
        return request.app.state.store.get(found.pdf_key)
    except KeyError:
        return None


def _unknown(request: Request, copy_id: str) -> Response:
    shown = copy_id[:64]
    return _no_store(render(request, "verify_unknown.html", {"copy_id": shown}, status=404))


async def _check_stored(request: Request, copy_id: str) -> VerificationReport | Response:
    """The report of a stored copy, or the page saying why there is none (rate, unknown)."""
    if not allowed(request, "verify", VERIFY_LIMIT, VERIFY_WINDOW_S):
        return _message(request, "verify.too_many", 429)
    data = await run_in_threadpool(_stored_copy, request, copy_id)
    if data is None:
        return _unknown(request, copy_id)
    return await run_in_threadpool(_verify, request, data)


@router.get("/verify/{copy_id}")
async def verify_stored(request: Request, copy_id: str, hs: str = "") -> Response:
    """The page the QR code on a copy opens: <verify_base_url>/<copy_id>?hs=…&… (see
    pipeline/steps/issueqr.py). Only the dossier code ``hs`` is used, for a link to its status page:
    the report itself comes from the signed copy, never from the query."""
    report = await _check_stored(request, copy_id)
    if isinstance(report, Response):
        return report
    settings: Settings = request.app.state.settings
    dossier_code = hs.strip().upper() if PUBLIC_CODE.match(hs.strip().upper()) else ""
    return _no_store(render(request, "verify.html", {
        "reports": _views(request, report), "source": ("copy", copy_id), "copy_id": copy_id,
        "vtoken": "", "error": "", "code": "", "limit": _limit_text(settings),
        "dossier_code": dossier_code}))


@router.get("/verify/{copy_id}/report.pdf")
async def verify_stored_pdf(request: Request, copy_id: str) -> Response:
    """The same report as a printable PDF (signing.report_render.render_pdf)."""
    checked = await _check_stored(request, copy_id)
    if isinstance(checked, Response):
        return checked
    report = public_report(checked)
    lang = lang_of(request)

    def as_pdf() -> bytes:
        with tempfile.TemporaryDirectory(prefix="ecopy-report-") as tmp:
            return render_pdf(report, Path(tmp) / "report.pdf", lang).read_bytes()

    pdf = await run_in_threadpool(as_pdf)
    return _no_store(Response(pdf, media_type="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="bao-cao-xac-thuc-{copy_id}.pdf"'}))
