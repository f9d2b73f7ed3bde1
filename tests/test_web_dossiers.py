"""Clerk dossiers over HTTP: open, upload (streamed, sniffed, limited), live status, isolation.

Real store, real intake and real OCR (one small scan, embedded processor, one pool process);
nothing is signed: a web upload ends READY or NEEDS_REVIEW for a certifier.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ecopy import accounts
from ecopy.settings import load_settings
from ecopy.web.app import create_app
from ecopy.web.processing import Processor
from ecopy.web.views.dossiers import safe_file_name
from storage.backends import LocalStore
from storage.db.batches import list_batches, read_batch
from storage.db.cases import get_case
from storage.db.dossiers import Dossier, load_dossier
from storage.evidence.originals import original_key
from storage.state import State
from tests.conftest import PERSON, SAMPLES, open_state, run_cli, sign_in
from tests.support.redisserver import RedisServer

PASSWORD = "mật khẩu đủ dài 2026"
MAX_BYTES = 1024 * 1024  # 1 MB: the sample scan (664 kB) fits, the test's big file does not
HOSTILE = "<img src=x onerror=alert(1)>.jpg"

BROWSER = {"Origin": "http://testserver"}  # what a browser adds to a form post


@dataclass
class Web:
    app: object
    state: State
    clerk: TestClient  # commune 11111
    other: TestClient  # a clerk of commune 99999
    auditor: TestClient  # commune 11111, read-only


def _client(app: object, user: str) -> TestClient:
    client = TestClient(app, follow_redirects=False)
    done = sign_in(client, user, PASSWORD)
    assert done.status_code == 303, done.text
    return client


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory, pki_dir: Path) -> Iterator[Web]:
    state = open_state(LocalStore(tmp_path_factory.mktemp("web-dossiers") / "store"))
    accounts.create(state.db, "lan", "Trần Thị Lan", "clerk", "11111", PASSWORD)
    accounts.create(state.db, "minh", "Phạm Văn Minh", "clerk", "99999", PASSWORD)
    accounts.create(state.db, "kiem.tra", "Lê Văn Kiểm", "auditor", "11111", PASSWORD)
    base = load_settings({"ECOPY_PKI_DIR": str(pki_dir)})
    settings = replace(base, web_secure_cookies=False, workers=1, commune_code="11111",
                       web_max_upload_files=5, limits=replace(base.limits, max_bytes=MAX_BYTES))
    app = create_app(settings, state)
    with TestClient(app, follow_redirects=False):  # runs the app's startup and shutdown
        yield Web(app, state, _client(app, "lan"), _client(app, "minh"),
                  _client(app, "kiem.tra"))


def open_dossier(client: TestClient, **fields: str):
    page = client.get("/dossiers")
    assert page.status_code == 200
    return client.post("/dossiers", data={"csrf": csrf_of(page.text), **fields})


def dossier_of(web: Web, agency: str, dossier_id: str) -> Dossier | None:
    with web.state.db.read() as s:
        return load_dossier(s, agency, dossier_id)


def search(client: TestClient, q: str) -> str:
    """The dossier search, as the page's form sends it (a POST: the query is not in a URL)."""
    token = csrf_of(client.get("/dossiers").text)
    found = client.post("/dossiers/search", data={"csrf": token, "q": q})
    assert found.status_code == 200
    return found.text


def wait_done(client: TestClient, dossier_id: str, timeout: float = 120) -> dict:
    """Poll the status JSON as upload.js does, until nothing is waiting or being read."""
    end = time.monotonic() + timeout
    while True:
        status = client.get(f"/dossiers/{dossier_id}/status",
                            headers={"Accept": "application/json"})
        assert status.status_code == 200
        data = status.json()
        if not data["pending"]:
            return data
        assert time.monotonic() < end, data
        time.sleep(0.5)


@pytest.fixture(scope="module")
def uploaded(web: Web) -> dict:
    """One dossier with a real scan and a text file posted as a plain form, processed."""
    made = open_dossier(web.clerk, person_id=PERSON, person_name="Nguyễn Thị Hoa",
                        date_of_birth="")
    assert made.status_code == 303
    dossier_id = made.headers["location"].rsplit("/", 1)[1]
    page = web.clerk.get(f"/dossiers/{dossier_id}")
    scan = (SAMPLES / "birth_cert.jpg").read_bytes()
    files = [("files", ("giấy khai sinh.jpg", scan, "image/jpeg")),
             ("files", ("ghi chú.pdf", "đây không phải bản quét".encode(), "application/pdf")),
             ("files", ("notes.txt", b"plain text, not a scan", "text/plain"))]
    started = time.monotonic()
    done = web.clerk.post(f"/dossiers/{dossier_id}/upload", headers=BROWSER,
                          data={"csrf": csrf_of(page.text)}, files=files)
    assert done.status_code == 303 and done.headers["location"] == f"/dossiers/{dossier_id}"
    status = wait_done(web.clerk, dossier_id)
    return {"id": dossier_id, "status": status, "scan": scan,
            "seconds": time.monotonic() - started}


# ------------------------------------------------------------------ opening dossiers


def test_open_dossier_with_valid_id(web: Web) -> None:
    made = open_dossier(web.clerk, person_id="0013 0101 2345", person_name="  Trần   Văn  An ",
                        date_of_birth="")
    assert made.status_code == 303
    dossier_id = made.headers["location"].removeprefix("/dossiers/")
    dossier = dossier_of(web, "11111", dossier_id)
    assert (dossier.person_id, dossier.person_name, dossier.opened_by) == (
        PERSON, "Trần Văn An", "lan")
    assert f'href="/dossiers/{dossier_id}"' in search(web.clerk, "tran van")  # no tone marks
    assert f'href="/dossiers/{dossier_id}"' in search(web.clerk, "An")  # a word of the name
    assert f"/dossiers/{dossier_id}" not in search(web.clerk, "Lê Thị")
    assert f"/dossiers/{dossier_id}" not in search(web.other, "tran van")  # another commune
    events = [json.loads(p.read_text()) for p in sorted((web.state.store.root / "audit").rglob(
        "0*.json"))]
    opened = [e for e in events if e["action"] == "web"
              and e["details"]["act"] == "open_dossier"]
    assert opened[-1]["object"] == f"dossiers/11111/{dossier_id}"
    # the audit chain is permanent: no ID, name or birth date of the person in it
    assert PERSON not in json.dumps(opened[-1]) and "An" not in opened[-1]["details"].values()


def test_invalid_id_is_explained_in_vietnamese(web: Web) -> None:
    short = open_dossier(web.clerk, person_id="12345", person_name="", date_of_birth="")
    assert short.status_code == 400
    assert "Số định danh cá nhân &#34;12345&#34; không hợp lệ: cần đúng 12 chữ số" in short.text
    province = open_dossier(web.clerk, person_id="999301012345", person_name="",
                            date_of_birth="")
    assert province.status_code == 400
    assert "mã tỉnh nơi đăng ký khai sinh 999 không tồn tại" in province.text
    assert 'value="999301012345"' in province.text  # the clerk's input is kept to fix it


def test_open_dossier_with_name_and_birth_date(web: Web) -> None:
    made = open_dossier(web.clerk, person_id="", person_name="Lò Thị Mai",
                        date_of_birth="ngày 5 tháng 7 năm 1988")
    assert made.status_code == 303
    dossier = dossier_of(web, "11111", made.headers["location"].rsplit("/", 1)[1])
    assert (dossier.person_id, dossier.person_name, dossier.date_of_birth) == (
        "", "Lò Thị Mai", "1988-07-05")
    missing = open_dossier(web.clerk, person_id="", person_name="Lò Thị Mai", date_of_birth="")
    assert missing.status_code == 400 and "cần nhập cả họ tên và ngày sinh" in missing.text
    bad = open_dossier(web.clerk, person_id="", person_name="Lò Thị Mai",
                       date_of_birth="hôm qua")
    assert bad.status_code == 400 and "Không hiểu ngày sinh" in bad.text


def test_channel_and_procedure_are_recorded_for_the_figures(web: Web) -> None:
    made = open_dossier(web.clerk, person_id=PERSON, person_name="", date_of_birth="",
                        channel="online")
    assert made.status_code == 303
    dossier = dossier_of(web, "11111", made.headers["location"].rsplit("/", 1)[1])
    assert (dossier.channel, dossier.procedure) == ("online", "")
    assert open_dossier(web.clerk, person_id=PERSON, person_name="", date_of_birth="").status_code \
        == 303  # at the desk by default
    for bad in ({"channel": "fax"}, {"procedure": "9.999999"}):
        refused = open_dossier(web.clerk, person_id=PERSON, person_name="", date_of_birth="",
                               **bad)
        assert refused.status_code == 400 and "Lựa chọn không hợp lệ" in refused.text


def test_auditor_reads_but_cannot_write(web: Web) -> None:
    listing = web.auditor.get("/dossiers")
    assert listing.status_code == 200 and 'data-testid="open-form"' not in listing.text
    token = csrf_of(listing.text)
    refused = web.auditor.post("/dossiers", data={"csrf": token, "person_id": PERSON})
    assert refused.status_code == 403


def _dossier_count(web: Web) -> int:
    from sqlalchemy import func, select

    from storage.db.schema import dossiers

    with web.state.db.read() as s:
        return s.execute(select(func.count()).select_from(dossiers)).scalar_one()


def test_missing_csrf_is_refused(web: Web) -> None:
    before = _dossier_count(web)
    assert web.clerk.post("/dossiers", data={"person_id": PERSON}).status_code == 403
    assert web.clerk.post("/dossiers", data={"person_id": PERSON, "csrf": "x"}).status_code \
        == 403
    assert web.clerk.post("/dossiers/search", data={"q": "an"}).status_code == 403
    assert _dossier_count(web) == before


# ------------------------------------------------------------------ upload and status


def test_upload_is_processed_but_never_certified(web: Web, uploaded: dict) -> None:
    docs = {d["name"]: d for d in uploaded["status"]["documents"]}
    assert set(docs) == {"giấy khai sinh.jpg", "ghi chú.pdf", "notes.txt"}
    scan = docs["giấy khai sinh.jpg"]
    assert scan["status"] in ("ready", "needs_review"), scan
    assert scan["label"] in ("Sẵn sàng chứng thực", "Cần kiểm tra")
    assert scan["links"] == [{"href": f"/documents/{scan['case_id']}/review",
                              "text": "Kiểm tra"}]
    with web.state.db.read() as s:
        record = get_case(s, scan["case_id"], with_history=True)
    assert record["doc_type"] == "birth_cert" and record["kind"] == "jpeg"
    assert [h["status"] for h in record["history"]][-1] in ("ready", "needs_review")
    store = web.state.store
    assert not record["copy_id"] and not list(store.root.glob("warehouse/**/*.pdf"))
    assert store.get(original_key(scan["sha256"])) == uploaded["scan"]  # original kept
    text = docs["notes.txt"]
    assert (text["status"], text["reason"]) == ("rejected", "wrong_file_type")
    assert text["label"] == "Bị từ chối" and text["message"].startswith(
        "Tệp không phải PDF, JPEG, PNG hay TIFF")
    damaged = docs["ghi chú.pdf"]  # named like a PDF, not one inside: damaged, not wrong
    assert (damaged["status"], damaged["reason"]) == ("rejected", "corrupt_file")

    page = web.clerk.get(f"/dossiers/{uploaded['id']}")
    badge = re.search(rf'data-testid="status-{scan["sha256"]}"[^>]*>([^<]+)<', page.text)
    assert badge and badge.group(1) == scan["label"]
    assert 'aria-live="polite"' in page.text and '<input type="file"' in page.text
    reader = _client(web.app, "lan")
    reader.cookies.set("ecopy_lang", "en")
    english = reader.get(f"/dossiers/{uploaded['id']}/status").json()
    notes = next(d for d in english["documents"] if d["name"] == "notes.txt")
    assert notes["label"] == "Rejected" and notes["message"].startswith("The file is not a PDF")

    events = [json.loads(p.read_text()) for p in sorted((store.root / "audit").rglob(
        "0*.json"))]
    upload = [e for e in events if e["action"] == "web" and e["details"]["act"] == "upload"
              and e["object"].endswith(uploaded["id"])]
    assert [(f["name"], f["sha256"], f["status"], f["reason"])
            for f in upload[0]["details"]["files"]] == [
        ("giấy khai sinh.jpg", scan["sha256"], "received", ""),
        ("ghi chú.pdf", damaged["sha256"], "rejected", "corrupt_file"),
        ("notes.txt", text["sha256"], "rejected", "wrong_file_type")]
    acts = [e["action"] for e in events if e.get("object_sha256") == scan["sha256"]]
    assert acts[0] == "ingest" and acts[-1] == ("ready" if scan["status"] == "ready"
                                                 else "review")
    assert not {"register", "sign", "file"} & set(acts)
    print(f"upload → {scan['status']} in {uploaded['seconds']:.1f} s")


def test_xhr_upload_answers_json_and_refuses_big_files(web: Web, uploaded: dict) -> None:
    page = web.clerk.get(f"/dossiers/{uploaded['id']}")
    token = csrf_of(page.text)
    big = b"\xff\xd8\xff" + b"\0" * MAX_BYTES  # one byte over the limit
    done = web.clerk.post(f"/dossiers/{uploaded['id']}/upload",
                          headers={"X-CSRF-Token": token, "Accept": "application/json"},
                          files=[("files", ("to.jpg", big, "image/jpeg")),
                                 ("files", ("lại.jpg", uploaded["scan"], "image/jpeg"))])
    assert done.status_code == 200
    big_result, again = done.json()["files"]
    assert big_result["status"] == "rejected" and big_result["reason"] == "file_too_large"
    assert big_result["sha256"] == "" and "1 MB" in big_result["message"]
    # the same scan again is recognised, linked once, not processed twice
    scan_sha = next(d["sha256"] for d in uploaded["status"]["documents"]
                    if d["name"] == "giấy khai sinh.jpg")
    assert again["sha256"] == scan_sha and again["status"] in ("ready", "needs_review")
    names = [d["name"] for d in wait_done(web.clerk, uploaded["id"])["documents"]]
    assert names.count("giấy khai sinh.jpg") == 1 and "lại.jpg" not in names
    # a plain form with a file over the limit shows the refusal on the page
    shown = web.clerk.post(f"/dossiers/{uploaded['id']}/upload", data={"csrf": token},
                           headers=BROWSER, files=[("files", ("to.jpg", big, "image/jpeg"))])
    assert shown.status_code == 200 and "vượt quá dung lượng cho phép (1 MB)" in shown.text
    too_many = web.clerk.post(f"/dossiers/{uploaded['id']}/upload",
                              headers={"X-CSRF-Token": token, "Accept": "application/json"},
                              files=[("files", (f"{i}.txt", b"x", "text/plain"))
                                     for i in range(6)])
    assert [f["reason"] for f in too_many.json()["files"]] == ["wrong_file_type"] * 5 + [
        "too_many_files"]


def test_hostile_file_names_are_escaped_and_never_paths(web: Web, uploaded: dict) -> None:
    page = web.clerk.get(f"/dossiers/{uploaded['id']}")
    done = web.clerk.post(f"/dossiers/{uploaded['id']}/upload",
                          headers={"X-CSRF-Token": csrf_of(page.text),
                                   "Accept": "application/json"},
                          files=[("files", (HOSTILE, b"not really an image", "image/jpeg")),
                                 ("files", ("../../etc/passwd", b"root:x:0:0", "text/plain"))])
    first, second = done.json()["files"]
    assert first["name"] == HOSTILE and first["reason"] == "corrupt_file"
    assert second["name"] == "passwd" and second["reason"] == "wrong_file_type"
    html = web.clerk.get(f"/dossiers/{uploaded['id']}").text
    assert "<img src=x" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;.jpg" in html
    assert not (web.state.store.root / "etc").exists()
    assert safe_file_name("..\\..\\windows\\win.ini") == "win.ini"
    assert safe_file_name("..") == "tep-tai-len"
    assert safe_file_name("a\x00b\u202e.pdf") == "ab.pdf"
    assert len(safe_file_name("Đ" * 300 + ".pdf").encode()) <= 200


def test_upload_needs_csrf_and_the_right_role(web: Web, uploaded: dict) -> None:
    url = f"/dossiers/{uploaded['id']}/upload"
    files = [("files", ("a.jpg", uploaded["scan"], "image/jpeg"))]
    assert web.clerk.post(url, files=files).status_code == 403
    assert web.clerk.post(url, files=files, data={"csrf": "wrong"},
                          headers=BROWSER).status_code == 403
    # a plain form from no page of ours: refused before its body (and token) is read
    token = csrf_of(web.clerk.get(f"/dossiers/{uploaded['id']}").text)
    assert web.clerk.post(url, files=files, data={"csrf": token}).status_code == 403
    assert web.clerk.post(url, files=files, data={"csrf": token}, headers={
        "Origin": "https://evil.example"}).status_code == 403
    assert web.clerk.post(url, files=files, headers={"X-CSRF-Token": "wrong"}).status_code \
        == 403
    auditor_page = web.auditor.get(f"/dossiers/{uploaded['id']}")
    assert auditor_page.status_code == 200 and 'type="file"' not in auditor_page.text
    refused = web.auditor.post(url, files=files,
                               headers={"X-CSRF-Token": csrf_of(auditor_page.text)})
    assert refused.status_code == 403


def test_other_communes_dossiers_do_not_exist(web: Web, uploaded: dict) -> None:
    own = open_dossier(web.other, person_id=PERSON, person_name="Hồ sơ xã khác",
                       date_of_birth="")
    assert own.status_code == 303
    other_id = own.headers["location"].rsplit("/", 1)[1]
    listing = web.clerk.get("/dossiers").text
    assert other_id not in listing and "Hồ sơ xã khác" not in listing
    page = web.clerk.get(f"/dossiers/{other_id}")
    token = csrf_of(web.clerk.get("/dossiers").text)
    for response in (
        web.clerk.get(f"/dossiers/{other_id}"),
        web.clerk.get(f"/dossiers/{other_id}/status", headers={"Accept": "application/json"}),
        web.clerk.post(f"/dossiers/{other_id}/upload", headers={"X-CSRF-Token": token},
                       files=[("files", ("a.jpg", uploaded["scan"], "image/jpeg"))]),
        web.other.get(f"/dossiers/{uploaded['id']}"),
        web.other.get(f"/dossiers/{uploaded['id']}/status"),
    ):
        assert response.status_code == 404
    assert page.status_code == 404
    for bad in ("..%2F..%2Fetc", "20260101-zzzzzzzz", "x" * 300):
        assert web.clerk.get(f"/dossiers/{bad}/status").status_code == 404


def test_anonymous_users_are_sent_to_login(web: Web, uploaded: dict) -> None:
    anonymous = TestClient(web.app, follow_redirects=False)
    assert anonymous.get("/dossiers").headers["location"].startswith("/login")
    assert anonymous.get(f"/dossiers/{uploaded['id']}/status").status_code == 303
    assert anonymous.post(f"/dossiers/{uploaded['id']}/upload",
                          files=[("files", ("a.jpg", b"x", "image/jpeg"))]).status_code == 303


def test_distributed_mode_queues_a_batch_the_workers_leave_ready(
        tmp_path: Path, env: dict[str, str]) -> None:
    """With an S3 endpoint configured and Redis up, uploads go to the rq workers as a batch
    (a LocalStore stands in for S3 here); the workers honour certify_when_sure=False."""
    server = RedisServer(tmp_path / "redis").start()
    try:
        state = open_state(LocalStore(tmp_path / "store"))
        store = state.store
        accounts.create(state.db, "lan", "Trần Thị Lan", "clerk", "11111", PASSWORD)
        settings = replace(load_settings(env), web_secure_cookies=False, commune_code="11111",
                           s3_endpoint="s3.invalid:9000", redis_url=server.url)
        app = create_app(settings, state)
        with TestClient(app, follow_redirects=False):
            clerk = _client(app, "lan")
            made = open_dossier(clerk, person_id=PERSON, person_name="", date_of_birth="")
            dossier_id = made.headers["location"].rsplit("/", 1)[1]
            token = csrf_of(clerk.get(f"/dossiers/{dossier_id}").text)
            assert app.state.processor.mode() == "distributed"
            done = clerk.post(f"/dossiers/{dossier_id}/upload",
                              headers={"X-CSRF-Token": token, "Accept": "application/json"},
                              files=[("files", ("khai sinh.jpg",
                                                (SAMPLES / "birth_cert.jpg").read_bytes(),
                                                "image/jpeg"))])
            (result,) = done.json()["files"]
            assert result["status"] == "received"
            with state.db.read() as s:
                (batch_id,) = list_batches(s)
                batch = read_batch(s, batch_id)
            assert batch["certify_when_sure"] is False and batch["hold_for_review"] is True
            assert (batch["person_id"], batch["commune_code"], batch["actor"]) == (
                PERSON, "11111", "lan")
            assert [d["case_id"] for d in batch["documents"]] == [result["case_id"]]
            assert server.client().llen("rq:queue:ecopy-ocr") == 1
            work = run_cli(["worker", "--burst"], {**env, "ECOPY_STORE": str(store.root),
                                                   "ECOPY_REDIS_URL": server.url,
                                                   "ECOPY_COMMUNE": "11111"})
            assert work.returncode == 0, work.stderr
            (doc,) = wait_done(clerk, dossier_id, timeout=10)["documents"]
            assert doc["status"] in ("ready", "needs_review"), doc
            with state.db.read() as s:
                record = get_case(s, result["case_id"])
            assert record["batch_id"] == batch_id and not record["copy_id"]
            assert not list(store.root.glob("warehouse/**/*.pdf"))
        server.stop()
        assert Processor(settings, state).mode() == "embedded"  # Redis gone: in-process
    finally:
        server.stop()
