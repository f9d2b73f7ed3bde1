"""The QR code on an issued copy carries its dossier's code (issue 8, point 3; Circular
01/2023/TT-VPCP): scanning it opens the verification report, which links to the status page."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlsplit

from fastapi.testclient import TestClient

from ecopy.settings import load_settings
from ecopy.web.app import create_app
from pipeline.steps.issueqr import issue_qr_text, parse_issue_qr
from pipeline.vn.cardqr import read_qr_codes
from storage.backends import LocalStore
from storage.db.dossiers import open_dossier
from tests.conftest import CACHED_OCR, CERTIFY_AS, PERSON, SAMPLES, open_state, run_cli


def test_issue_qr_text_round_trip() -> None:
    at = datetime(2026, 11, 23, 9, 5, 7, tzinfo=timezone(timedelta(hours=7)))
    text = issue_qr_text("https://xa.example.vn/verify/", "ab" * 16, dossier_code="K7M2P9QRST",
                         procedure="2.000815.000.00.00.H", person_id="001301012345",
                         doc_type="birth_cert", issued_at=at)
    # the issue data after '#': the applicant's ID never reaches a server or a proxy's log
    assert text.startswith(f"https://xa.example.vn/verify/{'ab' * 16}#")
    assert urlsplit(text).query == "" and "001301012345" in urlsplit(text).fragment
    assert text.isascii() and " " not in text
    assert parse_issue_qr(text) == {
        "copy_id": "ab" * 16, "hs": "K7M2P9QRST", "tthc": "2.000815.000.00.00.H",
        "cd": "001301012345", "gt": "birth_cert", "ht": "ecopy", "tg": "20261123T090507+0700"}
    bare = issue_qr_text("https://x/verify", "cd" * 16, dossier_code="", procedure="p",
                         person_id="", doc_type="other", issued_at=at)
    assert "hs" not in parse_issue_qr(bare) and "cd" not in parse_issue_qr(bare)


def test_copy_issued_in_a_dossier_carries_its_code(tmp_path: Path, pki_dir: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ECOPY_")}
    env.update(CACHED_OCR)  # not about OCR
    env["ECOPY_PKI_DIR"] = str(pki_dir)
    store_dir = tmp_path / "store"
    state = open_state(LocalStore(store_dir))
    store = state.store  # sealed, as `ecopy` seals it
    scan = SAMPLES / "birth_cert.jpg"
    with state.db.write() as s:  # the same paper brought in two dossiers of the commune
        dossier, other = (open_dossier(s, agency="99999", person_id=PERSON,
                                       person_name="Người thử", date_of_birth="",
                                       opened_by="lan", deadlines=state.deadlines)
                          for _ in range(2))
    for code in (other.public_code, dossier.public_code):
        proc = run_cli(["process", *CERTIFY_AS,
                        str(scan), "--person-id", PERSON, "--certify-all", "--out",
                        str(store_dir), "--workers", "1", "--json", "--no-progress",
                        "--dossier", code], env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    (doc,) = json.loads(proc.stdout)["documents"]
    assert doc["status"] == "filed", doc
    pdf = tmp_path / "copy.pdf"
    store.get_to_file(doc["ecopy_path"], pdf)
    subprocess.run(["pdftoppm", "-r", "150", "-gray", "-png", "-f", "2", str(pdf),
                    str(tmp_path / "page")], check=True, timeout=60)
    (qr,) = [text for page in sorted(tmp_path.glob("page*.png"))
             for text, _box in read_qr_codes(page)]
    issue = parse_issue_qr(qr)
    assert issue["hs"] == dossier.public_code and issue["copy_id"] == doc["copy_id"]
    assert issue["cd"] == PERSON and issue["gt"] == "birth_cert"
    meta = json.loads(store.get(doc["ecopy_path"].removesuffix(".pdf") + ".json"))
    assert meta["copy_id"] == doc["copy_id"]

    app = create_app(replace(load_settings(env), web_secure_cookies=False), state)
    client = TestClient(app, follow_redirects=False)
    page = client.get(qr)  # what the phone opens: the client drops the fragment
    assert page.status_code == 200
    assert 'id="follow-dossier"' in page.text and "/static/verify.js" in page.text
    legacy = client.get(f"{urlsplit(qr).path}?hs={dossier.public_code}")  # an older link
    assert f'href="/status/{dossier.public_code}"' in legacy.text
    status = client.get(f"/status/{dossier.public_code}.json")
    assert status.status_code == 200
    assert [d["status"] for d in status.json()["documents"]] == ["filed"]
    # a forged dossier code in a hand-made link is not echoed as a link
    forged = client.get(f"{urlsplit(qr).path}?hs=%22%3E%3Cscript%3E")
    assert forged.status_code == 200 and "/status/" not in forged.text
