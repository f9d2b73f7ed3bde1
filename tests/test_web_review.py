"""Web review and certification: page images, corrections, READY, the certifier's queue,
approve (real signing with the dev PKI), refuse, cancel, and who may do what."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pikepdf
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from ecopy import accounts
from ecopy.keys import verify_file
from ecopy.settings import Settings, load_settings
from ecopy.web.app import create_app
from pipeline.casework.status import save_status
from storage.backends import LocalStore
from storage.db.cases import corrections_of, get_case
from storage.db.dossiers import open_dossier
from storage.state import State
from tests.conftest import (
    CACHED_OCR,
    CORPUS,
    PERSON,
    at_200_dpi,
    open_state,
    run_cli,
    sign_in,
)

PASSWORD = "mật khẩu đủ dài 2026"
VIET = CORPUS / "vietadmin-ocr-llm-rag"
USERS = (("lan", "Trần Thị Lan", "clerk", "99999", ""),
         ("chu.tich", "Phạm Văn Chứng", "certifier", "99999", "Chủ tịch Ủy ban nhân dân xã"),
         ("kiem.tra", "Lê Văn Kiểm", "auditor", "99999", ""),
         ("xa.khac", "Đỗ Thị Khác", "certifier", "11111", "Chủ tịch"),
         ("lan.khac", "Vũ Văn Khác", "clerk", "11111", ""),
         ("quan.tri", "Hồ Văn Trị", "admin", "99999", ""))


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory, pki_dir: Path) -> tuple[Path, str, str]:
    """The real letters 4_1.jpg and 4_2.jpg at 200 dpi (`at_200_dpi`), processed once by the
    real CLI into a dossier of commune 99999 with accounts, with review asked below 300 dpi
    so that both wait for a clerk; tests work on copies of it. The two case ids."""
    store_dir = tmp_path_factory.mktemp("web-review") / "store"
    letters = [at_200_dpi(VIET / name, store_dir.parent / "scans" / name)
               for name in ("4_1.jpg", "4_2.jpg")]
    env = {k: v for k, v in os.environ.items() if not k.startswith("ECOPY_")}
    env.update(CACHED_OCR)  # not about OCR
    env.update(ECOPY_PKI_DIR=str(pki_dir), ECOPY_STORE=str(store_dir), ECOPY_WORKERS="1",
               ECOPY_REVIEW_BELOW_DPI="300")
    state = open_state(LocalStore(store_dir))
    for user, name, role, agency, title in USERS:
        accounts.create(state.db, user, name, role, agency, PASSWORD, title=title)
    with state.db.write() as s:
        dossier = open_dossier(s, agency="99999", person_id=PERSON,
                               person_name="Nguyễn Thị Ánh Tuyết", date_of_birth="",
                               opened_by="lan", deadlines=state.deadlines)
    state.db.close()
    done = run_cli(["process", *map(str, letters), "--person-id",
                    PERSON, "--json", "--no-progress", "--dossier", dossier.public_code],
                   env, timeout=300)
    assert done.returncode in (0, 3), done.stderr
    docs = {Path(d["source"]).name: d for d in json.loads(done.stdout)["documents"]}
    assert {d["status"] for d in docs.values()} == {"needs_review"}
    return store_dir, docs["4_1.jpg"]["case_id"], docs["4_2.jpg"]["case_id"]


@pytest.fixture
def site(made: tuple[Path, str, str], tmp_path: Path, pki_dir: Path):
    store_dir, first, second = made
    shutil.copytree(store_dir, tmp_path / "store")
    state = open_state(LocalStore(tmp_path / "store"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("ECOPY_")}
    env.update(CACHED_OCR)  # not about OCR
    env["ECOPY_PKI_DIR"] = str(pki_dir)
    settings = replace(load_settings(env), web_secure_cookies=False)
    app = create_app(settings, state)
    return app, state, settings, first, second


def read_case(state: State, case_id: str) -> dict:
    with state.db.read() as s:
        return get_case(s, case_id, with_history=True)


def signed_in(app, user: str) -> tuple[TestClient, str]:
    """A client signed in as `user`, and its CSRF token."""
    client = TestClient(app, follow_redirects=False)
    done = sign_in(client, user, PASSWORD)
    assert done.status_code == 303, done.text
    page = client.get("/lang/vi?next=/")  # sets nothing harmful; any page carries the token
    page = client.get(client.get("/").headers["location"])
    return client, re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)


def web_acts(state: State) -> list[tuple[str, str]]:
    events = [json.loads(p.read_text())
              for p in sorted((state.store.root / "audit").rglob("0*.json"))]
    return [(e["actor"], (e.get("details") or {}).get("act", e["action"])) for e in events]


def test_page_image_and_agency_isolation(site) -> None:
    app, _state, _settings, first, _ = site
    clerk, _ = signed_in(app, "lan")
    png = clerk.get(f"/documents/{first}/pages/1.png")
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    assert png.content[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(io.BytesIO(png.content)) as img:
        assert max(img.size) <= 1600 and min(img.size) > 100
    assert clerk.get(f"/documents/{first}/pages/1.png").content == png.content  # cached
    for bad in (f"/documents/{first}/pages/2.png", f"/documents/{first}/pages/0.png",
                f"/documents/{first}/pages/x.png", f"/documents/{first[:63]}g/pages/1.png",
                f"/documents/{first.upper()}/pages/1.png",
                "/documents/..%2f..%2fetc%2fpasswd/pages/1.png"):
        assert clerk.get(bad).status_code == 404, bad
    other, _ = signed_in(app, "lan.khac")
    assert other.get(f"/documents/{first}/pages/1.png").status_code == 404
    assert other.get(f"/documents/{first}/review").status_code == 404
    anonymous = TestClient(app, follow_redirects=False)
    assert anonymous.get(f"/documents/{first}/pages/1.png").status_code == 303


def test_review_queue_lists_the_communes_waiting_documents(site) -> None:
    app, _state, _settings, first, second = site
    clerk, csrf = signed_in(app, "lan")
    page = clerk.get("/review")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    assert page.headers["x-frame-options"] == "DENY"
    static = clerk.get("/static/app.css")
    assert static.status_code == 200 and "cache-control" not in static.headers
    assert "Giấy tờ cần kiểm tra (2)" in page.text
    assert f'href="/documents/{first}/review"' in page.text
    assert f'href="/documents/{second}/review"' in page.text
    assert "Nguyễn Thị Ánh Tuyết" in page.text and 'aria-current="page"' in page.text
    assert clerk.get("/review?after=not-a-cursor").status_code == 200  # first page again
    assert clerk.post(f"/documents/{first}/reviewed", data={"csrf": csrf}).status_code == 303
    left = clerk.get("/review").text
    assert "Giấy tờ cần kiểm tra (1)" in left and f"/documents/{first}/review" not in left
    other, _ = signed_in(app, "lan.khac")  # another commune's clerk sees none of them
    theirs = other.get("/review").text
    assert "Không có giấy tờ nào cần kiểm tra." in theirs and second not in theirs
    certifier, _ = signed_in(app, "chu.tich")  # the certifier has the /certify queues
    assert certifier.get("/review").status_code == 403


def test_review_corrections_escaped_and_ready(site) -> None:
    app, state, _settings, first, _ = site
    clerk, csrf = signed_in(app, "lan")
    page = clerk.get(f"/documents/{first}/review")
    assert page.status_code == 200
    assert "200 dpi" in page.text  # why the machine asks (the stored message, Vietnamese)
    assert 'data-testid="field-document_number"' in page.text and 'value="1906"' in page.text
    assert 'class="fieldbox" aria-hidden="true" data-field="document_number"' in page.text
    assert f'src="/documents/{first}/pages/1.png"' in page.text
    assert "Đã kiểm tra — chuyển chứng thực" in page.text
    english = clerk.get("/lang/en?next=/")
    assert english.status_code == 303
    assert "Resolution 200 dpi" in clerk.get(f"/documents/{first}/review").text
    clerk.get("/lang/vi?next=/")

    bad = clerk.post(f"/documents/{first}/review", data={
        "csrf": csrf, "doc_type": "other", "f.document_number": "1906",
        "add_name": "date_of_birth", "add_value": "hôm qua"})
    assert bad.status_code == 400 and "Không đọc được ngày này" in bad.text
    assert 'value="hôm qua"' in bad.text
    with state.db.read() as s:
        assert corrections_of(s, first) == []

    xss = "<script>alert(1)</script>"
    saved = clerk.post(f"/documents/{first}/review", data={
        "csrf": csrf, "doc_type": "birth_cert", "f.document_number": "1906/2024",
        "add_name": "date_of_birth", "add_value": "ngày 05 tháng 02 năm 1990"})
    assert saved.status_code == 303, saved.text
    again = clerk.post(f"/documents/{first}/review", data={
        "csrf": csrf, "doc_type": "birth_cert", "f.document_number": "1906/2024",
        "f.date_of_birth": "05/02/1990", "add_name": "full_name", "add_value": xss})
    assert again.status_code == 303
    with state.db.read() as s:
        kept = corrections_of(s, first)
    assert [k["fields"] for k in kept] == [
        {"document_number": "1906/2024", "date_of_birth": "1990-02-05"}, {"full_name": xss}]
    assert kept[0]["actor"] == "lan" and kept[0]["doc_type"] == "birth_cert"
    assert kept[1]["doc_type"] is None  # unchanged type, unchanged date: not a correction
    record = read_case(state, first)
    assert record["status"] == "needs_review"
    assert record["corrections"]["fields"]["full_name"] == xss

    shown = clerk.get(f"/documents/{first}/review?done=saved")
    assert xss not in shown.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in shown.text
    assert "Đã lưu sửa đổi." in shown.text and 'value="1990-02-05"' in shown.text
    assert "<option value=\"birth_cert\" selected>" in shown.text

    marked = clerk.post(f"/documents/{first}/reviewed", data={"csrf": csrf})
    assert marked.status_code == 303
    record = read_case(state, first)
    assert record["status"] == "ready" and record["reviewed_by"] == "lan"
    after = clerk.get(f"/documents/{first}/review?done=marked")
    assert "Đã chuyển giấy tờ đến người chứng thực." in after.text
    assert 'data-testid="mark-reviewed"' not in after.text  # already handed over
    assert 'name="f.full_name"' in after.text  # still correctable until certified
    assert clerk.post(f"/documents/{first}/reviewed", data={"csrf": csrf}).status_code == 409
    acts = web_acts(state)
    for act in (("lan", "correct"), ("lan", "review_correct"), ("lan", "mark_reviewed"),
                ("lan", "review_done")):
        assert act in acts, act


def test_certify_approve_verify_and_cancel(site) -> None:
    app, state, settings, first, second = site
    store = state.store
    clerk, clerk_csrf = signed_in(app, "lan")
    assert clerk.post(f"/documents/{first}/review", data={
        "csrf": clerk_csrf, "doc_type": "other", "f.document_number": "1906",
        "add_name": "full_name", "add_value": "Nguyễn Thị Ánh Tuyết"}).status_code == 303
    assert clerk.post(f"/documents/{first}/reviewed",
                      data={"csrf": clerk_csrf}).status_code == 303

    certifier, csrf = signed_in(app, "chu.tich")
    queue = certifier.get("/certify")
    assert queue.status_code == 200
    ready, unchecked = queue.text.split('data-testid="queue-unchecked"')[0], \
        queue.text.split('data-testid="queue-unchecked"')[1]
    assert f'href="/certify/{first}"' in ready and f'href="/certify/{second}"' in unchecked
    assert "Nguyễn Thị Ánh Tuyết" in ready
    page = certifier.get(f"/certify/{first}")
    assert page.status_code == 200
    assert "Chứng thực bản sao đúng với bản chính" in page.text
    assert "Phạm Văn Chứng" in page.text and "Chủ tịch Ủy ban nhân dân xã" in page.text
    assert page.text.count(f'src="/documents/{first}/pages/1.png"') == 2  # side by side

    # who may not approve
    assert clerk.post(f"/certify/{first}/approve", data={"csrf": clerk_csrf}).status_code == 403
    auditor, auditor_csrf = signed_in(app, "kiem.tra")
    assert auditor.post(f"/certify/{first}/approve",
                        data={"csrf": auditor_csrf}).status_code == 403
    assert certifier.post(f"/certify/{first}/approve", data={}).status_code == 403  # no CSRF
    # an administrator of the same commune administers; it neither certifies nor cancels
    admin, admin_csrf = signed_in(app, "quan.tri")
    assert admin.get("/certify").status_code == 403
    assert admin.post(f"/certify/{first}/approve", data={"csrf": admin_csrf}).status_code == 403
    stranger, stranger_csrf = signed_in(app, "xa.khac")
    assert stranger.get(f"/certify/{first}").status_code == 404
    assert stranger.post(f"/certify/{first}/approve",
                         data={"csrf": stranger_csrf}).status_code == 404
    assert f"/certify/{first}" not in stranger.get("/certify").text
    assert read_case(state, first)["status"] == "ready"

    approved = certifier.post(f"/certify/{first}/approve", data={"csrf": csrf})
    assert approved.status_code == 303, approved.text
    assert approved.headers["location"] == f"/certify/{first}?done=approved"
    record = read_case(state, first)
    assert record["status"] == "filed", record.get("message")
    copy_id, number = record["copy_id"], record["register_entry"]["number"]
    assert record["register_entry"]["signer"] == ("Phạm Văn Chứng, Chủ tịch Ủy ban nhân dân "
                                                  "xã")
    assert record["register_entry"]["requester_name"] == "Nguyễn Thị Ánh Tuyết"
    result = certifier.get(approved.headers["location"])
    assert "Đã chứng thực và ký số." in result.text
    assert f'data-testid="register-number">{number}<' in result.text
    assert f'href="/copies/{copy_id}.pdf"' in result.text
    # a second click does not certify twice
    assert certifier.post(f"/certify/{first}/approve", data={"csrf": csrf}).status_code == 409

    data = store.get(record["ecopy_key"])
    report, _text = verify_file(data, settings, store=store)
    assert report.indication == "TOTAL-PASSED", report.problems
    with pikepdf.open(io.BytesIO(data)) as pdf:
        manifest = json.loads(pdf.attachments["manifest.json"].get_file().read_bytes())
    assert manifest["fields"]["full_name"]["value"] == "Nguyễn Thị Ánh Tuyết"
    assert manifest["fields"]["full_name"]["page"] == -1  # typed in by the clerk

    # cancel: auditor and clerk may not, another commune does not see it, missing fields
    form = {"decision_ref": "15/QĐ-UBND", "decision_date": "2026-11-20",
            "reason": "Bản chính đã bị tẩy xóa <b>"}
    assert auditor.post(f"/copies/{copy_id}/cancel",
                        data={**form, "csrf": auditor_csrf}).status_code == 403
    assert clerk.post(f"/copies/{copy_id}/cancel",
                      data={**form, "csrf": clerk_csrf}).status_code == 403
    assert admin.post(f"/copies/{copy_id}/cancel",
                      data={**form, "csrf": admin_csrf}).status_code == 403
    assert stranger.post(f"/copies/{copy_id}/cancel",
                         data={**form, "csrf": stranger_csrf}).status_code == 404
    assert certifier.post("/copies/..%2f..%2fx/cancel",
                          data={**form, "csrf": csrf}).status_code == 404
    missing = certifier.post(f"/copies/{copy_id}/cancel",
                             data={**form, "decision_ref": " ", "csrf": csrf})
    assert missing.status_code == 400 and "Cần số quyết định" in missing.text
    cancelled = certifier.post(f"/copies/{copy_id}/cancel", data={**form, "csrf": csrf})
    assert cancelled.status_code == 303
    shown = certifier.get(cancelled.headers["location"])
    assert "15/QĐ-UBND" in shown.text and "&lt;b&gt;" in shown.text
    report, _text = verify_file(data, settings, store=store)
    assert (report.indication, report.sub_indication) == ("TOTAL-FAILED", "CANCELLED")
    acts = web_acts(state)
    for act in (("chu.tich", "approve"), ("chu.tich", "certify_approve"),
                ("chu.tich", "cancel"), ("chu.tich", "certify_cancel")):
        assert act in acts, act


def test_refuse_with_art22_ground(site) -> None:
    app, state, _settings, _, second = site
    store = state.store
    certifier, csrf = signed_in(app, "chu.tich")
    page = certifier.get(f"/certify/{second}")
    assert "200 dpi" in page.text  # not yet checked: the reasons are shown
    # another certifier's approval is running (its claim is fresh): a second one is refused
    save_status(state, second, "certifying", actor="pho.chu.tich", copy_id="0" * 32,
                approval={"actor": "pho.chu.tich",
                          "at": datetime.now(UTC).isoformat(timespec="seconds")},
                approved_from="needs_review")
    busy = certifier.post(f"/certify/{second}/approve", data={"csrf": csrf})
    assert busy.status_code == 409 and "đang được người khác ký" in busy.text
    assert read_case(state, second)["approval"]["actor"] == "pho.chu.tich"
    save_status(state, second, "needs_review", actor="pho.chu.tich",  # that approval failed
                expect_status={"certifying"})
    unchosen = certifier.post(f"/certify/{second}/refuse", data={"csrf": csrf, "detail": "x"})
    assert unchosen.status_code == 400 and "Hãy chọn lý do từ chối." in unchosen.text
    refused = certifier.post(f"/certify/{second}/refuse", data={
        "csrf": csrf, "ground": "altered", "detail": "Số hiệu bị sửa"})
    assert refused.status_code == 303
    record = read_case(state, second)
    assert (record["status"], record["reason"]) == ("rejected", "refused_by_clerk")
    assert record["ground_code"] == "altered"  # counted per Art 22 ground in the figures
    assert "Bản chính bị tẩy xóa, sửa chữa" in record["message"]
    assert "Số hiệu bị sửa" in record["message"]
    events = [json.loads(p.read_text()) for p in sorted((store.root / "audit").rglob("0*.json"))]
    refusal = [e for e in events if e["action"] == "refuse"]
    assert refusal and refusal[-1]["actor"] == "chu.tich"
    assert "Số hiệu bị sửa" in refusal[-1]["details"]["params"]["ground"]
    shown = certifier.get(refused.headers["location"])
    assert "Đã từ chối chứng thực" in shown.text and 'data-testid="approve"' not in shown.text
    assert certifier.post(f"/certify/{second}/approve", data={"csrf": csrf}).status_code == 409


def test_auditor_reads_only(site) -> None:
    app, state, _settings, first, _ = site
    auditor, csrf = signed_in(app, "kiem.tra")
    page = auditor.get(f"/documents/{first}/review")
    assert page.status_code == 200 and "Chỉ xem" in page.text
    assert 'name="f.document_number"' not in page.text and "1906" in page.text
    assert auditor.get(f"/documents/{first}/pages/1.png").status_code == 200
    assert auditor.get("/certify").status_code == 403
    for path, data in ((f"/documents/{first}/review", {"f.document_number": "1"}),
                       (f"/documents/{first}/reviewed", {}),
                       (f"/certify/{first}/refuse", {"ground": "altered"})):
        assert auditor.post(path, data={**data, "csrf": csrf}).status_code == 403, path
    clerk, _ = signed_in(app, "lan")
    assert clerk.post(f"/documents/{first}/review",
                      data={"f.document_number": "1"}).status_code == 403  # no CSRF
    assert read_case(state, first)["status"] == "needs_review"
    with state.db.read() as s:
        assert corrections_of(s, first) == []


def test_real_key_is_only_its_holders(site) -> None:
    from ecopy.actions import NotAllowed, settings_for_signer

    _app, _state, settings, _, _ = site
    real = replace(settings, key_source="pkcs12", certifier_name="Nguyễn Văn Thử")
    assert settings_for_signer(real, "nguyễn  văn thử", "").certifier_name == "Nguyễn Văn Thử"
    with pytest.raises(NotAllowed):
        settings_for_signer(real, "Phạm Văn Chứng", "Chủ tịch")
    dev = settings_for_signer(settings, "Phạm Văn Chứng", "")
    assert isinstance(dev, Settings) and dev.certifier_name == "Phạm Văn Chứng"
    assert dev.certifier_title == settings.certifier_title


def test_a_foreign_paper_not_legalised_cannot_be_approved_on_the_web(site) -> None:
    app, state, _settings, first, _ = site
    clerk, csrf = signed_in(app, "lan")
    page = clerk.get(f"/documents/{first}/review")
    assert 'data-testid="foreign"' in page.text and "miễn hợp pháp hóa: hộ chiếu" in page.text
    assert clerk.post(f"/documents/{first}/foreign",
                      data={"csrf": csrf, "finding": "exempt:birth"}).status_code == 400
    assert clerk.post(f"/documents/{first}/foreign",
                      data={"finding": "not_legalised"}).status_code == 403  # no CSRF
    done = clerk.post(f"/documents/{first}/foreign",
                      data={"csrf": csrf, "finding": "not_legalised"})
    assert done.status_code == 303
    assert 'value="not_legalised" selected' in clerk.get(done.headers["location"]).text
    certifier, ccsrf = signed_in(app, "chu.tich")
    refused = certifier.post(f"/certify/{first}/approve", data={"csrf": ccsrf})
    assert refused.status_code == 409 and "hợp pháp hóa lãnh sự" in refused.text
    assert read_case(state, first)["status"] == "needs_review"
    assert ("lan", "foreign") in web_acts(state)  # audited as the clerk's act
