"""The citizen's access report: "who accessed my data", printed by the commune for the
citizen who asks (the data subject's right to know who processed their data).

GET /access shows the form; POST /access (personal ID in the body, never in a URL) shows every
recorded read of that person's data in every commune, newest first, ready to print. Clerks,
auditors and administrators may make it; making it is itself recorded.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from ecopy.access import report
from ecopy.commands.access import what_text
from ecopy.web import i18n
from ecopy.web.access import record_read
from ecopy.web.app import lang_of, local_time, render, t
from ecopy.web.security import check_csrf, require

router = APIRouter()
ROLES = ("clerk", "auditor", "admin")
STAFF_ROLES = ("clerk", "certifier", "auditor", "admin")
PERSON_ID = re.compile(r"^\d{12}$")

i18n.register({
    "access.title": ("Ai đã truy cập dữ liệu của tôi", "Who accessed my data"),
    "access.intro": ("Báo cáo các lần cán bộ xem dữ liệu cá nhân của công dân trên hệ thống, "
                     "để giao cho công dân khi được yêu cầu.",
                     "Every time staff viewed a citizen's personal data in the system, to "
                     "hand to the citizen who asks."),
    "access.person_id": ("Số định danh cá nhân (12 chữ số)", "Personal ID number (12 digits)"),
    "access.make": ("Lập báo cáo", "Make the report"),
    "access.bad_id": ("Số định danh cá nhân phải gồm đúng 12 chữ số.",
                      "A personal ID number has exactly 12 digits."),
    "access.of": ("Báo cáo truy cập dữ liệu của công dân số định danh {person_id}",
                  "Reads of the data of personal ID {person_id}"),
    "access.made": ("Lập lúc {when} bởi {user}.", "Made at {when} by {user}."),
    "access.none": ("Chưa có lần truy cập nào được ghi nhận.", "No read is on record."),
    "access.count": ("{n} lần truy cập", "{n} reads"),
    "access.col_when": ("Thời gian", "When"),
    "access.col_who": ("Tài khoản", "Account"),
    "access.col_role": ("Vai trò", "Role"),
    "access.col_agency": ("Cơ quan", "Agency"),
    "access.col_what": ("Nội dung xem", "What was read"),
    "access.print": ("In báo cáo", "Print"),
    "access.retention": ("Nhật ký truy cập được lưu theo thời hạn quy định rồi xóa; các lần "
                         "truy cập cũ hơn thời hạn đó không còn trong báo cáo.",
                         "The access log is kept for its retention period and then deleted; "
                         "reads older than that are no longer in the report."),
})


@router.get("/access")
async def access_form(request: Request) -> Response:
    require(request, *ROLES)
    return render(request, "access_report.html", {"rows": None, "typed": "", "error": ""})


@router.post("/access")
async def access_report(request: Request) -> Response:
    account, session = require(request, *ROLES)
    form = await check_csrf(request, session)
    person_id = str(form.get("person_id") or "").strip()
    if not PERSON_ID.match(person_id):
        return render(request, "access_report.html", {
            "rows": None, "typed": person_id[:40], "error": t(request, "access.bad_id")},
            status=400)
    state = request.app.state
    rows = await run_in_threadpool(report, state.db, person_id)
    record_read(request, account, "access_report", person_id)
    lang = lang_of(request)
    shown = [{**r, "when": local_time(r["at"]), "what_text": what_text(r["what"], lang),
              "role_text": t(request, f"role.{r['role']}") if r["role"] in STAFF_ROLES
              else r["role"]} for r in rows]
    return render(request, "access_report.html", {
        "rows": shown, "person_id": person_id, "typed": person_id, "error": "",
        "made": local_time(datetime.now(UTC).isoformat())})
