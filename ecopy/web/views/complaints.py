"""Complaints and feedback about a dossier or an e-copy (issue 8, point 5).

    GET  /complaints/new            public form (?code= dossier status code, ?copy= copy id)
    POST /complaints/new            file it; redirects to the follow-up page
    GET  /complaints/follow?code=   look up a follow-up code
    GET  /complaints/{code}         the complainant's follow-up page (no login)
    GET  /complaints                staff of the commune: the list, open and overdue first
    GET  /complaints/manage/{id}    staff: the complaint with contact details and history
    POST /complaints/manage/{id}    staff: accept / answer / close / reopen (CSRF, audited)

The public form takes no login, so it is guarded against abuse without one: a per-address
rate limit; a double-submit token (cookie scoped to /complaints plus hidden field, as the
verify upload) that also carries, under an HMAC with a key kept in the database, the time the
form was handed out, so a submission faster than a person can type (or hours later) is
refused; a honeypot field people never see; a byte cap on the body and a field count cap;
every field length-checked by pipeline.casework.complaints. Refusals store nothing. Pages
escape all text (Jinja autoescape). The follow-up page shows the complaint and the answers
with their dates only: no contact details, no staff user names.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, quote

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from ecopy.web import i18n
from ecopy.web.access import record_many, record_read
from ecopy.web.app import audit_event, render, t
from ecopy.web.security import allowed, check_csrf, current, require, same_token
from pipeline.casework import complaints as cs
from pipeline.casework.procedures import calendar
from storage.db import Database, insert_once
from storage.db.access import Read
from storage.db.paging import BadCursor
from storage.db.pointers import pointer_once
from storage.db.schema import spent_tokens

router = APIRouter()

STAFF = ("clerk", "certifier", "auditor", "admin")
WRITERS = ("clerk", "certifier", "admin")
FORM_COOKIE = "ecopy_complaint"
FORM_KEY = "complaint_form_key"  # storage.db.pointers
HONEYPOT = "website"
MIN_FILL_S = 3  # app.state.complaint_min_fill_s overrides (tests)
MAX_FORM_AGE_S = 2 * 3600
MAX_BODY = 64 * 1024  # the longest allowed fields, percent-encoded UTF-8, fit well within
MAX_FIELDS = 20
FILE_LIMIT, FILE_WINDOW_S = 5, 3600  # complaints filed per address per hour
LOOKUP_LIMIT, LOOKUP_WINDOW_S = 20, 60  # follow-up page views per address per minute
FORM_FIELDS = ("kind", "target_type", "target", "filer", "name", "organisation", "phone",
               "email", "address", "text")

i18n.register({
    "nav.complaints": ("Khiếu nại, phản ánh", "Complaints"),
    "complaints.new_title": ("Gửi khiếu nại, phản ánh, kiến nghị",
                             "File a complaint or feedback"),
    "complaints.new_intro": (
        "Về một hồ sơ (mã tra cứu trên giấy biên nhận) hoặc một bản sao điện tử (mã bản sao in "
        "ở trang cuối). Thông tin liên lạc của bạn chỉ cán bộ của xã giải quyết được xem.",
        "About a dossier (the status code on your receipt) or an electronic copy (the copy code "
        "printed on its last page). Only the staff of the commune handling it see your contact "
        "details."),
    "complaints.f_kind": ("Loại", "Type"),
    "complaints.kind_complaint": ("Khiếu nại", "Complaint"),
    "complaints.kind_feedback": ("Phản ánh, kiến nghị", "Feedback or suggestion"),
    "complaints.f_target_type": ("Về", "About"),
    "complaints.target_dossier": ("Hồ sơ", "A dossier"),
    "complaints.target_copy": ("Bản sao điện tử", "An electronic copy"),
    "complaints.f_target": ("Mã hồ sơ hoặc mã bản sao", "Dossier code or copy code"),
    "complaints.f_filer": ("Người gửi", "Filed by"),
    "complaints.filer_citizen": ("Công dân", "A citizen"),
    "complaints.filer_agency": ("Cơ quan, tổ chức", "An agency or organisation"),
    "complaints.f_name": ("Họ và tên", "Full name"),
    "complaints.f_organisation": ("Tên cơ quan, tổ chức (khi gửi thay mặt)",
                                  "Agency or organisation (when filing for one)"),
    "complaints.f_phone": ("Số điện thoại", "Phone"),
    "complaints.f_email": ("Thư điện tử", "Email"),
    "complaints.f_address": ("Địa chỉ", "Address"),
    "complaints.f_text": ("Nội dung và đề nghị", "What happened and what you ask for"),
    "complaints.f_action": ("Thao tác", "Action"),
    "complaints.contact_hint": ("Cần ít nhất một cách liên lạc: điện thoại, thư điện tử hoặc "
                                "địa chỉ.", "Give at least one way to reach you: phone, email "
                                "or address."),
    "complaints.max_chars": ("Tối đa {n} ký tự.", "At most {n} characters."),
    "complaints.honeypot": ("Để trống ô này", "Leave this empty"),
    "complaints.submit": ("Gửi", "Send"),
    "complaints.follow_title": ("Theo dõi khiếu nại đã gửi", "Follow a complaint you filed"),
    "complaints.follow_code": ("Mã theo dõi", "Follow-up code"),
    "complaints.follow_open": ("Xem", "Show"),
    "complaints.too_many": ("Bạn đã gửi quá nhiều lần trong thời gian ngắn. Vui lòng thử lại "
                            "sau.", "Too many submissions in a short time. Please try later."),
    "complaints.too_large": ("Nội dung gửi quá lớn.", "What was sent is too large."),
    "complaints.bad_form": ("Không đọc được biểu mẫu đã gửi.", "The form sent cannot be read."),
    "complaints.spent": ("Biểu mẫu này đã được gửi. Mỗi lần mở biểu mẫu chỉ gửi được một "
                         "đơn; xem đơn đã gửi bằng mã tra cứu.",
                         "This form was already sent. Each opened form files one complaint; "
                         "follow the one sent with its code."),
    "complaints.expired": ("Biểu mẫu đã hết hạn. Vui lòng kiểm tra nội dung và bấm Gửi lần "
                           "nữa.", "The form has expired. Check what you wrote and press Send "
                           "again."),
    "complaints.refused": ("Biểu mẫu không được chấp nhận.", "The form was not accepted."),
    "complaints.too_fast": ("Biểu mẫu được gửi quá nhanh. Vui lòng kiểm tra nội dung và bấm "
                            "Gửi lần nữa.", "The form was sent too quickly. Check what you "
                            "wrote and press Send again."),
    "complaints.err_complaint_field_too_long": ("Mục “{field}” quá dài (tối đa {limit} ký tự).",
                                                "“{field}” is too long (at most {limit} "
                                                "characters)."),
    "complaints.err_complaint_field_missing": ("Vui lòng điền mục “{field}”.",
                                               "Please fill in “{field}”."),
    "complaints.err_complaint_bad_value": ("Mục “{field}” không hợp lệ.",
                                           "“{field}” is not valid."),
    "complaints.err_complaint_unknown_target": (
        "Không có hồ sơ hoặc bản sao nào với mã này. Vui lòng kiểm tra lại mã.",
        "No dossier or copy has this code. Please check the code."),
    "complaints.err_complaint_step_not_allowed": (
        "Không thể làm việc này ở tình trạng hiện tại (có thể người khác vừa xử lý); trang "
        "đã được cập nhật.", "This cannot be done in the complaint's current state (someone "
        "may just have acted on it); the page is up to date now."),
    "complaints.public_title": ("Theo dõi khiếu nại, phản ánh", "Complaint follow-up"),
    "complaints.filed_notice": ("Đã nhận. Hãy giữ mã theo dõi {code} để xem trả lời tại trang "
                                "này.", "Received. Keep the follow-up code {code} to see the "
                                "answer on this page."),
    "complaints.unknown_code": ("Không có khiếu nại nào với mã này.",
                                "No complaint has this code."),
    "complaints.created": ("Ngày gửi", "Filed"),
    "complaints.status": ("Tình trạng", "Status"),
    "complaints.due": ("Hạn theo quy định", "Legal time limit ends"),
    "complaints.answers": ("Trả lời của cơ quan", "Answers from the office"),
    "complaints.no_answer": ("Chưa có trả lời.", "No answer yet."),
    "complaints.st_received": ("Đã nhận, chờ thụ lý", "Received, awaiting acceptance"),
    "complaints.st_accepted": ("Đã thụ lý, đang giải quyết", "Accepted, being resolved"),
    "complaints.st_answered": ("Đã trả lời", "Answered"),
    "complaints.st_closed": ("Đã kết thúc", "Closed"),
    "complaints.ev_accept": ("Thụ lý", "Accepted"),
    "complaints.ev_answer": ("Trả lời", "Answer"),
    "complaints.ev_close": ("Kết thúc", "Closed"),
    "complaints.ev_reopen": ("Mở lại", "Reopened"),
    "complaints.about_dossier": ("Khiếu nại, phản ánh về hồ sơ này",
                                 "Complain about this dossier"),
    "complaints.about_copy": ("Khiếu nại, phản ánh về bản sao này",
                              "Complain about this copy"),
    "complaints.list_title": ("Khiếu nại, phản ánh, kiến nghị", "Complaints and feedback"),
    "complaints.scope": ("Của xã mã {code}. Việc đang mở và quá hạn hiện trước.",
                         "Of commune {code}. Open and overdue cases first."),
    "complaints.none": ("Chưa có khiếu nại, phản ánh nào.", "No complaint or feedback yet."),
    "complaints.col_open": ("Xem", "Open"),
    "complaints.overdue": ("Quá hạn", "Overdue"),
    "complaints.detail_title": ("{kind} ngày {date}", "{kind} of {date}"),
    "complaints.contact": ("Người gửi (thông tin cá nhân: chỉ cán bộ xã được xem)",
                           "Filed by (personal data: for the commune's staff only)"),
    "complaints.history": ("Diễn biến", "History"),
    "complaints.act_title": ("Xử lý", "Handle"),
    "complaints.act_accept": ("Thụ lý", "Accept"),
    "complaints.act_answer": ("Gửi trả lời", "Send the answer"),
    "complaints.act_close": ("Kết thúc", "Close"),
    "complaints.act_reopen": ("Mở lại", "Reopen"),
    "complaints.f_complex": ("Vụ việc phức tạp (thời hạn dài hơn)",
                             "Complex case (longer time limit)"),
    "complaints.answer_hint": ("Trả lời hiện trên trang theo dõi của người gửi, không kèm tên "
                               "cán bộ.", "The answer appears on the complainant's follow-up "
                               "page, without staff names."),
    "complaints.limits": ("Thời hạn: thụ lý {a}; giải quyết {r} ({rc} nếu phức tạp).",
                          "Time limits: accept within {a}; resolve within {r} ({rc} when "
                          "complex)."),
    "complaints.days": ("{n} ngày", "{n} days"),
    "complaints.working_days": ("{n} ngày làm việc", "{n} working days"),
    "complaints.read_only": ("Chỉ xem.", "Read only."),
    "complaints.code_staff": ("Mã theo dõi của người gửi: {code}",
                              "The complainant's follow-up code: {code}"),
})


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


def _local(at: str) -> str:
    try:
        return datetime.fromisoformat(at).astimezone(cs.VN).strftime("%d/%m/%Y %H:%M")
    except ValueError:
        return ""


def _day(iso_date: str) -> str:
    return f"{iso_date[8:10]}/{iso_date[5:7]}/{iso_date[:4]}" if iso_date else ""


# ------------------------------------------------------------------ the form token


def _form_key(request: Request) -> bytes:
    """One random key per deployment, in the database (working state, not evidence), so
    every web process accepts the forms any other one handed out."""
    key = getattr(request.app.state, "complaint_form_key", None)
    if key is None:
        with request.app.state.db.write() as s:
            key = bytes.fromhex(pointer_once(s, FORM_KEY, secrets.token_bytes(32).hex(),
                                             by="ecopy"))
        request.app.state.complaint_form_key = key
    return key


def _mac(key: bytes, body: str) -> str:
    return hmac.new(key, body.encode(), hashlib.sha256).hexdigest()[:32]


def issue_token(key: bytes, now: float) -> str:
    body = f"{int(now)}.{secrets.token_urlsafe(16)}"
    return f"{body}.{_mac(key, body)}"


def token_age(key: bytes, token: str, now: float) -> float | None:
    """Seconds since the token was issued; None when it is not one of ours."""
    stamp, _, rest = token.partition(".")
    nonce, _, mac = rest.partition(".")
    if not (stamp.isdigit() and nonce and mac):
        return None
    if not hmac.compare_digest(mac.encode(), _mac(key, f"{stamp}.{nonce}").encode()):
        return None
    return now - int(stamp)


# ------------------------------------------------------------------ public form


def _form_page(request: Request, values: dict[str, str], *, error: str = "",
               status: int = 200) -> Response:
    token = issue_token(_form_key(request), time.time())
    response = render(request, "complaint_new.html", {
        "v": values, "ftoken": token, "error": error, "honeypot": HONEYPOT,
        "limits": cs.FIELD_LIMITS}, status=status)
    response.set_cookie(FORM_COOKIE, token, httponly=True, samesite="strict",
                        secure=request.app.state.settings.web_secure_cookies,
                        path="/complaints", max_age=MAX_FORM_AGE_S)
    return _no_store(response)


def _refuse(request: Request, values: dict[str, str], key: str, status: int,
            **params: object) -> Response:
    return _form_page(request, values, error=t(request, key, **params), status=status)


@router.get("/complaints/new")
async def complaint_form(request: Request, code: str = "", copy: str = "") -> Response:
    values = dict.fromkeys(FORM_FIELDS, "")
    values.update(kind="complaint", filer="citizen", target_type="dossier",
                  target=code.strip().upper()[:cs.MAX_TARGET])
    if copy and not code:
        values.update(target_type="copy", target=copy.strip().lower()[:cs.MAX_TARGET])
    return _form_page(request, values)


async def _read_form(request: Request) -> dict[str, str] | int:
    """The url-encoded body as a dict, or the HTTP status refusing it."""
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > MAX_BODY:
        return 413
    if not request.headers.get("content-type", "").startswith(
            "application/x-www-form-urlencoded"):
        return 400
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            return 413
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True,
                          max_num_fields=MAX_FIELDS)
    except (UnicodeDecodeError, ValueError):
        return 400
    return dict(pairs)


def _error_text(request: Request, exc: cs.ComplaintError) -> str:
    field = t(request, f"complaints.f_{exc.field}") if exc.field else ""
    limit = cs.FIELD_LIMITS.get(exc.field, cs.MAX_ANSWER)
    return t(request, f"complaints.err_{exc.reason}", field=field, limit=limit)


@router.post("/complaints/new")
async def complaint_submit(request: Request) -> Response:
    blank = dict.fromkeys(FORM_FIELDS, "")
    if not allowed(request, "complaint", FILE_LIMIT, FILE_WINDOW_S):
        return _refuse(request, blank, "complaints.too_many", 429)
    form = await _read_form(request)
    if isinstance(form, int):
        return _refuse(request, blank, "complaints.too_large" if form == 413
                       else "complaints.bad_form", form)
    values = {name: str(form.get(name, ""))[:cs.MAX_TEXT + 1] for name in FORM_FIELDS}
    cookie = request.cookies.get(FORM_COOKIE, "")
    presented = form.get("ftoken", "")
    now = time.time()
    age = token_age(_form_key(request), cookie, now) if cookie else None
    if age is None or not same_token(cookie, presented) or age > MAX_FORM_AGE_S:
        return _refuse(request, values, "complaints.expired", 403)
    if form.get(HONEYPOT, ""):
        return _refuse(request, values, "complaints.refused", 400)
    if age < getattr(request.app.state, "complaint_min_fill_s", MIN_FILL_S):
        return _refuse(request, values, "complaints.too_fast", 400)
    db = request.app.state.db

    def filed() -> cs.Complaint | None:
        with db.write() as s:  # the token is spent with the complaint, or not at all
            if not insert_once(s, spent_tokens, {
                    "token_sha256": hashlib.sha256(cookie.encode()).hexdigest(),
                    "spent_at": datetime.now(UTC)}):
                return None
            return cs.file_complaint(s, **values, working_day=calendar().is_working_day)

    try:
        complaint = await run_in_threadpool(filed)
    except cs.ComplaintError as exc:
        return _form_page(request, values, error=_error_text(request, exc), status=400)
    if complaint is None:  # the same form posted again (a replay, a double click)
        return _refuse(request, blank, "complaints.spent", 409)
    found = current(request)
    actor = f"web:{found[0].username}" if found else "web:anonymous"
    audit_event(request, actor, "complaint_filed", complaint.ref,
                sha=cs.complaint_digest(complaint),
                with_address=found is not None, agency=complaint.agency,
                kind=complaint.kind, target_type=complaint.target_type)
    response = RedirectResponse(f"/complaints/{complaint.public_code}?filed=1", 303)
    response.delete_cookie(FORM_COOKIE, path="/complaints")
    return response


# ------------------------------------------------------------------ follow-up (public)


@router.get("/complaints/follow")
async def complaint_follow(request: Request, code: str = "") -> Response:
    wanted = code.strip().upper()[:20]
    return RedirectResponse(f"/complaints/{quote(wanted)}" if wanted else "/complaints/new",
                            303)


@router.get("/complaints/{code}")
async def complaint_public(request: Request, code: str, filed: str = "") -> Response:
    if not allowed(request, "complaint_lookup", LOOKUP_LIMIT, LOOKUP_WINDOW_S):
        raise HTTPException(429)
    def look_up() -> tuple[cs.Complaint | None, list[cs.Event]]:
        with request.app.state.db.read() as s:
            found = cs.complaint_by_code(s, code)
            return found, (cs.events_of(s, found) if found else [])

    complaint, events = await run_in_threadpool(look_up)
    if complaint is None:
        return _no_store(render(request, "complaint_public.html",
                                {"found": None, "code": code[:20]}, status=404))
    view = cs.public_view(complaint, events, working_day=calendar().is_working_day)
    view["created_local"] = _local(str(view["created_at"]))
    view["due_local"] = _day(str(view["due"]))
    for answer in view["answers"]:  # type: ignore[union-attr]
        answer["at_local"] = _local(answer["at"])
    return _no_store(render(request, "complaint_public.html",
                            {"found": view, "code": complaint.public_code,
                             "filed": bool(filed)}))


# ------------------------------------------------------------------ staff


def _row(complaint: cs.Complaint, state: cs.State) -> dict[str, Any]:
    return {"c": complaint, "state": state, "created_local": _local(complaint.created_at),
            "due_local": _day(state.due)}


def agency_rows(db: Database, agency: str, cursor: str = "",
                ) -> tuple[list[dict[str, Any]], str]:
    """A page of the commune's complaints: open before closed, the one due soonest (the
    overdue) first; and the next page's cursor."""
    now = datetime.now(UTC)
    with db.read() as s:
        try:
            page = cs.list_complaints(s, agency, cursor=cursor)
        except BadCursor:
            page = cs.list_complaints(s, agency)
        rows = [_row(c, cs.state_of(c, cs.events_of(s, c), now, calendar().is_working_day))
                for c in page.items]
    return rows, page.next_cursor


@router.get("/complaints")
async def complaint_list(request: Request, after: str = "") -> Response:
    account, _session = require(request, *STAFF)
    rows, next_cursor = await run_in_threadpool(agency_rows, request.app.state.db,
                                                account.agency, after[:200])
    record_many(request, account, "complaint_list",
                [Read("", r["c"].complaint_id) for r in rows])
    return _no_store(render(request, "complaints.html", {
        "rows": rows, "next": f"/complaints?after={next_cursor}" if next_cursor else ""}))


def _own(request: Request, agency: str, complaint_id: str) -> cs.Complaint:
    """The complaint if it belongs to `agency`; another commune's answers 404 like none."""
    with request.app.state.db.read() as s:
        found = cs.load_complaint(s, agency, complaint_id)
    if found is None:
        raise HTTPException(404)
    return found


def _detail(request: Request, complaint: cs.Complaint, may_write: bool, *, error: str = "",
            status: int = 200) -> Response:
    with request.app.state.db.read() as s:
        events = cs.events_of(s, complaint)
    state = cs.state_of(complaint, events, working_day=calendar().is_working_day)
    return _no_store(render(request, "complaint.html", {
        "c": complaint, "state": state, "row": _row(complaint, state),
        "events": [{"e": e, "at_local": _local(e.at)} for e in events],
        "limits": cs.TIME_LIMITS[complaint.kind], "error": error,
        "max_answer": cs.MAX_ANSWER, "may_write": may_write}, status=status))


@router.get("/complaints/manage/{complaint_id}")
async def complaint_detail(request: Request, complaint_id: str) -> Response:
    account, _session = require(request, *STAFF)
    complaint = _own(request, account.agency, complaint_id)
    record_read(request, account, "complaint", "", complaint.complaint_id)
    return _detail(request, complaint, account.role in WRITERS)


@router.post("/complaints/manage/{complaint_id}")
async def complaint_step(request: Request, complaint_id: str) -> Response:
    account, session = require(request, *WRITERS)
    form = await check_csrf(request, session)
    complaint = _own(request, account.agency, complaint_id)
    action = str(form.get("action", ""))
    db = request.app.state.db

    def step() -> tuple[cs.Event, str]:
        with db.write() as s:
            return cs.add_event(s, complaint, action, by=account.username,
                                text=str(form.get("text", "")),
                                complex_case=form.get("complex") == "1",
                                working_day=calendar().is_working_day)

    try:
        event, digest = await run_in_threadpool(step)
    except cs.ComplaintError as exc:
        return _detail(request, complaint, True, error=_error_text(request, exc),
                       status=409 if exc.reason == cs.BAD_STEP else 400)
    audit_event(request, account.username, f"complaint_{action}",
                f"{complaint.ref}/events/{event.seq}", sha=digest,
                complaint=complaint.complaint_id)
    return RedirectResponse(f"/complaints/manage/{complaint.complaint_id}", 303)
