"""A process killed between writing evidence and the row that points at it loses nothing:
the copy it signed and filed is found by `ecopy db check --repair` or by the next attempt,
and recorded; no second copy is signed and no second register number used (issue 14,
point 7)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from storage.backends import LocalStore
from storage.db.cases import find_cases
from storage.db.schema import copies, register_entries
from tests.conftest import CERTIFY_AS, PERSON, ROOT, SAMPLES, export_copy, open_state, run_cli

# `ecopy process`, killed the moment the signed copy is in the warehouse and the case is
# about to be marked filed (the transaction with the catalogue row and the portal event)
KILLED = """
import os, sys
import pipeline.flow as stages
stages.save_filed = lambda *args, **kw: os._exit(9)
from ecopy.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.fixture(scope="module")
def killed(tmp_path_factory: pytest.TempPathFactory, pki_dir: Path) -> dict:
    store = tmp_path_factory.mktemp("killed") / "store"
    env = {**{k: v for k, v in __import__("os").environ.items() if not k.startswith("ECOPY_")},
           "ECOPY_PKI_DIR": str(pki_dir), "OMP_THREAD_LIMIT": "1"}
    proc = subprocess.run([sys.executable, "-c", KILLED, "process", *CERTIFY_AS,
                           str(SAMPLES / "birth_cert.jpg"), "--person-id", PERSON,
                           "--certify-all", "--out", str(store), "--workers", "1", "--json",
                           "--no-progress"], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 9, proc.stderr
    return {"store": store, "env": env}


def _copy(killed: dict, tmp_path: Path) -> Path:
    root = tmp_path / "store"
    shutil.copytree(killed["store"], root)
    return root


def _facts(root: Path) -> tuple[dict, int, int]:
    state = open_state(LocalStore(root))
    with state.db.read() as s:
        (case,) = find_cases(s, "bca0fb34", agency="99999")  # the sample's sha256 prefix
        rows = s.execute(select(func.count()).select_from(copies)).scalar_one()
        entries = s.execute(select(func.count()).select_from(register_entries)).scalar_one()
    return case, rows, entries


def test_the_evidence_is_there_and_the_case_knows_its_copy(killed: dict, tmp_path: Path
                                                         ) -> None:
    root = _copy(killed, tmp_path)
    case, rows, entries = _facts(root)
    assert case["status"] == "ocr" and case["copy_id"]  # fixed before signing
    assert rows == 0 and entries == 1  # the number was indexed when claimed, the copy not
    pdfs = list(root.glob(f"warehouse/{PERSON}/*/{case['copy_id']}.pdf"))
    assert len(pdfs) == 1


def test_db_check_reports_and_repair_finishes_the_case(killed: dict, tmp_path: Path) -> None:
    root = _copy(killed, tmp_path)
    check = run_cli(["db", "check", "--store", str(root), "--json"], killed["env"])
    assert check.returncode == 1
    assert json.loads(check.stdout)["counts"]["copy_missing_row"] == 1
    repair = run_cli(["db", "check", "--repair", "--store", str(root), "--json"],
                     killed["env"])
    assert repair.returncode == 0, repair.stdout + repair.stderr
    assert json.loads(repair.stdout)["counts"]["cases_finished"] == 1
    case, rows, entries = _facts(root)
    assert (case["status"], rows, entries) == ("filed", 1, 1)
    assert case["register_number"] == 1 and case["ecopy_key"].endswith(
        f"{case['copy_id']}.pdf")
    again = run_cli(["db", "check", "--store", str(root), "--json"], killed["env"])
    assert again.returncode == 0, again.stdout
    pdf = export_copy(root, case["ecopy_key"], tmp_path / "copy.pdf")  # sealed in the store
    verified = run_cli(["verify", str(pdf), "--store", str(root)], killed["env"])
    assert verified.returncode == 0, verified.stdout


def test_the_next_attempt_records_the_copy_without_signing_again(killed: dict,
                                                                 tmp_path: Path) -> None:
    root = _copy(killed, tmp_path)
    before, _, _ = _facts(root)
    pdf_before = next(root.glob(f"warehouse/{PERSON}/*/{before['copy_id']}.pdf")).read_bytes()
    proc = run_cli(["process", *CERTIFY_AS, str(SAMPLES / "birth_cert.jpg"), "--person-id",
                    PERSON,
                    "--certify-all", "--out", str(root), "--workers", "1", "--json",
                    "--no-progress"], killed["env"], timeout=600)
    assert proc.returncode == 0, proc.stderr
    (doc,) = json.loads(proc.stdout)["documents"]
    assert (doc["status"], doc["copy_id"], doc["register_number"]) == (
        "filed", before["copy_id"], 1)
    case, rows, entries = _facts(root)
    assert (case["status"], rows, entries) == ("filed", 1, 1)
    assert len(list(root.glob("register/99999/*/0*.json"))) == 1  # no second number
    pdfs = list(root.glob(f"warehouse/{PERSON}/*/*.pdf"))
    assert len(pdfs) == 1 and pdfs[0].read_bytes() == pdf_before  # not signed again
