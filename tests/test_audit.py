"""The audit log is append-only and hash-chained: edits, insertions and removals are detected."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
from pathlib import Path

from ecopy.keys import build_certify_context
from ecopy.settings import Settings
from pipeline.reasons import REFUSAL_GROUNDS
from pipeline.run.orchestrator import ProcessOptions, process_batch
from pipeline.types import DocStatus
from storage.backends import LocalStore
from storage.evidence.audit import (
    HEAD_KEY,
    _content_hash,
    append_event,
    canonical_json,
    read_events,
    refusal_key,
    refusal_note_key,
    verify_audit,
)
from tests.conftest import CERTIFY_AS, PERSON, desk, open_state, run_cli


def _log(root: Path, n: int = 5) -> LocalStore:
    store = LocalStore(root)
    for i in range(n):
        append_event(store, actor="clerk-1", action="ingest", object=f"originals/{i:064x}",
                     object_sha256=f"{i:064x}", details={"i": i})
    return store


def _paths(store: LocalStore) -> list[Path]:
    return [store.path_of(k) for k in store.list("audit/") if k != HEAD_KEY]


def test_chain_verifies(tmp_path: Path) -> None:
    store = _log(tmp_path)
    assert verify_audit(store) == []
    events = read_events(store)
    assert [e["seq"] for e in events] == [1, 2, 3, 4, 5]
    assert events[0]["prev_hash"] == ""
    assert all(e["actor"] == "clerk-1" and e["action"] == "ingest" for e in events)
    assert [e["seq"] for e in read_events(store, last=2)] == [4, 5]
    assert json.loads(store.get(HEAD_KEY))["seq"] == 5
    assert verify_audit(LocalStore(tmp_path / "empty")) == []


def test_edited_event_is_detected(tmp_path: Path) -> None:
    store = _log(tmp_path)
    path = _paths(store)[2]
    event = json.loads(path.read_bytes())
    event["actor"] = "someone-else"
    path.write_bytes(canonical_json(event))
    problems = verify_audit(store)
    assert any("own hash" in p for p in problems), problems
    # even with its own hash recomputed, the next event's link breaks
    event["hash"] = _content_hash(event)
    path.write_bytes(canonical_json(event))
    problems = verify_audit(store)
    assert problems and all("own hash" not in p for p in problems)
    assert any("previous-event hash" in p for p in problems), problems


def test_deleted_middle_event_is_detected(tmp_path: Path) -> None:
    store = _log(tmp_path)
    _paths(store)[2].unlink()
    problems = verify_audit(store)
    assert any("gap" in p for p in problems), problems
    assert any("previous-event hash" in p for p in problems), problems


def test_inserted_event_with_renumbering_is_detected(tmp_path: Path) -> None:
    store = _log(tmp_path)
    paths = _paths(store)
    events = [json.loads(p.read_bytes()) for p in paths]
    # shift events 3..5 up by one, each re-sealed with its own hash, and forge a new number 3
    for p in reversed(paths[2:]):
        ev = json.loads(p.read_bytes())
        ev["seq"] += 1
        ev["hash"] = _content_hash(ev)
        p.with_name(f"{ev['seq']:010d}.json").write_bytes(canonical_json(ev))
    forged = {**events[2], "actor": "forger", "details": {"forged": True},
              "prev_hash": hashlib.sha256(paths[1].read_bytes()).hexdigest()}
    forged["hash"] = _content_hash(forged)
    paths[2].write_bytes(canonical_json(forged))
    problems = verify_audit(store)
    assert any("previous-event hash" in p for p in problems), problems
    assert any("HEAD" in p for p in problems), problems


def test_deleted_last_event_is_detected_via_head(tmp_path: Path) -> None:
    store = _log(tmp_path)
    _paths(store)[-1].unlink()
    problems = verify_audit(store)
    assert len(problems) == 1 and "HEAD" in problems[0], problems


def test_rewritten_last_event_is_detected_via_head(tmp_path: Path) -> None:
    store = _log(tmp_path)
    path = _paths(store)[-1]
    ev = json.loads(path.read_bytes())
    ev["action"] = "verify"
    ev["hash"] = _content_hash(ev)
    path.write_bytes(canonical_json(ev))
    assert any("HEAD" in p for p in verify_audit(store))


def _writer(root: str, worker: int) -> None:
    store = LocalStore(Path(root))
    for i in range(10):
        append_event(store, actor=f"w{worker}", action="verify", object=f"copy-{worker}-{i}")


def test_concurrent_appends_are_unique_and_gap_free(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_writer, args=(str(tmp_path), w)) for w in range(6)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    store = LocalStore(tmp_path)
    events = read_events(store)
    assert [e["seq"] for e in events] == list(range(1, 61))
    assert len({e["object"] for e in events}) == 60
    assert verify_audit(store) == []


def test_process_leaves_events_and_audit_verify_passes(corpus: Path, tmp_path: Path,
                                                       env: dict[str, str]) -> None:
    out = tmp_path / "store"
    res = run_cli(["process", *CERTIFY_AS,
                   str(corpus / "tesseract-test/phototest.tif"), "--person-id",
                   PERSON, "--out", str(out), "--json", "--workers", "1"], env)
    assert res.returncode == 0, res.stderr
    actions = [e["action"] for e in read_events(LocalStore(out))]
    for action in ("ingest", "ocr", "classify", "extract", "register", "sign", "file"):
        assert action in actions, actions
    signed = next(e for e in read_events(LocalStore(out)) if e["action"] == "sign")
    assert signed["actor"] == Settings().certifier_name != "ecopy"  # a person signs
    extracted = next(e for e in read_events(LocalStore(out)) if e["action"] == "extract")
    assert PERSON not in json.dumps(extracted)  # field names and confidences, no values
    assert actions.index("ingest") < actions.index("register") < actions.index("file")
    res = run_cli(["audit", "verify", "--store", str(out)], env)
    assert res.returncode == 0, res.stdout + res.stderr
    res = run_cli(["audit", "list", "--store", str(out), "--last", "2", "--json"], env)
    assert res.returncode == 0, res.stderr
    assert [e["action"] for e in json.loads(res.stdout)] == ["sign", "file"]
    _paths(LocalStore(out))[0].write_text("{}")
    res = run_cli(["audit", "verify", "--store", str(out)], env)
    assert res.returncode == 1 and "- " in res.stdout


def test_clerk_refusal_is_recorded(corpus: Path, tmp_path: Path, pki_dir: Path) -> None:
    state = open_state(LocalStore(tmp_path / "store"))
    store = state.store  # sealed: refusals carry the document's name
    ctx = build_certify_context(Settings(pki_dir=pki_dir), state)
    paper = corpus / "tesseract-test/phototest.tif"
    detail = "mục ngày sinh bị sửa"
    ground = f"{REFUSAL_GROUNDS['altered'][0]} — {detail}"
    [outcome] = process_batch([paper], ctx, ProcessOptions(
        person_id=PERSON, workers=1, refuse="altered", refuse_detail=detail,
        actor="clerk-7"), desk(state))
    assert outcome.status == DocStatus.REJECTED
    assert outcome.reason == "refused_by_clerk"
    assert ground in outcome.message
    year_keys = list(store.list(f"refusals/{ctx.agency_code}/"))
    assert len(year_keys) == 1
    year = int(year_keys[0].split("/")[2])
    record = json.loads(store.get(refusal_key(ctx.agency_code, year, outcome.sha256)))
    assert record["ground"] == "refused_by_clerk" and record["ground_detail"] == ground
    assert record["ground_code"] == "altered"  # one of Art 22's grounds, not free text
    assert record["actor"] == "clerk-7" and record["document_name"] == "phototest.tif"
    assert ground in record["message"]
    assert store.exists(refusal_note_key(ctx.agency_code, year, outcome.sha256))
    events = read_events(store)
    refuse = [e for e in events if e["action"] == "refuse"]
    assert len(refuse) == 1 and refuse[0]["details"]["reason"] == "refused_by_clerk"
    assert refuse[0]["object_sha256"] == outcome.sha256 and refuse[0]["actor"] == "clerk-7"
    assert not any(e["action"] in ("register", "sign", "file") for e in events)
    assert not list(store.list("register/"))
    assert verify_audit(store) == []


def test_chain_is_global_across_years(tmp_path: Path, monkeypatch) -> None:
    from datetime import UTC, datetime

    import storage.evidence.audit as audit

    clock = [datetime(2025, 12, 31, 23, 59, 59, tzinfo=UTC)]

    class FakeDatetime:
        @staticmethod
        def now(tz: object = None) -> datetime:
            return clock[0]

    monkeypatch.setattr(audit, "datetime", FakeDatetime)
    store = _log(tmp_path, 3)
    clock[0] = datetime(2026, 1, 1, 0, 0, 1, tzinfo=UTC)
    store.path_of(HEAD_KEY).unlink()  # no hint: the last event is found by listing
    append_event(store, actor="a", action="sign", object="copy-x")
    append_event(store, actor="a", action="file", object="copy-x")
    keys = [k for k in store.list("audit/") if k != HEAD_KEY]
    assert keys == ["audit/2025/0000000001.json", "audit/2025/0000000002.json",
                    "audit/2025/0000000003.json", "audit/2026/0000000004.json",
                    "audit/2026/0000000005.json"]
    assert verify_audit(store) == []


def secret_stamp_engine(scan: object, **kw: object) -> object:
    """An OCR engine (run in the pool) that reads a secret stamp on every page."""
    from pipeline.types import OcrPage, OcrWord

    words = tuple(OcrWord(w, 100 + 80 * i, 100 + 50 * n, 60, 30, 90.0, f"1.1.{n}")
                  for n, line in enumerate(["TỐI MẬT", "GIẤY KHAI SINH"])
                  for i, w in enumerate(line.split()))
    return OcrPage(scan.index, 2480, 3508, 0, words, 90.0, "test")  # type: ignore[attr-defined]


def test_secret_stamp_refusal_is_recorded(corpus: Path, tmp_path: Path, pki_dir: Path) -> None:
    state = open_state(LocalStore(tmp_path / "store"))
    store = state.store  # sealed: refusals carry the document's name
    ctx = build_certify_context(Settings(pki_dir=pki_dir), state)
    options = ProcessOptions(person_id=PERSON, workers=1,
                             ocr_engine="tests.test_audit:secret_stamp_engine")
    [outcome] = process_batch([corpus / "tesseract-test/phototest.tif"], ctx, options,
                              desk(state))
    assert outcome.reason == "classified", outcome
    [key] = list(store.list(f"refusals/{ctx.agency_code}/"))
    record = json.loads(store.get(key))
    assert record["ground"] == "classified" and "MẬT" in record["ground_detail"]
    assert record["actor"] == "ecopy"
    actions = [e["action"] for e in read_events(store)]
    assert actions == ["ingest", "ocr", "refuse"]
    assert verify_audit(store) == []
