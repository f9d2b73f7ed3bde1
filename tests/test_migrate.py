"""`ecopy migrate`: two former provinces' deployments (stores with real signed e-copies and
audit chains; databases with dossiers, cases, accounts, a complaint) merged into one,
proven with hashes, `ecopy verify` and the rows.

Source "hagiang" is old Hà Giang (02): commune 00692 Ngọc Hà certified a copy and 00697 Minh
Khai opened a dossier; both went into 00691 Phường Hà Giang 2. Source "tuyenquang" is old
Tuyên Quang (08): 02200 Phan Thiết certified a copy, 02203 Minh Xuân opened a dossier; both went
into 02215 Phường Minh Xuân. Both new communes are in today's Tuyên Quang (08).
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ecopy import accounts
from ecopy.settings import load_settings
from ecopy.web.app import create_app
from pipeline.casework.complaints import complaint_by_code, file_complaint
from storage.backends import LocalStore
from storage.backends.prefixed import PrefixedStore
from storage.db.cases import get_case
from storage.db.dossiers import dossier_by_code, load_dossier, open_dossier
from storage.db.successions import predecessors, successor_of
from storage.evidence.audit import append_event, read_events, verify_audit
from storage.evidence.register import check_chain
from storage.migration.migrate import Source, migrate
from tests.conftest import (
    CACHED_OCR,
    CERTIFY_AS,
    CORPUS,
    PERSON,
    SAMPLES,
    export_copy,
    open_state,
    run_cli,
    sealed,
    sign_in,
)

PASSWORD = "mật khẩu đủ dài 2026"
MAPPING = "old_code,new_code\n02,08\n08,08\n00692,00691\n00697,00691\n02200,02215\n02203,02215\n"
SCANS = {"hagiang": ("00692", "00697", SAMPLES / "birth_cert.jpg"),
         "tuyenquang": ("02200", "02203", CORPUS / "tesseract-test" / "phototest.tif")}
NEW = {"00692": "00691", "00697": "00691", "02200": "02215", "02203": "02215"}


def _env(pki_dir: Path, **extra: str) -> dict[str, str]:
    out = {k: v for k, v in os.environ.items() if not k.startswith("ECOPY_")}
    out.update(CACHED_OCR)  # not about OCR
    return {**out, "ECOPY_PKI_DIR": str(pki_dir), "OMP_THREAD_LIMIT": "1", **extra}


def _hashes(root: Path) -> dict[str, str]:
    """The store's objects, by the bytes a reader gets (sealed ones opened as a migration
    opens them; the embedded database beside them is compared by its rows)."""
    store = sealed(LocalStore(root))
    return {key: hashlib.sha256(store.get(key)).hexdigest() for key in store.list("")}


@pytest.fixture(scope="module")
def provinces(tmp_path_factory: pytest.TempPathFactory, pki_dir: Path) -> dict[str, dict]:
    """Two former deployments, each with a real signed e-copy made by `ecopy process` under an
    old commune code (its case in that commune's desk dossier), a dossier opened by another
    old commune, an account and audit events."""
    base = tmp_path_factory.mktemp("provinces")
    made = {}
    for label, (certifier, office, scan) in SCANS.items():
        root = base / label
        result = run_cli(["process", *CERTIFY_AS, str(scan), "--person-id", PERSON, "--certify-all",
                          "--out", str(root), "--workers", "1", "--json", "--no-progress"],
                         _env(pki_dir, ECOPY_COMMUNE=certifier), timeout=600)
        assert result.returncode == 0, result.stderr
        (doc,) = json.loads(result.stdout)["documents"]
        assert doc["status"] == "filed" and doc["register_number"] == 1
        state = open_state(LocalStore(root))
        clerk = f"clerk.{office}"
        accounts.create(state.db, clerk, "Lê Văn Cũ", "clerk", office, PASSWORD)
        with state.db.write() as s:
            dossier = open_dossier(s, agency=office, person_id=PERSON,
                                   person_name="Nguyễn Văn An", date_of_birth="2001-02-05",
                                   opened_by=clerk, deadlines=state.deadlines)
        append_event(state.store, actor=clerk, action="dossier_open",
                     object=dossier.dossier_id)
        made[label] = {"root": root, "doc": doc, "dossier": dossier, "clerk": clerk,
                       "certifier": certifier, "office": office}
        if label == "tuyenquang":
            with state.db.write() as s:
                made[label]["complaint"] = file_complaint(
                    s, kind="feedback", target_type="dossier", target=dossier.public_code,
                    filer="citizen", name="Nguyễn Văn An", phone="0912345678",
                    text="Hồ sơ chậm.")
        state.db.close()
    return made


@pytest.fixture
def sources(provinces: dict[str, dict], tmp_path: Path) -> dict[str, Path]:
    out = {}
    for label, info in provinces.items():
        out[label] = tmp_path / label
        shutil.copytree(info["root"], out[label])
    (tmp_path / "map.csv").write_text(MAPPING, encoding="utf-8")
    return out


def _migrate(tmp_path: Path, sources: dict[str, Path], pki_dir: Path, *extra: str):
    args = ["migrate", "--mapping", str(tmp_path / "map.csv"), "--to", str(tmp_path / "dest"),
            "--no-progress", "--json", *extra]
    for label, path in sources.items():
        args += ["--from", f"{label}={path}"]
    return run_cli(args, _env(pki_dir), timeout=300)


def _source_objects(sources: dict[str, Path]) -> dict[str, dict[str, str]]:
    return {label: _hashes(path) for label, path in sources.items()}


def test_migration_moves_everything_unchanged(tmp_path: Path, sources: dict[str, Path],
                                              provinces: dict[str, dict], pki_dir: Path) -> None:
    before = _source_objects(sources)
    result = _migrate(tmp_path, sources, pki_dir, "--report", str(tmp_path / "report.csv"))
    assert result.returncode == 0, result.stdout + result.stderr
    summary = json.loads(result.stdout)
    assert summary["complete"] and not summary["conflicts"] and not summary["check_problems"]
    dest_root = tmp_path / "dest"
    state = open_state(LocalStore(dest_root))
    dest = state.store
    after = _hashes(dest_root)
    assert _source_objects(sources) == before  # the sources are only read

    for label, objects in before.items():
        info = provinces[label]
        for key, sha in objects.items():
            if key.startswith(("warehouse/", "originals/", "register/", "documents/")):
                assert after[key] == sha, key  # byte-identical, same key
            if key.startswith("audit/"):
                assert after[f"audit-archive/{label}/{key}"] == sha
        # the signed e-copy still verifies against the migrated register
        pdf = export_copy(dest_root, info["doc"]["ecopy_path"], tmp_path / f"{label}.pdf")
        check = run_cli(["verify", str(pdf), "--store", str(dest_root), "--json"],
                        _env(pki_dir), timeout=120)
        assert check.returncode == 0, check.stdout + check.stderr
        report = json.loads(check.stdout)
        assert report["indication"] == "TOTAL-PASSED"
        assert report["register_entry"]["agency_code"] == info["certifier"]
        assert check_chain(dest, info["certifier"], int(report["register_entry"]["year"])) == []
        # the archived chain is still a valid chain of its own
        assert verify_audit(PrefixedStore(dest, f"audit-archive/{label}")) == []
        archive = run_cli(["migrate", "check-archive", label, "--store", str(dest_root)],
                          _env(pki_dir))
        assert archive.returncode == 0 and "intact" in archive.stdout
        with state.db.read() as s:
            # the dossier now belongs to the new commune; its status code still works
            old = info["dossier"]
            moved = load_dossier(s, NEW[old.agency], old.dossier_id)
            assert moved is not None and moved.former_agency == old.agency
            assert moved.public_code == old.public_code
            assert moved.person_name == old.person_name
            assert dossier_by_code(s, old.public_code) == moved
            assert load_dossier(s, old.agency, old.dossier_id) is None
            # the certified paper's case too, found by the new commune only
            case = get_case(s, info["doc"]["case_id"], agency=NEW[info["certifier"]])
            assert case is not None and case["copy_id"] == info["doc"]["copy_id"]
            assert get_case(s, info["doc"]["case_id"], agency=info["certifier"]) is None
        account = accounts.load(state.db, info["clerk"])
        assert account is not None and account.agency == NEW[old.agency]
        assert accounts.authenticate(state.db, info["clerk"], PASSWORD) is not None

    complaint = provinces["tuyenquang"]["complaint"]
    with state.db.read() as s:
        found = complaint_by_code(s, complaint.public_code)
        assert found is not None and found.agency == "02215" and found.text == complaint.text
        assert predecessors(s, "00691") == ["00692", "00697"]
        assert predecessors(s, "02215") == ["02200", "02203"]
        assert successor_of(s, "02200") == "02215" and successor_of(s, "00691") == "00691"
    # a complaint filed after the merger about a former commune's copy goes to its successor
    copy_id = provinces["tuyenquang"]["doc"]["copy_id"]
    with state.db.write() as s:
        later = file_complaint(s, kind="complaint", target_type="copy", target=copy_id,
                               filer="citizen", name="Nguyễn Văn An", phone="0912345678",
                               text="Bản sao sai tên.")
    assert later.agency == "02215"
    # the catalogue indexes the migrated copies, under the commune that certified them
    check = run_cli(["db", "check", "--store", str(dest_root), "--json"], _env(pki_dir))
    assert check.returncode == 0, check.stdout + check.stderr
    # the destination chain: one migrate event per source, naming the report's hash
    assert verify_audit(dest) == []
    events = [e for e in read_events(dest) if e["action"] == "migrate"]
    assert sorted(e["details"]["source"] for e in events) == ["hagiang", "tuyenquang"]
    report_bytes = dest.get(summary["report"])
    assert {e["object_sha256"] for e in events} == {hashlib.sha256(report_bytes).hexdigest()}
    report = json.loads(report_bytes)
    rows = list(csv.DictReader((tmp_path / "report.csv").read_text("utf-8").splitlines()))
    assert len(rows) == len(report["objects"]) >= sum(len(o) for o in before.values())
    assert all(r["sha256"] for r in rows if r["action"] != "excluded")
    assert {r["key"].split("/")[1] for r in rows if r["key"].startswith("db/")} >= {
        "dossiers", "cases", "case_events", "accounts", "complaints"}

    # a second run changes nothing: every object is skipped as already there
    again = _migrate(tmp_path, sources, pki_dir)
    assert again.returncode == 0, again.stderr
    assert set(json.loads(again.stdout)["counts"]) == {"skipped-same"}
    now = _hashes(dest_root)
    changed = {k for k in after if now.get(k) != after[k]}
    assert changed <= {"audit/HEAD.json"}  # only the destination's own log grew


def test_new_certification_starts_the_new_communes_register(
        tmp_path: Path, sources: dict[str, Path], pki_dir: Path) -> None:
    assert _migrate(tmp_path, sources, pki_dir).returncode == 0
    dest = tmp_path / "dest"
    made = run_cli(["process", *CERTIFY_AS, str(SAMPLES / "citizen_id.png"), "--person-id", PERSON,
                    "--certify-all", "--out", str(dest), "--workers", "1", "--json",
                    "--no-progress"], _env(pki_dir, ECOPY_COMMUNE="02215"), timeout=600)
    assert made.returncode == 0, made.stderr
    (doc,) = json.loads(made.stdout)["documents"]
    assert doc["register_number"] == 1
    meta = json.loads(sealed(LocalStore(dest)).get(doc["ecopy_path"].removesuffix(".pdf")
                                                   + ".json"))
    year = meta["register_entry"]["year"]
    assert meta["register_entry"]["agency_code"] == "02215"
    assert (dest / f"register/02215/{year}/000001.json").is_file()
    assert sorted(p.name for p in (dest / f"register/02200/{year}").iterdir()) == [
        "000001.json", "HEAD.json"]  # the old book is untouched


def test_dry_run_writes_nothing(tmp_path: Path, sources: dict[str, Path], pki_dir: Path,
                                ) -> None:
    result = _migrate(tmp_path, sources, pki_dir, "--dry-run", "--report",
                      str(tmp_path / "plan.csv"))
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "dest").exists()
    rows = list(csv.DictReader((tmp_path / "plan.csv").read_text("utf-8").splitlines()))
    actions = {r["action"] for r in rows}
    assert {"copied", "archived"} <= actions


def test_interrupted_run_resumes(tmp_path: Path, sources: dict[str, Path], pki_dir: Path,
                                 ) -> None:
    first = _migrate(tmp_path, sources, pki_dir, "--limit", "12")
    assert first.returncode == 3, first.stderr  # stopped early: run again
    assert not json.loads(first.stdout)["complete"]
    partial = _hashes(tmp_path / "dest")
    second = _migrate(tmp_path, sources, pki_dir)
    assert second.returncode == 0, second.stderr
    counts = json.loads(second.stdout)["counts"]
    assert counts["skipped-same"] >= 12 and counts["copied"] > 0
    # a full migration into a fresh destination gives the same objects
    fresh = tmp_path / "fresh"
    full = _migrate(tmp_path, sources, pki_dir, "--to", str(fresh))
    assert full.returncode == 0
    resumed, clean = _hashes(tmp_path / "dest"), _hashes(fresh)
    skip = ("audit/", "migrations/", "agencies/")  # run ids and times differ by nature
    assert {k: v for k, v in resumed.items() if not k.startswith(skip)} == \
        {k: v for k, v in clean.items() if not k.startswith(skip)}
    assert all(partial[k] == resumed[k] for k in partial if not k.startswith(skip))


def test_conflicts_are_reported_never_overwritten(tmp_path: Path, sources: dict[str, Path],
                                                  provinces: dict[str, dict], pki_dir: Path,
                                                  ) -> None:
    state = open_state(LocalStore(tmp_path / "dest"))
    clerk = provinces["hagiang"]["clerk"]
    mine = accounts.create(state.db, clerk, "Người khác", "auditor", "00691", PASSWORD)
    ocr_key = f"documents/{provinces['tuyenquang']['doc']['sha256']}/ocr.json"
    state.store.put(ocr_key, b'{"status": "other"}')
    state.db.close()
    result = _migrate(tmp_path, sources, pki_dir)
    assert result.returncode == 1
    conflicts = {c["dest_key"] for c in json.loads(result.stdout)["conflicts"]}
    assert conflicts == {f"db/accounts/{clerk}", ocr_key}
    assert accounts.load(state.db, clerk) == mine
    assert state.store.get(ocr_key) == b'{"status": "other"}'


def test_bad_mappings_are_refused_before_writing(tmp_path: Path, sources: dict[str, Path],
                                                 pki_dir: Path) -> None:
    cases = {
        "old_code,new_code\n00692,00691\n00697,00691\n02200,02215\n": "02203",  # unmapped
        MAPPING + "00692,02215\n": "mapping_not_official",
        MAPPING + "99998,00691\n": "mapping_unknown_old",
        "old,new\n00692,00691\n": "mapping_header",
    }
    for text, expected in cases.items():
        (tmp_path / "map.csv").write_text(text, encoding="utf-8")
        result = _migrate(tmp_path, sources, pki_dir)
        assert result.returncode == 2 and expected in result.stderr, (text, result.stderr)
        assert not (tmp_path / "dest").exists()
    made = run_cli(["migrate", "mapping", "--old", "00692", "02203", "02"], _env(pki_dir))
    assert made.stdout.splitlines() == ["old_code,new_code", "00692,00691", "02203,02215",
                                        "02,08"]


def test_new_commune_staff_see_predecessors_books_and_copies(
        tmp_path: Path, sources: dict[str, Path], provinces: dict[str, dict], pki_dir: Path,
) -> None:
    assert _migrate(tmp_path, sources, pki_dir).returncode == 0
    state = open_state(LocalStore(tmp_path / "dest"))
    accounts.create(state.db, "kiem.tra.moi", "Trần Kiểm Tra", "auditor", "00691", PASSWORD)
    accounts.create(state.db, "kiem.tra.khac", "Phạm Khác", "auditor", "02215", PASSWORD)
    settings = replace(load_settings(_env(pki_dir)), web_secure_cookies=False)
    copy_id = provinces["hagiang"]["doc"]["copy_id"]

    def client_for(user: str) -> TestClient:
        client = TestClient(create_app(settings, state), follow_redirects=False)
        sign_in(client, user, PASSWORD)
        return client

    mine = client_for("kiem.tra.moi")
    page = mine.get("/register?agency=00692&month=all")
    assert page.status_code == 200 and 'data-testid="register-row-1"' in page.text
    assert "xã mã 00692" in page.text and 'data-testid="register-agency"' in page.text
    assert mine.get("/register?agency=02200").status_code == 404  # not a predecessor
    year = (tmp_path / "dest/register/00692").iterdir().__next__().name
    export = mine.get(f"/register/export?year={year}&format=csv&agency=00692")
    assert export.status_code == 200 and "so-chung-thuc-00692" in \
        export.headers["content-disposition"]
    assert mine.get(f"/register/export?year={year}&format=csv&agency=02200").status_code == 404
    form = re.search(r'name="csrf" value="([^"]+)"', mine.get("/warehouse").text).group(1)
    assert copy_id in mine.post("/warehouse", data={"csrf": form, "person_id": PERSON}).text
    download = mine.get(f"/copies/{copy_id}.pdf")
    assert download.status_code == 200
    assert hashlib.sha256(download.content).hexdigest() == \
        hashlib.sha256(sealed(LocalStore(sources["hagiang"]))
                       .get(provinces["hagiang"]["doc"]["ecopy_path"])).hexdigest()
    other = client_for("kiem.tra.khac")
    assert other.get(f"/copies/{copy_id}.pdf").status_code == 404
    assert other.get("/register?agency=00692").status_code == 404


def test_destination_on_s3(tmp_path: Path, sources: dict[str, Path], provinces: dict[str, dict],
                           s3_server, s3_store, pg_server, pki_dir: Path) -> None:
    from storage.db.migrate import upgrade
    from tests.support.s3server import REGION

    url = pg_server.new_database()
    dest_state = open_state(s3_store, url, pg_server.password)  # the province's PostgreSQL
    upgrade(dest_state.db)
    s3env = _env(pki_dir, ECOPY_S3_ENDPOINT=s3_server.endpoint, ECOPY_S3_BUCKET="unused",
                 ECOPY_S3_SECURE="0", ECOPY_S3_REGION=REGION,
                 ECOPY_S3_ACCESS_KEY_ENV="TEST_S3_ACCESS", TEST_S3_ACCESS=s3_server.access_key,
                 ECOPY_S3_SECRET_KEY_ENV="TEST_S3_SECRET", TEST_S3_SECRET=s3_server.secret_key,
                 ECOPY_DATABASE_URL=url,
                 ECOPY_DATABASE_PASSWORD_FILE=str(pg_server.password_file))
    args = ["migrate", "--mapping", str(tmp_path / "map.csv"), "--to",
            f"s3://{s3_store.bucket}", "--json", "--no-progress"]
    for label, path in sources.items():
        args += ["--from", f"{label}={path}"]
    result = run_cli(args, s3env, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    for label, path in sources.items():
        key = provinces[label]["doc"]["ecopy_path"]
        assert sealed(s3_store).get(key) == sealed(LocalStore(path)).get(key)
        # verify against the register in the S3 destination (no --store: the configured S3)
        copy = export_copy(path, key, tmp_path / f"{label}.pdf")
        check = run_cli(["verify", str(copy), "--json"],
                        {**s3env, "ECOPY_S3_BUCKET": s3_store.bucket}, timeout=120)
        assert check.returncode == 0, check.stdout + check.stderr
        assert json.loads(check.stdout)["register_entry"]["agency_code"] == \
            provinces[label]["certifier"]
    with dest_state.db.read() as s:
        moved = dossier_by_code(s, provinces["hagiang"]["dossier"].public_code)
    assert moved.agency == "00691"
    srcs = [Source(label, sealed(LocalStore(path))) for label, path in sources.items()]
    again = migrate(srcs, sealed(s3_store), dict(csv.reader(MAPPING.splitlines()[3:])))
    assert again.complete and set(again.counts()) == {"skipped-same"}
