"""The certifier's screens: the queue, compare and approve or refuse, cancel an issued copy.

GET  /certify                      the commune's cases ready to certify (then unchecked), paged
GET  /certify/{case_id}            original beside the e-copy preview; result once certified
POST /certify/{case_id}/approve    certify and sign now (ecopy.actions.approve_document); of two
                                   certifiers approving at once one signs, the other gets 409
POST /certify/{case_id}/refuse     refuse under Decree 23/2015 Art 22 with the ground
POST /copies/{copy_id}/cancel      cancel an issued copy by a decision

The preview is the page images plus the statement text of Mẫu số 01 as HTML: the register
number is only allocated when signing, so an assembled "preview PDF" would have to print a
number that does not exist yet.
"""

from __future__ import annotations

import re
from datetime import datetime
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from ecopy import actions
from ecopy.accounts import Account
from ecopy.web import i18n
from ecopy.web.access import record_many, record_read
from ecopy.web.app import audit_event, lang_of, render, t
from ecopy.web.processing import Processor
from ecopy.web.security import check_csrf, require
from ecopy.web.views.pages import visible_record
from ecopy.web.views.review import (
    current_fields,
    page_views,
    queue_row,
    review_messages,
    status_text,
)
from pipeline.reasons import REFUSAL_GROUNDS
from pipeline.types import DocStatus
from storage.backends import ObjectStore
from storage.db import cases
from storage.db.access import Read
from storage.db.dossiers import Dossier, load_dossier
from storage.db.paging import BadCursor

router = APIRouter()

CERTIFIERS = ("certifier",)  # an admin administers; only a certifier signs or cancels
COPY_ID = re.compile(r"^[0-9a-f]{32}$")
MAX_TEXT = 500

GROUNDS = REFUSAL_GROUNDS  # Decree 23/2015 Art 22 (pipeline/reasons.py)

i18n.register({f"certify.ground.{k}": v for k, v in GROUNDS.items()})
i18n.register({
    "certify.title": ("Chứng thực bản sao", "Certify copies"),
    "certify.ready": ("Chờ chứng thực", "Ready to certify"),
    "certify.unchecked": ("Chưa được công chức kiểm tra", "Not yet checked by a clerk"),
    "certify.unchecked_hint": ("Máy còn thắc mắc về các giấy tờ này; nên để công chức kiểm "
                               "tra trước.", "The machine still has doubts about these; a clerk "
                                             "should check them first."),
    "certify.none": ("Không có giấy tờ nào.", "No documents."),
    "certify.col.document": ("Giấy tờ", "Document"),
    "certify.col.person": ("Người yêu cầu", "Requester"),
    "certify.col.file": ("Tệp", "File"),
    "certify.col.since": ("Chờ từ", "Waiting since"),
    "certify.col.status": ("Trạng thái", "Status"),
    "certify.open": ("Mở", "Open"),
    "certify.original": ("Bản chính (ảnh quét)", "Original (scan)"),
    "certify.preview": ("Bản sao điện tử (xem trước)", "E-copy (preview)"),
    "certify.preview_note": ("Xem trước: các trang giống ảnh quét; lời chứng dưới đây được in "
                             "ở trang cuối. Số chứng thực được cấp khi ký.",
                             "Preview: the pages are the scan; the statement below is printed "
                             "on the last page. The number is allocated at signing."),
    "certify.number_at_signing": ("(cấp khi ký)", "(allocated at signing)"),
    "certify.page_alt": ("Trang {n} của bản chính", "Page {n} of the original"),
    "certify.preview_alt": ("Trang {n} của bản sao điện tử", "Page {n} of the e-copy"),
    "certify.facts": ("Thông tin", "Details"),
    "certify.review_link": ("Xem chi tiết các thông tin và vị trí trên ảnh",
                            "See every item and where it is on the page"),
    "certify.approve": ("Phê duyệt và ký số", "Approve and sign"),
    "certify.approve_hint": ("Bạn xác nhận bản sao đúng với bản chính. Bản sao sẽ được cấp số "
                             "chứng thực, ký số (người chứng thực và cơ quan) và lưu vào kho dữ "
                             "liệu của công dân.",
                             "You confirm the copy matches the original. It gets a register "
                             "number, two digital signatures and is filed in the citizen's "
                             "data warehouse."),
    "certify.signer": ("Người ký: {name}, {title}", "Signer: {name}, {title}"),
    "certify.refuse": ("Từ chối chứng thực", "Refuse"),
    "certify.refuse_ground": ("Lý do từ chối (Điều 22 Nghị định 23/2015)",
                              "Ground (Decree 23/2015 Art 22)"),
    "certify.refuse_choose": ("— chọn lý do —", "— choose —"),
    "certify.refuse_detail": ("Ghi chú thêm (không bắt buộc)", "Details (optional)"),
    "certify.refuse_missing": ("Hãy chọn lý do từ chối.", "Choose a ground."),
    "certify.other_agency": ("Máy chủ này chỉ ký cho xã {code}; tài khoản của bạn thuộc xã "
                             "{agency}.", "This server signs for commune {code} only; your "
                                          "account belongs to commune {agency}."),
    "certify.key_holder": ("Bạn không phải người thực hiện chứng thực đã cấu hình của xã (họ "
                           "tên, chức danh, căn cứ ủy quyền hoặc phân công còn hiệu lực), nên "
                           "không ký được.", "You are not a configured certifier of this commune "
                           "(name, position, an authorisation or assignment in force), so you "
                           "cannot sign."),
    "certify.busy": ("Giấy tờ đang được người khác ký; hãy tải lại trang sau ít phút.",
                     "Someone else is signing this document; reload in a few minutes."),
    "certify.not_waiting": ("Giấy tờ không còn chờ chứng thực.",
                            "The document is no longer waiting for certification."),
    "certify.done": ("Đã chứng thực và ký số.", "Certified and signed."),
    "certify.queued": ("Đã duyệt. Máy ký số đang ký bản sao; trang tự cập nhật khi xong.",
                       "Approved. The signing server is signing the copy; this page updates "
                       "when it is done."),
    "certify.failed": ("Không chứng thực được: {message}", "Not certified: {message}"),
    "certify.refused": ("Đã từ chối chứng thực; lý do đã được ghi lại.",
                        "Refused; the ground is recorded."),
    "certify.result": ("Kết quả chứng thực", "Certification"),
    "certify.number": ("Số chứng thực", "Register number"),
    "certify.book": ("Quyển số", "Book"),
    "certify.date": ("Ngày chứng thực", "Date"),
    "certify.copy_id": ("Mã bản sao điện tử", "E-copy id"),
    "certify.download": ("Tải bản sao điện tử (PDF)", "Download the e-copy (PDF)"),
    "certify.rejected": ("Giấy tờ bị từ chối: {message}", "Refused: {message}"),
    "certify.cancelled": ("Bản sao đã bị hủy theo Quyết định số {ref} ngày {date}: {reason}",
                          "Cancelled by decision {ref} of {date}: {reason}"),
    "certify.cancel": ("Hủy bản sao đã cấp", "Cancel this copy"),
    "certify.cancel_hint": ("Chỉ hủy khi đã có quyết định hủy. Bản sao bị hủy sẽ không còn "
                            "hợp lệ khi kiểm tra và có tên trong danh sách hủy.",
                            "Cancel only under a decision. A cancelled copy fails "
                            "verification and is listed publicly."),
    "certify.cancel_ref": ("Số quyết định hủy", "Decision reference"),
    "certify.cancel_date": ("Ngày quyết định", "Decision date"),
    "certify.cancel_reason": ("Lý do hủy", "Reason"),
    "certify.cancel_button": ("Hủy bản sao theo quyết định", "Cancel under this decision"),
    "certify.cancel_missing": ("Cần số quyết định, ngày hợp lệ và lý do hủy.",
                               "A decision reference, a valid date and a reason are needed."),
    "certify.cancel_done": ("Đã hủy bản sao.", "The copy is cancelled."),
})


# ------------------------------------------------------------------ helpers


def _dossier_of(request: Request, account: Account, record: dict) -> Dossier | None:
    """The case's dossier: who asked for the copy."""
    with request.app.state.db.read() as s:
        return load_dossier(s, account.agency, record["dossier_id"])


def _signer(request: Request, account: Account) -> tuple[object | None, str]:
    """(settings naming this account as the signer, or None) and why not."""
    settings = request.app.state.settings
    if account.agency != settings.commune_code:
        return None, t(request, "certify.other_agency", code=settings.commune_code,
                       agency=account.agency)
    try:
        return actions.settings_for_signer(settings, account.full_name, account.title), ""
    except actions.NotAllowed:
        return None, t(request, "certify.key_holder")


def _copy_facts(store: ObjectStore, record: dict) -> dict:
    from storage.evidence.cancellations import find_cancellation

    entry = record.get("register_entry") or {}
    copy_id = record.get("copy_id", "")
    return {"copy_id": copy_id, "number": entry.get("number"),
            "book": f"{entry.get('book', '')}-SCT/BS" if entry.get("book") else "",
            "date": entry.get("date", ""), "signer": entry.get("signer", ""),
            "cancellation": find_cancellation(store, copy_id) if copy_id else None}


def _page_context(request: Request, account: Account, record: dict, *, status: int = 200,
                  notice: str = "", alert: str = "", refuse_error: str = "",
                  cancel_error: str = "", form: dict | None = None) -> Response:
    from ecopy.settings import signing_certifier
    from pipeline.steps.assemble import (
        STATEMENT_TITLE,
        TEST_MARK_BOX,
        statement_date,
        statement_number,
    )
    from pipeline.vn.tz import VN_TZ

    store, settings = request.app.state.store, request.app.state.settings
    signer_settings, signer_problem = _signer(request, account)
    who = signer_settings or settings
    today = datetime.now(VN_TZ)
    dossier = _dossier_of(request, account, record)
    fields = current_fields(record)
    for f in fields:
        f["label"] = t(request, f"review.field.{f['name']}")
    waiting = record.get("status") in actions.WAITING
    ctx = {
        "record": record, "case_id": record["case_id"], "status": record.get("status", ""),
        "status_text": status_text(request, record.get("status", "")),
        "pages": page_views(request, record), "fields": fields, "dossier": dossier,
        "reasons": review_messages(request, record)
        if record.get("status") == DocStatus.NEEDS_REVIEW else [],
        "waiting": waiting, "signer_problem": signer_problem,
        "statement": {"test": TEST_MARK_BOX if settings.key_source == "dev" else "",
                      "caption": STATEMENT_TITLE,
                      "number": statement_number(
                          t(request, "certify.number_at_signing"),
                          settings.register_book or f"01/{today.year}"),
                      "date": statement_date(today.date()),
                      "form": signing_certifier(who).form(who.agency_name),
                      "name": who.certifier_name, "signer_title": who.certifier_title},
        "grounds": [(code, t(request, f"certify.ground.{code}")) for code in GROUNDS],
        "copy": _copy_facts(store, record) if record.get("status") == DocStatus.FILED else None,
        "notice": notice, "alert": alert, "refuse_error": refuse_error,
        "cancel_error": cancel_error, "form": form or {},
    }
    return render(request, "certify_document.html", ctx, status=status)


# ------------------------------------------------------------------ pages


@router.get("/certify")
def queue(request: Request, ready_after: str = "", unchecked_after: str = "") -> Response:
    """Two queues of the commune, longest waiting first, each a page at a time."""
    account, _ = require(request, *CERTIFIERS)
    cursors = {"ready": ready_after[:200], "unchecked": unchecked_after[:200]}
    ctx: dict = {}
    shown: list[Read] = []
    lists = (("ready", DocStatus.READY), ("unchecked", DocStatus.NEEDS_REVIEW))
    with request.app.state.db.read() as s:
        totals = cases.counts_by_status(s, account.agency, [status for _, status in lists])
        for name, status in lists:
            try:
                page = cases.queue(s, account.agency, (status,), cursor=cursors[name])
            except BadCursor:
                page = cases.queue(s, account.agency, (status,))
            ctx[name] = [queue_row(request, r) for r in page.items]
            shown += [Read(r.get("person_id") or "", r["case_id"]) for r in page.items]
            ctx[f"{name}_total"] = totals[status]
            other = {k: v for k, v in cursors.items() if k != name and v}
            ctx[f"{name}_next"] = ("/certify?" + urlencode(
                {**{f"{k}_after": v for k, v in other.items()},
                 f"{name}_after": page.next_cursor})) if page.next_cursor else ""
    record_many(request, account, "certify_queue", shown)
    return render(request, "certify_queue.html", ctx)


@router.get("/certify/{case_id}")
def document_page(request: Request, case_id: str, done: str = "") -> Response:
    account, _ = require(request, *CERTIFIERS)
    record = visible_record(request, account, case_id)
    record_read(request, account, "case_certify", record.get("person_id", ""), case_id)
    notice = {"approved": "certify.done", "refused": "certify.refused",
              "queued": "certify.queued" if record.get("status") == DocStatus.CERTIFYING
              else "certify.done" if record.get("status") == DocStatus.FILED else "",
              "cancelled": "certify.cancel_done"}.get(done, "")
    alert = ""
    if done in ("failed", "queued") and record.get("status") == DocStatus.REJECTED:
        alert = t(request, "certify.failed", message=record.get("message", ""))
    return _page_context(request, account, record,
                         notice=t(request, notice) if notice and not alert else "",
                         alert=alert)


@router.post("/certify/{case_id}/approve")
async def approve(request: Request, case_id: str) -> Response:
    account, session = require(request, *CERTIFIERS)
    await check_csrf(request, session)
    record = visible_record(request, account, case_id)
    settings, problem = _signer(request, account)
    if settings is None:
        return _page_context(request, account, record, status=403, alert=problem)
    dossier = _dossier_of(request, account, record)
    requester = dossier.person_name if dossier and dossier.person_name else None
    processor: Processor = request.app.state.processor
    queued = processor.mode() == "distributed"  # the signing worker holds the keys, not we
    work, who = request.app.state.work, {"actor": account.username, "role": account.role,
                                         "requester_name": requester}
    try:
        if queued:
            claimed = await run_in_threadpool(actions.queue_approval, settings, work, record,
                                              enqueue=processor.enqueue_approval, **who)
        else:
            outcome = await run_in_threadpool(actions.approve_document, settings, work,
                                              record, **who)
    except actions.InProgress:
        return _page_context(request, account, record, status=409,
                             alert=t(request, "certify.busy"))
    except actions.ForeignPaper as exc:  # the message is bilingual: the part for the reader
        vi, _, en = str(exc).partition(" / ")
        return _page_context(request, account, record, status=409,
                             alert=en if lang_of(request) == "en" else vi)
    except actions.ActionRefused:
        return _page_context(request, account, record, status=409,
                             alert=t(request, "certify.not_waiting"))
    if queued:
        audit_event(request, account.username, "certify_approve", f"cases/{case_id}",
                    record["sha256"], status="queued", copy_id=claimed["copy_id"])
        return RedirectResponse(f"/certify/{case_id}?done=queued", 303)
    audit_event(request, account.username, "certify_approve", f"cases/{case_id}",
                record["sha256"], status=str(outcome.status), copy_id=outcome.copy_id,
                register_number=outcome.register_number, reason=outcome.reason)
    done = "approved" if outcome.status == DocStatus.FILED else "failed"
    return RedirectResponse(f"/certify/{case_id}?done={done}", 303)


@router.post("/certify/{case_id}/refuse")
async def refuse(request: Request, case_id: str) -> Response:
    account, session = require(request, *CERTIFIERS)
    form = await check_csrf(request, session)
    record = visible_record(request, account, case_id)
    code = str(form.get("ground") or "")
    detail = " ".join(str(form.get("detail") or "").split())[:MAX_TEXT]
    if code not in GROUNDS:
        return _page_context(request, account, record, status=400,
                             refuse_error=t(request, "certify.refuse_missing"),
                             form={"detail": detail})
    try:
        actions.refuse_document(request.app.state.settings, request.app.state.work, record,
                                actor=account.username, role=account.role,
                                ground_code=code, detail=detail,
                                agency_code=account.agency)
    except actions.ActionRefused:
        return _page_context(request, account, record, status=409,
                             alert=t(request, "certify.not_waiting"))
    audit_event(request, account.username, "certify_refuse", f"cases/{case_id}",
                record["sha256"], ground=code, detail=detail)
    return RedirectResponse(f"/certify/{case_id}?done=refused", 303)


@router.post("/copies/{copy_id}/cancel")
async def cancel(request: Request, copy_id: str) -> Response:
    """Cancel a copy this commune certified (its case is this commune's: 404 otherwise)."""
    from pipeline.vn.dates import parse_date
    from storage.evidence.cancellations import CancellationError

    account, session = require(request, *CERTIFIERS)
    form = await check_csrf(request, session)
    if not COPY_ID.match(copy_id):
        raise HTTPException(404)
    with request.app.state.db.read() as s:
        found = cases.case_of_copy(s, copy_id)
    if found is None or found["agency"] != account.agency:
        raise HTTPException(404)  # another commune's certification
    record = visible_record(request, account, found["case_id"])
    ref = " ".join(str(form.get("decision_ref") or "").split())[:MAX_TEXT]
    reason = " ".join(str(form.get("reason") or "").split())[:MAX_TEXT]
    raw_date = str(form.get("decision_date") or "").strip()
    decided = parse_date(raw_date) if raw_date else None
    values = {"decision_ref": ref, "reason": reason, "decision_date": raw_date}
    if not ref or not reason or (raw_date and decided is None):
        return _page_context(request, account, record, status=400,
                             cancel_error=t(request, "certify.cancel_missing"), form=values)
    try:
        decision, already = actions.cancel_certification(
            request.app.state.work, copy_id, decision_ref=ref,
            decision_date=decided.isoformat() if decided else None, reason=reason,
            actor=account.username, role=account.role, agencies=(account.agency,))
    except CancellationError:
        return _page_context(request, account, record, status=400,
                             cancel_error=t(request, "certify.cancel_missing"), form=values)
    audit_event(request, account.username, "certify_cancel", f"copies/{copy_id}",
                record["sha256"], decision_ref=decision["decision_ref"],
                already_cancelled=already)
    return RedirectResponse(f"/certify/{record['case_id']}?done=cancelled", 303)
