"""Another commune's staff reach nothing of this commune's cases, dossiers, copies or
complaints: every web route and CLI command that takes such a reference answers 404 (or 403
for a role that may never do it), never data; including the path that used to leak, the same
original bytes uploaded into the other commune's own dossier (issue 14)."""

from __future__ import annotations

import re
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ecopy import accounts
from ecopy.settings import load_settings
from ecopy.web.app import create_app
from pipeline.casework.complaints import file_complaint
from pipeline.casework.status import claim, save_status
from storage.backends import LocalStore
from storage.db.cases import get_case
from storage.db.dossiers import open_dossier
from storage.evidence.originals import store_original
from tests.conftest import CORPUS, PERSON, open_state, run_cli, sign_in

PASSWORD = "mật khẩu đủ dài 2026"
A, B = "99999", "11111"
NAME = "Nguyễn Thị Ánh Tuyết"
SCAN = CORPUS / "vietadmin-ocr-llm-rag" / "4_1.jpg"
STAFF = (("lan.a", "clerk", A), ("lan.b", "clerk", B), ("ct.b", "certifier", B),
         ("kt.b", "auditor", B), ("ad.b", "admin", B))


@pytest.fixture(scope="module")
def world(sample_copy: dict, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Commune A (99999) holds a filed copy (made by `ecopy process`), a dossier with a case
    waiting for review, and a complaint; commune B (11111) has staff of every role."""
    root = tmp_path_factory.mktemp("isolation") / "store"
    shutil.copytree(sample_copy["dir"], root)
    state = open_state(LocalStore(root))
    for user, role, agency in STAFF:
        accounts.create(state.db, user, f"Cán bộ {user}", role, agency, PASSWORD)
    with state.db.write() as s:
        dossier = open_dossier(s, agency=A, person_id=PERSON, person_name=NAME,
                               date_of_birth="1990-02-05", opened_by="lan.a",
                               deadlines=state.deadlines)
    sha = __import__("hashlib").sha256(SCAN.read_bytes()).hexdigest()
    store_original(state.store, sha, SCAN)
    waiting, _ = claim(state, dossier, sha, name="giay-to.jpg", size=SCAN.stat().st_size,
                       person_id=PERSON, actor="lan.a", kind="jpeg")
    save_status(state, waiting["case_id"], "needs_review", actor="ecopy", pages=1,
                doc_type="other", review_reasons=["low_resolution"],
                fields=[{"name": "full_name", "value": NAME, "page": 0, "confidence": 0.9}])
    with state.db.read() as s:
        filed = get_case(s, sample_copy["doc"]["case_id"])
    with state.db.write() as s:
        complaint = file_complaint(s, kind="complaint", target_type="dossier",
                                   target=dossier.public_code, filer="citizen", name=NAME,
                                   phone="0912345678", text="Hồ sơ chậm.")
    state.db.close()
    return {"root": root, "env": sample_copy["env"], "dossier": dossier, "sha": sha,
            "waiting": waiting["case_id"], "filed": filed, "complaint": complaint}


@pytest.fixture
def site(world: dict, tmp_path: Path):
    shutil.copytree(world["root"], tmp_path / "store")
    state = open_state(LocalStore(tmp_path / "store"))
    settings = replace(load_settings(world["env"]), web_secure_cookies=False)
    return create_app(settings, state), state


def signed_in(app, user: str) -> tuple[TestClient, str]:
    client = TestClient(app, follow_redirects=False)
    assert sign_in(client, user, PASSWORD).status_code == 303
    page = client.get("/dossiers" if not user.startswith("ct.") else "/certify")
    return client, re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)


def test_every_route_of_another_commune_answers_404(world: dict, site) -> None:
    app, state = site
    d, case_id = world["dossier"], world["waiting"]
    copy_id = world["filed"]["copy_id"]
    complaint = world["complaint"].complaint_id
    gets = [f"/dossiers/{d.dossier_id}", f"/dossiers/{d.dossier_id}/status",
            f"/dossiers/{d.dossier_id}/papers", f"/documents/{case_id}/review",
            f"/documents/{case_id}/pages/1.png", f"/certify/{case_id}",
            f"/documents/{world['sha']}/review",  # an original's hash is no reference
            f"/documents/{world['filed']['case_id']}/review",
            f"/copies/{copy_id}.pdf", f"/register?agency={A}",
            f"/register/export?agency={A}&year=2026&format=csv",
            f"/complaints/manage/{complaint}"]
    posts = [(f"/dossiers/{d.dossier_id}/papers", {"needs": "birth_cert"}),
             (f"/documents/{case_id}/review", {"doc_type": "other", "f.full_name": "X"}),
             (f"/documents/{case_id}/reviewed", {}),
             (f"/certify/{case_id}/approve", {}),
             (f"/certify/{case_id}/refuse", {"ground": "altered"}),
             (f"/copies/{copy_id}/cancel", {"decision_ref": "1", "reason": "x"}),
             (f"/complaints/manage/{complaint}", {"action": "close"})]
    for user, _role, _agency in STAFF[1:]:
        client, csrf = signed_in(app, user)
        for path in gets:
            r = client.get(path)
            assert r.status_code in (403, 404), (user, path, r.status_code)
            assert NAME not in r.text and PERSON not in r.text, (user, path)
        for path, data in posts:
            r = client.post(path, data={**data, "csrf": csrf})
            assert r.status_code in (403, 404), (user, path, r.status_code)
        upload = client.post(f"/dossiers/{d.dossier_id}/upload",
                             headers={"X-CSRF-Token": csrf, "Accept": "application/json"},
                             files=[("files", ("x.jpg", b"\xff\xd8\xff", "image/jpeg"))])
        assert upload.status_code in (403, 404), (user, upload.status_code)
        # their own lists and searches show nothing of commune A
        for path in ("/dossiers", "/certify", "/complaints", f"/warehouse/{PERSON}"):
            r = client.get(path)
            assert d.dossier_id not in r.text and case_id not in r.text, (user, path)
            assert copy_id not in r.text and complaint not in r.text, (user, path)
        found = client.post("/dossiers/search", data={"csrf": csrf, "q": "Ánh Tuyết"})
        if user == "kt.b":  # an auditor oversees the deployment, but reaches no page of A's
            assert found.status_code == 200 and f'href="/dossiers/{d.dossier_id}"' not in \
                found.text
        else:
            assert found.status_code in (200, 403) and NAME not in found.text
    with state.db.read() as s:  # and nothing of A's changed
        after = get_case(s, case_id, with_history=True)
    assert after["status"] == "needs_review" and "corrections" not in after
    assert [h["status"] for h in after["history"]] == ["received", "needs_review"]


def test_the_same_bytes_uploaded_by_another_commune_are_its_own_case(world: dict,
                                                                      site) -> None:
    """Before cases, a record keyed by the bytes let commune B open and change commune A's
    document by uploading the same file into a dossier of its own."""
    app, state = site
    clerk, csrf = signed_in(app, "lan.b")
    opened = clerk.post("/dossiers", data={"csrf": csrf, "person_id": PERSON})
    mine = opened.headers["location"].rsplit("/", 1)[1]
    done = clerk.post(f"/dossiers/{mine}/upload",
                      headers={"X-CSRF-Token": csrf, "Accept": "application/json"},
                      files=[("files", ("lai.jpg", SCAN.read_bytes(), "image/jpeg"))])
    (result,) = done.json()["files"]
    assert result["sha256"] == world["sha"] and result["case_id"] != world["waiting"]
    assert result["status"] == "received"  # a new case of B's: A's status is not shown
    assert clerk.get(f"/documents/{world['waiting']}/review").status_code == 404
    assert clerk.get(f"/documents/{world['waiting']}/pages/1.png").status_code == 404
    changed = clerk.post(f"/documents/{world['waiting']}/review",
                         data={"csrf": csrf, "doc_type": "other", "f.full_name": "Kẻ Khác"})
    assert changed.status_code == 404
    with state.db.read() as s:
        theirs = get_case(s, result["case_id"])
        ours = get_case(s, world["waiting"])
    assert theirs["agency"] == B and theirs["dossier_id"] == mine
    assert ours["agency"] == A and "corrections" not in ours
    assert ours["fields"][0]["value"] == NAME


def test_cli_commands_resolve_within_their_commune(world: dict, site) -> None:
    _app, state = site
    env = {**world["env"], "ECOPY_STORE": str(state.store.root), "ECOPY_COMMUNE": B,
           "ECOPY_ACTOR": "ct.b", "ECOPY_ROLE": "certifier"}
    for ref in (world["waiting"], world["waiting"][:12], world["sha"], world["sha"][:12]):
        for action in (["show", ref], ["correct", ref, "--field", "full_name=X"],
                       ["approve", ref], ["refuse", ref, "--ground", "altered"]):
            r = run_cli(["review", *action], env)
            assert r.returncode == 2 and NAME not in r.stdout + r.stderr, (action, r.stdout)
    cancel = run_cli(["cancel", world["filed"]["copy_id"], "--decision", "1/QĐ",
                      "--reason", "x"], env)
    assert cancel.returncode == 1 and "Không có bản sao" in cancel.stderr
    listed = run_cli(["review", "list", "--json"], env)
    assert world["waiting"] not in listed.stdout
    found = run_cli(["search", "Ánh Tuyết"], env)
    assert found.returncode == 1 and NAME not in found.stdout
    overseer = run_cli(["search", "Ánh Tuyết", "--all-communes"], {**env, "ECOPY_ROLE":
                                                                   "auditor"})
    assert overseer.returncode == 0 and world["dossier"].public_code in overseer.stdout
    step = run_cli(["complaints", "close", world["complaint"].complaint_id, "--agency", A],
                   {**env, "ECOPY_ROLE": "clerk"})
    assert step.returncode == 1
    with state.db.read() as s:
        assert get_case(s, world["waiting"])["status"] == "needs_review"
