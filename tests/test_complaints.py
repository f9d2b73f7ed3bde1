"""Complaints and feedback about a dossier or an e-copy (issue 8, point 5).

One real e-copy is made once by `ecopy process --certify-all` (certifying commune 99999); each
test copies that store and drives the web app with TestClient as the public, as staff of the
responsible commune (a dossier opened at 22222, the copy at 99999), as another commune's
staff (11111) and as an auditor; plus the CLI and the storage rules directly.
"""

from __future__ import annotations

import json
import re
import shutil
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from ecopy import accounts
from ecopy.access import flush_pending
from ecopy.settings import load_settings
from ecopy.web.app import create_app
from ecopy.web.security import AddressLimiter
from pipeline.casework import complaints as cs
from storage.backends import LocalStore
from storage.db.dossiers import open_dossier
from storage.db.schema import access_events
from storage.db.schema import complaints as complaint_rows
from storage.evidence.audit import read_events, verify_audit
from storage.state import State
from tests.conftest import PERSON, open_state, run_cli, sign_in

PASSWORD = "mật khẩu đủ dài 2026"
CONTACT = {"name": "Lê Thị Khiếu Nại", "phone": "0912 345 678", "email": "le.thi@example.vn",
           "address": "Số 7 đường Hoa Sữa"}
STAFF = (("lan", "clerk", "22222"), ("kiem.tra", "auditor", "22222"),
         ("hoa", "clerk", "11111"), ("chu.tich", "certifier", "99999"))


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory, sample_copy: dict) -> dict:
    store_dir = tmp_path_factory.mktemp("complaints") / "store"
    shutil.copytree(sample_copy["dir"], store_dir)
    state = open_state(LocalStore(store_dir))
    for user, role, agency in STAFF:
        accounts.create(state.db, user, f"Cán bộ {user}", role, agency, PASSWORD)
    state.db.close()
    return {"env": sample_copy["env"], "dir": store_dir, "copy_id": sample_copy["copy_id"]}


@pytest.fixture
def state(made: dict, tmp_path: Path) -> State:
    shutil.copytree(made["dir"], tmp_path / "store")
    return open_state(LocalStore(tmp_path / "store"))


def make_app(made: dict, state: State, *, real_guards: bool = False):
    app = create_app(replace(load_settings(made["env"]), web_secure_cookies=False), state)
    app.state.verify_limiter = AddressLimiter(10_000, 60, app.state.db)
    if not real_guards:  # the rate limit and the minimum fill time have their own tests
        app.state.complaint_limiter = AddressLimiter(10_000, 60, app.state.db)
        app.state.complaint_min_fill_s = 0
    return app


def client(app, user: str | None = None) -> TestClient:
    c = TestClient(app, follow_redirects=False)
    c.cookies.set("ecopy_lang", "vi")
    if user:
        r = sign_in(c, user, PASSWORD)
        assert r.status_code == 303, r.text
    return c


def dossier_code(state: State) -> str:
    with state.db.write() as s:
        return open_dossier(s, agency="22222", person_id=PERSON, person_name="Nguyễn Văn An",
                            date_of_birth="1990-01-01", opened_by="lan",
                            deadlines=state.deadlines).public_code


def all_complaints(state: State) -> list[cs.Complaint]:
    with state.db.read() as s:
        return cs.list_complaints(s, limit=200).items


def file(state: State, **fields) -> cs.Complaint:
    with state.db.write() as s:
        return cs.file_complaint(s, **fields)


def step(state: State, complaint: cs.Complaint, action: str, **kw) -> cs.Event:
    with state.db.write() as s:
        return cs.add_event(s, complaint, action, **kw)[0]


def events(state: State, complaint: cs.Complaint) -> list[cs.Event]:
    with state.db.read() as s:
        return cs.events_of(s, complaint)


def submit(c: TestClient, query: str = "", **fields: str):
    """Fill the public form as a browser would: GET it (token cookie + field), then POST."""
    form = c.get(f"/complaints/new{query}")
    assert form.status_code == 200
    token = re.search(r'name="ftoken" value="([^"]+)"', form.text).group(1)
    target = re.search(r'name="target" value="([^"]*)"', form.text).group(1)
    data = {"ftoken": token, "kind": "complaint", "target_type": "dossier", "target": target,
            "filer": "citizen", "text": "Hồ sơ bị trả chậm.", "website": "", **CONTACT}
    data.update(fields)
    return c.post("/complaints/new", data=data)


def stored(state: State) -> int:
    """Complaints kept (working state: the database, never the evidence store)."""
    assert not list(state.store.list("complaints/"))
    with state.db.read() as s:
        return s.execute(select(func.count()).select_from(complaint_rows)).scalar_one()


def test_dossier_complaint_answered_and_closed(made: dict, state: State) -> None:
    code = dossier_code(state)
    app = make_app(made, state)
    status_page = client(app).get(f"/status/{code}")
    assert f'href="/complaints/new?code={code}"' in status_page.text
    r = submit(client(app), f"?code={code.lower()}",
               text="Trả <b>chậm</b> <script>alert(1)</script>")
    assert r.status_code == 303, r.text
    follow = r.headers["location"]
    assert re.fullmatch(r"/complaints/[A-Z2-9]{12}\?filed=1", follow)
    [complaint] = all_complaints(state)
    assert (complaint.agency, complaint.target, complaint.kind) == ("22222", code, "complaint")

    staff = client(app, "lan")
    listing = staff.get("/complaints")
    assert complaint.complaint_id in listing.text and "Lê Thị" not in listing.text
    detail = staff.get(f"/complaints/manage/{complaint.complaint_id}")
    assert detail.status_code == 200 and "0912 345 678" in detail.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in detail.text
    assert "<script>alert(1)" not in detail.text
    csrf = re.search(r'name="csrf" value="([^"]+)"', detail.text).group(1)
    url = f"/complaints/manage/{complaint.complaint_id}"
    for step in ({"action": "accept"}, {"action": "answer", "text": "Đã bổ sung, xin lỗi ông."},
                 {"action": "close", "text": "Đã giải quyết."}):
        assert staff.post(url, data={"csrf": csrf, **step}).status_code == 303
    assert staff.post(url, data={"csrf": csrf, "action": "close"}).status_code == 409
    assert staff.post(url, data={"csrf": "wrong", "action": "reopen"}).status_code == 403

    other = client(app, "hoa")  # another commune: as if it did not exist
    assert other.get(url).status_code == 404
    other_csrf = re.search(r'name="csrf" value="([^"]+)"', other.get("/complaints").text).group(1)
    assert other.post(url, data={"csrf": other_csrf, "action": "reopen"}).status_code == 404
    assert complaint.complaint_id not in other.get("/complaints").text
    auditor = client(app, "kiem.tra")
    assert auditor.get(url).status_code == 200
    assert auditor.post(url, data={"action": "reopen"}).status_code == 403

    public = client(app).get(follow.split("?")[0])
    assert public.status_code == 200
    assert "Đã bổ sung, xin lỗi ông." in public.text and "Đã kết thúc" in public.text
    assert "&lt;script&gt;" in public.text and "<script>alert" not in public.text
    for private in (*CONTACT.values(), "lan", "Cán bộ", complaint.complaint_id):
        assert not re.search(rf"\b{re.escape(private)}\b", public.text), private
    assert public.headers["cache-control"] == "no-store"

    store = state.store
    acts = [e["details"].get("act") for e in read_events(store) if e["action"] == "web"]
    for act in ("complaint_filed", "complaint_accept", "complaint_answer", "complaint_close"):
        assert act in acts, act
    flush_pending(state.db)  # the web app writes its reads a moment later
    with state.db.read() as s:  # staff reads go to the access log (deleted on schedule)
        viewed = s.execute(select(access_events.c.what).where(
            access_events.c.ref == complaint.complaint_id)).scalars().all()
    assert "complaint" in viewed
    filed = next(e for e in read_events(store) if e["details"].get("act") == "complaint_filed")
    assert filed["object"] == complaint.ref and "Lê Thị" not in json.dumps(filed,
                                                                          ensure_ascii=False)
    assert "address" not in filed["details"]  # an anonymous citizen's address is not kept
    assert verify_audit(store) == []


def test_copy_complaint_goes_to_certifying_commune(made: dict, state: State) -> None:
    app = make_app(made, state)
    copy_id = made["copy_id"]
    assert f'href="/complaints/new?copy={copy_id}"' in client(app).get(f"/verify/{copy_id}").text
    r = submit(client(app), f"?copy={copy_id.upper()}", target_type="copy",
               kind="feedback", filer="agency", organisation="Ngân hàng X",
               text="Bản sao in sai tên.")
    assert r.status_code == 303, r.text
    [complaint] = all_complaints(state)
    assert (complaint.agency, complaint.target, complaint.filer) == ("99999", copy_id, "agency")
    assert complaint.complaint_id in client(app, "chu.tich").get("/complaints").text
    assert complaint.complaint_id not in client(app, "lan").get("/complaints").text
    assert client(app, "lan").get(
        f"/complaints/manage/{complaint.complaint_id}").status_code == 404
    unknown = submit(client(app), "", target_type="copy", target="0" * 32)
    assert unknown.status_code == 400 and "Không có hồ sơ hoặc bản sao" in unknown.text
    assert len(all_complaints(state)) == 1


def test_spam_refused_without_storing(made: dict, state: State) -> None:
    code = dossier_code(state)
    app = make_app(made, state)
    assert submit(client(app), f"?code={code}", website="http://spam.example").status_code == 400
    c = client(app)
    c.get("/complaints/new")
    c.cookies.clear()
    assert c.post("/complaints/new", data={"ftoken": "x", "target": code, **CONTACT,
                                           "text": "t"}).status_code == 403
    assert submit(client(app), f"?code={code}", ftoken="1.forged.mac").status_code == 403
    raw = client(app).post("/complaints/new", content=b"x" * (70 * 1024),
                           headers={"content-type": "application/x-www-form-urlencoded"})
    assert raw.status_code == 413
    app_fast = make_app(made, state, real_guards=True)  # default minimum fill time
    fast = submit(client(app_fast), f"?code={code}")
    assert fast.status_code == 400 and "quá nhanh" in fast.text
    assert stored(state) == 0


def test_filing_is_rate_limited(made: dict, state: State) -> None:
    app = make_app(made, state, real_guards=True)
    app.state.complaint_min_fill_s = 0
    c = client(app)
    codes = [submit(c, "", target="ABCDEFGHJK").status_code for _ in range(6)]
    assert codes == [400] * 5 + [429]  # unknown dossier code x5, then the limit
    assert stored(state) == 0


@pytest.mark.parametrize("field", sorted(cs.FIELD_LIMITS))
def test_over_long_fields_refused(made: dict, state: State, field: str) -> None:
    code = dossier_code(state)
    app = make_app(made, state)
    limit = cs.FIELD_LIMITS[field]
    r = submit(client(app), f"?code={code}", **{field: "a" * (limit + 1)})
    assert r.status_code == 400 and f"tối đa {limit} ký tự" in r.text
    assert stored(state) == 0
    with pytest.raises(cs.ComplaintError) as err:
        file(state, kind="complaint", target_type="dossier", filer="citizen",
                          **{**CONTACT, "text": "x", "target": code, field: "á" * (limit + 1)})
    assert (err.value.reason, err.value.field) == (cs.TOO_LONG, field)


def test_limits_are_explicit(state: State) -> None:
    assert (cs.MAX_NAME, cs.MAX_PHONE, cs.MAX_EMAIL, cs.MAX_ADDRESS, cs.MAX_TEXT) == \
        (100, 20, 254, 300, 4000)
    code = dossier_code(state)
    ok = file(state, kind="complaint", target_type="dossier", target=code,
                           filer="citizen", name="N" * cs.MAX_NAME, text="x" * cs.MAX_TEXT,
                           phone="0912345678")
    with pytest.raises(cs.ComplaintError):
        step(state, ok, "answer", by="lan", text="y" * (cs.MAX_ANSWER + 1))
    assert events(state, ok) == []
    law = cs.TIME_LIMITS["complaint"]
    assert (law.accept.days, law.resolve.days, law.resolve_complex.days) == (10, 30, 45)
    friday = "2026-01-09T03:00:00+00:00"
    assert cs.due_date(friday, cs.TIME_LIMITS["feedback"].accept).isoformat() == "2026-01-16"
    assert cs.due_date(friday, law.accept).isoformat() == "2026-01-19"


def test_overdue_flagged_for_old_open_complaints_only(made: dict, state: State) -> None:
    code = dossier_code(state)
    old = datetime.now(UTC) - timedelta(days=40)
    args = {"kind": "complaint", "target_type": "dossier", "target": code,
            "filer": "citizen", **CONTACT}
    stale = file(state, **args, text="cũ, chưa ai xử lý", now=old)
    done = file(state, **args, text="cũ, đã xong", now=old)
    fresh = file(state, **args, text="mới")
    step(state, done, "close", by="lan", text="xong", now=old + timedelta(days=2))
    assert cs.state_of(stale, events(state, stale)).overdue
    assert not cs.state_of(done, events(state, done)).overdue
    assert not cs.state_of(fresh, []).overdue
    # accepted 46 days ago as a complex case: past the 45-day limit
    step(state, fresh, "accept", by="lan", complex_case=True,
         now=datetime.now(UTC) - timedelta(days=46))
    assert cs.state_of(fresh, events(state, fresh)).overdue

    page = client(make_app(made, state), "lan").get("/complaints").text
    rows = re.findall(r'data-testid="complaint-([0-9a-f]{32})"', page)
    assert rows[-1] == done.complaint_id  # closed last
    assert page.count('data-testid="overdue"') == 2
    env = {**made["env"], "ECOPY_STORE": str(state.store.root)}
    proc = run_cli(["complaints", "list", "--overdue", "--json"], env)
    assert proc.returncode == 0, proc.stderr
    listed = {r["complaint_id"] for r in json.loads(proc.stdout)}
    assert listed == {stale.complaint_id, fresh.complaint_id}
    assert "Lê Thị" not in proc.stdout and "0912" not in proc.stdout


def test_cli_steps_need_a_staff_role_and_are_audited(made: dict, state: State) -> None:
    code = dossier_code(state)
    c = file(state, kind="feedback", target_type="dossier", target=code, filer="citizen",
             text="góp ý", **CONTACT)
    env = {**made["env"], "ECOPY_STORE": str(state.store.root), "ECOPY_ACTOR": "lan",
           "ECOPY_COMMUNE": "22222"}
    base = ["complaints", "close", c.complaint_id, "--agency", "22222", "--text", "xong"]
    assert run_cli(base, {**env, "ECOPY_ROLE": "auditor"}).returncode == 1
    elsewhere = {**env, "ECOPY_ROLE": "clerk", "ECOPY_COMMUNE": "11111"}
    assert run_cli(base, elsewhere).returncode == 1  # another commune's complaint: not found
    assert run_cli(base, {**env, "ECOPY_ROLE": "clerk"}).returncode == 0
    assert run_cli(base, {**env, "ECOPY_ROLE": "clerk"}).returncode == 1  # closed already
    assert [e.action for e in events(state, c)] == ["close"]
    last = read_events(state.store, last=1)[0]
    assert last["details"]["act"] == "complaint_close" and last["actor"] == "lan"
    assert verify_audit(state.store) == []


def test_concurrent_staff_close_once(state: State) -> None:
    c = file(state, kind="complaint", target_type="dossier", target=dossier_code(state),
             filer="citizen", text="x", **CONTACT)
    barrier, results = threading.Barrier(8), []

    def close() -> None:
        barrier.wait()
        try:
            step(state, c, "close", by="lan")
            results.append("ok")
        except cs.ComplaintError as exc:
            results.append(exc.reason)

    threads = [threading.Thread(target=close) for _ in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert sorted(results) == [cs.BAD_STEP] * 7 + ["ok"]
    assert [e.seq for e in events(state, c)] == [1]


def test_working_day_limits_skip_tet_with_the_shells_calendar() -> None:
    from pipeline.casework.procedures import calendar

    feedback = cs.TIME_LIMITS["feedback"].accept  # 5 working days
    filed = "2026-02-13T03:00:00+00:00"  # Friday before Tết Bính Ngọ (16-20 Feb 2026 off)
    assert cs.due_date(filed, feedback).isoformat() == "2026-02-20"  # weekdays only
    assert cs.due_date(filed, feedback, calendar().is_working_day).isoformat() == "2026-02-27"
    complaint = cs.TIME_LIMITS["complaint"].accept  # 10 calendar days: holidays count
    assert cs.due_date(filed, complaint, calendar().is_working_day).isoformat() == "2026-02-23"


def test_a_complaint_form_files_once(made: dict, state: State) -> None:
    """Replaying the same posted form (token, cookie and all) files nothing more: the
    token is spent in the transaction that files the complaint."""
    code = dossier_code(state)
    c = client(make_app(made, state))
    form = c.get(f"/complaints/new?code={code}")
    token = re.search(r'name="ftoken" value="([^"]+)"', form.text).group(1)
    data = {"ftoken": token, "kind": "complaint", "target_type": "dossier", "target": code,
            "filer": "citizen", "text": "Hồ sơ bị trả chậm.", "website": "", **CONTACT}
    first = c.post("/complaints/new", data=data)
    assert first.status_code == 303, first.text
    c.cookies.set("ecopy_complaint", token, path="/complaints")  # the cookie, replayed too
    again = c.post("/complaints/new", data=data)
    assert again.status_code == 409
    assert "đã được gửi" in again.text
    assert len(all_complaints(state)) == 1
