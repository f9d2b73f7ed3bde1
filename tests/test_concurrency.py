"""Concurrent writers across processes, on both engines: of eight certifiers approving one
case exactly one signs and one register number is used; eight processes changing one case
lose none of each other's changes (issue 14, point 4)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from pipeline.run.orchestrator import BatchRunner, ProcessOptions
from storage.backends import LocalStore
from storage.db.cases import get_case, history
from storage.db.dossiers import open_dossier
from storage.db.schema import copies, register_entries
from storage.state import State
from tests.conftest import PERSON, ROOT, SAMPLES, open_state

PROCESSES = 8

APPROVE = """
import json, os, sys, time
from pathlib import Path
from ecopy import actions
from ecopy.settings import load_settings
from ecopy.wiring import open_state
gate = Path(sys.argv[2])
settings = load_settings()
state = open_state(None, settings)
with state.db.read() as s:
    from storage.db.cases import get_case
    record = get_case(s, sys.argv[1], with_history=True)
while not gate.exists():
    time.sleep(0.005)
try:
    outcome = actions.approve_document(settings, state, record, actor=f"ct{os.getpid()}",
                                       role="certifier")
    print(json.dumps({"status": str(outcome.status), "number": outcome.register_number}))
except actions.ActionRefused as exc:
    print(json.dumps({"status": "refused", "why": type(exc).__name__}))
"""

CHANGE = """
import sys, time
from pathlib import Path
from ecopy.settings import load_settings
from ecopy.wiring import open_state
from pipeline.casework.status import save_status
gate, n = Path(sys.argv[2]), int(sys.argv[3])
state = open_state(None, load_settings())
while not gate.exists():
    time.sleep(0.005)
for k in range(20):
    save_status(state, sys.argv[1], "ocr", actor=f"p{n}", **{f"p{n}_{k}": k})
"""


@pytest.fixture(params=["sqlite", "postgresql"])
def deployment(request: pytest.FixtureRequest, tmp_path: Path, env: dict[str, str]
               ) -> tuple[State, dict[str, str]]:
    """A state and the environment that makes `ecopy` (and wiring.open_state) use it."""
    store = LocalStore(tmp_path / "store")
    run_env = {**env, "ECOPY_STORE": str(store.root), "ECOPY_COMMUNE": "99999",
               "OMP_THREAD_LIMIT": "1"}
    if request.param == "sqlite":
        return open_state(store), run_env
    server = request.getfixturevalue("pg_server")
    url = server.new_database()
    run_env.update(ECOPY_DATABASE_URL=url, ECOPY_DATABASE_PASSWORD_FILE=str(server.password_file))
    return open_state(store, url, server.password), run_env


def _waiting_case(state: State) -> str:
    """A real case waiting for a certifier: the sample scan read as a web upload is."""
    with state.db.write() as s:
        dossier = open_dossier(s, agency="99999", person_id=PERSON, person_name="Người Thử",
                               date_of_birth="", opened_by="lan", deadlines=state.deadlines)
    options = ProcessOptions(person_id=PERSON, workers=1, certify_when_sure=False)
    (outcome,) = BatchRunner(state, dossier, None, options).run([SAMPLES / "birth_cert.jpg"])
    assert outcome.status in ("ready", "needs_review"), outcome
    return outcome.case_id


def _race(script: str, args: list[list[str]], env: dict[str, str], gate: Path
          ) -> list[subprocess.CompletedProcess[str]]:
    procs = [subprocess.Popen([sys.executable, "-c", script, *a], env=env, cwd=ROOT, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for a in args]
    time.sleep(3)  # every process imported and connected: they start together
    gate.touch()
    done = []
    for p in procs:
        out, err = p.communicate(timeout=600)
        done.append(subprocess.CompletedProcess(p.args, p.returncode, out, err))
    return done


def test_eight_certifiers_one_signature_one_number(deployment, tmp_path: Path) -> None:
    state, env = deployment
    case_id = _waiting_case(state)
    gate = tmp_path / "go"
    runs = _race(APPROVE, [[case_id, str(gate)]] * PROCESSES, env, gate)
    results = []
    for run in runs:
        assert run.returncode == 0, run.stderr[-2000:]
        results.append(json.loads(run.stdout.strip().splitlines()[-1]))
    filed = [r for r in results if r["status"] == "filed"]
    assert len(filed) == 1 and filed[0]["number"] == 1, results
    assert all(r["status"] == "refused" and r["why"] in ("InProgress", "NotWaiting")
               for r in results if r["status"] != "filed"), results
    with state.db.read() as s:
        record = get_case(s, case_id)
        assert record["status"] == "filed"
        assert s.execute(select(func.count()).select_from(register_entries)).scalar() == 1
        assert s.execute(select(func.count()).select_from(copies)).scalar() == 1
    assert len(list(state.store.list("register/99999/"))) == 2  # the entry and HEAD.json
    assert len([k for k in state.store.list("warehouse/") if k.endswith(".pdf")]) == 1


def test_eight_processes_lose_no_change(deployment, tmp_path: Path) -> None:
    state, env = deployment
    with state.db.write() as s:
        dossier = open_dossier(s, agency="99999", person_id=PERSON, person_name="",
                               date_of_birth="", opened_by="lan", deadlines=state.deadlines)
    from pipeline.casework.status import claim

    case, _ = claim(state, dossier, "ef" * 32, name="x", size=1, person_id=PERSON, actor="x")
    gate = tmp_path / "go"
    runs = _race(CHANGE, [[case["case_id"], str(gate), str(n)] for n in range(PROCESSES)], env,
                 gate)
    assert all(r.returncode == 0 for r in runs), [r.stderr[-1000:] for r in runs]
    with state.db.read() as s:
        final = get_case(s, case["case_id"])
        seqs = [e.seq for e in history(s, case["case_id"])]
    assert seqs == list(range(1, PROCESSES * 20 + 2))  # received + every change, no gap
    assert final["version"] == PROCESSES * 20 + 1
    missing = [(n, k) for n in range(PROCESSES) for k in range(20)
               if final.get(f"p{n}_{k}") != k]
    assert missing == []  # no process overwrote another's change
