"""Retention (`ecopy retention run`): working data past its date is deleted or anonymised and
audited; evidence never is, on either database engine and on a real S3 server.

Each category gets rows that are due and rows that are not; the evidence around them (an
e-copy, its register entry, a refusal, the audit chain, an original a copy was issued from,
an original a live case shares) must come out byte for byte as it went in.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import shutil
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from minio.error import S3Error
from sqlalchemy import insert, select

from pipeline.casework.retention import CATEGORIES, DEFAULT_DAYS, run_retention
from storage.backends import LocalStore
from storage.backends.keyspace import (
    EVIDENCE_PREFIXES,
    LOCK_POLICY_KEY,
    EvidenceKey,
    ObjectLocked,
    is_deletable,
)
from storage.backends.prefixed import PrefixedStore
from storage.db.access import SEALED_POINTER
from storage.db.accounts import insert_account
from storage.db.cases import (
    add_correction,
    case_of_copy,
    change_status,
    claim_case,
    corrections_of,
    get_case,
)
from storage.db.catalogue import add_copy, add_refusal
from storage.db.dossiers import dossier_by_id, open_dossier
from storage.db.pointers import set_pointer
from storage.db.schema import (
    access_events,
    complaint_events,
    complaints,
    metadata,
    sessions,
    spent_tokens,
    throttle_hits,
)
from storage.evidence.audit import append_event, read_events, refusal_key, verify_audit
from storage.evidence.originals import ocr_key, original_key
from storage.state import State
from tests.conftest import PERSON, open_state, run_cli
from tests.support.s3server import REGION

NOW = datetime.now(UTC).replace(microsecond=0)
OLD = NOW - timedelta(days=400)  # past every default period but the access log's
RECENT = NOW - timedelta(days=10)
NAME, PHONE, EMAIL = "Nguyễn Văn Hùng", "0912345678", "hung@example.vn"
FILE_NAME = "CCCD Nguyen Van Hung.jpg"


@pytest.fixture
def state(engine_url: tuple[str, str | None], tmp_path: Path) -> State:
    url, password = engine_url
    return open_state(LocalStore(tmp_path / "store"), url, password)


def _dossier(state: State, agency: str, at: datetime):
    with state.db.write() as s:
        return open_dossier(s, agency=agency, person_id=PERSON, person_name=NAME,
                            date_of_birth="1990-02-05", opened_by="lan",
                            deadlines=state.deadlines, now=at - timedelta(hours=1))


def _case(state: State, dossier, sha: str, status: str, at: datetime, **changes) -> str:
    """A case of ``sha`` in ``dossier`` that reached ``status`` at ``at``; its bytes and OCR
    in the store."""
    state.store.put(original_key(sha), b"bytes of " + sha.encode())
    state.store.put(ocr_key(sha), b"[]")
    with state.db.write() as s:
        record, _ = claim_case(s, dossier, sha, name=FILE_NAME, size=10, person_id=PERSON,
                               actor="lan", deadlines=state.deadlines, at=at)
        change_status(s, record["case_id"], status, actor="lan", deadlines=state.deadlines,
                      at=at, owner="", **changes)
    return record["case_id"]


FOUND = {"fields": [{"name": "full_name", "value": NAME}], "card_qr": {"payload": PERSON},
         "review_messages": {"id_mismatch": PERSON}, "warnings": [],
         "corrections": {"fields": {"full_name": NAME}}}


def _filed(state: State, dossier, sha: str, at: datetime, number: int) -> str:
    copy_id = secrets.token_hex(16)
    entry = {"agency_code": dossier.agency, "year": at.year, "number": number,
             "book": f"01/{at.year}", "copy_id": copy_id, "requester_name": NAME}
    pdf_key = f"warehouse/{PERSON}/birth_cert/{copy_id}.pdf"
    meta = {"copy_id": copy_id, "person_id": PERSON, "doc_type": "birth_cert",
            "register_entry": entry, "original_sha256": sha, "certified_at": at.isoformat()}
    state.store.put(pdf_key, b"%PDF- signed " + copy_id.encode())
    state.store.put(pdf_key.replace(".pdf", ".json"), json.dumps(meta).encode())
    state.store.put(f"register/{dossier.agency}/{at.year}/{number:06d}.json",
                    json.dumps(entry).encode())
    case_id = _case(state, dossier, sha, "filed", at, doc_type="birth_cert", copy_id=copy_id,
                    ecopy_key=pdf_key, register_entry=entry, **FOUND)
    with state.db.write() as s:
        add_copy(s, meta, pdf_key=pdf_key, case_id=case_id)
        add_correction(s, case_id, actor="lan", doc_type="birth_cert",
                       fields={"full_name": NAME}, machine={"doc_type": "birth_cert",
                                                            "fields": {"full_name": "Hung"}})
    append_event(state.store, actor="lan", action="file", object=pdf_key)
    return case_id


def _complaint(state: State, closed_at: datetime | None) -> str:
    complaint_id = secrets.token_hex(16)
    with state.db.write() as s:
        s.execute(insert(complaints).values(
            complaint_id=complaint_id, public_code=secrets.token_hex(6).upper(),
            agency="00004", kind="complaint", target_type="dossier", target="X", filer="citizen",
            name=NAME, phone=PHONE, email=EMAIL, address="12 Hàng Bài", text="Chậm trả kết quả",
            created_at=(closed_at or OLD) - timedelta(days=5), events=1 if closed_at else 0,
            closed=closed_at is not None, due=""))
        if closed_at:
            s.execute(insert(complaint_events).values(
                complaint_id=complaint_id, seq=1, action="close", at=closed_at, by="lan",
                text="Đã trả lời", complex=False))
    return complaint_id


def populate(state: State) -> dict:
    """One of everything: what is due and what is not, with the evidence around it."""
    sha = {k: secrets.token_hex(32) for k in "abcde"}
    desk, other = _dossier(state, "00004", OLD), _dossier(state, "11111", OLD)
    ids = {
        # refused at intake long ago: bytes, OCR and the record's personal data go
        "a": _case(state, desk, sha["a"], "rejected", OLD, reason="corrupt_file",
                   message="Tệp bị hỏng", message_en="damaged"),
        # long ago too, but the same bytes wait for review in another commune: bytes kept
        "b": _case(state, desk, sha["b"], "rejected", OLD, reason="too_many_pixels"),
        "b_live": _case(state, other, sha["b"], "needs_review", OLD),
        # refused at intake only ten days ago: not due
        "c": _case(state, _dossier(state, "00004", RECENT), sha["c"], "rejected", RECENT,
                   reason="wrong_file_type"),
        # an Art 22 refusal: on record, never a rejected upload
        "d": _case(state, _dossier(state, "00004", OLD), sha["d"], "rejected", OLD,
                   reason="refused_by_clerk", ground_code="g1"),
        # a copy issued long ago from these bytes (its dossier finished then) ...
        "e": _filed(state, _dossier(state, "00004", OLD), sha["e"], OLD, 1),
        # ... and a rejected upload of the same bytes: the record goes, the original stays
        "e_rej": _case(state, desk, sha["e"], "rejected", OLD, reason="blurry"),
        # a copy issued ten days ago: its working data is not due
        "g": _filed(state, _dossier(state, "00004", RECENT), secrets.token_hex(32), RECENT, 2),
        "complaint_old": _complaint(state, OLD),
        "complaint_recent": _complaint(state, RECENT),
        "complaint_open": _complaint(state, None),
    }
    refusal = {"agency_code": "00004", "year": OLD.year, "sha256": sha["d"],
               "ground": "refused_by_clerk", "time": OLD.isoformat()}
    state.store.put(refusal_key("00004", OLD.year, sha["d"]), json.dumps(refusal).encode())
    with state.db.write() as s:
        add_refusal(s, refusal, case_id=ids["d"])
        add_correction(s, ids["a"], actor="lan", doc_type=None, fields={"full_name": NAME},
                       machine={})
        insert_account(s, {"username": "lan", "full_name": "Lan", "role": "clerk",
                           "agency": "00004", "password_hash": "x", "active": True,
                           "created_at": OLD})
        for token, expires in (("e" * 64, NOW - timedelta(hours=1)),
                               ("f" * 64, NOW + timedelta(hours=1))):
            s.execute(insert(sessions).values(token_sha256=token, username="lan", csrf="c",
                                              created_at=OLD, expires_at=expires))
        s.execute(insert(throttle_hits), [{"key": "user:lan|addr:10.0.0.9", "at": at}
                                          for at in (NOW - timedelta(days=3),
                                                     NOW - timedelta(hours=1))])
        s.execute(insert(spent_tokens), [{"token_sha256": t * 64, "spent_at": at}
                                         for t, at in (("1", NOW - timedelta(days=5)),
                                                       ("2", NOW - timedelta(hours=1)))])
        # the access log is sealed through 780 days ago: a row of 800 days goes, one of 750
        # waits for its seal, one of ten days is not due
        s.execute(insert(access_events), [
            {"at": NOW - timedelta(days=d), "actor": "lan", "role": "clerk", "agency": "00004",
             "person_id": PERSON, "what": "case", "ref": ids["e"], "address": "10.0.0.9"}
            for d in (800, 750, 10)])
        set_pointer(s, SEALED_POINTER, (NOW - timedelta(days=780)).date().isoformat(),
                    by="test")
    append_event(state.store, actor="lan", action="ingest", object=original_key(sha["a"]))
    return {"sha": sha, "ids": ids}


def snapshot(state: State) -> tuple[dict, dict]:
    """Every row of every table, every object's sha256."""
    with state.db.read() as s:
        rows = {t.name: sorted(map(repr, s.execute(select(t)).all()))
                for t in metadata.sorted_tables}
    objects = {k: hashlib.sha256(state.store.get(k)).hexdigest() for k in state.store.list("")}
    return rows, objects


def _case_row(state: State, case_id: str):
    with state.db.read() as s:
        return get_case(s, case_id)


def test_dry_run_lists_and_run_deletes_only_what_is_due(state: State) -> None:
    made = populate(state)
    sha, ids = made["sha"], made["ids"]
    before_rows, before_objects = snapshot(state)

    dry = run_retention(state, DEFAULT_DAYS, actor="ops", dry_run=True, now=NOW)
    assert snapshot(state) == (before_rows, before_objects)  # nothing changed, not even audit
    got = {o.category: o for o in dry.outcomes}
    assert [o.category for o in dry.outcomes] == [c.name for c in CATEGORIES]
    assert set(got["rejected_uploads"].ids) == {ids["a"], ids["b"], ids["e_rej"]}
    assert got["rejected_uploads"].keys == (ocr_key(sha["a"]), original_key(sha["a"]))
    assert {(k.why, k.ref) for k in got["rejected_uploads"].kept} == {
        ("in_use", original_key(sha["b"])), ("in_use", original_key(sha["e"]))}
    assert got["closed_dossiers"].ids == (ids["e"],)
    assert got["complaint_contacts"].ids == (ids["complaint_old"],)
    assert {n: got[n].count for n in ("sessions", "throttle_hits", "spent_tokens",
                                       "access_events")} == dict.fromkeys(
        ("sessions", "throttle_hits", "spent_tokens", "access_events"), 1)
    assert got["access_events"].note.startswith("1 rows past their date are kept")
    assert dry.audit_seq is None

    done = run_retention(state, DEFAULT_DAYS, actor="ops", dry_run=False, now=NOW)
    assert done.to_json()["categories"] == {**dry.to_json()["categories"]}
    rows, objects = snapshot(state)
    # the store: only the due upload's bytes and OCR went; every other object is unchanged
    gone = set(before_objects) - set(objects)
    assert gone == {original_key(sha["a"]), ocr_key(sha["a"])}
    assert {k: objects[k] for k in before_objects if k not in gone and not k.startswith(
        "audit/")} == {k: v for k, v in before_objects.items()
                       if k not in gone and not k.startswith("audit/")}
    for key in (original_key(sha["b"]), original_key(sha["c"]), original_key(sha["d"]),
                original_key(sha["e"]), ocr_key(sha["e"])):
        assert key in objects
    # evidence and the catalogue rows that index it are untouched
    for table in ("copies", "register_entries", "refusals", "cancellations", "dossiers",
                  "case_events", "outbox"):
        assert rows[table] == before_rows[table], table
    assert verify_audit(state.store) == []
    for case in ("a", "b", "e_rej"):
        row = _case_row(state, ids[case])
        assert (row["name"], row["person_id"], row["status"]) == ("", "", "rejected")
        assert set(row) & {"fields", "card_qr"} == set()
        assert row["retention"]["run"] == done.run_id
    assert _case_row(state, ids["a"])["message"] == "Tệp bị hỏng"
    for case in ("c", "d", "b_live", "g"):
        assert _case_row(state, ids[case])["name"] == FILE_NAME
    filed = _case_row(state, ids["e"])
    assert not set(filed) & {"fields", "card_qr", "review_messages", "corrections"}
    assert filed["register_entry"]["number"] == 1 and filed["copy_id"]
    assert _case_row(state, ids["g"])["fields"] == FOUND["fields"]
    with state.db.read() as s:
        assert corrections_of(s, ids["a"]) == []
        assert [(c["doc_type"], c["fields"], c["machine"]) for c in corrections_of(
            s, ids["e"])] == [("birth_cert", {"full_name": ""}, {"doc_type": "birth_cert"})]
        contacts = {r.complaint_id: (r.name, r.phone, r.email, r.address, r.text)
                    for r in s.execute(select(complaints))}
        assert contacts[ids["complaint_old"]] == ("", "", "", "", "Chậm trả kết quả")
        assert contacts[ids["complaint_recent"]][:2] == (NAME, PHONE)
        assert contacts[ids["complaint_open"]][:2] == (NAME, PHONE)
        assert [r.token_sha256 for r in s.execute(select(sessions))] == ["f" * 64]
        assert s.execute(select(throttle_hits.c.at)).scalars().all() == [
            NOW - timedelta(hours=1)]
        assert [r.token_sha256 for r in s.execute(select(spent_tokens))] == ["2" * 64]
        assert sorted((NOW - r).days for r in s.execute(select(access_events.c.at)
                                                        ).scalars()) == [10, 750]
    # one audit event for the run, with ids and keys, and nothing that names a person
    event = read_events(state.store, last=1)[0]
    assert (event["action"], event["seq"], event["object"]) == (
        "retention", done.audit_seq, f"retention/{done.run_id}")
    assert event["details"]["categories"]["rejected_uploads"]["keys"] == list(
        got["rejected_uploads"].keys)
    text = json.dumps(event, ensure_ascii=False)
    for personal in (PERSON, NAME, "Nguyen", PHONE, EMAIL, FILE_NAME, "10.0.0.9", "lan|"):
        assert personal not in text

    again = run_retention(state, DEFAULT_DAYS, actor="ops", dry_run=False, now=NOW)
    assert [o.count for o in again.outcomes] == [0] * len(CATEGORIES)
    assert not any(o.keys or o.ids for o in again.outcomes)


def test_a_run_stops_at_its_limit(state: State) -> None:
    populate(state)
    dry = run_retention(state, DEFAULT_DAYS, actor="ops", dry_run=True, now=NOW, limit=1)
    rejected = next(o for o in dry.outcomes if o.category == "rejected_uploads")
    assert rejected.count == 1 and rejected.more
    with pytest.raises(ValueError, match="below the minimum"):
        run_retention(state, {**DEFAULT_DAYS, "spent_tokens": 0}, actor="ops", dry_run=True)


class _StoreFailingOnSecondDelete(LocalStore):
    deleted = 0

    def delete(self, key: str) -> bool:
        self.deleted += 1
        if self.deleted > 1:
            raise ConnectionError("store down")
        return super().delete(key)


def test_a_store_failing_midway_is_on_record_and_the_next_run_finishes(state: State) -> None:
    made = populate(state)
    sha, case = made["sha"]["a"], made["ids"]["a"]
    failing = replace(state, store=_StoreFailingOnSecondDelete(state.store.root))
    cut = run_retention(failing, DEFAULT_DAYS, actor="ops", dry_run=False, now=NOW)
    rejected = next(o for o in cut.outcomes if o.category == "rejected_uploads")
    assert (rejected.keys, rejected.ids, rejected.more) == ((ocr_key(sha),), (), True)
    assert rejected.note.startswith("stopped: the store failed")
    event = read_events(state.store, last=1)[0]["details"]["categories"]["rejected_uploads"]
    assert event["keys"] == [ocr_key(sha)]
    assert _case_row(state, case)["name"] == FILE_NAME  # waits for the next run
    done = run_retention(state, DEFAULT_DAYS, actor="ops", dry_run=False, now=NOW)
    rejected = next(o for o in done.outcomes if o.category == "rejected_uploads")
    assert rejected.keys == (original_key(sha),) and case in rejected.ids
    assert _case_row(state, case)["name"] == ""


# --------------------------------------------------------------------------- the guarded delete


def test_a_store_deletes_uploads_and_refuses_evidence(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "s")
    sha = "ab" * 32
    refused = [f"{prefix}00004/x.json" for prefix in EVIDENCE_PREFIXES] + [
        "dossiers/00004/d/dossier.json", "web/sessions/x.json", "complaints/00004/c.json",
        "unknown/x", f"originals/{sha}.pdf", "originals/not-a-sha", f"documents/{'cd' * 32}",
        LOCK_POLICY_KEY]
    for key in refused:
        store.put(key, b"kept")
        with pytest.raises(EvidenceKey):
            store.delete(key)
        assert store.get(key) == b"kept" and not is_deletable(key)
    store.put(original_key(sha), b"upload")
    store.put(ocr_key(sha), b"[]")
    assert store.delete(ocr_key(sha)) and store.delete(original_key(sha))
    assert not store.delete(original_key(sha))  # gone already
    assert not (tmp_path / "s" / "documents" / sha).exists()
    assert store.retain(original_key(sha)) is False  # a directory has no lock
    archive = PrefixedStore(store, "register")
    with pytest.raises(PermissionError):
        archive.delete("00004/x.json")


def _s3_env(env: dict[str, str], server, bucket: str) -> dict[str, str]:
    return {**env, "ECOPY_S3_ENDPOINT": server.endpoint, "ECOPY_S3_BUCKET": bucket,
            "ECOPY_S3_SECURE": "0", "ECOPY_S3_REGION": REGION,
            "ECOPY_S3_ACCESS_KEY_ENV": "TEST_S3_ACCESS", "TEST_S3_ACCESS": server.access_key,
            "ECOPY_S3_SECRET_KEY_ENV": "TEST_S3_SECRET", "TEST_S3_SECRET": server.secret_key}


def _retention_mode(store, key: str) -> str | None:
    try:
        found = store._client.get_object_retention(store.bucket, key)
    except S3Error as exc:
        assert exc.code in ("NoSuchObjectLockConfiguration",
                            "ObjectLockConfigurationNotFoundError"), exc.code
        return None
    return found.mode if found else None


def test_s3_object_lock_holds_evidence_only(s3_server, env: dict[str, str],
                                            tmp_path: Path) -> None:
    """A bucket an older init gave a default retention; `storage init` now locks evidence
    only. Uploads stay deletable (every version), evidence is refused before the server is
    asked, an original that became evidence is locked."""
    from storage.backends.s3 import S3Store

    s3_server.start()
    bucket = f"r-{uuid.uuid4().hex[:12]}"
    args = s3_server.store_args(bucket)
    older = S3Store(**args)
    older.ensure_bucket(versioning=True, object_lock=True)
    older.set_retention_default("GOVERNANCE", 1)
    stale = secrets.token_hex(32)
    older.put(original_key(stale), b"uploaded under the old default retention")

    init = run_cli(["storage", "init", "--retention-days", "1", "--mode", "GOVERNANCE",
                    "--json"], _s3_env(env, s3_server, bucket))
    assert init.returncode == 0, init.stdout + init.stderr
    result = json.loads(init.stdout)
    assert (result["object_lock"], result["locked"], result["deletable"]) == (
        True, "evidence", ["originals/", "documents/"])
    assert older._client.get_object_lock_config(bucket).mode is None  # no default any more

    store = S3Store(**args, part_size=5 * 1024 * 1024)  # a process started after init
    assert store.evidence_lock() == ("GOVERNANCE", 1)
    big = tmp_path / "copy.pdf"
    big.write_bytes(secrets.token_bytes(5 * 1024 * 1024 + 10))  # two parts
    evidence = {"register/00004/2026/000001.json": lambda k: store.put(k, b"entry"),
                "audit/2026/0000000001.json": lambda k: store.put_if_absent(k, b"event"),
                f"warehouse/{PERSON}/birth_cert/c.pdf": lambda k: store.put_file(k, big)}
    for key, write in evidence.items():
        write(key)
        assert _retention_mode(store, key) == "GOVERNANCE", key
        with pytest.raises(EvidenceKey):
            store.delete(key)
        assert store.exists(key)
        # the register and the audit log are kept for good: a century, not the evidence days
        until = store._client.get_object_retention(bucket, key).retain_until_date
        years = (until - datetime.now(UTC)).days / 365.25
        assert (years > 99) is (not key.startswith("warehouse/")), (key, until)
    key = "register/00004/2026/000001.json"
    version = next(store._client.list_objects(bucket, prefix=key, include_version=True))
    with pytest.raises(S3Error):  # the version itself cannot be removed either
        store._client.remove_object(bucket, key, version_id=version.version_id)
    assert store.get(key) == b"entry"

    sha = secrets.token_hex(32)
    store.put(original_key(sha), b"one")
    store.put(original_key(sha), b"two")  # a second version
    store.put(ocr_key(sha), b"[]")
    assert _retention_mode(store, original_key(sha)) is None
    assert store.delete(ocr_key(sha)) and store.delete(original_key(sha))
    assert not store.exists(original_key(sha)) and not store.delete(original_key(sha))
    assert list(store._client.list_objects(bucket, prefix=original_key(sha),
                                           include_version=True)) == []
    with pytest.raises(ObjectLocked):
        store.delete(original_key(stale))

    issued = secrets.token_hex(32)
    store.put(original_key(issued), b"a copy was issued from me")
    assert store.retain(original_key(issued)) is True
    assert _retention_mode(store, original_key(issued)) == "GOVERNANCE"
    with pytest.raises(ObjectLocked):
        store.delete(original_key(issued))
    assert store.get(original_key(issued)) == b"a copy was issued from me"
    assert store.retain(original_key(secrets.token_hex(32))) is False  # absent

    plain = s3_server.new_store()  # no object lock, no versioning
    plain.put(original_key(sha), b"x")
    assert plain.retain(original_key(sha)) is False and plain.delete(original_key(sha))
    assert not plain.exists(original_key(sha))


# --------------------------------------------------------------------------- a processed store


def test_retention_on_a_processed_store_keeps_every_piece_of_evidence(
        sample_copy: dict, tmp_path: Path) -> None:
    """The store `ecopy process` made (a signed copy of samples/birth_cert.jpg) plus an
    upload refused at intake, with every period at its shortest: the dry run lists the
    refused upload and the filed case's working data; the run removes exactly that."""
    root = tmp_path / "store"
    shutil.copytree(sample_copy["dir"], root)
    state = open_state(LocalStore(root))
    with state.db.read() as s:
        issued = case_of_copy(s, sample_copy["copy_id"])
        dossier = dossier_by_id(s, issued["dossier_id"])
    refused = secrets.token_hex(32)
    case_id = _case(state, dossier, refused, "rejected", NOW - timedelta(hours=1),
                    reason="wrong_file_type")
    state.db.close()
    before = {k: hashlib.sha256((root / k).read_bytes()).hexdigest()
              for k in LocalStore(root).list("")}
    shortest = {f"ECOPY_{c.setting.upper()}": str(c.minimum_days) for c in CATEGORIES}
    env = {**sample_copy["env"], **shortest}

    dry = run_cli(["retention", "run", "--dry-run", "--json", "--store", str(root)], env)
    assert dry.returncode == 0, dry.stderr
    plan = json.loads(dry.stdout)["categories"]
    assert plan["rejected_uploads"]["ids"] == [case_id]
    assert plan["rejected_uploads"]["keys"] == [ocr_key(refused), original_key(refused)]
    assert plan["closed_dossiers"]["ids"] == [issued["case_id"]]
    assert all(is_deletable(k) for o in plan.values() for k in o.get("keys", []))
    assert {k: hashlib.sha256((root / k).read_bytes()).hexdigest()
            for k in LocalStore(root).list("")} == before

    done = run_cli(["retention", "run", "--store", str(root)], env)
    assert done.returncode == 0, done.stderr
    assert "giấy tờ " + case_id in done.stdout
    after = {k: hashlib.sha256((root / k).read_bytes()).hexdigest()
             for k in LocalStore(root).list("")}
    assert set(before) - set(after) == {ocr_key(refused), original_key(refused)}
    assert all(after[k] == v for k, v in before.items() if k in after
               and not k.startswith("audit/"))
    assert original_key(issued["sha256"]) in after  # a copy was issued from it
    checked = run_cli(["audit", "verify", "--store", str(root)], env)
    assert checked.returncode == 0, checked.stdout + checked.stderr
