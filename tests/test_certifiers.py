"""Certifiers are people (issue 16 point 1, Decree 280/2025 Art 5): configured with their
basis, refused at start-up when their title does not fit it, and nothing is signed without a
certifier's own act."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from ecopy.actions import NotAllowed, settings_for_signer
from ecopy.settings import Settings, certifiers, load_settings
from pipeline.casework.certifiers import CertifierEntry, CertifierError
from storage.backends import LocalStore
from tests.conftest import CACHED_OCR, CERTIFY_AS, PERSON, SAMPLES, open_state, run_cli

AGENCY = "Ủy ban nhân dân xã Thử Nghiệm"


def _squash(text: str) -> str:
    return " ".join(text.split())


def test_a_title_outside_the_basis_is_refused_at_start_up(env, tmp_path: Path) -> None:
    """The issue saw a copy filed and verified with ECOPY_CERTIFIER_TITLE="Công chức Tư pháp -
    Hộ tịch": a civil servant is no Vice-Chairman. Now no command starts."""
    clerk_title = {"ECOPY_CERTIFIER_TITLE": "Công chức Tư pháp - Hộ tịch"}
    with pytest.raises(CertifierError, match="not a Vice-Chairman"):
        load_settings(clerk_title)
    store = tmp_path / "store"
    done = run_cli(["process", *CERTIFY_AS, str(SAMPLES / "birth_cert.jpg"), "--person-id",
                    PERSON, "--out", str(store), "--json"], {**env, **clerk_title}, timeout=120)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Công chức Tư pháp - Hộ tịch" in done.stderr and "Traceback" not in done.stderr
    assert not list(store.glob("warehouse/**/*.pdf"))
    # assigned to certify by a decision, the same civil servant may (Art 5(2))
    assigned = {**clerk_title, "ECOPY_CERTIFIER_BASIS": "assigned"}
    assert load_settings(assigned).certifier_basis == "assigned"
    # with real keys the decision, its date and the specimen notification are required
    real = {**assigned, "ECOPY_KEY_SOURCE": "pkcs12"}
    with pytest.raises(CertifierError) as refused:
        load_settings(real)
    assert "decision" in str(refused.value) and "specimen" in str(refused.value)
    complete = load_settings({**real, "ECOPY_CERTIFIER_DECISION": "15/QĐ-UBND",
                              "ECOPY_CERTIFIER_DECISION_DATE": "2026-01-05",
                              "ECOPY_CERTIFIER_SPECIMEN": "20/TB-UBND"})
    (entry,) = certifiers(complete)
    assert entry.form(AGENCY) == ("TL. CHỦ TỊCH ỦY BAN NHÂN DÂN XÃ THỬ NGHIỆM",
                                  "CÔNG CHỨC TƯ PHÁP - HỘ TỊCH")
    for basis, title in (("chairman", "Phó Chủ tịch"), ("vice_chairman", "Chủ tịch UBND xã"),
                         ("authorised", "Chủ tịch"), ("mayor", "Chủ tịch")):
        with pytest.raises(CertifierError):
            load_settings({"ECOPY_CERTIFIER_BASIS": basis, "ECOPY_CERTIFIER_TITLE": title})


def test_signing_forms_follow_the_basis() -> None:
    chairman = CertifierEntry("Lê Văn Chính", "Chủ tịch Ủy ban nhân dân xã", "chairman")
    vice = CertifierEntry("Nguyễn Văn Thử", "Phó Chủ tịch Ủy ban nhân dân xã", "vice_chairman")
    authorised = CertifierEntry("Trần Thị Bích", "Trưởng phòng Văn hóa - Xã hội", "authorised")
    assert chairman.form(AGENCY) == ("CHỦ TỊCH ỦY BAN NHÂN DÂN XÃ THỬ NGHIỆM",)
    assert vice.form(AGENCY) == ("KT. CHỦ TỊCH ỦY BAN NHÂN DÂN XÃ THỬ NGHIỆM", "PHÓ CHỦ TỊCH")
    assert authorised.form(AGENCY) == ("TUQ. CHỦ TỊCH ỦY BAN NHÂN DÂN XÃ THỬ NGHIỆM",
                                       "TRƯỞNG PHÒNG VĂN HÓA - XÃ HỘI")


def test_only_configured_certifiers_sign_and_only_while_their_basis_holds(tmp_path) -> None:
    listed = tmp_path / "certifiers.toml"
    listed.write_text('''
[[certifier]]
name = "Lê Văn Chính"
position = "Chủ tịch Ủy ban nhân dân xã"
basis = "chairman"
specimen_notice = "20/TB-UBND ngày 10/01/2026"

[[certifier]]
name = "Trần Thị Bích"
position = "Công chức Tư pháp - Hộ tịch"
basis = "assigned"
decision = "15/QĐ-UBND"
decision_date = "2025-01-05"
valid_from = "2025-01-05"
valid_until = "2025-12-31"
specimen_notice = "21/TB-UBND ngày 10/01/2025"
''', encoding="utf-8")
    settings = load_settings({"ECOPY_CERTIFIERS_FILE": str(listed)})
    chairman = settings_for_signer(settings, "lê  văn chính", "")
    assert (chairman.certifier_name, chairman.certifier_basis) == ("Lê Văn Chính", "chairman")
    with pytest.raises(NotAllowed, match="không còn hiệu lực"):  # her assignment ended
        settings_for_signer(settings, "Trần Thị Bích", "")
    with pytest.raises(NotAllowed, match="not a configured certifier"):
        settings_for_signer(settings, "Nguyễn Văn Thử", "Phó Chủ tịch")
    with pytest.raises(NotAllowed):  # tone marks make another person
        settings_for_signer(settings, "Le Van Chinh", "")
    # a certifier of another commune is no certifier here
    elsewhere = load_settings({"ECOPY_CERTIFIERS_FILE": str(listed), "ECOPY_COMMUNE": "02215"})
    assert {e.commune for e in certifiers(elsewhere)} == {"02215"}
    listed.write_text('[[certifier]]\nname = "A"\nposition = "Chủ tịch"\nbasis = "chairman"\n'
                      'title = "x"\n', encoding="utf-8")
    with pytest.raises(CertifierError, match="unknown keys title"):
        load_settings({"ECOPY_CERTIFIERS_FILE": str(listed)})


def test_process_signs_nothing_without_a_certifiers_act(env, tmp_path: Path) -> None:
    """Without --certify-as every paper the machine is sure of waits for a certifier; the
    certifier's `review approve` signs it, with the signing form of their basis on the
    statement; someone who is not a configured certifier cannot."""
    store = tmp_path / "store"
    cached = {**env, **CACHED_OCR, "ECOPY_STORE": str(store)}
    done = run_cli(["process", str(SAMPLES / "birth_cert.jpg"), "--person-id", PERSON,
                    "--out", str(store), "--json", "--no-progress"], cached, timeout=300)
    assert done.returncode == 3, done.stdout + done.stderr
    result = json.loads(done.stdout)
    (doc,) = result["documents"]
    assert doc["status"] == "ready" and not doc["copy_id"], doc
    assert result["certified_as"] is None
    assert not list(store.glob("warehouse/**/*.pdf"))
    stranger = run_cli(["review", "approve", doc["case_id"]],
                       {**cached, "ECOPY_ROLE": "certifier", "ECOPY_ACTOR": "Người Lạ",
                        "ECOPY_CERTIFIERS_FILE": str(_one_certifier(tmp_path))}, timeout=120)
    assert stranger.returncode == 1 and "not a configured certifier" in stranger.stderr
    clerk = run_cli(["certify", doc["case_id"]],
                    {**cached, "ECOPY_ROLE": "clerk", "ECOPY_ACTOR": "Nguyễn Văn Thử"})
    assert clerk.returncode == 1 and "certifier" in clerk.stderr  # the role, not the name
    approved = run_cli(["certify", doc["case_id"], "--json"],
                       {**cached, "ECOPY_ROLE": "certifier", "ECOPY_ACTOR": "Nguyễn Văn Thử"},
                       timeout=300)
    assert approved.returncode == 0, approved.stdout + approved.stderr
    out = json.loads(approved.stdout)
    assert out["status"] == "filed"
    with open_state(LocalStore(store)).db.read() as s:
        from storage.db.catalogue import copies_of_person

        (copy,) = copies_of_person(s, PERSON).items
    exported = tmp_path / "copy.pdf"
    assert run_cli(["warehouse", "export", copy.copy_id, "-o", str(exported), "--store",
                    str(store)], cached, timeout=120).returncode == 0
    text = _squash(subprocess.run(["pdftotext", "-enc", "UTF-8", str(exported), "-"],
                                  capture_output=True, text=True, check=True).stdout)
    assert ("KT. CHỦ TỊCH ỦY BAN NHÂN DÂN XÃ THỬ NGHIỆM PHÓ CHỦ TỊCH" in text
            and "Nguyễn Văn Thử" in text), text[-600:]
    assert Settings().certifier_name == "Nguyễn Văn Thử" == CERTIFY_AS[1]


def test_certify_as_names_a_configured_certifier(env, tmp_path: Path) -> None:
    store = tmp_path / "store"
    done = run_cli(["process", "--certify-as", "Người Lạ", str(SAMPLES / "birth_cert.jpg"),
                    "--person-id", PERSON, "--out", str(store), "--json"],
                   {**env, **CACHED_OCR, "ECOPY_CERTIFIERS_FILE": str(_one_certifier(tmp_path))},
                   timeout=120)
    assert done.returncode == 2 and "not a configured certifier" in done.stderr, done.stderr
    alone = run_cli(["process", "--certify-all", str(SAMPLES / "birth_cert.jpg"), "--person-id",
                     PERSON, "--out", str(store), "--json"], {**env, **CACHED_OCR}, timeout=120)
    assert alone.returncode == 2 and "--certify-as" in alone.stderr


def _one_certifier(tmp_path: Path) -> Path:
    path = tmp_path / "one.toml"
    path.write_text('[[certifier]]\nname = "Nguyễn Văn Thử"\nposition = "Phó Chủ tịch"\n'
                    'basis = "vice_chairman"\n', encoding="utf-8")
    return path


def test_a_batch_refusal_is_a_certifiers_act(env, tmp_path: Path) -> None:
    """`process --refuse` refuses every paper of the run on an Art 22 ground: only with
    --certify-as, and never as `forged` (a forgery is refused paper by paper, with its
    violation record: `review refuse --ground forged`)."""
    store = tmp_path / "store"
    scan = str(SAMPLES / "birth_cert.jpg")
    alone = run_cli(["process", scan, "--refuse", "altered", "--person-id", PERSON, "--out",
                     str(store), "--json"], env, timeout=120)
    assert alone.returncode == 2 and "--certify-as" in alone.stderr, alone.stderr
    forged = run_cli(["process", *CERTIFY_AS, scan, "--refuse", "forged", "--person-id",
                      PERSON, "--out", str(store), "--json"], env, timeout=120)
    assert forged.returncode == 2 and "invalid choice" in forged.stderr
    done = run_cli(["process", *CERTIFY_AS, scan, "--refuse", "altered", "--person-id", PERSON,
                    "--out", str(store), "--json", "--no-progress"], env, timeout=300)
    (doc,) = json.loads(done.stdout)["documents"]
    assert (doc["status"], doc["reason"]) == ("rejected", "refused_by_clerk"), doc
    assert not list(store.glob("warehouse/**/*.pdf"))
