"""Encryption at rest (storage.backends.sealed): what lands on disk or in the bucket is an
envelope, reading gives back the exact bytes or a clear SealError, never wrong plaintext.

Real stores (a directory, SeaweedFS for S3), real AES-GCM, a real SoftHSM2 token; faults are
made by editing the stored files as an intruder would."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ecopy.settings import load_settings
from ecopy.wiring import DEV_KEK_NAME, store_keyring
from storage.backends import LocalStore
from storage.backends.envelope import MAGIC, SealError, SealReason
from storage.backends.kek import FileKek, Keyring, ensure_kek_file
from storage.backends.sealed import SEALED_PREFIXES, SealedStore, sealed_key
from tests.conftest import PERSON, REAL_CERTIFIER, ROOT, SAMPLES, export_copy, run_cli

SEG = 4096  # small segments: multi-segment objects stay small and the tests fast
SCAN = SAMPLES / "birth_cert.jpg"


def _kek() -> FileKek:
    return FileKek(os.urandom(32), "test")


def _store(root: Path, kek: FileKek, *previous: FileKek) -> SealedStore:
    return SealedStore(LocalStore(root), Keyring(kek, previous), segment_size=SEG)


@pytest.fixture
def store(tmp_path: Path) -> SealedStore:
    return _store(tmp_path / "store", _kek())


def _raw(store: SealedStore, key: str) -> bytes:
    return store.inner.path_of(key).read_bytes()


def test_an_original_on_disk_is_not_the_scan(store: SealedStore, tmp_path: Path) -> None:
    scan = SCAN.read_bytes()
    store.put_file("originals/abc", SCAN)
    on_disk = _raw(store, "originals/abc")
    assert on_disk.startswith(MAGIC) and not on_disk.startswith(b"\xff\xd8")
    assert b"JFIF" not in on_disk and b"Exif" not in on_disk
    for at in (0, len(scan) // 2, len(scan) - 64):  # no stretch of the scan survives
        assert scan[at:at + 32] not in on_disk
    assert len(on_disk) - len(scan) < 100 + 16 * (len(scan) // SEG + 1)  # header + tags only
    store.get_to_file("originals/abc", tmp_path / "back.jpg")
    assert (tmp_path / "back.jpg").read_bytes() == scan == store.get("originals/abc")


@pytest.mark.parametrize("size", [0, 1, SEG - 1, SEG, SEG + 1, 3 * SEG, 5 * SEG + 17])
def test_round_trip_through_bytes_and_files(store: SealedStore, tmp_path: Path,
                                            size: int) -> None:
    data = os.urandom(size)
    store.put("documents/x/ocr.json", data)
    assert store.get("documents/x/ocr.json") == data
    src, out = tmp_path / "in", tmp_path / "out"
    src.write_bytes(data)
    store.put_file("warehouse/p/t/c.pdf", src)
    store.get_to_file("warehouse/p/t/c.pdf", out)
    assert out.read_bytes() == data == store.get("warehouse/p/t/c.pdf")
    assert store.put_if_absent("register/1/2026/000001.json", data)
    assert not store.put_if_absent("register/1/2026/000001.json", b"other")
    assert store.get("register/1/2026/000001.json") == data
    segments = max(1, -(-size // SEG))
    assert len(_raw(store, "warehouse/p/t/c.pdf")) == len(_raw(store, "documents/x/ocr.json"))
    assert len(_raw(store, "documents/x/ocr.json")) >= size + 16 * segments


def test_default_segments_stream_a_large_file(tmp_path: Path) -> None:
    store = SealedStore(LocalStore(tmp_path / "s"), Keyring(_kek()))  # 1 MiB segments
    data = os.urandom((5 << 20) // 2)  # 2.5 segments
    (tmp_path / "in").write_bytes(data)
    store.put_file("originals/big", tmp_path / "in")
    store.get_to_file("originals/big", tmp_path / "out")
    assert hashlib.sha256((tmp_path / "out").read_bytes()).digest() == \
        hashlib.sha256(data).digest()


def _reason(store: SealedStore, key: str, tmp_path: Path) -> SealReason:
    with pytest.raises(SealError) as caught:
        store.get(key)
    out = tmp_path / "never.bin"
    with pytest.raises(SealError) as streamed:
        store.get_to_file(key, out)
    assert not out.exists() and not list(tmp_path.glob(".tmp-*"))  # nothing half-written
    assert caught.value.reason == streamed.value.reason
    assert key in str(caught.value) and str(caught.value.reason) in str(caught.value)
    return caught.value.reason


def test_a_flipped_byte_anywhere_is_refused(store: SealedStore, tmp_path: Path) -> None:
    data = os.urandom(3 * SEG + 5)
    store.put("originals/a", data)
    good = _raw(store, "originals/a")
    for at in (len(MAGIC) + 4, 60, 100, len(good) // 2, len(good) - 1):
        bad = bytearray(good)
        bad[at] ^= 0x01
        store.inner.path_of("originals/a").write_bytes(bytes(bad))
        assert _reason(store, "originals/a", tmp_path) in (
            SealReason.TAMPERED, SealReason.UNWRAP_FAILED, SealReason.UNKNOWN_KEK,
            SealReason.BAD_HEADER)


def test_a_cut_off_tail_is_refused(store: SealedStore, tmp_path: Path) -> None:
    data = os.urandom(3 * SEG)  # three full segments
    store.put("originals/a", data)
    good = _raw(store, "originals/a")
    path = store.inner.path_of("originals/a")
    path.write_bytes(good[:-(SEG + 16)])  # the whole last segment gone
    assert _reason(store, "originals/a", tmp_path) == SealReason.TRUNCATED
    path.write_bytes(good[:-100])  # part of it gone
    assert _reason(store, "originals/a", tmp_path) in (SealReason.TAMPERED,
                                                       SealReason.TRUNCATED)
    path.write_bytes(good[:40])  # inside the header
    assert _reason(store, "originals/a", tmp_path) in (SealReason.TRUNCATED,
                                                       SealReason.BAD_HEADER)
    path.write_bytes(good + good[-(SEG + 16):])  # a segment repeated at the end
    assert _reason(store, "originals/a", tmp_path) == SealReason.TAMPERED


def test_an_object_copied_onto_another_key_is_refused(store: SealedStore,
                                                       tmp_path: Path) -> None:
    store.put("warehouse/p/t/one.json", b'{"person": "one"}')
    store.put("warehouse/p/t/two.json", b'{"person": "two"}')
    shutil.copyfile(store.inner.path_of("warehouse/p/t/one.json"),
                    store.inner.path_of("warehouse/p/t/two.json"))
    assert _reason(store, "warehouse/p/t/two.json", tmp_path) == SealReason.TAMPERED
    assert store.get("warehouse/p/t/one.json") == b'{"person": "one"}'


def test_objects_made_before_sealing_and_unsealed_prefixes_stay_plain(
        tmp_path: Path) -> None:
    plain = LocalStore(tmp_path / "s")
    plain.put("originals/old", b"%PDF-1.7 legacy")
    plain.put("warehouse/p/t/c.json", b'{"legacy": true}')
    store = _store(tmp_path / "s", _kek())
    assert store.get("originals/old") == b"%PDF-1.7 legacy"
    store.get_to_file("originals/old", tmp_path / "old.pdf")
    assert (tmp_path / "old.pdf").read_bytes() == b"%PDF-1.7 legacy"
    assert store.kek_id_of("originals/old") is None
    store.put("audit/2026/0000000001.json", b'{"seq": 1}')  # hash-chained, no citizen data
    assert _raw(store, "audit/2026/0000000001.json") == b'{"seq": 1}'


def test_delete_goes_to_the_inner_stores_guard(store: SealedStore) -> None:
    upload = "originals/" + "ab" * 32
    store.put(upload, b"an upload past its retention date")
    store.put("warehouse/p/t/c.pdf", b"evidence")
    assert store.delete(upload) and not store.exists(upload)
    with pytest.raises(PermissionError):
        store.delete("warehouse/p/t/c.pdf")
    assert store.get("warehouse/p/t/c.pdf") == b"evidence"


def test_the_sealed_prefixes_cover_every_personal_evidence_key() -> None:
    from storage.evidence.audit import event_key, refusal_key, refusal_note_key
    from storage.evidence.cancellations import cancellation_key
    from storage.evidence.originals import ocr_key, original_key
    from storage.evidence.register import entry_key, head_key, void_note_key
    from storage.evidence.warehouse import copy_key

    sha = "ab" * 32
    for key in (original_key(sha), ocr_key(sha), copy_key(PERSON, "birth_cert", "c", "pdf"),
                copy_key(PERSON, "birth_cert", "c", "json"), entry_key("99999", 2026, 1),
                head_key("99999", 2026), void_note_key("99999", 2026, 1),
                refusal_key("99999", 2026, sha), refusal_note_key("99999", 2026, sha),
                cancellation_key("c")):
        assert sealed_key(key), key
    assert not sealed_key(event_key(2026, 1)) and not sealed_key("models/doctype/x.npz")
    assert all(p.endswith("/") for p in SEALED_PREFIXES)


def test_rotation_keeps_old_objects_readable_and_never_rewrites_them(
        tmp_path: Path) -> None:
    old, new = _kek(), _kek()
    before = _store(tmp_path / "s", old)
    before.put("originals/a", b"sealed with the old KEK")
    on_disk = _raw(before, "originals/a")
    after = _store(tmp_path / "s", new, old)
    assert after.get("originals/a") == b"sealed with the old KEK"
    after.put("originals/b", b"sealed with the new KEK")
    assert (after.kek_id_of("originals/a"), after.kek_id_of("originals/b")) == (old.kek_id,
                                                                                new.kek_id)
    assert _raw(after, "originals/a") == on_disk  # reading never re-seals
    without_old = _store(tmp_path / "s", new)
    with pytest.raises(SealError) as caught:
        without_old.get("originals/a")
    assert caught.value.reason == SealReason.UNKNOWN_KEK and old.kek_id in str(caught.value)
    same_id_other_key = _store(tmp_path / "s", _kek())
    same_id_other_key.keyring._by_id[old.kek_id] = _kek()  # a key swapped behind an id
    with pytest.raises(SealError) as caught:
        same_id_other_key.get("originals/a")
    assert caught.value.reason == SealReason.UNWRAP_FAILED
    read_only = SealedStore(LocalStore(tmp_path / "s"), Keyring(None, [old]))
    assert read_only.get("originals/a") == b"sealed with the old KEK"
    with pytest.raises(SealError) as caught:
        read_only.put("originals/c", b"x")
    assert caught.value.reason == SealReason.NO_KEK


def test_kek_files_settings_and_the_keys_report(tmp_path: Path, env: dict[str, str]) -> None:
    first, second = tmp_path / "kek-1.b64", tmp_path / "kek-2.b64"
    ensure_kek_file(first)
    assert first.stat().st_mode & 0o777 == 0o600
    assert ensure_kek_file(first).kek_id == FileKek.from_file(first).kek_id  # never replaced
    second.write_text("not base64!\n")
    with pytest.raises(ValueError, match="base64"):
        FileKek.from_file(second)
    second.unlink()
    ensure_kek_file(second)
    store_dir = tmp_path / "store"
    one = {**env, "ECOPY_STORE_KEK_FILE": str(first)}
    ring = store_keyring(load_settings(one), local=True)
    SealedStore(LocalStore(store_dir), ring).put("originals/a", b"one")
    two = {**env, "ECOPY_STORE_KEK_FILE": str(second), "ECOPY_STORE_KEK_PREVIOUS_FILES":
           str(first)}
    ring = store_keyring(load_settings(two), local=True)
    SealedStore(LocalStore(store_dir), ring).put("originals/b", b"two")
    LocalStore(store_dir).put("originals/c", b"made before sealing")
    res = run_cli(["storage", "keys", "--store", str(store_dir), "--json"], two, timeout=60)
    assert res.returncode == 0, res.stderr
    report = json.loads(res.stdout)
    ids = FileKek.from_file(first).kek_id, FileKek.from_file(second).kek_id
    assert report["sealed"] == {ids[0]: 1, ids[1]: 1} and report["plain"] == 1
    assert report["current"] == ids[1] and report["unknown"] == []
    gone = run_cli(["storage", "keys", "--store", str(store_dir), "--json"],
                   {**env, "ECOPY_STORE_KEK_FILE": str(second)}, timeout=60)
    assert gone.returncode == 1 and json.loads(gone.stdout)["unknown"] == [ids[0]]
    s3_without_kek = load_settings({**env, **REAL_CERTIFIER, "ECOPY_KEY_SOURCE": "pkcs12"})
    with pytest.raises(SystemExit, match="ECOPY_STORE_KEK_FILE"):
        store_keyring(s3_without_kek, local=False)
    dev = store_keyring(load_settings(env), local=True)  # embedded default: the dev KEK
    assert dev.current.kek_id == FileKek.from_file(Path(env["ECOPY_PKI_DIR"]) /
                                                   DEV_KEK_NAME).kek_id


def test_sealed_s3_store(s3_store, tmp_path: Path) -> None:
    store = SealedStore(s3_store, Keyring(_kek()), segment_size=SEG)
    data = os.urandom(4 * SEG + 3)
    (tmp_path / "in").write_bytes(data)
    store.put_file("originals/s3", tmp_path / "in")
    store.get_to_file("originals/s3", tmp_path / "out")
    assert (tmp_path / "out").read_bytes() == data == store.get("originals/s3")
    raw = s3_store.get("originals/s3")
    assert raw.startswith(MAGIC) and data[:64] not in raw
    assert store.kek_id_of("originals/s3") == store.keyring.current.kek_id
    assert store.put_if_absent("cancellations/c.json", b'{"person_id": "1"}')
    assert not store.put_if_absent("cancellations/c.json", b"{}")
    assert b"person_id" not in s3_store.get("cancellations/c.json")
    s3_store.put("originals/moved", raw)  # the bucket's object copied to another key
    with pytest.raises(SealError) as caught:
        store.get_to_file("originals/moved", tmp_path / "moved")
    assert caught.value.reason == SealReason.TAMPERED and not (tmp_path / "moved").exists()
    s3_store.put("originals/empty", b"")
    assert store.get("originals/empty") == b"" and store.kek_id_of("originals/empty") is None
    assert list(store.list("originals/")) == ["originals/empty", "originals/moved",
                                              "originals/s3"]
    assert store.describe() == s3_store.describe()
    store.ensure_bucket()  # the S3 store's own methods pass through


def test_embedded_process_leaves_a_sealed_original(sample_copy: dict, tmp_path: Path) -> None:
    """`ecopy process` (the session's sample copy): the original, its OCR, the register entry
    and the e-copy are envelopes on disk; the copy comes out through `warehouse export` and
    verifies against the store."""
    root, env = sample_copy["dir"], sample_copy["env"]
    doc = sample_copy["doc"]
    original = root / "originals" / doc["sha256"]
    assert original.read_bytes().startswith(MAGIC)
    assert SCAN.read_bytes()[1000:1064] not in original.read_bytes()
    for key in (f"documents/{doc['sha256']}/ocr.json", doc["ecopy_path"],
                doc["ecopy_path"].removesuffix(".pdf") + ".json"):
        on_disk = (root / key).read_bytes()
        assert on_disk.startswith(MAGIC) and PERSON.encode() not in on_disk, key
    assert export_copy(root, f"originals/{doc['sha256']}", tmp_path / "o.jpg").read_bytes() \
        == SCAN.read_bytes()
    out = tmp_path / "copy.pdf"
    res = run_cli(["warehouse", "export", doc["copy_id"], "-o", str(out), "--store", str(root)],
                  env, timeout=60)
    assert res.returncode == 0, res.stderr
    assert out.read_bytes().startswith(b"%PDF")
    verified = run_cli(["verify", str(out), "--store", str(root), "--json"], env, timeout=120)
    report = json.loads(verified.stdout)
    assert report["register_status"] == "found", verified.stdout[:2000]
    assert report["indication"] == "TOTAL-PASSED"
    elsewhere = tmp_path / "other-pki"  # a machine without this store's KEK
    foreign = run_cli(["verify", str(out), "--store", str(root), "--json"],
                      {**env, "ECOPY_PKI_DIR": str(elsewhere)}, timeout=120)
    assert foreign.returncode != 0 and "seal_unknown_kek" in foreign.stdout + foreign.stderr
    assert not (elsewhere / DEV_KEK_NAME).exists()  # verifying never makes a key


PKCS11_MODULE = Path("/usr/lib/softhsm/libsofthsm2.so")

_PKCS11_SCRIPT = """
import sys
from pathlib import Path
from ecopy.settings import load_settings
from ecopy.wiring import open_store
store = open_store(None, load_settings())
if sys.argv[1] == "put":
    store.put("originals/p11", b"sealed on the token")
    store.put_file("warehouse/p/t/c.pdf", Path(sys.argv[2]))
print(store.kek_id_of("originals/p11"), store.get("originals/p11").decode(),
      store.get("warehouse/p/t/c.pdf") == Path(sys.argv[2]).read_bytes())
"""


def test_pkcs11_kek_on_a_softhsm_token(tmp_path: Path, env: dict[str, str]) -> None:
    """In child processes: SoftHSM reads its configuration once per process."""
    assert PKCS11_MODULE.is_file() and shutil.which("softhsm2-util") \
        and shutil.which("pkcs11-tool"), "SoftHSM2 not installed (scripts/setup.sh)"
    (tmp_path / "tokens").mkdir()
    conf = tmp_path / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {tmp_path / 'tokens'}\n"
                    "objectstore.backend = file\nlog.level = ERROR\n")
    hsm = {**env, "SOFTHSM2_CONF": str(conf)}
    subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", "kek-token",
                    "--so-pin", "so-5511", "--pin", "pin-8802"], check=True,
                   capture_output=True, env=hsm)
    for label in ("kek-2026", "kek-2027"):
        subprocess.run(["pkcs11-tool", "--module", str(PKCS11_MODULE), "--token-label",
                        "kek-token", "--login", "--pin", "pin-8802", "--keygen", "--key-type",
                        "AES:32", "--label", label], check=True, capture_output=True, env=hsm)
    (tmp_path / "pin").write_text("pin-8802\n")
    (tmp_path / "copy.pdf").write_bytes(os.urandom(3 << 20))  # three 1 MiB segments
    common = {**hsm, "ECOPY_STORE": str(tmp_path / "store"),
              "ECOPY_STORE_KEK_PKCS11_MODULE": str(PKCS11_MODULE),
              "ECOPY_STORE_KEK_PKCS11_TOKEN": "kek-token",
              "ECOPY_STORE_KEK_PKCS11_PIN_FILE": str(tmp_path / "pin")}

    def run(label: str, *args: str, previous: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", _PKCS11_SCRIPT, *args, str(tmp_path / "copy.pdf")],
            env={**common, "ECOPY_STORE_KEK_PKCS11_KEY_LABEL": label,
                 "ECOPY_STORE_KEK_PKCS11_PREVIOUS_LABELS": previous},
            text=True, capture_output=True, timeout=60, cwd=ROOT)

    put = run("kek-2026", "put")
    assert put.returncode == 0, put.stderr
    assert put.stdout.split() == ["pkcs11:kek-token/kek-2026", "sealed", "on", "the", "token",
                                  "True"]
    assert b"sealed on the token" not in (tmp_path / "store/originals/p11").read_bytes()
    rotated = run("kek-2027", "get", previous="kek-2026")  # the old key still opens it
    assert rotated.returncode == 0 and rotated.stdout.startswith("pkcs11:kek-token/kek-2026")
    forgotten = run("kek-2027", "get")
    assert forgotten.returncode != 0 and "seal_unknown_kek" in forgotten.stderr
    assert "pin-8802" not in forgotten.stderr + put.stderr
    missing = run("no-such-key", "get")
    assert missing.returncode != 0 and "no-such-key" in missing.stderr
