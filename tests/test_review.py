"""`ecopy review`: a clerk corrects what the machine was unsure about; a certifier approves."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pikepdf

from storage.backends import LocalStore
from storage.db.cases import corrections_of, get_case
from tests.conftest import CERTIFY_AS, SAMPLES, export_copy, open_state, run_cli

OTHER = "001301099999"  # a person whose papers these are not


def test_review_correct_approve_and_refuse(tmp_path: Path, env: dict[str, str]) -> None:
    store = tmp_path / "store"
    senv = {**env, "ECOPY_STORE": str(store), "ECOPY_ACTOR": "clerk.lan"}
    # the samples' papers carry PERSON's ID: in another person's dossier they wait for a clerk
    done = run_cli(["process", *CERTIFY_AS, str(SAMPLES / "birth_cert.jpg"),
                    str(SAMPLES / "citizen_id.png"), "--person-id", OTHER, "--json"], senv)
    docs = {Path(d["source"]).name: d for d in json.loads(done.stdout)["documents"]}
    assert {d["status"] for d in docs.values()} == {"needs_review"}, docs
    first, second = docs["birth_cert.jpg"]["case_id"], docs["citizen_id.png"]["case_id"]

    waiting = json.loads(run_cli(["review", "list", "--json"], senv).stdout)["cases"]
    assert {w["case_id"] for w in waiting} == {first, second}
    assert all("id_mismatch" in w["review_reasons"] for w in waiting)
    other_commune = run_cli(["review", "list", "--json"], {**senv, "ECOPY_COMMUNE": "11111"})
    assert json.loads(other_commune.stdout)["cases"] == []
    assert run_cli(["review", "show", first], {**senv, "ECOPY_COMMUNE": "11111"}
                   ).returncode == 2  # another commune's case is not found
    by_original = run_cli(["review", "show", docs["birth_cert.jpg"]["sha256"][:12]], senv)
    assert by_original.returncode == 0 and first in by_original.stdout
    shown = run_cli(["review", "show", first[:10]], senv)
    assert shown.returncode == 0 and "id_mismatch" in shown.stdout and OTHER in shown.stdout

    for bad in (["--field", "nickname=An"], ["--field", "id_number=123"],
                ["--field", "date_of_birth=sometime"], ["--doc-type", "passport"], []):
        refused = run_cli(["review", "correct", first, *bad], senv)
        assert refused.returncode == 2, (bad, refused.stdout)
    fixed = run_cli(["review", "correct", first, "--doc-type", "other",
                     "--field", "full_name=Nguyễn Thị Ánh Tuyết",
                     "--field", "date_of_birth=ngày 05 tháng 02 năm 1990", "--json"], senv)
    assert fixed.returncode == 0, fixed.stderr
    state = open_state(LocalStore(store))
    with state.db.read() as s:
        (kept,) = corrections_of(s, first)
    assert kept["actor"] == "clerk.lan" and kept["fields"]["date_of_birth"] == "1990-02-05"

    no_role = run_cli(["review", "approve", first], senv)
    assert no_role.returncode == 1 and "certifier" in no_role.stderr
    # an administrator administers; only a certifier certifies (Decree 280/2025 Art 5)
    admin = run_cli(["review", "approve", first], {**senv, "ECOPY_ROLE": "admin",
                                                   "ECOPY_ACTOR": "quan.tri"})
    assert admin.returncode == 1 and "certifier" in admin.stderr
    certifier = {**senv, "ECOPY_ROLE": "certifier", "ECOPY_ACTOR": "chu.tich"}
    approved = run_cli(["review", "approve", first, "--json"], certifier)
    assert approved.returncode == 0, approved.stdout + approved.stderr
    result = json.loads(approved.stdout)
    assert result["status"] == "filed" and result["register_number"] == 1
    copy = export_copy(store, result["ecopy"], tmp_path / "copy.pdf")  # sealed in the store
    with pikepdf.open(copy) as pdf:
        manifest = json.loads(pdf.attachments["manifest.json"].get_file().read_bytes())
    assert manifest["doc_type"] == "other"
    # the model that classified it is named even when a clerk set the type
    assert manifest["classification"]["method"] == "clerk"
    assert manifest["classification"]["model"].startswith("doctype-1@")
    name, born = manifest["fields"]["full_name"], manifest["fields"]["date_of_birth"]
    assert (name["value"], name["page"]) == ("Nguyễn Thị Ánh Tuyết", -1)  # -1: a clerk's entry
    assert born["value"] == "1990-02-05"
    verified = run_cli(["verify", str(copy), "--store", str(store)], env)
    assert verified.returncode == 0, verified.stdout
    again = run_cli(["review", "approve", first], certifier)
    assert again.returncode == 1  # filed, no longer waiting

    free = run_cli(["review", "refuse", second, "--ground", "Bản chính bị tẩy xóa"], certifier)
    assert free.returncode == 2 and "altered" in free.stderr  # Art 22's grounds, no free text
    # a clerk does not refuse: Art 22 names the person who certifies (as on the web)
    clerk = run_cli(["review", "refuse", second, "--ground", "altered"], senv)
    assert clerk.returncode == 1 and "certifier" in clerk.stderr
    refuse = run_cli(["review", "refuse", second, "--ground", "altered", "--detail",
                      "tẩy xóa ở mục ngày sinh"], certifier)
    assert refuse.returncode == 0, refuse.stderr
    with state.db.read() as s:
        record = get_case(s, second)
    assert (record["status"], record["reason"]) == ("rejected", "refused_by_clerk")
    events = [json.loads(p.read_text()) for p in sorted((store / "audit").rglob("0*.json"))]
    acts = [(e["action"], (e.get("details") or {}).get("act")) for e in events
            if e["action"] in ("review", "refuse")]
    assert ("review", "correct") in acts and ("review", "approve") in acts
    assert ("refuse", None) in acts
    # the register book of the month prints the refusal under its entries, with its ground
    from datetime import datetime

    from ecopy.reports.books import REFUSAL_TITLE
    from pipeline.vn.tz import VN_TZ

    now = datetime.now(VN_TZ)
    book = tmp_path / "book.pdf"
    exported = run_cli(["register", "export", "--commune", record["agency"], "--year",
                        str(now.year), "--month", str(now.month), "--format", "pdf", "--out",
                        str(book)], senv)
    assert exported.returncode == 0, exported.stderr
    text = " ".join(subprocess.run(["pdftotext", str(book), "-"], capture_output=True,
                                   text=True, check=True).stdout.split())
    assert REFUSAL_TITLE in text
    assert "Bản chính bị tẩy xóa, sửa chữa, thêm, bớt nội dung không hợp lệ — tẩy xóa ở mục " \
           "ngày sinh" in text


def test_a_forged_paper_is_refused_with_a_violation_record(tmp_path: Path,
                                                           env: dict[str, str]) -> None:
    """Circular 01/2020 Art 11: the certifier refuses, makes a violation record and keeps the
    paper; ecopy keeps the record (sealed, write-once), the original, the book's refusal note
    and an audit event."""
    from storage.evidence.violations import LEGAL_BASIS

    store = tmp_path / "store"
    senv = {**env, "ECOPY_STORE": str(store), "ECOPY_ACTOR": "Nguyễn Văn Thử",
            "ECOPY_ROLE": "certifier"}
    done = run_cli(["process", str(SAMPLES / "birth_cert.jpg"), "--person-id", OTHER,
                    "--json"], senv)
    (doc,) = json.loads(done.stdout)["documents"]
    refused = run_cli(["review", "refuse", doc["case_id"], "--ground", "forged", "--detail",
                       "con dấu không khớp mẫu", "--json"], senv)
    assert refused.returncode == 0, refused.stdout + refused.stderr
    out = json.loads(refused.stdout)
    assert out["status"] == "rejected" and "biên bản vi phạm" in out["message"]
    key = out["violation_record"]
    assert key.startswith("violations/99999/") and key.endswith(f"/{doc['case_id']}.json")
    assert b"con d" not in (store / key).read_bytes()  # sealed: the requester is in it
    state = open_state(LocalStore(store))
    kept = json.loads(state.store.get(key))
    assert kept["legal_basis"] == LEGAL_BASIS and kept["paper_retained"] is True
    assert kept["requester"]["person_id"] == OTHER and kept["detail"] == "con dấu không khớp mẫu"
    assert kept["original_sha256"] == doc["sha256"] and state.store.exists(
        f"originals/{doc['sha256']}")
    events = [json.loads(p.read_text()) for p in sorted((store / "audit").rglob("0*.json"))]
    (violation,) = [e for e in events if e["action"] == "violation"]
    assert violation["object"] == key and violation["actor"] == "Nguyễn Văn Thử"
    assert OTHER not in json.dumps(violation, ensure_ascii=False)  # no personal data in audit


def test_a_foreign_paper_is_certified_only_legalised_or_exempt(tmp_path: Path,
                                                              env: dict[str, str]) -> None:
    """Decree 23/2015 Art 22 and Circular 01/2020 Art 6: the clerk records that a paper was
    issued abroad; not legalised, it cannot be approved; exempt (a passport, an ID card, a
    driving licence, a diploma or transcript) or legalised, it can."""
    store = tmp_path / "store"
    senv = {**env, "ECOPY_STORE": str(store), "ECOPY_ACTOR": "clerk.lan"}
    done = run_cli(["process", str(SAMPLES / "citizen_id.png"), "--person-id", OTHER,
                    "--json"], senv)
    (doc,) = json.loads(done.stdout)["documents"]
    case = doc["case_id"]
    assert run_cli(["review", "foreign", case, "exempt:birth"], senv).returncode == 2
    marked = run_cli(["review", "foreign", case, "not_legalised"], senv)
    assert marked.returncode == 0 and "hợp pháp hóa lãnh sự" in marked.stdout, marked.stdout
    certifier = {**senv, "ECOPY_ROLE": "certifier", "ECOPY_ACTOR": "Nguyễn Văn Thử"}
    refused = run_cli(["review", "approve", case], certifier)
    assert refused.returncode == 1 and "legalised" in refused.stderr, refused.stderr
    assert not list(store.glob("warehouse/**/*.pdf"))
    assert run_cli(["review", "foreign", case, "exempt:identity_card"], senv).returncode == 0
    approved = run_cli(["review", "approve", case, "--json"], certifier)
    assert approved.returncode == 0, approved.stdout + approved.stderr
    assert json.loads(approved.stdout)["status"] == "filed"
    state = open_state(LocalStore(store))
    with state.db.read() as s:
        assert get_case(s, case)["foreign"]["state"] == "exempt:identity_card"
    events = [json.loads(p.read_text()) for p in sorted((store / "audit").rglob("0*.json"))]
    assert [(e["details"] or {}).get("foreign") for e in events
            if (e.get("details") or {}).get("act") == "foreign"] == [
        "not_legalised", "exempt:identity_card"]
