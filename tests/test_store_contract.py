"""One contract for every ObjectStore: LocalStore (a directory) and S3Store (real SeaweedFS).

The S3 store runs against `weed mini` started by the tests (tests/support/s3server.py), a fresh
bucket
per test. The put_if_absent test is the one that fails if the If-None-Match condition is not
really sent: the second call would then return True and overwrite the first bytes.
"""

from __future__ import annotations

import hashlib
import os
import threading
import tracemalloc
from pathlib import Path

import pytest

from storage.backends import InvalidKey, LocalStore, ObjectStore

BIG = 40_000_000  # bytes: several multipart parts of 16 MiB for S3


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ObjectStore:
    if request.param == "local":
        return LocalStore(tmp_path / "store")
    return request.getfixturevalue("s3_store")


def _leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.startswith(".tmp-"))


def test_is_an_object_store(store: ObjectStore) -> None:
    assert isinstance(store, ObjectStore)
    assert store.describe()


@pytest.mark.parametrize("data", [
    b"hello", b"", bytes(range(256)) * 64, b"\x00" * 10 + b"\xff\xfe\r\n\x00",
    "tiếng Việt có dấu".encode(),
], ids=["ascii", "empty", "all-bytes", "nul-crlf", "utf8"])
def test_put_get_round_trip(store: ObjectStore, data: bytes) -> None:
    store.put("docs/one.bin", data)
    assert store.get("docs/one.bin") == data
    store.put("hints/h.json", data, durable=False)
    assert store.get("hints/h.json") == data


def test_overwrite_replaces(store: ObjectStore) -> None:
    store.put("a/x.json", b"a much longer first version")
    store.put("a/x.json", b"short")
    assert store.get("a/x.json") == b"short"
    store.put("a/x.json", b"")
    assert store.get("a/x.json") == b""
    assert list(store.list("a/")) == ["a/x.json"]


def test_absent_key(store: ObjectStore, tmp_path: Path) -> None:
    with pytest.raises(KeyError):
        store.get("nothing/here.json")
    assert not store.exists("nothing/here.json")
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(KeyError):
        store.get_to_file("nothing/here.json", out / "x.bin")
    assert list(out.iterdir()) == []  # neither the target nor a temporary file


def test_exists_is_for_objects_not_folders(store: ObjectStore) -> None:
    store.put("dir/sub/obj.json", b"{}")
    assert store.exists("dir/sub/obj.json")
    assert not store.exists("dir/sub")
    assert not store.exists("dir")


def test_list_sorted_filtered_nested(store: ObjectStore, tmp_path: Path) -> None:
    keys = ["register/26734/2026/000010.json", "register/26734/2026/000002.json",
            "register/26734/2026/HEAD.json", "register/26734/2025/000001.json",
            "register/00004/2026/000001.json", "originals/ab12", "originals/ab/cd/ef/deep.bin",
            "z", "A0", "a0"]
    for key in keys:
        store.put(key, key.encode())
    assert list(store.list("")) == sorted(keys)
    assert list(store.list("register/26734/2026/")) == [
        "register/26734/2026/000002.json", "register/26734/2026/000010.json",
        "register/26734/2026/HEAD.json"]
    # a prefix is a string prefix, not only a folder
    assert list(store.list("register/26734/2026/0000")) == [
        "register/26734/2026/000002.json", "register/26734/2026/000010.json"]
    assert list(store.list("originals/")) == ["originals/ab/cd/ef/deep.bin", "originals/ab12"]
    assert list(store.list("register/9")) == []
    assert list(store.list("nothing/")) == []
    # no folders, no temporaries, after every kind of write
    src = tmp_path / "src.bin"
    src.write_bytes(b"file")
    store.put_file("files/f.bin", src)
    store.put_if_absent("files/g.bin", b"g")
    store.get_to_file("files/f.bin", tmp_path / "back.bin")
    listed = list(store.list(""))
    assert listed == sorted([*keys, "files/f.bin", "files/g.bin"])
    assert not [k for k in listed if k.endswith("/") or ".tmp-" in k]


def _write_random(path: Path, size: int) -> str:
    digest = hashlib.sha256()
    with open(path, "wb") as fh:
        left = size
        while left:
            chunk = os.urandom(min(left, 1 << 20))
            digest.update(chunk)
            fh.write(chunk)
            left -= len(chunk)
    return digest.hexdigest()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def test_big_file_streams_both_ways(store: ObjectStore, tmp_path: Path) -> None:
    src = tmp_path / "big.bin"
    want = _write_random(src, BIG)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    back = out_dir / "back.bin"
    back.write_bytes(b"old content, replaced")
    tracemalloc.start()
    try:
        store.put_file("originals/big", src)
        upload_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        store.get_to_file("originals/big", back)
        download_peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert back.stat().st_size == BIG
    assert _sha256(back) == want
    assert _leftovers(out_dir) == []
    # streamed: at most about one multipart part (16 MiB) in memory, never the whole file
    assert upload_peak < BIG // 2, f"put_file peak {upload_peak} bytes"
    assert download_peak < 8 << 20, f"get_to_file peak {download_peak} bytes"
    assert store.exists("originals/big")
    assert list(store.list("originals/")) == ["originals/big"]


def test_put_file_small_and_empty(store: ObjectStore, tmp_path: Path) -> None:
    for name, data in (("small", b"abc" * 1000), ("empty", b"")):
        src = tmp_path / name
        src.write_bytes(data)
        store.put_file(f"f/{name}", src)
        assert store.get(f"f/{name}") == data
        store.get_to_file(f"f/{name}", tmp_path / f"{name}.back")
        assert (tmp_path / f"{name}.back").read_bytes() == data


def test_put_if_absent_creates_once_and_never_overwrites(store: ObjectStore) -> None:
    key = "register/26734/2026/000001.json"
    assert store.put_if_absent(key, b"first")
    assert not store.put_if_absent(key, b"second")  # fails if the condition is not sent
    assert store.get(key) == b"first"
    store.put(key, b"replaced by a plain put")
    assert not store.put_if_absent(key, b"third")
    assert store.get(key) == b"replaced by a plain put"
    assert store.put_if_absent("register/26734/2026/000002.json", b"")
    assert not store.put_if_absent("register/26734/2026/000002.json", b"x")
    assert store.get("register/26734/2026/000002.json") == b""
    assert list(store.list("register/")) == [key, "register/26734/2026/000002.json"]


def test_put_if_absent_race_has_one_winner_per_key(store: ObjectStore) -> None:
    keys = [f"race/{i:03d}" for i in range(12)]
    wins: dict[str, list[int]] = {k: [] for k in keys}
    lock = threading.Lock()
    start = threading.Barrier(6)

    def claim(worker: int) -> None:
        start.wait()
        for key in keys:
            if store.put_if_absent(key, f"w{worker}".encode()):
                with lock:
                    wins[key].append(worker)

    threads = [threading.Thread(target=claim, args=(w,)) for w in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for key in keys:
        assert len(wins[key]) == 1, (key, wins[key])
        assert store.get(key) == f"w{wins[key][0]}".encode()


@pytest.mark.parametrize("bad", [
    "../etc/passwd", "/abs", "a/../../b", "a//b", "tên/tệp", "", "a/", "a/./b", ".hidden",
    "a/.tmp-x", "sp ace", "back\\slash", "q?x", "pct%2F", "tab\tx", "new\nline", "..",
])
def test_refuses_invalid_keys(store: ObjectStore, bad: str, tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.write_bytes(b"x")
    calls = [
        lambda: store.put(bad, b"x"), lambda: store.put_file(bad, src),
        lambda: store.put_if_absent(bad, b"x"), lambda: store.get(bad),
        lambda: store.get_to_file(bad, tmp_path / "out"), lambda: store.exists(bad),
    ]
    for call in calls:
        with pytest.raises(InvalidKey):
            call()
    assert list(store.list("")) == []


def test_odd_but_allowed_keys(store: ObjectStore) -> None:
    keys = ["A-b_c.d/e..f/x-.json", "9/8/7", "a.b.c", "UPPER/lower", "upper/lower",
            "x_/y-", "dots.../end.", "0"]
    for key in keys:
        store.put(key, key.encode())
    for key in keys:
        assert store.exists(key)
        assert store.get(key) == key.encode()
    assert list(store.list("")) == sorted(keys)


# --- S3 specifics (beyond the protocol) -------------------------------------------------------


def test_s3_credentials_are_enforced(s3_server) -> None:
    from minio.error import S3Error

    from storage.backends.s3 import S3Store

    good = s3_server.new_store()
    good.put("k", b"v")
    args = s3_server.store_args(good.bucket)
    for wrong in ({"secret_key": "not-the-secret"}, {"access_key": "nobody"}):
        with pytest.raises(S3Error) as info:
            S3Store(**{**args, **wrong}).get("k")
        assert info.value.code in ("SignatureDoesNotMatch", "InvalidAccessKeyId", "AccessDenied")


def test_s3_stores_bytes_only(s3_store, tmp_path: Path) -> None:
    """No user metadata: in particular If-None-Match is a condition, not x-amz-meta-*."""
    src = tmp_path / "f"
    src.write_bytes(b"file")
    s3_store.put("m/put", b"p")
    s3_store.put_file("m/file", src)
    assert s3_store.put_if_absent("m/cond", b"c")
    for key in ("m/put", "m/file", "m/cond"):
        stat = s3_store._client.stat_object(s3_store.bucket, key)
        meta = {k.lower() for k in (stat.metadata or {})}
        assert not [k for k in meta if k.startswith("x-amz-meta-")], (key, meta)


def test_s3_folder_is_not_an_object(s3_store) -> None:
    # (LocalStore.get of a folder raises IsADirectoryError, so this is not in the contract)
    s3_store.put("dir/sub/obj.json", b"{}")
    for folder in ("dir", "dir/sub"):
        with pytest.raises(KeyError):
            s3_store.get(folder)


def test_s3_prefix_is_a_private_namespace(s3_server) -> None:
    from storage.backends.s3 import S3Store

    bucket = s3_server.new_store().bucket
    args = s3_server.store_args(bucket)
    a, b = S3Store(**args, prefix="tenant-a"), S3Store(**args, prefix="tenant-b/")
    whole = S3Store(**args)
    a.put("x/1.json", b"a")
    b.put("x/1.json", b"b")
    assert a.put_if_absent("x/2.json", b"a2")
    assert b.put_if_absent("x/2.json", b"b2")  # same key, other namespace
    assert list(a.list("")) == ["x/1.json", "x/2.json"]
    assert (a.get("x/1.json"), b.get("x/1.json")) == (b"a", b"b")
    assert list(whole.list("")) == ["tenant-a/x/1.json", "tenant-a/x/2.json",
                                    "tenant-b/x/1.json", "tenant-b/x/2.json"]
    assert a.describe() == f"s3://{bucket}/tenant-a@{s3_server.endpoint}"
    assert whole.describe() == f"s3://{bucket}@{s3_server.endpoint}"
    with pytest.raises(InvalidKey):
        S3Store(**args, prefix="../up")
    with pytest.raises(ValueError):
        S3Store(**{**args, "endpoint": f"http://{s3_server.endpoint}"})


def test_s3_versioning_on_seaweedfs(s3_server) -> None:
    store = s3_server.new_store()
    assert not store.versioning_enabled()
    store.ensure_bucket(versioning=True)
    assert store.versioning_enabled()
    store.put("v/a.json", b"one")
    store.put("v/a.json", b"two")
    assert store.get("v/a.json") == b"two"
    assert list(store.list("v/")) == ["v/a.json"]  # one key, however many versions
    versions = list(store._client.list_objects(store.bucket, prefix="v/", include_version=True))
    assert len(versions) == 2
    assert not store.put_if_absent("v/a.json", b"three")  # the condition sees the latest
    assert store.get("v/a.json") == b"two"


def test_s3_object_lock_on_seaweedfs(s3_server) -> None:
    from minio.commonconfig import GOVERNANCE
    from minio.error import S3Error

    from storage.backends.s3 import S3Store, StoreFeatureUnsupported

    plain = s3_server.new_store()
    with pytest.raises(StoreFeatureUnsupported):
        plain.ensure_bucket(object_lock=True)  # only at creation
    with pytest.raises(StoreFeatureUnsupported):
        plain.set_retention_default("GOVERNANCE", 1)
    assert not plain.object_lock_enabled()

    locked = S3Store(**s3_server.store_args(f"{plain.bucket}-lock"))
    locked.ensure_bucket(object_lock=True)
    assert locked.object_lock_enabled() and locked.versioning_enabled()
    locked.ensure_bucket(object_lock=True, versioning=True)  # idempotent
    with pytest.raises(ValueError):
        locked.set_retention_default("forever", 1)
    locked.set_retention_default("governance", 1)
    assert locked.put_if_absent("rec/1.json", b"record")
    assert not locked.put_if_absent("rec/1.json", b"other")
    client = locked._client
    version = client.stat_object(locked.bucket, "rec/1.json").version_id
    retention = client.get_object_retention(locked.bucket, "rec/1.json", version_id=version)
    assert retention is not None and retention.mode == GOVERNANCE
    with pytest.raises(S3Error) as info:  # a retained version cannot be deleted
        client.remove_object(locked.bucket, "rec/1.json", version_id=version)
    assert info.value.code == "AccessDenied"
    assert locked.get("rec/1.json") == b"record"
