"""Clerk pages: a citizen's dossiers, multi-file upload, and each document's live status.

    GET  /dossiers                 the agency's dossiers, newest first, paged (?after=<cursor>),
                                   and the form to open one
    POST /dossiers/search          search (personal ID, name with or without tone marks,
                                   dossier code, copy id, register number, dates, type,
                                   status): a POST, so what is searched for stays out of URLs
    POST /dossiers                 open a dossier: a valid personal ID, or name + date of birth
    GET  /dossiers/{id}            the person, the upload zone, the documents and their status
    POST /dossiers/{id}/upload     several files (multipart, streamed): JSON for scripts,
                                   a redirect (or the page with the refusals) for a plain form
    GET  /dossiers/{id}/status     every document's status as JSON, for the live refresh

Every request that names a dossier looks it up under the signed-in user's own agency, so a
dossier of another commune answers 404 like one that does not exist. Search is bounded to the
user's commune too, except for auditors, who oversee every commune of the deployment (their
hits in other communes are listed without a link). Uploads are streamed to
a private temporary folder, each file cut off at the size limit + 1 byte; the sent file name
is reduced to one harmless path component before anything uses it, then the file goes through
`pipeline.flow.intake` (sniffing, limits, stored original) like a CLI upload.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import unicodedata
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import IO, Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.concurrency import run_in_threadpool

from ecopy.accounts import Account
from ecopy.settings import Settings
from ecopy.web import i18n
from ecopy.web.access import record_many, record_read
from ecopy.web.app import audit_event, lang_of, local_time, render, t
from ecopy.web.processing import Processor
from ecopy.web.security import check_csrf, csrf_ok, require, same_origin
from pipeline.casework.procedures import procedures
from pipeline.flow import Accepted, StageOptions, intake
from pipeline.reasons import Reason, message
from pipeline.types import DocStatus
from pipeline.vn.dates import parse_date
from pipeline.vn.idnumber import parse_personal_id
from storage.db.access import Read
from storage.db.cases import cases_of_dossier, get_case
from storage.db.dossiers import DOSSIER_ID, Dossier, list_dossiers, load_dossier, open_dossier
from storage.db.paging import BadCursor
from storage.db.search import SearchQuery, search
from storage.state import State

router = APIRouter()
WRITERS = ("clerk", "admin")
CHANNELS = ("counter", "online")  # how the dossier came in (Dossier.channel, per-commune figures)
READERS = ("clerk", "admin", "auditor")
FIELD_CAP = 4096  # bytes of a non-file form field (the CSRF token) kept from an upload
MAX_FIELDS = 20  # non-file parts of one upload request
NAME_BYTES = 200  # an uploaded file's name, UTF-8 encoded, after cleaning
MULTIPART_SLACK = 64 * 1024  # part headers and boundaries per file, for the body-size cap
BADGES = {  # case status → badge class and interface string
    "received": "received", "ocr": "ocr", "needs_review": "needs_review", "ready": "ready",
    "certifying": "ready", "certified": "certified", "filed": "filed", "rejected": "rejected",
    "cancelled": "cancelled",
}
SEARCHERS_OF_ALL = ("auditor",)  # search every commune of the deployment
UNFINISHED = {"received", "ocr"}

i18n.register({
    "dossier.list_title": ("Hồ sơ của công dân", "Citizens' dossiers"),
    "dossier.open_title": ("Mở hồ sơ mới", "Open a new dossier"),
    "dossier.open_help": ("Nhập số định danh cá nhân (12 số trên căn cước). Nếu công dân không "
                          "có số định danh, nhập họ tên và ngày sinh.",
                          "Enter the personal ID (the 12 digits on the ID card). If the citizen "
                          "has none, enter the full name and date of birth."),
    "dossier.person_id": ("Số định danh cá nhân", "Personal ID number"),
    "dossier.person_id_hint": ("12 chữ số, ví dụ 001301012345", "12 digits, e.g. 001301012345"),
    "dossier.person_name": ("Họ và tên", "Full name"),
    "dossier.date_of_birth": ("Ngày sinh", "Date of birth"),
    "dossier.date_hint": ("Ví dụ 15/03/1990", "e.g. 15/03/1990"),
    "dossier.open_button": ("Mở hồ sơ", "Open the dossier"),
    "dossier.channel": ("Hồ sơ nộp", "Received"),
    "dossier.channel.counter": ("Trực tiếp tại Bộ phận một cửa", "In person at the one-stop desk"),
    "dossier.channel.online": ("Trực tuyến qua Cổng Dịch vụ công", "Online through the portal"),
    "dossier.procedure": ("Thủ tục", "Procedure"),
    "dossier.bad_choice": ("Lựa chọn không hợp lệ.", "Invalid choice."),
    "dossier.search": ("Tìm theo số định danh hoặc họ tên", "Search by ID number or name"),
    "dossier.search_button": ("Tìm", "Search"),
    "dossier.none": ("Chưa có hồ sơ nào.", "No dossiers yet."),
    "dossier.none_found": ("Không tìm thấy hồ sơ phù hợp.", "No dossier matches."),
    "dossier.col_person": ("Công dân", "Citizen"),
    "dossier.col_id": ("Số định danh", "ID number"),
    "dossier.col_birth": ("Ngày sinh", "Date of birth"),
    "dossier.col_opened": ("Ngày mở", "Opened"),
    "dossier.col_by": ("Người mở", "Opened by"),
    "dossier.no_id": ("(không có số định danh)", "(no ID number)"),
    "dossier.unnamed": ("(chưa ghi họ tên)", "(name not given)"),
    "dossier.id_digits": ("cần đúng 12 chữ số", "it must be exactly 12 digits"),
    "dossier.id_province": ("mã tỉnh nơi đăng ký khai sinh {code} không tồn tại",
                            "there is no birth-registration province {code}"),
    "dossier.need_name_birth": ("Không có số định danh thì cần nhập cả họ tên và ngày sinh.",
                                "Without an ID number, enter both the full name and the date "
                                "of birth."),
    "dossier.bad_date": ("Không hiểu ngày sinh \"{value}\". Hãy nhập theo dạng ngày/tháng/năm, "
                         "ví dụ 15/03/1990.",
                         "Cannot read the date of birth \"{value}\". Use day/month/year, "
                         "e.g. 15/03/1990."),
    "dossier.future_date": ("Ngày sinh không thể ở tương lai.",
                            "The date of birth cannot be in the future."),
    "dossier.bad_name": ("Họ tên quá dài hoặc có ký tự không hợp lệ.",
                         "The name is too long or has characters that are not allowed."),
    "dossier.title": ("Hồ sơ {id}", "Dossier {id}"),
    "dossier.back": ("Tất cả hồ sơ", "All dossiers"),
    "dossier.person": ("Công dân", "Citizen"),
    "dossier.opened": ("Mở ngày {at} bởi {by}", "Opened {at} by {by}"),
    "dossier.upload_title": ("Tải lên bản quét", "Upload scans"),
    "dossier.upload_help": ("Kéo thả các tệp vào khung này, hoặc bấm nút bên dưới để chọn. "
                            "PDF, JPEG, PNG hoặc TIFF; mỗi tệp tối đa {limit}, mỗi lần tối đa "
                            "{files} tệp.",
                            "Drag files into this box, or use the button below to choose them. "
                            "PDF, JPEG, PNG or TIFF; up to {limit} per file and {files} files "
                            "at a time."),
    "dossier.choose_files": ("Chọn tệp bản quét", "Choose scan files"),
    "dossier.upload_button": ("Tải lên", "Upload"),
    "dossier.uploading": ("Đang tải lên", "Uploading"),
    "dossier.upload_failed": ("Tải lên không thành công; hãy thử lại.",
                              "The upload failed; try again."),
    "dossier.received": ("Đã nhận; tình trạng xử lý hiện trong bảng giấy tờ bên dưới.",
                         "Received; the table of documents below shows its progress."),
    "dossier.no_files": ("Chưa chọn tệp nào.", "No file was chosen."),
    "dossier.upload_results": ("Kết quả tải lên", "Upload results"),
    "dossier.too_many_files": ("Mỗi lần chỉ tải lên tối đa {files} tệp; tệp này chưa được "
                               "nhận, hãy tải lên lần sau.",
                               "At most {files} files per upload; this one was not taken, "
                               "upload it again."),
    "dossier.documents": ("Giấy tờ trong hồ sơ", "Documents in the dossier"),
    "dossier.no_documents": ("Chưa có giấy tờ nào.", "No documents yet."),
    "dossier.col_file": ("Tệp", "File"),
    "dossier.col_status": ("Tình trạng", "Status"),
    "dossier.col_action": ("Việc tiếp theo", "Next step"),
    "dossier.col_uploaded": ("Tải lên lúc", "Uploaded"),
    "dossier.review": ("Kiểm tra", "Review"),
    "dossier.download": ("Tải bản sao điện tử", "Download the e-copy"),
    "dossier.read_only": ("Bạn chỉ có quyền xem hồ sơ.", "You may only view dossiers."),
    "dossier.live_label": ("Thông báo tình trạng", "Status announcements"),
    "status.received": ("Đang chờ xử lý", "Waiting to be processed"),
    "status.ocr": ("Đang nhận dạng (OCR)", "Reading the text (OCR)"),
    "status.needs_review": ("Cần kiểm tra", "Needs checking"),
    "status.ready": ("Sẵn sàng chứng thực", "Ready to certify"),
    "status.certifying": ("Đang ký số", "Being signed"),
    "dossier.search_more": ("Tìm theo loại giấy tờ, tình trạng, ngày mở",
                            "Search by document type, status, opening date"),
    "dossier.search_type": ("Loại giấy tờ", "Document type"),
    "dossier.search_status": ("Tình trạng", "Status"),
    "dossier.search_from": ("Mở từ ngày", "Opened from"),
    "dossier.search_to": ("đến ngày", "to"),
    "dossier.search_any": ("— tất cả —", "— any —"),
    "dossier.search_hint": ("Số định danh (12 số), họ tên (có hoặc không dấu), mã hồ sơ, mã bản "
                            "sao điện tử hoặc số chứng thực.",
                            "Personal ID (12 digits), name (with or without tone marks), "
                            "dossier code, e-copy id or register number."),
    "dossier.results": ("Kết quả tìm kiếm", "Search results"),
    "dossier.col_document": ("Giấy tờ", "Document"),
    "dossier.col_code": ("Mã hồ sơ", "Dossier code"),
    "dossier.col_commune": ("Xã", "Commune"),
    "dossier.bad_search_date": ("Ngày tìm kiếm không hợp lệ.", "The search date is not valid."),
    "status.certified": ("Đã chứng thực", "Certified"),
    "status.filed": ("Đã chứng thực", "Certified"),
    "status.rejected": ("Bị từ chối", "Rejected"),
    "status.cancelled": ("Đã hủy chứng thực", "Certification cancelled"),
    "status.unknown": ("Không rõ tình trạng", "Status unknown"),
})


# ------------------------------------------------------------------ helpers


def _dossier_or_404(request: Request, account: Account, dossier_id: str) -> Dossier:
    """The dossier under the user's own agency; 404 for bad ids and other agencies alike."""
    if not DOSSIER_ID.match(dossier_id):
        raise HTTPException(404)
    with request.app.state.db.read() as s:
        dossier = load_dossier(s, account.agency, dossier_id)
    if dossier is None:
        raise HTTPException(404)
    return dossier


def clean_name(text: str) -> str:
    """A person's name as typed: NFC, single spaces, no control characters."""
    text = unicodedata.normalize("NFC", text)
    if any(unicodedata.category(c)[0] == "C" for c in text):
        raise ValueError("control characters")
    text = " ".join(text.split())
    if len(text) > 100:
        raise ValueError("too long")
    return text


def safe_file_name(sent: str | None) -> str:
    """One harmless path component from a client's file name, its suffix kept.

    Folders (either slash) are dropped, control and format characters removed, "." and ".."
    replaced, and the name shortened to NAME_BYTES of UTF-8 (the file systems' limit is 255).
    """
    name = (sent or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = unicodedata.normalize("NFC", name)
    name = "".join(c for c in name if unicodedata.category(c)[0] != "C").strip()
    if name in ("", ".", ".."):
        name = "tep-tai-len"
    stem, dot, suffix = name.rpartition(".")
    if not dot or len(suffix.encode()) > 10:
        stem, suffix = name, ""
    tail = f".{suffix}" if suffix else ""
    while len((stem + tail).encode()) > NAME_BYTES:
        stem = stem[:-1]
    return (stem or "tep") + tail


def _status_view(lang: str, record: dict) -> dict:
    """A case's status as shown to the clerk (the JSON of the live refresh, too)."""
    status = str(record.get("status") or "unknown")
    text = ""
    if status == "rejected":
        text = record.get("message_en" if lang == "en" else "message") or record.get(
            "message", "")
    elif status == "needs_review":
        text = "; ".join((record.get("review_messages") or {}).values())
    links = []
    if status in ("needs_review", "ready"):
        links.append({"href": f"/documents/{record['case_id']}/review",
                      "text": i18n.text("dossier.review", lang)})
    copy_id = record.get("copy_id") or ""
    if status in ("filed", "certified") and re.fullmatch(r"[0-9a-f]{32}", copy_id):
        links.append({"href": f"/copies/{copy_id}.pdf",
                      "text": i18n.text("dossier.download", lang)})
    at = record.get("created_at", "")
    return {"case_id": record["case_id"], "sha256": record["sha256"],
            "name": record.get("name", ""), "at": at, "when": local_time(at),
            "status": status, "badge": BADGES.get(status, "unknown"),
            "label": i18n.text(f"status.{status}" if status in BADGES else "status.unknown",
                               lang),
            "message": text, "reason": record.get("reason", "") if status == "rejected"
            else "", "done": status not in UNFINISHED, "links": links,
            "doc_type": record.get("document_name", "")}


def _documents(state: State, dossier: Dossier, lang: str) -> list[dict]:
    with state.db.read() as s:
        return [_status_view(lang, record) for record in cases_of_dossier(s, dossier.dossier_id)]


def _wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


# ------------------------------------------------------------------ list and open


@router.get("/dossiers", response_class=HTMLResponse)
def dossier_list(request: Request, after: str = "") -> Response:  # sync: run in a thread
    account, _session = require(request, *READERS)
    return _list_page(request, account, cursor=after[:200])


@router.post("/dossiers/search", response_class=HTMLResponse)
async def dossier_search(request: Request) -> Response:
    account, session = require(request, *READERS)
    form = await check_csrf(request, session)
    fields = {k: str(form.get(k) or "")[:100] for k in ("q", "doc_type", "status", "from",
                                                          "to", "after")}
    return await run_in_threadpool(_list_page, request, account, search_form=fields)


def _search_query(request: Request, fields: dict[str, str]) -> tuple[SearchQuery, str]:
    """The query of the search form, and an error text for a bad date ("" when none)."""
    dates: list[date | None] = []
    for name in ("from", "to"):
        raw = fields.get(name, "").strip()
        found = parse_date(raw) if raw else None
        if raw and found is None:
            return SearchQuery(), t(request, "dossier.bad_search_date")
        dates.append(found)
    status = fields.get("status", "")
    return SearchQuery(text=fields.get("q", ""), doc_type=fields.get("doc_type", ""),
                       status=status if status in BADGES else "", opened_from=dates[0],
                       opened_to=dates[1]), ""


def _list_page(request: Request, account: Account, *, cursor: str = "",
               search_form: dict | None = None, errors: list[str] | None = None,
               form: dict | None = None, status: int = 200) -> Response:
    from pipeline.steps.classify import DOCUMENT_NAMES

    db = request.app.state.db
    errors = list(errors or [])
    hits, dossiers, next_cursor = None, [], ""
    query, problem = _search_query(request, search_form or {})
    if problem:
        errors.append(problem)
    with db.read() as s:
        if search_form is not None and not query.empty() and not problem:
            agencies = None if account.role in SEARCHERS_OF_ALL else [account.agency]
            try:
                page = search(s, query, agencies=agencies, cursor=search_form.get("after", ""))
            except BadCursor:
                page = search(s, query, agencies=agencies)
            hits, next_cursor = page.items, page.next_cursor
        else:
            try:
                page = list_dossiers(s, account.agency, cursor=cursor)
            except BadCursor:
                page = list_dossiers(s, account.agency)
            dossiers, next_cursor = page.items, page.next_cursor
    shown = ([Read(h.person_id, h.case_id or h.dossier_id) for h in hits] if hits is not None
             else [Read(d.person_id, d.dossier_id) for d in dossiers])
    record_many(request, account, "search" if hits is not None else "dossier_list", shown)
    return render(request, "dossiers.html", {
        "dossiers": dossiers, "opened": {d.dossier_id: local_time(d.opened_at) for d in dossiers},
        "hits": [{**asdict(h), "when": local_time(h.opened_at.isoformat())}
                 for h in hits] if hits is not None else None,
        "next_cursor": next_cursor, "search": search_form or {}, "searched": hits is not None,
        "own_agency": account.agency, "doc_types": list(DOCUMENT_NAMES.items()),
        "statuses": [k for k in BADGES if k != "cancelled"],
        "errors": errors, "form": form or {}, "channels": CHANNELS,
        "procedures": sorted(procedures().values(), key=lambda p: p.code),
        "may_write": account.role in WRITERS}, status=status)


def _check_person(request: Request, person_id: str, name: str, birth: str
                  ) -> tuple[list[str], str, str, str]:
    """(errors, person_id, name, ISO birth date) from the open-dossier form."""
    errors: list[str] = []
    person_id = "".join(person_id.split())
    if person_id:
        try:
            parse_personal_id(person_id)
        except ValueError as exc:
            detail = str(exc)
            code = detail.rsplit(" ", 1)[-1]
            detail = t(request, "dossier.id_province", code=code) if "province" in detail \
                else t(request, "dossier.id_digits")
            errors.append(message(Reason.INVALID_PERSON_ID, lang_of(request),
                                  value=person_id[:20], detail=detail))
    try:
        name = clean_name(name)
    except ValueError:
        errors.append(t(request, "dossier.bad_name"))
        name = ""
    iso = ""
    birth = " ".join(birth.split())[:40]
    if birth:
        found = parse_date(birth)
        if found is None:
            errors.append(t(request, "dossier.bad_date", value=birth))
        elif found > date.today():
            errors.append(t(request, "dossier.future_date"))
        else:
            iso = found.isoformat()
    if not person_id and not (name and birth):
        errors.append(t(request, "dossier.need_name_birth"))
    return errors, person_id, name, iso


@router.post("/dossiers")
async def dossier_open(request: Request) -> Response:
    account, session = require(request, *WRITERS)
    form = await check_csrf(request, session)
    fields = {k: str(form.get(k) or "")[:200] for k in ("person_id", "person_name",
                                                         "date_of_birth", "channel",
                                                         "procedure")}
    errors, person_id, name, birth = _check_person(
        request, fields["person_id"], fields["person_name"], fields["date_of_birth"])
    channel, procedure = fields["channel"] or "counter", fields["procedure"]
    if channel not in CHANNELS or (procedure and procedure not in procedures()):
        errors.append(t(request, "dossier.bad_choice"))
    if errors:
        return await run_in_threadpool(_list_page, request, account, errors=errors,
                                       form=fields, status=400)
    state: State = request.app.state.work

    def opened() -> Dossier:
        with state.db.write() as s:
            return open_dossier(s, agency=account.agency, person_id=person_id,
                                person_name=name, date_of_birth=birth,
                                opened_by=account.username, procedure=procedure,
                                channel=channel, deadlines=state.deadlines)

    dossier = await run_in_threadpool(opened)
    # the audit chain is permanent: the act and the dossier, never the person's name, ID or
    # birth date (they are in the dossier's row, deleted on its retention date)
    audit_event(request, account.username, "open_dossier",
                f"dossiers/{dossier.agency}/{dossier.dossier_id}", procedure=procedure,
                channel=channel)
    return RedirectResponse(f"/dossiers/{dossier.dossier_id}", 303)


# ------------------------------------------------------------------ one dossier


@router.get("/dossiers/{dossier_id}", response_class=HTMLResponse)
def dossier_page(request: Request, dossier_id: str, split: int = 0) -> Response:
    account, _session = require(request, *READERS)
    dossier = _dossier_or_404(request, account, dossier_id)
    notice = t(request, "review.split_done", count=split) if 1 < split < 1000 else ""
    return _dossier_page(request, account, dossier, notice=notice)


def _dossier_page(request: Request, account: Account, dossier: Dossier, *,
                  results: list[dict] | None = None, error: str = "", notice: str = "",
                  status: int = 200) -> Response:
    settings: Settings = request.app.state.settings
    lang = lang_of(request)
    documents = _documents(request.app.state.work, dossier, lang)
    record_read(request, account, "dossier", dossier.person_id, dossier.dossier_id)
    return render(request, "dossier.html", {
        "dossier": dossier, "documents": documents, "results": results or [],
        "opened": local_time(dossier.opened_at),
        "error": error, "notice": notice, "may_write": account.role in WRITERS,
        "max_bytes": settings.limits.max_bytes, "max_files": settings.web_max_upload_files,
        "limit_text": settings.limits.describe_bytes(),
        "too_large": message(Reason.FILE_TOO_LARGE, lang,
                             limit=settings.limits.describe_bytes()),
        "pending": any(not d["done"] for d in documents)}, status=status)


@router.get("/dossiers/{dossier_id}/status")
async def dossier_status(request: Request, dossier_id: str) -> Response:
    account, _session = require(request, *READERS)
    dossier = _dossier_or_404(request, account, dossier_id)
    documents = await run_in_threadpool(_documents, request.app.state.work, dossier,
                                        lang_of(request))
    # statuses only, polled by the open dossier page (whose opening was recorded): not a read
    # of the person's data worth a row every few seconds
    return JSONResponse({"dossier_id": dossier.dossier_id, "documents": documents,
                         "pending": any(not d["done"] for d in documents)},
                        headers={"Cache-Control": "no-store"})


# ------------------------------------------------------------------ upload


@dataclass
class _Upload:
    """One file part of an upload request, as received."""

    name: str  # made safe (safe_file_name)
    path: Path | None  # None when not kept (over the count)
    size: int = 0
    too_large: bool = False
    over_count: bool = False
    handle: IO[bytes] | None = field(default=None, repr=False)


class _UploadReader:
    """Streams a multipart body: files to `folder`, each cut at max_bytes + 1; small fields."""

    def __init__(self, folder: Path, max_bytes: int, max_files: int) -> None:
        self.folder, self.max_bytes, self.max_files = folder, max_bytes, max_files
        self.files: list[_Upload] = []
        self.fields: dict[str, str] = {}
        self.field_count = 0
        self._headers: dict[str, bytes] = {}
        self._header_name = b""
        self._header_value = b""
        self._file: _Upload | None = None
        self._field: tuple[str, bytearray] | None = None

    def callbacks(self) -> dict[str, Any]:
        return {"on_part_begin": self._part_begin, "on_header_field": self._header_field,
                "on_header_value": self._header_value_data, "on_header_end": self._header_end,
                "on_headers_finished": self._headers_finished, "on_part_data": self._data,
                "on_part_end": self._part_end}

    def _part_begin(self) -> None:
        self._headers, self._file, self._field = {}, None, None

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def _header_value_data(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _header_end(self) -> None:
        self._headers[self._header_name.decode("latin-1").lower()] = self._header_value
        self._header_name, self._header_value = b"", b""

    def _headers_finished(self) -> None:
        _kind, options = parse_options_header(self._headers.get("content-disposition", b""))
        field_name = options.get(b"name", b"").decode("utf-8", "replace")
        if b"filename" in options:
            if field_name != "files":
                return
            sent = options[b"filename"].decode("utf-8", "replace")
            upload = _Upload(safe_file_name(sent), None)
            if not sent:  # a form sent with no file chosen
                upload.over_count = True
                upload.name = ""
            elif len([f for f in self.files if f.name]) >= self.max_files:
                upload.over_count = True
            else:
                slot = self.folder / str(len(self.files))
                slot.mkdir()
                upload.path = slot / upload.name
                upload.handle = open(upload.path, "xb")  # noqa: SIM115 - closed at part end
            self.files.append(upload)
            self._file = upload
            return
        self.field_count += 1
        if self.field_count > MAX_FIELDS:
            raise HTTPException(400)
        self._field = (field_name, bytearray())

    def _data(self, data: bytes, start: int, end: int) -> None:
        upload = self._file
        if upload is not None:
            upload.size += end - start
            if upload.handle is None:
                return
            if upload.size > self.max_bytes:  # keep nothing more of it
                upload.too_large = True
                upload.handle.close()
                upload.handle = None
                if upload.path is not None:
                    upload.path.unlink(missing_ok=True)
                return
            upload.handle.write(data[start:end])
        elif self._field is not None and len(self._field[1]) <= FIELD_CAP:
            self._field[1].extend(data[start:min(end, start + FIELD_CAP + 1)])

    def _part_end(self) -> None:
        if self._file is not None and self._file.handle is not None:
            self._file.handle.close()
            self._file.handle = None
        if self._field is not None:
            name, value = self._field
            if len(value) <= FIELD_CAP:
                self.fields.setdefault(name, value.decode("utf-8", "replace"))
        self._file, self._field = None, None

    def close(self) -> None:
        for upload in self.files:
            if upload.handle is not None:
                upload.handle.close()
                upload.handle = None


async def _read_upload(request: Request, folder: Path, settings: Settings) -> _UploadReader:
    content_type, options = parse_options_header(request.headers.get("content-type", ""))
    boundary = options.get(b"boundary")
    if content_type != b"multipart/form-data" or not boundary:
        raise HTTPException(400)
    cap = (settings.web_max_upload_files * (settings.limits.max_bytes + MULTIPART_SLACK)
           + MULTIPART_SLACK)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > cap:
        raise HTTPException(413)  # refused before a byte of the body is read
    reader = _UploadReader(folder, settings.limits.max_bytes, settings.web_max_upload_files)
    parser = MultipartParser(boundary, reader.callbacks())
    received = 0
    try:
        async for chunk in request.stream():
            received += len(chunk)
            if received > cap:
                raise HTTPException(413)
            parser.write(chunk)
        parser.finalize()
    except HTTPException:
        raise
    except Exception as exc:  # a malformed body
        raise HTTPException(400) from exc
    finally:
        reader.close()
    return reader


def _take_in(state: State, settings: Settings, lang: str, account: Account,
             dossier: Dossier, uploads: list[_Upload]) -> tuple[list[dict], list[str]]:
    """Intake of each received file into the dossier; (result per file, cases to process)."""
    opt = StageOptions(person_id=dossier.person_id, lang=settings.ocr_lang,
                       limits=settings.limits, lang_messages=settings.lang,
                       actor=account.username, certify_when_sure=False)
    results, to_process = [], []
    for upload in uploads:
        if upload.over_count:
            results.append({"name": upload.name, "sha256": "", "case_id": "",
                            "status": "rejected", "reason": "too_many_files",
                            "message": i18n.text("dossier.too_many_files", lang,
                                                 files=settings.web_max_upload_files)})
            continue
        if upload.too_large or upload.path is None:
            limit = settings.limits.describe_bytes()
            results.append({"name": upload.name, "sha256": "", "case_id": "",
                            "status": "rejected", "reason": Reason.FILE_TOO_LARGE.value,
                            "message": message(Reason.FILE_TOO_LARGE, lang, limit=limit)})
            continue
        outcome = intake(state, opt, dossier=dossier, path=upload.path)
        if isinstance(outcome, Accepted):
            case_id, sha, status, reason, text = (outcome.case_id, outcome.sha256,
                                                  "received", "", "")
            to_process.append(case_id)
        else:
            case_id, sha, reason, text = (outcome.case_id, outcome.sha256, outcome.reason,
                                          outcome.message)
            status = str(outcome.status)
        case = None
        if case_id:
            with state.db.read() as s:
                case = get_case(s, case_id)
        if status == DocStatus.DUPLICATE and case:  # known already: where it stands
            status, reason, text = case["status"], "", ""
        if status != "rejected":
            text = i18n.text(f"status.{status}" if status in BADGES else "status.unknown",
                             lang)
        elif case:  # the case keeps the message in both languages
            text = _status_view(lang, case)["message"]
        elif reason:
            text = message(Reason(reason), lang)
        results.append({"name": upload.name, "sha256": sha, "case_id": case_id,
                        "status": status, "reason": str(reason), "message": text})
    return results, to_process


@router.post("/dossiers/{dossier_id}/upload")
async def dossier_upload(request: Request, dossier_id: str) -> Response:
    account, session = require(request, *WRITERS)  # auditors: 403 before the body is read
    dossier = _dossier_or_404(request, account, dossier_id)
    header_token = request.headers.get("X-CSRF-Token")
    if header_token is not None and not csrf_ok(session, header_token):
        raise HTTPException(403, detail="csrf")
    if header_token is None and not same_origin(request):
        # a plain form's token is inside the body: before reading up to a gigabyte of it,
        # the browser must at least say one of our pages sent it
        raise HTTPException(403, detail="csrf")
    settings: Settings = request.app.state.settings
    lang = lang_of(request)
    folder = Path(tempfile.mkdtemp(prefix="ecopy-upload-"))
    try:
        reader = await _read_upload(request, folder, settings)
        # the form's token when no header came (a plain form post): checked before any use
        if header_token is None and not csrf_ok(session, reader.fields.get("csrf")):
            raise HTTPException(403, detail="csrf")
        uploads = [u for u in reader.files if u.name]
        if not uploads:
            if _wants_json(request):
                return JSONResponse({"files": [], "error": t(request, "dossier.no_files")}, 400)
            return await run_in_threadpool(_dossier_page, request, account, dossier,
                                           error=t(request, "dossier.no_files"), status=400)
        results, to_process = await run_in_threadpool(
            _take_in, request.app.state.work, settings, lang, account, dossier, uploads)
    finally:
        await run_in_threadpool(shutil.rmtree, folder, True)
    audit_event(request, account.username, "upload",
                f"dossiers/{dossier.agency}/{dossier.dossier_id}",
                files=[{k: r[k] for k in ("name", "sha256", "case_id", "status", "reason")}
                       for r in results])
    processor: Processor = request.app.state.processor
    await run_in_threadpool(processor.submit, dossier, to_process, account.username)
    if _wants_json(request):
        return JSONResponse({"files": results})
    if any(not r["case_id"] for r in results):  # refused before storing: say so here
        return await run_in_threadpool(_dossier_page, request, account, dossier,
                                       results=results)
    return RedirectResponse(f"/dossiers/{dossier.dossier_id}", 303)
