"""Reuse before asking (issue 8, point 1): the warehouse and the authoritative registers are
asked before the citizen; what is found is attached by reference, what is not is logged with
the reason (legal brief, requirement 18)."""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ecopy import accounts
from ecopy.settings import load_settings
from ecopy.web.app import create_app
from pipeline.casework.cancellation import cancel_copy
from pipeline.casework.once_only.availability import check_dossier_needs, find_available, hit_rate
from pipeline.casework.once_only.connectors import FileSource
from storage.backends import LocalStore
from storage.db.catalogue import add_copy
from storage.db.dossiers import open_dossier
from storage.db.papers import dossier_papers
from storage.evidence import dump
from storage.evidence.audit import read_events, verify_audit
from storage.state import State
from tests.conftest import PERSON, SAMPLES, open_state, run_cli, sign_in

PASSWORD = "mật khẩu đủ dài 2026"
SOURCES = SAMPLES / "sources"
TODAY = date(2026, 11, 23)


@pytest.fixture(scope="module")
def made(sample_copy: dict) -> dict:
    """A store holding a real certified copy of the sample birth certificate (commune 99999);
    read-only here: tests that write copy it."""
    return sample_copy


@pytest.fixture
def state(made: dict, tmp_path: Path) -> State:
    shutil.copytree(made["dir"], tmp_path / "store")
    return open_state(LocalStore(tmp_path / "store"))


def _source(tmp_path: Path, name: str, papers: list[dict], available: bool = True) -> FileSource:
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps({"name": name, "title_vi": f"CSDL {name}", "available": available,
                                "persons": {PERSON: papers}}), encoding="utf-8")
    return FileSource(path)


def _fake_copy(state: State, doc_type: str, copy_id: str, **fields: str) -> None:
    """Warehouse metadata of a copy and its catalogue row (reuse reads only the catalogue)."""
    meta = {"copy_id": copy_id, "person_id": PERSON, "doc_type": doc_type, "test_mode": False,
            "certified_at": "2026-01-05T09:00:00+07:00",
            "register_entry": {"agency_code": "22222", "year": 2026, "number": 1},
            "fields": {k: {"value": v} for k, v in fields.items()}}
    key = f"warehouse/{PERSON}/{doc_type}/{copy_id}"
    state.store.put(f"{key}.json", dump(meta))
    with state.db.write() as s:
        add_copy(s, meta, pdf_key=f"{key}.pdf")


def test_warehouse_copy_is_found_for_any_commune(state: State, made: dict) -> None:
    db = state.db
    (answer,) = find_available(db, PERSON, ["birth_cert"], [], today=TODAY, test_mode=True)
    assert answer.available and answer.where == "warehouse"
    assert answer.ref == made["copy_id"] and answer.agency == "99999"
    # a TEST copy is never offered to a deployment signing for real
    (prod,) = find_available(db, PERSON, ["birth_cert"], [], today=TODAY, test_mode=False)
    assert not prod.available and prod.reason == "test_copy"
    # the type must match: a birth certificate is not a marriage certificate
    (other,) = find_available(db, PERSON, ["marriage_cert"], [], today=TODAY,
                              test_mode=True)
    assert not other.available and other.reason == "not_held"
    assert "chưa kết nối cơ sở dữ liệu quốc gia nào" in other.message("vi")
    assert "(CSDL hộ tịch) chưa có" in other.message("vi", "CSDL hộ tịch")
    assert find_available(db, "001301099999", ["birth_cert"], [], today=TODAY,
                          test_mode=True)[0].reason == "not_held"


def test_cancelled_and_expired_papers_are_not_offered(state: State, made: dict) -> None:
    db = state.db
    cancel_copy(state, made["copy_id"], decision_ref="15/QĐ-UBND", decision_date="2026-11-20",
                reason="Bản chính bị tẩy xóa", actor="Nguyễn Văn Thử", role="certifier")
    (cancelled,) = find_available(db, PERSON, ["birth_cert"], [], today=TODAY,
                                  test_mode=True)
    assert not cancelled.available and cancelled.reason == "cancelled"
    assert cancelled.skipped == ((made["copy_id"], "cancelled"),)
    assert "hủy chứng thực" in cancelled.message("vi")

    _fake_copy(state, "citizen_id", "a" * 32, expiry_date="2025-12-31")
    (expired,) = find_available(db, PERSON, ["citizen_id"], [], today=TODAY, test_mode=False)
    assert not expired.available and expired.reason == "expired"
    _fake_copy(state, "citizen_id", "b" * 32, expiry_date="2041-02-05")
    (valid,) = find_available(db, PERSON, ["citizen_id"], [], today=TODAY, test_mode=False)
    assert valid.available and valid.ref == "b" * 32 and valid.agency == "22222"
    assert valid.skipped == (("a" * 32, "expired"),)


def test_external_registers(state: State, tmp_path: Path) -> None:
    db = state.db
    population = FileSource(SOURCES / "csdl-dan-cu.json")
    civil = FileSource(SOURCES / "csdl-ho-tich.json")
    answers = find_available(db, PERSON, ["marital_status", "citizen_id", "land_use_cert"],
                             [population, civil], today=TODAY, test_mode=True)
    status, card, land = answers
    assert status.available and status.where == "csdl-ho-tich"
    assert status.ref == "XN-2026-000418" and status.valid_until == "2027-04-01"
    assert card.available and card.where == "csdl-dan-cu" and card.ref == PERSON
    assert not land.available and land.reason == "not_held"
    assert hit_rate(answers) == pytest.approx(2 / 3)
    # six months later the marital-status confirmation has expired
    (later,) = find_available(db, PERSON, ["marital_status"], [civil],
                              today=date(2027, 5, 1), test_mode=True)
    assert not later.available and later.reason == "expired"

    down = _source(tmp_path, "vneid", [{"doc_type": "marital_status", "reference": "x"}],
                   available=False)
    missing = FileSource(tmp_path / "no-such-register.json")
    (answer,) = find_available(db, PERSON, ["marital_status"], [down, missing],
                               today=TODAY, test_mode=True)
    assert not answer.available and answer.reason == "source_unavailable"
    assert answer.sources_down == ("vneid", "no-such-register")
    # one register down, the next one answers
    (fallback,) = find_available(db, PERSON, ["marital_status"], [down, civil],
                                 today=TODAY, test_mode=True)
    assert fallback.available and fallback.where == "csdl-ho-tich"
    assert fallback.sources_down == ("vneid",)


def test_answers_are_recorded_in_the_dossier_and_the_audit_log(state: State,
                                                               tmp_path: Path,
                                                               made: dict) -> None:
    store = state.store
    with state.db.write() as s:
        dossier = open_dossier(s, agency="11111", person_id=PERSON, person_name="N. T. M. Anh",
                               date_of_birth="", opened_by="lan", deadlines=state.deadlines)
    originals = list(store.list("originals/"))
    down = _source(tmp_path, "csdl-ho-tich", [], available=False)
    check_dossier_needs(state, dossier, ["birth_cert", "marital_status"], [down],
                        today=TODAY, test_mode=True, actor="lan")
    with state.db.read() as s:
        papers = {p["doc_type"]: p for p in dossier_papers(s, dossier)}
    assert papers["birth_cert"]["status"] == "reused"
    assert papers["birth_cert"]["ref"] == made["copy_id"]
    assert papers["marital_status"]["status"] == "requested"
    assert papers["marital_status"]["reason"] == "source_unavailable"
    assert "CSDL csdl-ho-tich" in papers["marital_status"]["message"]
    assert list(store.list("originals/")) == originals  # attached by reference only
    events = {e["action"]: e for e in read_events(store)}
    assert events["reuse.attach"]["details"]["ref"] == made["copy_id"]
    assert events["reuse.unavailable"]["details"]["reason"] == "source_unavailable"
    assert events["reuse.unavailable"]["details"]["sources_down"] == ["csdl-ho-tich"]
    assert verify_audit(store) == []
    # asked again once the register is back: the answer changes, the earlier one is kept
    civil = FileSource(SOURCES / "csdl-ho-tich.json")
    check_dossier_needs(state, dossier, ["marital_status"], [civil], today=TODAY,
                        test_mode=True, actor="lan")
    with state.db.read() as s:
        (status,) = [p for p in dossier_papers(s, dossier) if p["doc_type"] == "marital_status"]
    assert status["status"] == "reused" and [c["status"] for c in status["checks"]] == [
        "requested", "reused"]


def _login(app: object, user: str) -> TestClient:
    client = TestClient(app, follow_redirects=False)
    assert sign_in(client, user, PASSWORD).status_code == 303
    return client


def _csrf(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def test_clerk_of_another_commune_reuses_the_copy_on_the_web(state: State, made: dict,
                                                             ) -> None:
    for user, role, agency in (("hoa", "clerk", "11111"), ("kiem.tra", "auditor", "11111"),
                               ("lan", "clerk", "99999")):
        accounts.create(state.db, user, f"Người dùng {user}", role, agency, PASSWORD)
    env = {**made["env"], "ECOPY_EXTERNAL_SOURCES": f"{SOURCES / 'csdl-dan-cu.json'}:"
                                                    f"{SOURCES / 'csdl-ho-tich.json'}"}
    app = create_app(replace(load_settings(env), web_secure_cookies=False), state)
    clerk = _login(app, "hoa")
    page = clerk.get("/dossiers")
    opened = clerk.post("/dossiers", data={"csrf": _csrf(page.text), "person_id": PERSON})
    dossier_id = opened.headers["location"].rsplit("/", 1)[1]
    assert f'href="/dossiers/{dossier_id}/papers"' in clerk.get(f"/dossiers/{dossier_id}").text
    form = clerk.get(f"/dossiers/{dossier_id}/papers")
    assert form.status_code == 200
    done = clerk.post(f"/dossiers/{dossier_id}/papers", data={
        "csrf": _csrf(form.text), "needs": ["birth_cert", "citizen_id", "university_diploma"]})
    assert done.status_code == 303
    shown = clerk.get(f"/dossiers/{dossier_id}/papers").text
    assert re.search(r'data-testid="paper-birth_cert" data-status="reused"', shown)
    assert f'href="/verify/{made["copy_id"]}"' in shown  # certified by commune 99999
    assert re.search(r'data-testid="paper-citizen_id" data-status="reused"', shown)
    assert re.search(r'data-testid="paper-university_diploma" data-status="requested" '
                     r'data-reason="not_held"', shown)
    assert "2/3 giấy tờ đã có sẵn" in shown
    assert clerk.post(f"/dossiers/{dossier_id}/papers",
                      data={"csrf": _csrf(form.text)}).status_code == 400  # nothing ticked

    auditor = _login(app, "kiem.tra")
    assert auditor.get(f"/dossiers/{dossier_id}/papers").status_code == 200
    assert auditor.post(f"/dossiers/{dossier_id}/papers",
                        data={"csrf": "x", "needs": "birth_cert"}).status_code == 403
    stranger = _login(app, "lan")
    assert stranger.get(f"/dossiers/{dossier_id}/papers").status_code == 404
    token = _csrf(stranger.get("/dossiers").text)
    assert stranger.post(f"/dossiers/{dossier_id}/papers",
                         data={"csrf": token, "needs": "birth_cert"}).status_code == 404


def test_cli_prints_where_and_the_hit_rate(made: dict) -> None:
    args = ["reuse", "check", "--person-id", PERSON, "--store", str(made["dir"]),
            "--source", str(SOURCES / "csdl-dan-cu.json"),
            "--source", str(SOURCES / "csdl-ho-tich.json"), "--json"]
    full = run_cli([*args, "--needs", "citizen_id,birth_cert,marital_status"], made["env"])
    assert full.returncode == 0, full.stderr
    data = json.loads(full.stdout)
    assert data["hit_rate"] == 1.0
    assert [a["where"] for a in data["answers"]] == ["csdl-dan-cu", "warehouse", "csdl-ho-tich"]
    part = run_cli([*args, "--needs", "birth_cert,university_diploma"], made["env"])
    assert part.returncode == 3, part.stderr
    data = json.loads(part.stdout)
    assert data["hit_rate"] == 0.5 and data["answers"][1]["reason"] == "not_held"
    assert "chưa có giấy tờ này" in data["answers"][1]["message"]
    bad = run_cli([*args, "--needs", "passport"], made["env"])
    assert bad.returncode == 2 and "unknown document types: passport" in bad.stderr
