"""Operators' view of the portal outbox (storage/outbox.py): /admin/sync.

    GET  /admin/sync              backlog, failed deliveries, delivered count (admin, auditor)
    POST /admin/sync/retry/{key}  re-queue a failed item (admin; audited by storage.outbox)

Only the account's own commune's items are shown or re-queued (another commune's key answers
404), and nothing personal: item keys, kinds, copy ids or dossier codes, times and errors.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from ecopy.web import i18n
from ecopy.web.app import render
from ecopy.web.security import check_csrf, require
from storage.db.paging import BadCursor
from storage.outbox import OutboxStatus, item_state, retry, summary

router = APIRouter()
VN = ZoneInfo("Asia/Ho_Chi_Minh")
VIEWERS = ("admin", "auditor")
KEY = re.compile(r"^(ecopy|status|cancellation)-[0-9a-f]{40}$")  # storage.outbox keys

i18n.register({
    "sync.nav": ("Đồng bộ cổng", "Portal sync"),
    "sync.title": ("Đồng bộ với Cổng dịch vụ công", "Sync with the public service portal"),
    "sync.scope": ("Các mục của cơ quan bạn (xã mã {code}) trong hàng đợi gửi lên cổng.",
                   "Your agency's items (commune {code}) in the queue to the portal."),
    "sync.not_configured": ("Chưa cấu hình địa chỉ cổng (ECOPY_PORTAL_URL): các mục được giữ "
                            "trong hàng đợi và sẽ gửi khi cấu hình xong.",
                            "No portal address is configured (ECOPY_PORTAL_URL): items are "
                            "kept in the queue and sent once it is set."),
    "sync.portal": ("Địa chỉ cổng: {url}", "Portal address: {url}"),
    "sync.counts": ("Đang chờ gửi: {pending} (bản sao {ecopy}, tình trạng {status}, hủy "
                    "{cancellation}) · Đã gửi: {delivered} · Gửi lỗi: {failed}",
                    "Waiting: {pending} (copies {ecopy}, statuses {status}, cancellations "
                    "{cancellation}) · Delivered: {delivered} · Failed: {failed}"),
    "sync.oldest": ("Mục chờ lâu nhất được đưa vào lúc {at}.", "The oldest waiting item was "
                    "queued at {at}."),
    "sync.failed_title": ("Gửi lỗi (cần xử lý)", "Failed deliveries (need attention)"),
    "sync.none_failed": ("Không có mục nào gửi lỗi.", "No failed delivery."),
    "sync.pending_title": ("Đang chờ gửi (cũ nhất trước)", "Waiting (oldest first)"),
    "sync.none_pending": ("Không có mục nào đang chờ.", "Nothing is waiting."),
    "sync.col_kind": ("Loại", "Kind"),
    "sync.col_ref": ("Mã bản sao / mã hồ sơ", "Copy id / dossier code"),
    "sync.col_queued": ("Đưa vào lúc", "Queued at"),
    "sync.col_attempts": ("Số lần gửi", "Attempts"),
    "sync.col_next": ("Gửi lại lúc", "Next attempt"),
    "sync.col_error": ("Lỗi gần nhất", "Last error"),
    "sync.col_action": ("Thao tác", "Action"),
    "sync.retry": ("Gửi lại", "Send again"),
    "sync.retry_label": ("Gửi lại mục {item}", "Send item {item} again"),
    "sync.retried": ("Đã đưa mục {item} trở lại hàng đợi.", "Item {item} is back in the queue."),
    "sync.kind.ecopy": ("Bản sao điện tử", "E-copy"),
    "sync.kind.status": ("Tình trạng hồ sơ", "Dossier status"),
    "sync.kind.cancellation": ("Hủy chứng thực", "Cancellation"),
})


def _local(at: str) -> str:
    try:
        return datetime.fromisoformat(at).astimezone(VN).strftime("%d/%m/%Y %H:%M")
    except (TypeError, ValueError):
        return ""


def _rows(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**i, "queued_local": _local(i["enqueued_at"]),
             "next_local": _local(i["next_attempt_at"])} for i in items]


@router.get("/admin/sync")
async def sync_page(request: Request, retried: str = "", failed_after: str = "") -> Response:
    account, _session = require(request, *VIEWERS)

    def read() -> dict:
        with request.app.state.db.read() as s:
            try:
                return summary(s, None, agency=account.agency,
                               failed_cursor=failed_after[:200])
            except BadCursor:
                return summary(s, None, agency=account.agency)

    info = await run_in_threadpool(read)
    response = render(request, "sync.html", {
        "info": info, "portal_url": request.app.state.settings.portal_url,
        "failed": _rows(info["failed"]), "pending": _rows(info["pending_items"]),
        "oldest_local": _local(info["oldest_pending_at"] or ""),
        "can_retry": account.role == "admin",
        "failed_next": "/admin/sync?" + urlencode({"failed_after": info["failed_next"]})
        if info["failed_next"] else "",
        "retried": retried if KEY.match(retried) else ""})
    response.headers["Cache-Control"] = "no-store"
    return response


@router.post("/admin/sync/retry/{key}")
async def sync_retry(request: Request, key: str) -> Response:
    account, session = require(request, *VIEWERS)
    if account.role != "admin":
        raise HTTPException(403)
    await check_csrf(request, session)
    db, store = request.app.state.db, request.app.state.store

    def look_up() -> object:
        with db.read() as s:
            return item_state(s, key)

    state = await run_in_threadpool(look_up)
    if state is None or state.agency != account.agency:
        raise HTTPException(404)
    if state.status is OutboxStatus.FAILED:
        await run_in_threadpool(lambda: retry(db, store, key, actor=account.username))
    return RedirectResponse(f"/admin/sync?retried={key}", 303)
