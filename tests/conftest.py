"""Shared fixtures: the external corpus, an isolated dev PKI per session, CLI runner."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

# Tests that call OCR stages directly run them as the product's pool workers do: one thread.
os.environ["OMP_THREAD_LIMIT"] = "1"

ROOT = Path(__file__).resolve().parent.parent
CORPUS = Path(os.environ.get("ECOPY_CORPUS", ROOT.parent / "shared" / "corpus"))
SAMPLES = ROOT / "samples"
PERSON = "001301012345"


@pytest.fixture(scope="session")
def corpus() -> Path:
    assert CORPUS.is_dir(), f"test corpus not found at {CORPUS} (set ECOPY_CORPUS)"
    return CORPUS


@pytest.fixture(scope="session")
def pki_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("dev-pki")


@pytest.fixture
def env(pki_dir: Path) -> dict[str, str]:
    """Environment for CLI runs: this session's dev PKI, never the user's."""
    out = {k: v for k, v in os.environ.items() if not k.startswith("ECOPY_")}
    out["ECOPY_PKI_DIR"] = str(pki_dir)
    return out


def run_cli(args: list[str], env: dict[str, str], timeout: int = 600,
            ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ecopy.cli", *args], env=env, text=True,
                          capture_output=True, timeout=timeout, cwd=ROOT)


@pytest.fixture(scope="session")
def sample_copy(tmp_path_factory: pytest.TempPathFactory, pki_dir: Path) -> dict:
    """A store holding one real signed copy of samples/birth_cert.jpg (commune 99999), made
    once per session by `ecopy process`: {"env", "dir", "copy_id", "doc"}. Tests copy the
    directory (shutil.copytree) before writing to it."""
    import json
    import shutil

    env = {k: v for k, v in os.environ.items() if not k.startswith("ECOPY_")}
    env["ECOPY_PKI_DIR"] = str(pki_dir)
    store_dir = tmp_path_factory.mktemp("sample-copy") / "store"
    proc = run_cli(["process", str(SAMPLES / "birth_cert.jpg"), "--person-id", PERSON,
                    "--certify-all", "--out", str(store_dir), "--workers", "1", "--json",
                    "--no-progress"], env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)["documents"][0]
    assert doc["status"] == "filed", doc
    frozen = store_dir.with_name("frozen")
    shutil.copytree(store_dir, frozen)
    return {"env": env, "dir": frozen, "copy_id": doc["copy_id"], "doc": doc}


# --- S3: a real SeaweedFS server (weed mini) for the whole session ---------------------------


@pytest.fixture(scope="session")
def s3_server():
    """A running `weed mini` on 127.0.0.1 (tests.s3server.S3Server), stopped at session end."""
    from tests.s3server import S3Server

    server = S3Server()
    try:
        server.start()
        yield server
    finally:
        server.close()


@pytest.fixture
def s3_store(s3_server):
    """An S3Store on a fresh bucket of the session's server."""
    s3_server.start()  # no-op when running; restarts it if an earlier test left it stopped
    return s3_server.new_store()
