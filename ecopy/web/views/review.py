"""The review screen: page images with the extracted fields outlined, and a form to fix them.

GET  /review                           the commune's queue: documents the machine was unsure
                                       about, longest waiting first, a page at a time
GET  /documents/{case_id}/review       clerk/admin edit; certifier/auditor read only
POST /documents/{case_id}/review       save corrections (ecopy.actions.correct_document)
POST /documents/{case_id}/reviewed     "checked, hand to the certifier" → READY

Boxes are sent as percentages of the upright page in data-* attributes; review.js places
them (the CSP forbids inline styles, not styles set from script).
"""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from ecopy import actions
from ecopy.accounts import Account
from ecopy.web import i18n
from ecopy.web.access import record_many, record_read
from ecopy.web.app import audit_event, lang_of, local_time, render, t
from ecopy.web.security import check_csrf, require
from ecopy.web.views.pages import READERS, page_url, visible_record
from pipeline.steps.classify import DOCUMENT_NAMES
from pipeline.types import FIELD_NAMES, DocStatus
from storage.db import cases
from storage.db.access import Read
from storage.db.paging import BadCursor

router = APIRouter()

EDITORS = ("clerk", "admin")

FIELD_LABELS: dict[str, tuple[str, str]] = {
    "full_name": ("Họ, chữ đệm và tên", "Full name"),
    "date_of_birth": ("Ngày, tháng, năm sinh", "Date of birth"),
    "sex": ("Giới tính (M = Nam, F = Nữ)", "Sex (M/F)"),
    "id_number": ("Số định danh cá nhân", "Personal ID number"),
    "place_of_birth": ("Nơi sinh", "Place of birth"),
    "place_of_origin": ("Quê quán", "Place of origin"),
    "place_of_residence": ("Nơi thường trú", "Place of residence"),
    "document_number": ("Số giấy tờ", "Document number"),
    "register_number": ("Số đăng ký / số vào sổ", "Register number"),
    "serial_number": ("Số hiệu / số seri", "Serial number"),
    "issue_date": ("Ngày cấp", "Issue date"),
    "issuer": ("Cơ quan cấp", "Issued by"),
    "expiry_date": ("Có giá trị đến", "Expiry date"),
    "father_full_name": ("Họ tên cha", "Father's full name"),
    "mother_full_name": ("Họ tên mẹ", "Mother's full name"),
    "husband_full_name": ("Họ tên chồng", "Husband's full name"),
    "husband_date_of_birth": ("Ngày sinh của chồng", "Husband's date of birth"),
    "husband_id_number": ("Số định danh của chồng", "Husband's ID number"),
    "wife_full_name": ("Họ tên vợ", "Wife's full name"),
    "wife_date_of_birth": ("Ngày sinh của vợ", "Wife's date of birth"),
    "wife_id_number": ("Số định danh của vợ", "Wife's ID number"),
    "date_of_death": ("Ngày chết", "Date of death"),
    "license_number": ("Số giấy phép", "Licence number"),
    "license_class": ("Hạng", "Licence class"),
    "major": ("Ngành đào tạo", "Major"),
    "grade": ("Xếp loại", "Grade"),
    "enterprise_code": ("Mã số doanh nghiệp", "Enterprise code"),
    "company_name": ("Tên doanh nghiệp", "Company name"),
    "parcel_number": ("Thửa đất số", "Parcel number"),
    "map_sheet_number": ("Tờ bản đồ số", "Map sheet number"),
    "area_m2": ("Diện tích (m²)", "Area (m²)"),
}
assert set(FIELD_LABELS) == FIELD_NAMES

i18n.register({f"review.field.{k}": v for k, v in FIELD_LABELS.items()})
i18n.register({
    "review.title": ("Kiểm tra giấy tờ", "Check a document"),
    "review.queue_title": ("Giấy tờ cần kiểm tra", "Documents to check"),
    "review.queue_hint": ("Máy chưa chắc chắn về các giấy tờ này. Mở từng giấy tờ, sửa thông "
                          "tin nếu sai rồi chuyển cho người ký.",
                          "The machine was unsure about these. Open each one, fix what is "
                          "wrong, then hand it to the certifier."),
    "review.queue_none": ("Không có giấy tờ nào cần kiểm tra.", "Nothing to check."),
    "review.col.dossier": ("Hồ sơ", "Dossier"),
    "review.unknown_type": ("Chưa rõ loại giấy tờ", "Type not recognised"),
    "review.pages": ("Ảnh trang giấy tờ", "Page images"),
    "review.page_n": ("Trang {n}", "Page {n}"),
    "review.page_alt": ("Ảnh trang {n} của {name}", "Image of page {n} of {name}"),
    "review.boxes_hint": ("Ô màu xanh cho biết vị trí máy đọc được từng thông tin. Bấm vào "
                          "một ô thông tin để thấy vị trí của nó trên ảnh.",
                          "Blue boxes show where the machine read each item. Focus a field "
                          "to see where it is on the page."),
    "review.why": ("Vì sao cần kiểm tra", "Why this needs checking"),
    "review.no_reasons": ("Máy không thấy điều gì cần kiểm tra.",
                          "The machine found nothing to check."),
    "review.doc_type": ("Loại giấy tờ", "Document type"),
    "review.type_confidence": ("Máy chắc chắn {pct}%", "Machine confidence {pct}%"),
    "review.fields": ("Thông tin trên giấy tờ", "Information on the paper"),
    "review.no_fields": ("Máy chưa đọc được thông tin nào; hãy nhập thông tin cần thiết.",
                         "The machine read no information; type in what is needed."),
    "review.confidence": ("độ tin cậy {pct}%", "confidence {pct}%"),
    "review.on_page": ("trang {n}", "page {n}"),
    "review.by_clerk": ("do công chức nhập", "typed in by a clerk"),
    "review.machine_read": ("Máy đọc: {value}", "Machine read: {value}"),
    "review.add": ("Thêm thông tin máy chưa đọc được", "Add information the machine missed"),
    "review.add_name": ("Loại thông tin", "Item"),
    "review.add_value": ("Giá trị", "Value"),
    "review.add_none": ("— không thêm —", "— none —"),
    "review.date_hint": ("Ngày có thể nhập 05/02/1990 hoặc “ngày 05 tháng 02 năm 1990”.",
                         "Dates may be typed 05/02/1990 or “ngày 05 tháng 02 năm 1990”."),
    "review.foreign": ("Giấy tờ do nước ngoài cấp?", "Issued abroad?"),
    "review.foreign.none": ("Không — giấy tờ Việt Nam", "No — a Vietnamese paper"),
    "review.foreign.legalised": ("Có — đã hợp pháp hóa lãnh sự", "Yes — legalised"),
    "review.foreign.not_legalised": ("Có — chưa hợp pháp hóa lãnh sự (phải từ chối)",
                                     "Yes — not legalised (to be refused)"),
    "review.foreign.exempt": ("Có — miễn hợp pháp hóa: {kind}", "Yes — exempt: {kind}"),
    "review.foreign.save": ("Ghi nhận", "Record"),
    "review.foreign.saved": ("Đã ghi nhận.", "Recorded."),
    "review.split": ("Tách tệp thành từng giấy", "Split the file into papers"),
    "review.split_hint": ("Tệp có nhiều giấy tờ; mỗi bản chính được cấp một số chứng thực riêng. "
                          "Ghi các trang của từng giấy, cách nhau bởi dấu chấm phẩy (ví dụ "
                          "1; 2-3). Nếu đây thật là một giấy, bấm “Đã kiểm tra”.",
                          "The file holds several papers; each original gets its own number. "
                          "Write the pages of each paper, separated by semicolons (e.g. "
                          "1; 2-3). If it really is one paper, press “Checked”."),
    "review.split_pages": ("Trang của từng giấy", "Pages of each paper"),
    "review.split_do": ("Tách", "Split"),
    "review.split_done": ("Đã tách thành {count} giấy tờ; máy đang đọc từng giấy.",
                          "Split into {count} papers; each is being read."),
    "review.save": ("Lưu sửa đổi", "Save corrections"),
    "review.saved": ("Đã lưu sửa đổi.", "Corrections saved."),
    "review.nothing": ("Không có gì thay đổi.", "Nothing changed."),
    "review.has_errors": ("Chưa lưu: có thông tin chưa hợp lệ, xem thông báo bên dưới.",
                          "Not saved: some values are invalid, see below."),
    "review.mark": ("Đã kiểm tra — chuyển chứng thực", "Checked — send for certification"),
    "review.mark_hint": ("Bấm khi mọi thông tin đã đúng với bản chính. Giấy tờ sẽ chuyển đến "
                         "người chứng thực.",
                         "Press when everything matches the original. The document goes to "
                         "the certifier."),
    "review.marked": ("Đã chuyển giấy tờ đến người chứng thực.",
                      "The document was sent to the certifier."),
    "review.read_only": ("Chỉ xem: bạn không sửa được giấy tờ này.",
                         "Read only: you cannot change this document."),
    "review.not_waiting": ("Giấy tờ không còn chờ kiểm tra ({status}); không sửa được nữa.",
                           "The document no longer waits for checking ({status}); it cannot "
                           "be changed."),
    "review.to_certify": ("Mở trang chứng thực", "Open the certification page"),
    "review.file": ("Tệp: {name}", "File: {name}"),
    "review.status": ("Trạng thái", "Status"),
    "review.err.unknown": ("Loại thông tin không có trong danh mục.", "Unknown item."),
    "review.err.empty": ("Không được để trống.", "Must not be empty."),
    "review.err.too_long": ("Quá dài (tối đa {n} ký tự).", "Too long (at most {n} characters)."),
    "review.err.not_a_date": ("Không đọc được ngày này. Ví dụ: 05/02/1990.",
                              "Not a date. Example: 05/02/1990."),
    "review.err.bad_id": ("Số định danh phải có 12 chữ số, bắt đầu bằng mã tỉnh nơi đăng ký "
                          "khai sinh.", "A personal ID is 12 digits starting with a province "
                                        "code."),
    "review.err.bad_sex": ("Nhập M (nam) hoặc F (nữ).", "Type M (male) or F (female)."),
    "review.err.doc_type": ("Hãy chọn loại giấy tờ trong danh sách.",
                            "Choose a document type from the list."),
    "review.status.received": ("Đã nhận", "Received"),
    "review.status.ocr": ("Đang đọc chữ", "Reading text"),
    "review.status.needs_review": ("Cần kiểm tra", "Needs checking"),
    "review.status.ready": ("Chờ chứng thực", "Ready to certify"),
    "review.status.certified": ("Đã chứng thực", "Certified"),
    "review.status.filed": ("Đã chứng thực", "Certified"),
    "review.status.rejected": ("Bị từ chối", "Refused"),
    "review.status.certifying": ("Đang ký", "Being signed"),
    "review.status.duplicate": ("Trùng", "Duplicate"),
})


def status_text(request: Request, status: str) -> str:
    key = f"review.status.{status}"
    text = t(request, key)
    return status if text == key else text


def current_fields(record: dict) -> list[dict]:
    """The machine's fields with the clerk's corrections applied, then fields only a clerk
    typed in; each with its page, box and confidence (what the machine saw)."""
    corrected = (record.get("corrections") or {}).get("fields") or {}
    out = []
    for f in record.get("fields", []):
        if f.get("name") not in FIELD_NAMES:
            continue
        value = corrected.get(f["name"], f.get("value", ""))
        out.append({**f, "machine_value": f.get("value", ""), "value": value,
                    "corrected": f["name"] in corrected and value != f.get("value")})
    seen = {f["name"] for f in out}
    out += [{"name": name, "value": value, "machine_value": "", "page": -1, "box": None,
             "confidence": 1.0, "corrected": True}
            for name, value in corrected.items() if name not in seen and name in FIELD_NAMES]
    return out


def current_doc_type(record: dict) -> str:
    return (record.get("corrections") or {}).get("doc_type") or record.get("doc_type") or "other"


def page_views(request: Request, record: dict) -> list[dict]:
    """One entry per page: image URL and the page's size in OCR pixels (for the boxes)."""
    from pipeline.flow import load_ocr

    ocr = {p.index: p for p in load_ocr(request.app.state.store, record["sha256"]) or []}
    count = int(record.get("pages") or len(ocr) or 0)
    return [{"n": i + 1, "index": i, "url": page_url(record["case_id"], i + 1),
             "width": ocr[i].width_px if i in ocr else 0,
             "height": ocr[i].height_px if i in ocr else 0} for i in range(count)]


def boxes_by_page(fields: list[dict], pages: list[dict]) -> dict[int, list[dict]]:
    """Field boxes as percentages of their page, grouped by page index."""
    sizes = {p["index"]: (p["width"], p["height"]) for p in pages}
    out: dict[int, list[dict]] = {}
    for f in fields:
        box, page = f.get("box"), f.get("page", -1)
        w, h = sizes.get(page, (0, 0))
        if not box or len(box) != 4 or not w or not h:
            continue
        left, top, width, height = (float(v) for v in box)
        out.setdefault(page, []).append({
            "name": f["name"], "left": round(100 * left / w, 3),
            "top": round(100 * top / h, 3), "width": round(100 * width / w, 3),
            "height": round(100 * height / h, 3)})
    return out


def review_messages(request: Request, record: dict) -> list[tuple[str, str]]:
    """(reason, text) in the interface language: the stored texts (written in the settings'
    language when the document was read), else made again from the stored OCR."""
    from dataclasses import replace

    from pipeline.flow import load_ocr, review_message, understood_from_record
    from pipeline.reasons import Reason

    settings = request.app.state.settings
    lang, reasons = lang_of(request), list(record.get("review_reasons", []))
    stored = record.get("review_messages") or {}
    if lang == settings.lang and all(stored.get(r) for r in reasons):
        return [(r, stored[r]) for r in reasons]
    ocr = load_ocr(request.app.state.store, record["sha256"]) or []
    understood = understood_from_record(record, ocr)
    opt = replace(actions.stage_options(record, settings, ""), lang_messages=lang)
    known = {r.value for r in Reason}
    return [(r, review_message(r, ocr, understood.extraction, opt, understood.classification)
             if r in known else r) for r in reasons]


def _may_edit(account: Account, record: dict) -> bool:
    return account.role in EDITORS and record.get("status") in actions.WAITING


def _context(request: Request, account: Account, record: dict, *, values: dict | None = None,
             errors: dict | None = None, doc_type: str | None = None,
             notice: str = "", alert: str = "") -> dict:
    fields = current_fields(record)
    for f in fields:
        f["label"] = t(request, f"review.field.{f['name']}")
        f["shown"] = (values or {}).get(f["name"], f["value"])
        f["error"] = (errors or {}).get(f["name"], "")
        f["pct"] = round(100 * float(f.get("confidence") or 0))
    pages = page_views(request, record)
    present = {f["name"] for f in fields}
    addable = sorted(((n, t(request, f"review.field.{n}")) for n in FIELD_NAMES
                      if n not in present), key=lambda p: p[1])
    classification = record.get("classification") or {}
    return {"record": record, "case_id": record["case_id"], "fields": fields, "pages": pages,
            "boxes": boxes_by_page(fields, pages), "reasons": review_messages(request, record),
            "doc_types": list(DOCUMENT_NAMES.items()),
            "doc_type": doc_type or current_doc_type(record),
            "doc_type_name": DOCUMENT_NAMES.get(doc_type or current_doc_type(record), ""),
            "type_pct": round(100 * float(classification.get("confidence") or 0)),
            "type_by_clerk": bool((record.get("corrections") or {}).get("doc_type")),
            "status": record.get("status", ""),
            "status_text": status_text(request, record.get("status", "")),
            "editable": _may_edit(account, record),
            "can_mark": _may_edit(account, record)
            and record.get("status") == DocStatus.NEEDS_REVIEW,
            "is_editor": account.role in EDITORS,
            "can_certify": account.role == "certifier"
            and record.get("status") in actions.WAITING,
            "addable": addable, "add_error": (errors or {}).get("__add__", ""),
            "add_name": (values or {}).get("__add_name__", ""),
            "add_value": (values or {}).get("__add_value__", ""),
            "type_error": (errors or {}).get("__doc_type__", ""),
            "can_split": _may_edit(account, record)
            and record.get("status") == DocStatus.NEEDS_REVIEW
            and int(record.get("pages") or 0) > 1,
            "split": (values or {}).get("__split__")
            or (actions.proposed_split(request.app.state.work, record)
                if "mixed_documents" in (record.get("review_reasons") or []) else ""),
            "split_error": (errors or {}).get("__split__", ""),
            "foreign": ((record.get("foreign") or {}).get("state")) or "none",
            "foreign_choices": _foreign_choices(request),
            "notice": notice, "alert": alert}


def _foreign_choices(request: Request) -> list[tuple[str, str]]:
    """The clerk's findings on a paper issued abroad (ecopy.actions.FOREIGN_STATES)."""
    lang = lang_of(request)
    out = []
    for value in actions.FOREIGN_STATES:
        if value.startswith("exempt:"):
            vi, en = actions.FOREIGN_EXEMPT[value.split(":", 1)[1]]
            out.append((value, t(request, "review.foreign.exempt",
                                 kind=en if lang == "en" else vi)))
        else:
            out.append((value, t(request, f"review.foreign.{value}")))
    return out


@router.get("/documents/{case_id}/review")
def review_page(request: Request, case_id: str, done: str = "") -> Response:
    account, _ = require(request, *READERS)
    record = visible_record(request, account, case_id)
    record_read(request, account, "case_fields", record.get("person_id", ""), case_id)
    notice = {"saved": "review.saved", "nothing": "review.nothing",
              "marked": "review.marked", "foreign": "review.foreign.saved"}.get(done, "")
    return render(request, "review.html", _context(request, account, record,
                                                   notice=t(request, notice) if notice else ""))


def _error_text(request: Request, exc: actions.FieldError) -> str:
    return t(request, f"review.err.{exc.code}", n=actions.MAX_VALUE)


@router.post("/documents/{case_id}/review")
async def save_review(request: Request, case_id: str) -> Response:
    account, session = require(request, *EDITORS)
    form = await check_csrf(request, session)
    record = visible_record(request, account, case_id)
    if record.get("status") not in actions.WAITING:
        return render(request, "review.html", _context(
            request, account, record, alert=t(request, "review.not_waiting",
                                              status=status_text(request, record["status"]))),
            status=409)
    current = {f["name"]: f["value"] for f in current_fields(record)}
    typed: dict[str, str] = {}
    for key, value in form.multi_items():
        if key.startswith("f.") and isinstance(value, str) and key[2:] in current:
            typed[key[2:]] = value
    add_name, add_value = str(form.get("add_name") or ""), str(form.get("add_value") or "")
    changes: dict[str, str] = {}
    errors: dict[str, str] = {}
    for name, value in typed.items():
        if " ".join(value.split()) == current[name]:
            continue
        try:
            checked = actions.parse_fields({name: value})
        except actions.FieldError as exc:
            errors[name] = _error_text(request, exc)
            continue
        if checked[name] != current[name]:
            changes.update(checked)
    if add_name or add_value.strip():
        try:
            if add_name in current:
                raise actions.FieldError(add_name, "unknown", "already on the form")
            changes.update(actions.parse_fields({add_name: add_value}))
        except actions.FieldError as exc:
            errors["__add__"] = _error_text(request, exc)
    doc_type = str(form.get("doc_type") or "")
    if doc_type not in DOCUMENT_NAMES:
        errors["__doc_type__"] = t(request, "review.err.doc_type")
    new_type = doc_type if doc_type != current_doc_type(record) else None
    if errors:
        values = {**typed, "__add_name__": add_name, "__add_value__": add_value}
        return render(request, "review.html", _context(
            request, account, record, values=values, errors=errors,
            doc_type=doc_type if doc_type in DOCUMENT_NAMES else None,
            alert=t(request, "review.has_errors")), status=400)
    if not changes and not new_type:
        return RedirectResponse(f"/documents/{case_id}/review?done=nothing", 303)
    try:
        actions.correct_document(request.app.state.work, record, actor=account.username,
                                 doc_type=new_type, fields=changes)
    except actions.ActionRefused as exc:
        raise HTTPException(409) from exc
    audit_event(request, account.username, "review_correct", f"cases/{case_id}",
                record["sha256"], doc_type=new_type, fields=sorted(changes))
    return RedirectResponse(f"/documents/{case_id}/review?done=saved", 303)


@router.post("/documents/{case_id}/foreign")
async def save_foreign(request: Request, case_id: str) -> Response:
    """The clerk's finding on a paper issued abroad (Decree 23/2015 Art 22, Circular 01/2020
    Art 6): kept on the case and audited; not legalised, it cannot be approved."""
    account, session = require(request, *EDITORS)
    form = await check_csrf(request, session)
    record = visible_record(request, account, case_id)
    try:
        actions.mark_foreign(request.app.state.work, record, actor=account.username,
                             value=str(form.get("finding") or ""))
    except ValueError:
        return render(request, "review.html", _context(
            request, account, record, alert=t(request, "review.err.unknown")), status=400)
    except actions.ActionRefused:
        return render(request, "review.html", _context(
            request, account, record, alert=t(request, "review.not_waiting",
                                              status=status_text(request, record["status"]))),
            status=409)
    return RedirectResponse(f"/documents/{case_id}/review?done=foreign", 303)


@router.post("/documents/{case_id}/split")
async def split_document(request: Request, case_id: str) -> Response:
    """One file, several papers (issue 16 point 3): each part becomes a case of the dossier,
    read as an upload is; the file's own case ends `split_into_papers`, the file kept."""
    account, session = require(request, *EDITORS)
    form = await check_csrf(request, session)
    record = visible_record(request, account, case_id)
    pages = str(form.get("pages") or "")[:200]
    try:
        dossier, new = await run_in_threadpool(
            actions.split_document, request.app.state.settings, request.app.state.work,
            record, actor=account.username, parts=pages)
    except actions.ActionRefused:
        return render(request, "review.html", _context(
            request, account, record, alert=t(request, "review.not_waiting",
                                              status=status_text(request, record["status"]))),
            status=409)
    except ValueError as exc:
        return render(request, "review.html", _context(
            request, account, record, values={"__split__": pages},
            errors={"__split__": str(exc)}), status=400)
    await run_in_threadpool(request.app.state.processor.submit, dossier, new,
                            account.username)
    return RedirectResponse(f"/dossiers/{record['dossier_id']}?split={len(new)}", 303)


@router.post("/documents/{case_id}/reviewed")
async def mark_reviewed(request: Request, case_id: str) -> Response:
    account, session = require(request, *EDITORS)
    await check_csrf(request, session)
    record = visible_record(request, account, case_id)
    try:
        actions.mark_reviewed(request.app.state.work, record, actor=account.username)
    except actions.ActionRefused:
        return render(request, "review.html", _context(
            request, account, record, alert=t(request, "review.not_waiting",
                                              status=status_text(request, record["status"]))),
            status=409)
    audit_event(request, account.username, "review_done", f"cases/{case_id}",
                record["sha256"], status=str(DocStatus.READY))
    return RedirectResponse(f"/documents/{case_id}/review?done=marked", 303)


# ------------------------------------------------------------------ the queue


def queue_row(request: Request, record: dict) -> dict:
    """One waiting case as the queues show it (also the certifier's, views/certify.py)."""
    return {"case_id": record["case_id"], "name": record.get("name", ""),
            "document": (record.get("document_name") or record.get("doc_type")
                         or t(request, "review.unknown_type")),
            "person": record.get("person_name", ""), "since": record["status_at"],
            "when": local_time(record["status_at"]), "status": record["status"],
            "status_text": status_text(request, record["status"]),
            "dossier_id": record.get("dossier_id", ""),
            "dossier_code": record.get("public_code", "")}


@router.get("/review")
def review_queue(request: Request, after: str = "") -> Response:  # sync: run in a thread
    account, _ = require(request, *EDITORS)
    with request.app.state.db.read() as s:
        try:
            page = cases.queue(s, account.agency, (DocStatus.NEEDS_REVIEW,), cursor=after[:200])
        except BadCursor:
            page = cases.queue(s, account.agency, (DocStatus.NEEDS_REVIEW,))
        total = cases.count_in(s, account.agency, (DocStatus.NEEDS_REVIEW,))
    record_many(request, account, "review_queue",
                [Read(r.get("person_id") or "", r["case_id"]) for r in page.items])
    return render(request, "review_queue.html", {
        "rows": [queue_row(request, r) for r in page.items], "total": total,
        "next": "/review?" + urlencode({"after": page.next_cursor}) if page.next_cursor else ""})
