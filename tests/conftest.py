"""Shared fixtures: the external corpus, an isolated dev PKI per session, CLI runner."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

# Tests that call OCR stages directly run them as the product's pool workers do: one thread.
os.environ["OMP_THREAD_LIMIT"] = "1"

ROOT = Path(__file__).resolve().parent.parent
CORPUS = Path(os.environ.get("ECOPY_CORPUS", ROOT.parent / "shared" / "corpus"))
SAMPLES = ROOT / "samples"
PERSON = "001301012345"
# `ecopy process` signs only as a configured certifier (the TEST one of the default settings)
CERTIFY_AS = ("--certify-as", "Nguyễn Văn Thử")
# the person the test certificate is issued to, configured as the law asks of a certifier
REAL_CERTIFIER = {"ECOPY_CERTIFIER_NAME": "Trần Thị Bích",
                  "ECOPY_CERTIFIER_TITLE": "Phó Chủ tịch Ủy ban nhân dân xã",
                  "ECOPY_CERTIFIER_BASIS": "vice_chairman",
                  "ECOPY_CERTIFIER_DECISION": "15/QĐ-UBND",
                  "ECOPY_CERTIFIER_DECISION_DATE": "2026-01-05",
                  "ECOPY_CERTIFIER_SPECIMEN": "20/TB-UBND ngày 10/01/2026"}


@pytest.fixture(scope="session")
def corpus() -> Path:
    assert CORPUS.is_dir(), f"test corpus not found at {CORPUS} (set ECOPY_CORPUS)"
    return CORPUS


def at_200_dpi(scan: Path, out: Path, measured_dpi: float = 78) -> Path:
    """A real corpus scan below the legal minimum (the letters 4_1 and 4_2 are 78 dpi, which
    the law refuses: Decree 30/2020 Annex I, tests/test_quality.py) resampled to 200 dpi.
    Resampling adds no detail, but layout, text and seal are the real ones, which is what the
    copy, text-layer, layout and review tests read. The bytes are the same every run
    (remembered OCR finds them)."""
    from PIL import Image

    with Image.open(scan) as img:
        factor = 200 / measured_dpi
        big = img.convert("RGB").resize((round(img.width * factor), round(img.height * factor)),
                                        Image.Resampling.LANCZOS)
    out.parent.mkdir(parents=True, exist_ok=True)
    big.save(out, quality=92, dpi=(200, 200))
    return out


@pytest.fixture(scope="session")
def letter_200(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real letter 4_1.jpg of the corpus at 200 dpi (`at_200_dpi`), named `4_1.jpg`."""
    return at_200_dpi(corpus / "vietadmin-ocr-llm-rag" / "4_1.jpg",
                      tmp_path_factory.mktemp("letter-200") / "4_1.jpg")


@pytest.fixture(scope="session")
def pki_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("dev-pki")


_SESSION_KEK: dict[str, Path] = {}  # set once by store_kek: the file sealed() reads with


@pytest.fixture(scope="session", autouse=True)
def store_kek(pki_dir: Path) -> Path:
    """The dev KEK that every `ecopy` run of this session (ECOPY_PKI_DIR=pki_dir) seals its
    store with, made up front so that stores opened in-process (open_state, sealed) share it."""
    from ecopy.wiring import DEV_KEK_NAME
    from storage.backends.kek import ensure_kek_file

    path = pki_dir / DEV_KEK_NAME
    ensure_kek_file(path)
    _SESSION_KEK["file"] = path
    return path


def sealed(store):
    """`store` as `ecopy` opens it: sealed with this session's dev KEK (docs/encryption.md).
    A store the CLI wrote can only be read through it; files under sealed prefixes on disk
    are envelopes, not PDFs or JSON."""
    from storage.backends.kek import FileKek, Keyring
    from storage.backends.sealed import SealedStore

    if isinstance(store, SealedStore):
        return store
    return SealedStore(store, Keyring(FileKek.from_file(_SESSION_KEK["file"])))


# the scan's placement on an e-copy's page (pipeline.steps.assemble._underlay_image), upright scans:
# shifted by dx, then scaled to its size in points
PLACED = re.compile(rb"q 1 0 0 1 ([\d.]+) 0 cm ([\d.]+) [-\d.]+ [-\d.]+ ([\d.]+) "
                    rb"[-\d.]+ [-\d.]+ cm /(\S+) Do Q")


def page_content(page: Any) -> bytes:
    """A pikepdf page's content streams, joined."""
    import pikepdf

    contents = page.obj.Contents
    if isinstance(contents, pikepdf.Array):
        return b"\n".join(c.read_bytes() for c in contents)
    return contents.read_bytes()


def scan_placement(pdf_path: Path) -> tuple[float, float, float, int, int]:
    """(dx, width, height) in points of the scan on an e-copy's page 1 (it sits at the
    bottom, under the band ecopy prints in), and the scan's size in pixels."""
    import pikepdf

    with pikepdf.open(pdf_path) as pdf:
        page = pdf.pages[0]
        found = PLACED.search(page_content(page))
        assert found, page_content(page)[:300]
        image = page.Resources.XObject["/" + found[4].decode()]
        return (float(found[1]), float(found[2]), float(found[3]), int(image.Width),
                int(image.Height))


def export_copy(store_dir: Path, key: str, out: Path) -> Path:
    """The plaintext of a stored object (an e-copy PDF) of the local store at `store_dir`,
    written to `out`: what `ecopy warehouse export` does, in-process."""
    from storage.backends import LocalStore

    sealed(LocalStore(store_dir)).get_to_file(key, out)
    return out


# Tesseract's readings of page images, remembered (tests/support/fault_engines.py `cached`, kept in
# the repository): for the CLI runs of tests that are not about OCR. The tests about OCR
# (test_ocr*, test_understand, test_end_to_end, test_quality, the accuracy tests) read with
# tesseract itself.
CACHED_OCR = {"ECOPY_OCR_ENGINE": "tests.support.fault_engines:cached",
              "ECOPY_TEST_OCR_CACHE": str(ROOT / "tests" / "data" / "ocr-cache")}


@pytest.fixture
def env(pki_dir: Path) -> dict[str, str]:
    """Environment for CLI runs: this session's dev PKI, never the user's; remembered OCR."""
    out = {k: v for k, v in os.environ.items() if not k.startswith("ECOPY_")}
    out["ECOPY_PKI_DIR"] = str(pki_dir)
    out.update(CACHED_OCR)
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
    env.update(CACHED_OCR)
    store_dir = tmp_path_factory.mktemp("sample-copy") / "store"
    proc = run_cli(["process", *CERTIFY_AS, str(SAMPLES / "birth_cert.jpg"), "--person-id",
                    PERSON,
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
    """A running `weed mini` on 127.0.0.1 (tests.support.s3server.S3Server), stopped at session
    end."""
    from tests.support.s3server import S3Server

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


# --- the database of working state -----------------------------------------------------------


def open_state(store, url: str | None = None, password: str | None = None):
    """The State the steps take, over `store` (sealed as `ecopy` seals it): the embedded
    SQLite file beside a local store, or the database at `url` (PostgreSQL), upgraded to the
    code's schema."""
    from pipeline.casework.deadlines import ProcedureDeadlines
    from storage.db import Database, sqlite_url
    from storage.db.migrate import upgrade
    from storage.state import State

    store = sealed(store)
    db = Database(url or sqlite_url(store.root), password=password)
    upgrade(db)
    return State(store, db, ProcedureDeadlines())


def desk(state, agency: str = "99999", person_id: str = PERSON):
    """The dossier `ecopy process` would file `person_id`'s papers in at `agency`."""
    from storage.db.dossiers import desk_dossier

    with state.db.write() as s:
        return desk_dossier(s, agency=agency, person_id=person_id, opened_by="ecopy",
                            deadlines=state.deadlines)


@pytest.fixture(scope="session")
def pg_server():
    """A PostgreSQL server of this test session (tests.support.pgserver), stopped at its end."""
    from tests.support.pgserver import PostgresServer

    server = PostgresServer()
    try:
        server.start()
        yield server
    finally:
        server.close()


@pytest.fixture
def pg_url(pg_server) -> str:
    """A fresh, empty PostgreSQL database of the session's server (no password in it)."""
    return pg_server.new_database()


def pg_settings(server) -> dict[str, str]:
    """The environment of an ecopy deployment on a fresh database of `server`, upgraded to
    the code's schema (as `ecopy db upgrade` in the set-up or compose would)."""
    from storage.db import Database
    from storage.db.migrate import upgrade

    url = server.new_database()
    db = Database(url, password=server.password)
    try:
        upgrade(db)
    finally:
        db.close()
    return {"ECOPY_DATABASE_URL": url, "ECOPY_DATABASE_PASSWORD_FILE": str(server.password_file)}


@pytest.fixture(params=["sqlite", "postgresql"])
def engine_url(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str | None]:
    """(database URL, password): every contract test runs on both engines."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'contract.sqlite3'}", None
    server = request.getfixturevalue("pg_server")
    return server.new_database(), server.password


def sign_in(client, user: str, password: str, next: str = "/", base: str = ""):
    """Sign in as a browser does: open the form (which sets the login token's cookie), then
    post it with the token. `client` is a TestClient or a requests.Session (then `base`)."""
    import re

    page = client.get(f"{base}/login")
    token = re.search(r'name="ltoken" value="([^"]+)"', page.text)
    assert token, page.text[:500]
    return client.post(f"{base}/login", data={"username": user, "password": password,
                                              "next": next, "ltoken": token.group(1)},
                       **({"allow_redirects": False} if base else {}))
