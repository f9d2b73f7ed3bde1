"""One S3 identity per service (ecopy/s3policy.py, docs/security.md "One S3 identity per
service"), proved on a real S3 server: a SeaweedFS `weed mini` of its own, started with the
identities file generated from the matrix (each service's MinIO policy attached to its user).

Each service does what its code does (the real store functions, through the sealed store the
services open), and the attacks fail with AccessDenied: the web app cannot write the register
or the warehouse, the OCR worker cannot read them, the portal sync writes nothing but its
receipts and audit events, only the retention run deletes, and only uploads. A sweep asks the
server every verb on every prefix for every service and compares with the matrix; the end-to-
end run submits, OCRs and signs a paper with the web, OCR and signer identities.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import secrets
import shutil
import subprocess
import time
import uuid
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import pytest
from minio.error import S3Error

from ecopy import s3policy
from ecopy.s3policy import DELETE, LIST, LOCK, READ, SERVICES, WRITE, allows, minio_files
from pipeline.types import OcrPage, OcrWord
from storage.backends.keyspace import DELETABLE_PREFIXES, EVIDENCE_PREFIXES, EvidenceKey
from storage.backends.s3 import S3Store
from storage.evidence.audit import append_event, record_refusal, verify_audit
from storage.evidence.cancellations import find_cancellation, record_decision
from storage.evidence.originals import ocr_key, original_key, retain_original, store_original
from storage.evidence.register import (
    RegisterEntry,
    allocate_register_number,
    check_chain,
    find_entry,
    void_note_key,
)
from storage.evidence.warehouse import copy_key, file_copy
from storage.outbox import RECEIPTS
from tests.conftest import CERTIFY_AS, PERSON, ROOT, pg_settings, run_cli, sealed
from tests.support.redisserver import RedisServer
from tests.support.s3server import S3Server

PROBE, WEB, OCR, SIGNER, SYNC, RETENTION, E2E = (
    "ids-probe", "ids-web", "ids-ocr", "ids-signer", "ids-sync", "ids-retention", "ids-e2e")
BUCKETS = (PROBE, WEB, OCR, SIGNER, SYNC, RETENTION, E2E)
AGENCY, YEAR = "77777", datetime.now(UTC).year
SHA = "a" * 64
SCAN_SHA = hashlib.sha256(b"\xff\xd8 scan").hexdigest()
MIB = 1024 * 1024
DEPLOY = ROOT / "deploy" / "minio"
DENIED = "AccessDenied"


class IdentityServer(S3Server):
    """weed mini whose identities are the root plus one user per service, each with only
    its generated policy, on every bucket of BUCKETS."""

    def __init__(self) -> None:
        super().__init__()
        self.keys = {s.name: (f"{s.policy_name}-{secrets.token_hex(4)}", secrets.token_hex(20))
                     for s in SERVICES}
        self.config_path.write_text(json.dumps(s3policy.seaweedfs_config(
            BUCKETS, self.keys, admin=(self.access_key, self.secret_key))))

    def admin(self, bucket: str) -> S3Store:
        return S3Store(**self.store_args(bucket))

    def as_(self, name: str, bucket: str, **kwargs: object) -> S3Store:
        """The store as service ``name`` opens it; no region, as in compose (minio-py then
        asks the bucket's location: s3:GetBucketLocation)."""
        access, secret = self.keys[name]
        return S3Store(self.endpoint, bucket, access, secret, secure=False, **kwargs)


@pytest.fixture(scope="module")
def ids():
    server = IdentityServer()
    try:
        server.start()
        for bucket in BUCKETS:  # what `storage init` does, as the root
            root = server.admin(bucket)
            root.ensure_bucket(versioning=True, object_lock=True)
            root.lock_evidence("GOVERNANCE", 1)
        yield server
    finally:
        server.close()


def denied(call) -> bool:
    """True when the server answers AccessDenied; anything else but success fails the test."""
    try:
        call()
    except S3Error as exc:
        if exc.code == DENIED:
            return True
        raise
    return False


def _raw_put(store: S3Store, key: str, data: bytes = b"{}") -> None:
    """An object put by the root without any lock, so only a policy can refuse a change."""
    store._client.put_object(store.bucket, key, io.BytesIO(data), len(data))


def _deletes(store: S3Store, root: S3Store, key: str) -> list:
    """Every way ``store`` could try to remove ``key``, each a call of its own: list its
    versions (as S3Store.delete does), delete each version by its id (known to the root: an
    attacker may know it too), and a plain DELETE, which would hide the object behind a
    delete marker. The S3Store's own EvidenceKey guard is bypassed on purpose."""
    client = store._client
    versions = [v.version_id for v in root._client.list_objects(root.bucket, prefix=key,
                                                                include_version=True)
                if v.object_name == key]
    calls = [lambda: list(client.list_objects(store.bucket, prefix=key, include_version=True))]
    calls += [lambda v=v: client.remove_object(store.bucket, key, version_id=v)
              for v in versions]
    calls.append(lambda: client.remove_object(store.bucket, key))
    return calls


def _listed(store: S3Store, prefix: str) -> list[str]:
    return list(store.list(prefix))


def cannot_delete(store: S3Store, root: S3Store, key: str) -> bool:
    return all(denied(call) for call in _deletes(store, root, key))


def _entry(number: int, prev_hash: str, copy_id: str = "") -> RegisterEntry:
    return RegisterEntry(
        agency_code=AGENCY, agency_name="Xã Thử", year=YEAR, book=f"01/{YEAR}", number=number,
        date=f"{YEAR}-01-02", requester_name="Nguyễn Văn Hùng", document_name="Giấy khai sinh",
        signer="Trần Văn Duyệt, Chủ tịch", copies=1, fee_vnd=2000, electronic=True, notes="",
        copy_id=copy_id or uuid.uuid4().hex, prev_hash=prev_hash)


def _big_file(path: Path, size: int = 6 * MIB) -> Path:
    path.write_bytes(os.urandom(size))
    return path


def _ocr_pages() -> list[OcrPage]:
    word = OcrWord("KHAI", left=10, top=10, width=40, height=12, conf=91.0, line_id="1.1.1")
    return [OcrPage(index=0, width_px=800, height_px=1100, rotation=0, words=(word,),
                    mean_conf=91.0, engine="tesseract")]


# --------------------------------------------------------------------------- no server


def test_the_policies_keep_the_rules_of_the_matrix() -> None:
    """What every generated policy must never hold, whatever the matrix says."""
    bucket = "ecopy"
    for svc in SERVICES:
        policy = s3policy.minio_policy(svc, bucket)
        for stmt in policy["Statement"]:
            assert stmt["Effect"] == "Allow"
            actions = set(stmt["Action"])
            bucket_level = {a for a in actions if "Bucket" in a} - {
                "s3:ListBucket", "s3:ListBucketVersions", "s3:GetBucketLocation"}
            assert not bucket_level and not any("*" in a for a in actions), stmt
            assert "s3:BypassGovernanceRetention" not in actions  # nobody shortens a lock
            for arn in stmt["Resource"]:
                assert arn == f"arn:aws:s3:::{bucket}" or arn.startswith(f"arn:aws:s3:::{bucket}/")
                key = arn.removeprefix(f"arn:aws:s3:::{bucket}/")
                if actions & {"s3:DeleteObject", "s3:DeleteObjectVersion"}:
                    assert svc.name == "retention" and key.startswith(DELETABLE_PREFIXES), stmt
                if "s3:PutObject" in actions and not key.startswith(DELETABLE_PREFIXES):
                    # an evidence PUT carries its lock: MinIO wants s3:PutObjectRetention
                    assert "s3:PutObjectRetention" in actions, stmt
            if stmt["Action"] in (["s3:ListBucket"], ["s3:ListBucketVersions"]):
                assert svc.name == "ops" or "s3:prefix" in stmt["Condition"]["StringLike"]
    for key in ("warehouse/p/t/c.pdf", "register/77777/2026/000001.json"):
        assert [s.name for s in SERVICES if allows(s, WRITE, key)] == ["signer"]
    assert [s.name for s in SERVICES if any(allows(s, DELETE, p + "x") for p in
                                            (*EVIDENCE_PREFIXES, *DELETABLE_PREFIXES))] \
        == ["retention"]
    assert not any(allows(s, DELETE, p + "x") for s in SERVICES for p in EVIDENCE_PREFIXES)


def test_the_committed_minio_files_and_the_docs_are_generated_from_the_matrix(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from ecopy.cli import main

    out = tmp_path / "minio"
    assert main(["storage", "users", "--print-minio-policies", str(out), "--bucket", "ecopy"]) == 0
    made = {p.name: p.read_text() for p in out.iterdir()}
    assert made == minio_files("ecopy")
    committed = {p.name: p.read_text() for p in DEPLOY.iterdir()}
    assert committed == made, "run: ecopy storage users --print-minio-policies deploy/minio"
    assert os.access(DEPLOY / s3policy.SETUP_SCRIPT, os.X_OK)
    assert s3policy.markdown_table() in (ROOT / "docs" / "security.md").read_text(), \
        "docs/security.md: paste `ecopy storage users` (the matrix) again"
    capsys.readouterr()
    assert main(["storage", "users", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["service"] for r in rows} == {s.name for s in SERVICES}


def test_a_seaweedfs_identities_file_from_the_secret_files(tmp_path: Path) -> None:
    from ecopy.cli import main

    keys = {svc.name: (f"ecopy-{svc.name}", secrets.token_hex(8)) for svc in SERVICES}
    folder = tmp_path / "secrets"
    folder.mkdir()
    for svc in SERVICES:
        (folder / svc.access_key_secret).write_text(keys[svc.name][0] + "\n")
        (folder / svc.secret_key_secret).write_text(keys[svc.name][1] + "\n")
    (folder / "s3_access_key").write_text("root\n")
    (folder / "s3_secret_key").write_text("root-secret\n")
    out = tmp_path / "s3.json"
    assert main(["storage", "users", "--seaweedfs-config", str(out), "--secrets-dir",
                 str(folder), "--bucket", "ecopy"]) == 0
    assert out.stat().st_mode & 0o777 == 0o600
    assert json.loads(out.read_text()) == s3policy.seaweedfs_config(
        "ecopy", keys, admin=("root", "root-secret"))
    (folder / "s3_ops_secret_key").unlink()
    assert main(["storage", "users", "--seaweedfs-config", str(out), "--secrets-dir",
                 str(folder)]) == 2


def test_the_setup_script_creates_each_user_from_secret_files(tmp_path: Path) -> None:
    """The script of the minio-users service, run with a stand-in `mc` that records what it
    is asked: each policy created from its file, each user with the keys in its secret
    files, the root credentials only in mc's environment, the CA where mc trusts it."""
    bin_dir, secrets_dir, log = tmp_path / "bin", tmp_path / "secrets", tmp_path / "mc.log"
    bin_dir.mkdir()
    secrets_dir.mkdir()
    (bin_dir / "mc").write_text('#!/bin/sh\nprintf "%s|%s\\n" "$MC_HOST_ecopy" "$*" >> '
                                f'"{log}"\n')
    (bin_dir / "mc").chmod(0o755)
    keys = {"s3_access_key": "root-user", "s3_secret_key": "root-secret-0123",
            "s3_ca": "-----BEGIN CERTIFICATE-----\n"}
    for svc in SERVICES:
        keys[svc.access_key_secret] = f"ecopy-{svc.name}"
        keys[svc.secret_key_secret] = f"secret-of-{svc.name}"
    for name, value in keys.items():
        (secrets_dir / name).write_text(value + "\n")
    mc_config = tmp_path / "mc-config"
    done = subprocess.run(
        ["sh", str(DEPLOY / s3policy.SETUP_SCRIPT)], capture_output=True, text=True,
        env={"PATH": f"{bin_dir}:/usr/bin:/bin", "SECRETS_DIR": str(secrets_dir),
             "MINIO_URL": "https://minio:9000", "MC_CONFIG_DIR": str(mc_config)}, timeout=30)
    assert done.returncode == 0, done.stderr
    calls = [line.split("|", 1) for line in log.read_text().splitlines()]
    assert {host for host, _ in calls} == {"https://root-user:root-secret-0123@minio:9000"}
    argv = [args for _, args in calls]
    assert not any("root-secret" in a or "root-user" in a for a in argv)
    for svc in SERVICES:
        policy_file = DEPLOY / f"{svc.policy_name}.json"
        assert (f"admin policy create ecopy {svc.policy_name} {policy_file}") in argv
        assert f"admin user add ecopy ecopy-{svc.name} secret-of-{svc.name}" in argv
        assert f"admin policy attach ecopy {svc.policy_name} --user ecopy-{svc.name}" in argv
    assert len(argv) == 3 * len(SERVICES)
    assert (mc_config / "certs" / "CAs" / "ecopy-ca.crt").read_text() == keys["s3_ca"] + "\n"


def _compose_services() -> dict[str, str]:
    text = (ROOT / "docker-compose.yml").read_text()
    body = text[text.index("\nservices:\n"):]
    body = body[:re.search(r"^\S", body[len("\nservices:\n"):], re.M).start()
                + len("\nservices:\n")]
    parts = re.split(r"^  ([a-z][\w-]*):\n", body, flags=re.M)[1:]
    return dict(zip(parts[::2], parts[1::2], strict=True))


def test_compose_gives_each_service_its_own_identity() -> None:
    services = _compose_services()
    anchor = (ROOT / "docker-compose.yml").read_text().split("\nservices:\n")[0]
    assert "s3_access_key" not in anchor.split("x-ecopy:")[1]  # no default identity
    secrets_of = {name: re.findall(r"\bs3_\w+_key\b", re.search(
        r"^    secrets: \[([^\]]*)\]", block, re.M).group(1)) if "    secrets:" in block else []
        for name, block in services.items()}
    holders = {name for name, found in secrets_of.items() if "s3_secret_key" in found}
    assert holders == set(s3policy.ROOT_SERVICES)
    for svc in SERVICES:
        for name in svc.compose:
            block = services[name]
            assert secrets_of[name] == [svc.access_key_secret, svc.secret_key_secret], name
            assert f"ECOPY_S3_ACCESS_KEY_FILE: /run/secrets/{svc.access_key_secret}" in block
            assert f"ECOPY_S3_SECRET_KEY_FILE: /run/secrets/{svc.secret_key_secret}" in block
        assert svc.secret_key_secret in secrets_of["minio-users"]
    ecopy_services = {n for n, b in services.items() if "<<: *ecopy\n" in b}
    assert ecopy_services - {"storage-init"} == {n for s in SERVICES for n in s.compose}
    assert "./deploy/minio:/policies:ro" in services["minio-users"]


def test_the_compose_header_makes_a_key_pair_for_every_identity(tmp_path: Path) -> None:
    """The header's loop, as an operator pastes it, makes every secret minio-users reads."""
    lines = (ROOT / "docker-compose.yml").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("#   for s in web "))
    end = next(i for i in range(start, len(lines)) if lines[i].strip() == "#   done")
    (tmp_path / "secrets").mkdir()
    made = subprocess.run(["bash", "-euc", "\n".join(line[4:] for line in lines[start:end + 1])],
                          cwd=tmp_path, capture_output=True, text=True, timeout=30)
    assert made.returncode == 0, made.stderr
    for svc in SERVICES:
        assert (tmp_path / "secrets" / svc.access_key_secret).read_text() == svc.policy_name
        assert re.fullmatch(r"[0-9a-f]{48}\n",
                            (tmp_path / "secrets" / svc.secret_key_secret).read_text())


# --------------------------------------------------------------------------- the sweep


def _families() -> dict[str, str]:
    """One key under every prefix the code writes (and the legacy ones), for the sweep."""
    keys = {p: f"{p}{AGENCY}/{YEAR}/probe.json" for p in EVIDENCE_PREFIXES}
    keys.update({
        "originals/": f"originals/{SHA}",
        "documents/": f"documents/{SHA}/ocr.json",
        "warehouse/": f"warehouse/{PERSON}/birth_certificate/c0ffee.pdf",
        "register/": f"register/{AGENCY}/{YEAR}/000001.json",
        "register-notes/": f"register-notes/{AGENCY}/{YEAR}/000001.json",
        "register-notes/refusal": f"register-notes/{AGENCY}/{YEAR}/refusal-{SHA}.json",
        "audit/": f"audit/{YEAR}/0000000001.json",
        "audit/HEAD": "audit/HEAD.json",
        "models/": "models/doctype-2.npz",
        "storage/": "storage/other.json",
        "health/": "health/probe",
        "dossiers/": "dossiers/old.json",
        "web/": "web/sessions/old.json",
    })
    return keys


def _variant(key: str, tag: str) -> str:
    """Another key of the same kind: an upload stays originals/<sha256> (any other name
    under originals/ is evidence to the store, written under the lock)."""
    if key.startswith("originals/"):
        return "originals/" + hashlib.sha256(tag.encode()).hexdigest()
    return f"{key}-{tag}"


def test_the_server_enforces_exactly_the_matrix(ids: IdentityServer) -> None:
    """Every verb on every prefix, for every service: the server says yes exactly where the
    matrix does (allows), on objects the root put without a lock, so a no is the policy's."""
    root = ids.admin(PROBE)
    families = _families()
    for key in families.values():
        _raw_put(root, key)
    wrong = []
    for svc in SERVICES:
        store = ids.as_(svc.name, PROBE)
        for key in families.values():
            # this service's own objects for the verbs that change one
            new, lock, gone = (_variant(key, f"{svc.name}-{verb}") for verb in "nld")
            _raw_put(root, lock)
            _raw_put(root, gone)
            listing = key.rsplit("/", 1)[0] + "/"
            checks = [
                (READ, key, [partial(store.get, key)]),
                (WRITE, new, [partial(store.put_if_absent, new, b"{}")]),
                (LOCK, lock, [partial(store.retain, lock)]),
                (DELETE, gone, _deletes(store, root, gone)),
                (LIST, listing, [partial(_listed, store, listing)]),
            ]
            for verb, target, calls in checks:
                expected = allows(svc, verb, target)
                refused = [denied(call) for call in calls]
                if any(refused) if expected else not all(refused):
                    wrong.append(f"{svc.name} {verb} {target}: server "
                                 f"{'refused' if expected else 'allowed'} {refused}")
        whole = allows(svc, LIST, "")
        if denied(partial(_listed, store, "")) == whole:
            wrong.append(f"{svc.name} list of the whole bucket")
    assert not wrong, "\n".join(wrong)


# --------------------------------------------------------------------------- each service


def test_web_takes_in_refuses_cancels_and_verifies(ids: IdentityServer, tmp_path: Path) -> None:
    root = sealed(ids.admin(WEB))
    web = sealed(ids.as_("web", WEB, part_size=5 * MIB))
    # the bucket's first audit event: no HEAD.json yet, so its year is listed
    append_event(web, actor="lan", action="web", object="login")
    scan = _big_file(tmp_path / "scan.jpg")  # sealed, then uploaded in 5 MiB parts
    sha = hashlib.sha256(scan.read_bytes()).hexdigest()
    assert store_original(web, sha, scan) is True
    assert store_original(web, sha, scan) is False  # HEAD: stored already
    root.get_to_file(original_key(sha), tmp_path / "back")
    assert (tmp_path / "back").read_bytes() == scan.read_bytes()
    web.put(ocr_key(sha), b"[]")  # the fallback's OCR when Redis is down
    # an Art 22 refusal by the clerk: the record, the note, the original locked
    record_refusal(web, agency_code=AGENCY, year=YEAR, sha256=sha, ground="x", ground_detail="x",
                   message="m", message_en="m", actor="lan", document_name="Giấy khai sinh",
                   time="2026-01-02T08:00:00+07:00")
    retain_original(web, sha)
    assert ids.admin(WEB)._client.get_object_retention(WEB, original_key(sha)).mode == "GOVERNANCE"
    # what the signer filed, read back by the web app (downloads, verification, cancelling)
    entry = _entry(1, "")
    root.put_if_absent(f"register/{AGENCY}/{YEAR}/000001.json", entry.canonical_bytes())
    pdf, meta = copy_key(PERSON, "birth_certificate", entry.copy_id, "pdf"), \
        copy_key(PERSON, "birth_certificate", entry.copy_id, "json")
    root.put(pdf, b"%PDF-1.7")
    root.put(meta, json.dumps({"person_id": PERSON}).encode())
    assert web.get(pdf) == b"%PDF-1.7" and json.loads(web.get(meta))["person_id"] == PERSON
    assert find_entry(web, AGENCY, YEAR, 1) == entry.canonical_bytes()
    decision = {"copy_id": entry.copy_id, "decision_ref": "12/QĐ", "reason": "sai", "actor": "chu"}
    assert record_decision(web, decision) == (decision, True)
    assert find_cancellation(web, entry.copy_id)["decision_ref"] == "12/QĐ"
    assert verify_audit(root) == []
    # attacks from the internet-facing app
    raw = ids.as_("web", WEB)
    assert denied(lambda: raw.put_if_absent(f"register/{AGENCY}/{YEAR}/000002.json", b"{}"))
    assert denied(lambda: raw.put(f"register/{AGENCY}/{YEAR}/HEAD.json", b'{"number": 9}'))
    assert denied(lambda: raw.put(pdf, b"%PDF forged"))  # overwrite a copy
    assert denied(lambda: raw.put(copy_key(PERSON, "x", "new", "pdf"), b"%PDF"))
    assert denied(lambda: raw.put(void_note_key(AGENCY, YEAR, 1), b"{}"))
    assert denied(lambda: raw.put("models/doctype-99.npz", b"x"))
    assert denied(lambda: raw.put(f"{RECEIPTS}x.json", b"{}"))
    assert denied(lambda: list(raw.list("warehouse/")))  # no person's papers by listing
    assert denied(lambda: list(raw.list("")))
    assert cannot_delete(raw, ids.admin(WEB), original_key(sha))


def test_the_ocr_worker_reads_originals_and_writes_ocr_only(ids: IdentityServer,
                                                            tmp_path: Path) -> None:
    from pipeline.flow import OriginalChanged, fetch_original, load_ocr, save_ocr

    root = sealed(ids.admin(OCR))
    root.put(original_key(SHA), b"\xff\xd8 scan")
    root.put(original_key(SCAN_SHA), b"\xff\xd8 scan")
    root.put(copy_key(PERSON, "birth_certificate", "c1", "pdf"), b"%PDF")
    root.put(f"register/{AGENCY}/{YEAR}/000001.json", b"{}")
    ocr = sealed(ids.as_("ocr", OCR))
    assert fetch_original(ocr, SCAN_SHA, tmp_path, "x.JPG").read_bytes() == b"\xff\xd8 scan"
    # bytes that are not those of their key (a swapped original) are never used
    with pytest.raises(OriginalChanged):
        fetch_original(ocr, SHA, tmp_path, "x.JPG")
    assert load_ocr(ocr, SHA) is None
    save_ocr(ocr, SHA, _ocr_pages())
    assert [p.words for p in load_ocr(ocr, SHA)] == [p.words for p in _ocr_pages()]
    append_event(ocr, actor="ecopy", action="reject", object=f"originals/{SHA}")
    assert verify_audit(root) == []
    raw = ids.as_("ocr", OCR)
    assert denied(lambda: raw.get(copy_key(PERSON, "birth_certificate", "c1", "pdf")))
    assert denied(lambda: raw.get(f"register/{AGENCY}/{YEAR}/000001.json"))
    assert denied(lambda: list(raw.list("warehouse/")))
    assert denied(lambda: raw.put(original_key(SHA), b"another scan"))  # swap the paper
    assert denied(lambda: raw.put(f"register/{AGENCY}/{YEAR}/000002.json", b"{}"))
    assert denied(lambda: raw.put(copy_key(PERSON, "x", "c2", "pdf"), b"%PDF"))
    assert denied(lambda: raw.retain(original_key(SHA)))
    assert cannot_delete(raw, ids.admin(OCR), ocr_key(SHA))


def test_the_signer_claims_numbers_and_files_copies(ids: IdentityServer, tmp_path: Path) -> None:
    root = sealed(ids.admin(SIGNER))
    root.put(original_key(SHA), b"scan")
    root.put(ocr_key(SHA), b"[]")
    root.put("models/doctype-2.npz", b"model")
    signer = sealed(ids.as_("signer", SIGNER, part_size=5 * MIB))
    assert signer.get("models/doctype-2.npz") == b"model"
    # the year's first number (no HEAD.json: the year is listed), then the next
    first = allocate_register_number(signer, agency_code=AGENCY, year=YEAR, make_entry=_entry)
    second = allocate_register_number(signer, agency_code=AGENCY, year=YEAR, make_entry=_entry)
    assert (first.number, second.number) == (1, 2)
    signer.put(void_note_key(AGENCY, YEAR, 2), b'{"void": true}')
    append_event(signer, actor="chu", action="register", object="register/x")
    retain_original(signer, SHA)
    pdf = _big_file(tmp_path / "copy.pdf")  # multipart, under the evidence lock
    key = file_copy(signer, person_id=PERSON, doc_type="birth_certificate",
                    copy_id=first.copy_id, pdf_path=pdf, metadata={"copy_id": first.copy_id})
    root.get_to_file(key, tmp_path / "back.pdf")
    assert (tmp_path / "back.pdf").read_bytes() == pdf.read_bytes()
    assert ids.admin(SIGNER)._client.get_object_retention(SIGNER, key).mode == "GOVERNANCE"
    record_refusal(signer, agency_code=AGENCY, year=YEAR, sha256=SHA, ground="illegible",
                   ground_detail="conf=12", message="m", message_en="m", actor="ecopy",
                   document_name="?", time="2026-01-02T08:00:00+07:00")
    assert check_chain(root, AGENCY, YEAR) == [] and verify_audit(root) == []
    raw = ids.as_("signer", SIGNER)
    assert denied(lambda: raw.put_if_absent("cancellations/c.json", b"{}"))
    assert denied(lambda: raw.put(original_key(SHA), b"another scan"))
    assert denied(lambda: raw.put(ocr_key(SHA), b"[]"))  # the OCR it certifies from
    assert denied(lambda: raw.put(f"{RECEIPTS}x.json", b"{}"))
    assert cannot_delete(raw, ids.admin(SIGNER), original_key(SHA))
    assert cannot_delete(raw, ids.admin(SIGNER), key)
    assert denied(lambda: list(raw.list("warehouse/")))


def test_the_sync_writes_nothing_but_receipts_and_audit(ids: IdentityServer,
                                                        tmp_path: Path) -> None:
    root = sealed(ids.admin(SYNC))
    pdf, meta = (copy_key(PERSON, "birth_certificate", "c1", s) for s in ("pdf", "json"))
    root.put(pdf, b"%PDF")
    root.put(meta, b"{}")
    root.put(original_key(SHA), b"scan")
    sync = sealed(ids.as_("sync", SYNC))
    assert sync.get(meta) == b"{}"
    sync.get_to_file(pdf, tmp_path / "copy.pdf")
    assert sync.put_if_absent(f"{RECEIPTS}k.json", b'{"receipt_id": "1"}') is True
    assert sync.put_if_absent(f"{RECEIPTS}k.json", b'{"receipt_id": "2"}') is False
    append_event(sync, actor="admin", action="sync-retry", object="outbox/k")
    raw = ids.as_("sync", SYNC)
    for family, key in _families().items():
        if family not in (RECEIPTS, "audit/", "audit/HEAD"):
            assert denied(lambda k=key: raw.put(k + "-sync", b"{}")), family
    assert denied(lambda: raw.get(original_key(SHA)))
    assert cannot_delete(raw, ids.admin(SYNC), pdf)


def test_only_the_retention_run_deletes_and_only_uploads(ids: IdentityServer) -> None:
    root = ids.admin(RETENTION)
    uploads = [original_key("b" * 64), ocr_key("b" * 64), f"documents/{'b' * 64}/record.json"]
    evidence = [key for family, key in _families().items()
                if not key.startswith(DELETABLE_PREFIXES)]
    for key in uploads + evidence:
        _raw_put(root, key)
        _raw_put(root, key, b"a second version")
    for svc in SERVICES:
        if svc.name == "retention":
            continue
        store = ids.as_(svc.name, RETENTION)
        for key in uploads + evidence:
            assert cannot_delete(store, root, key), (svc.name, key)
    retention = sealed(ids.as_("retention", RETENTION))
    assert sorted(retention.list(f"documents/{'b' * 64}/")) == sorted(uploads[1:])
    assert retention.exists(f"refusals/{AGENCY}/{YEAR}/{'b' * 64}.json") is False
    for key in uploads:
        assert retention.delete(key) is True
    assert not [v for v in root._client.list_objects(RETENTION, prefix=f"originals/{'b' * 64}",
                                                     include_version=True)]
    raw = ids.as_("retention", RETENTION)
    for key in evidence:  # the server refuses even without the store's own guard
        assert cannot_delete(raw, root, key), key
        with pytest.raises(EvidenceKey):
            raw.delete(key)
    assert denied(lambda: raw.put(original_key("c" * 64), b"x"))
    assert denied(lambda: raw.get(copy_key(PERSON, "birth_certificate", "c0ffee", "pdf")))


# --------------------------------------------------------------------------- end to end


@pytest.fixture
def redis_server(tmp_path: Path):
    server = RedisServer(tmp_path / "redis").start()
    yield server
    server.stop()


def test_a_paper_is_submitted_read_and_signed_by_three_identities(
        ids: IdentityServer, env: dict[str, str], redis_server: RedisServer, pg_server,
        tmp_path: Path) -> None:
    """`ecopy submit` as the web app's identity, `ecopy worker --queues ocr` as the OCR
    worker's, `--queues understand,sign` as the signer's: the paper is filed, and the root
    holds nothing but `storage init`."""
    base = {**env, "ECOPY_S3_ENDPOINT": ids.endpoint, "ECOPY_S3_BUCKET": E2E,
            "ECOPY_S3_SECURE": "0", "ECOPY_COMMUNE": "99999",
            "ECOPY_REDIS_URL": redis_server.url, **pg_settings(pg_server)}

    def as_(name: str | None) -> dict[str, str]:
        access, secret = (ids.access_key, ids.secret_key) if name is None else ids.keys[name]
        return {**base, "ECOPY_S3_ACCESS_KEY_ENV": "T_S3_ACCESS", "T_S3_ACCESS": access,
                "ECOPY_S3_SECRET_KEY_ENV": "T_S3_SECRET", "T_S3_SECRET": secret}

    started = time.monotonic()
    init = run_cli(["storage", "init", "--retention-days", "1", "--mode", "GOVERNANCE"], as_(None))
    assert init.returncode == 0, init.stderr
    sample = tmp_path / "birth_cert.jpg"
    shutil.copy(ROOT / "samples" / "birth_cert.jpg", sample)
    sub = run_cli(["submit", *CERTIFY_AS,
                   str(sample), "--person-id", PERSON, "--certify-all"], as_("web"))
    assert sub.returncode == 0, sub.stderr
    batch = sub.stdout.strip()
    for name, queues in (("ocr", "ocr"), ("signer", "understand,sign")):
        work = run_cli(["worker", "--burst", "--queues", queues], as_(name))
        assert work.returncode == 0, work.stderr
    done = run_cli(["status", batch, "--json"], as_("ops"))
    docs = json.loads(done.stdout)["documents"]
    assert [d["status"] for d in docs] == ["filed"], docs
    checked = run_cli(["audit", "verify"], as_("ops"))  # lists audit/: ops may
    assert checked.returncode == 0, checked.stdout + checked.stderr
    store = sealed(ids.admin(E2E))
    assert check_chain(store, "99999", YEAR) == []
    assert any(k.endswith(".pdf") for k in store.list(f"warehouse/{PERSON}/"))
    print(f"end to end with three identities: {time.monotonic() - started:.1f} s")
