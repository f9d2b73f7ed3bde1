"""`ecopy db import` on a store made by the code released before the database (ecopy at
LEGACY, its own commands and storage functions, run from a checkout of that commit): every list
and figure the new code gives equals what the old code computed; a second import adds
nothing; `ecopy db check` finds the catalogue consistent with the evidence."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.casework import complaints as cs
from pipeline.casework.figures import Period, compute_figures
from storage import outbox
from storage.backends import LocalStore
from storage.db.cases import queue
from storage.db.catalogue import all_cancellations, copies_of_person
from storage.db.dossiers import CLI_NOTE, list_dossiers
from tests.conftest import CORPUS, PERSON, ROOT, SAMPLES, open_state, run_cli

LEGACY = "6a74481"  # the last commit whose working state was objects in the store
MONTH = Period.month(__import__("datetime").date.today().strftime("%Y-%m"))

OLD_SCRIPT = r"""
import json, sys
from pathlib import Path
from ecopy import accounts
from ecopy.actions import waiting_documents
from pipeline.performance import Period, compute_figures
from storage.cancellations import cancel_copy, list_cancellations
from storage.complaints import file_complaint, list_complaints
from storage.dossiers import link_document, list_dossiers, open_dossier
from storage.outbox import summary
from storage.store import LocalStore
from storage.warehouse import list_copies

store, person, month = LocalStore(Path(sys.argv[1])), sys.argv[2], sys.argv[3]
made = json.loads(Path(sys.argv[4]).read_text())
accounts.create(store, "lan", "Trần Thị Lan", "clerk", "99999", "mật khẩu đủ dài 2026")
named = open_dossier(store, agency="99999", person_id=person, person_name="Nguyễn Văn Hùng",
                     date_of_birth="1990-02-05", opened_by="lan", channel="online")
open_dossier(store, agency="99999", person_id="", person_name="Lò Thị Mai",
             date_of_birth="1988-07-05", opened_by="lan")
for doc in made:
    if doc["status"] in ("filed", "needs_review"):
        link_document(store, named, doc["sha256"], Path(doc["source"]).name, "lan")
filed = next(d for d in made if d["status"] == "filed")
cancel_copy(store, filed["copy_id"], decision_ref="15/QĐ-UBND", decision_date="2026-11-20",
            reason="tẩy xóa", actor="Chủ tịch", role="certifier")
file_complaint(store, kind="complaint", target_type="dossier", target=named.public_code,
               filer="citizen", name="Lê Thị Khiếu Nại", phone="0912345678", text="chậm")
print(json.dumps({
    "dossiers": sorted(d.dossier_id for d in list_dossiers(store, "99999")),
    "codes": sorted(d.public_code for d in list_dossiers(store, "99999")),
    "review": sorted(r["sha256"] for r in waiting_documents(store)),
    "copies": sorted(c["copy_id"] for c in list_copies(store, person)),
    "cancellations": list_cancellations(store),
    "complaints": [[c.complaint_id, c.agency, c.public_code] for c in
                   list_complaints(store, "99999")],
    "figures": compute_figures(store, Period.month(month)).rows(),
    "outbox_pending": summary(store)["pending"],
}))
"""


def _legacy_tree(tmp: Path) -> Path:
    """A checkout of the released code; a clone without that commit fails the test (the
    suite needs the history: `git clone`, not a shallow one)."""
    tree = tmp / "legacy"
    subprocess.run(["git", "clone", "-q", "--no-checkout", str(ROOT), str(tree)], check=True,
                   timeout=120)
    found = subprocess.run(["git", "-C", str(tree), "checkout", "-q", LEGACY],
                           capture_output=True, text=True, timeout=120)
    assert found.returncode == 0, f"commit {LEGACY} is not in this clone: {found.stderr}"
    return tree


@pytest.fixture(scope="module")
def legacy(tmp_path_factory: pytest.TempPathFactory, pki_dir: Path) -> dict:
    tmp = tmp_path_factory.mktemp("legacy")
    tree = _legacy_tree(tmp)
    store = tmp / "store"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ECOPY_")}
    env.update(ECOPY_PKI_DIR=str(pki_dir), OMP_THREAD_LIMIT="1", PYTHONPATH=str(tree))
    html = tmp / "trang.pdf"
    html.write_text("<html>không phải bản quét</html>")
    made = []
    for args in (["--certify-all", str(SAMPLES / "birth_cert.jpg")],
                 [str(CORPUS / "vietadmin-ocr-llm-rag" / "4_1.jpg"), str(html)]):
        proc = subprocess.run([sys.executable, "-m", "ecopy.cli", "process", *args,
                               "--person-id", PERSON, "--out", str(store), "--workers", "1",
                               "--json", "--no-progress"], env=env, cwd=tree, text=True,
                              capture_output=True, timeout=600)
        assert proc.returncode in (0, 3, 4), proc.stderr
        made += json.loads(proc.stdout)["documents"]
    assert sorted(d["status"] for d in made) == ["filed", "needs_review", "rejected"]
    (tmp / "made.json").write_text(json.dumps(made))
    old = subprocess.run([sys.executable, "-c", OLD_SCRIPT, str(store), PERSON, MONTH.label,
                          str(tmp / "made.json")], env=env, cwd=tree, text=True,
                         capture_output=True, timeout=300)
    assert old.returncode == 0, old.stderr
    assert not (store / ".ecopy.sqlite3").exists()  # the old code kept no database
    return {"store": store, "old": json.loads(old.stdout), "made": made,
            "env": {k: v for k, v in env.items() if k != "PYTHONPATH"}}


def test_import_gives_what_the_old_code_computed(legacy: dict) -> None:
    store, old, env = legacy["store"], legacy["old"], legacy["env"]
    done = run_cli(["db", "import", "--store", str(store), "--json"], env, timeout=300)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["problems"] == [], report["problems"]
    counts = report["counts"]
    assert (counts["dossiers"], counts["accounts"], counts["complaints"]) == (2, 1, 1)
    assert counts["cases"] == 3 and counts["catalogue.copy_missing_row"] == 1

    state = open_state(LocalStore(store))
    with state.db.read() as s:
        dossiers = list_dossiers(s, "99999", limit=200).items
        review = queue(s, "99999", ("needs_review",), limit=200).items
        copies = copies_of_person(s, PERSON).items
        cancelled = all_cancellations(s)
        complaints = cs.list_complaints(s, "99999").items
        pending = outbox.summary(s)["pending"]
    requests = [d for d in dossiers if d.note != CLI_NOTE]  # the import's desk dossier aside
    assert sorted(d.dossier_id for d in requests) == old["dossiers"]
    assert sorted(d.public_code for d in requests) == old["codes"]
    assert sorted(r["sha256"] for r in review) == old["review"]
    assert sorted(c.copy_id for c in copies) == old["copies"]
    assert cancelled == old["cancellations"]
    assert [[c.complaint_id, c.agency, c.public_code] for c in complaints] == old["complaints"]
    assert compute_figures(state.db, MONTH).rows() == old["figures"]
    assert pending == old["outbox_pending"]
    # the rejected file (no dossier) is a case of the person's desk dossier, with its reason
    desk = [d for d in dossiers if d.note == CLI_NOTE]
    assert len(desk) == 1 and desk[0].public_code == ""

    again = run_cli(["db", "import", "--store", str(store), "--json"], env, timeout=300)
    assert again.returncode == 0
    added = {k: v for k, v in json.loads(again.stdout)["counts"].items()
             if not k.startswith("catalogue.") and v}
    assert added == {}, added  # nothing imported twice
    check = run_cli(["db", "check", "--store", str(store), "--json"], env, timeout=300)
    assert check.returncode == 0, check.stdout
    with sqlite3.connect(store / ".ecopy.sqlite3") as conn:  # a month row gone wrong
        conn.execute("UPDATE month_figures SET received = received + 5")
    stale = run_cli(["db", "check", "--store", str(store), "--json"], env, timeout=300)
    assert stale.returncode == 1 and json.loads(stale.stdout)["counts"][
        "month_figures_stale"] == 1, stale.stdout
    fixed = run_cli(["db", "check", "--repair", "--store", str(store), "--json"], env,
                    timeout=300)
    assert fixed.returncode == 0, fixed.stdout
    assert compute_figures(open_state(LocalStore(store)).db, MONTH).rows() == old["figures"]
    # the new code carries on from it: the review queue, the web pages, a new certification
    listed = run_cli(["review", "list", "--json"], {**env, "ECOPY_STORE": str(store)})
    assert [c["sha256"] for c in json.loads(listed.stdout)["cases"]] == old["review"]
