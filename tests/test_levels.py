"""Settings that shape certification: PAdES level at signing time, and the register book."""

from __future__ import annotations

import json
from pathlib import Path

from storage.backends import LocalStore
from tests.conftest import CERTIFY_AS, PERSON, export_copy, run_cli, sealed


def _process(scan: Path, store: Path, env: dict[str, str]) -> dict:
    proc = run_cli(["process", *CERTIFY_AS,
                    str(scan), "--person-id", PERSON, "--out", str(store), "--json",
                    "--certify-all"], env)
    assert proc.returncode == 0, proc.stderr
    (doc,) = json.loads(proc.stdout)["documents"]
    assert doc["status"] == "filed", doc
    return doc


def test_b_lta_by_setting_verifies_offline_with_revocation_required(
        corpus: Path, env: dict[str, str], tmp_path: Path) -> None:
    doc = _process(corpus / "tesseract-test/phototest.tif", tmp_path,
                   {**env, "ECOPY_PADES_LEVEL": "B-LTA"})
    copy = export_copy(tmp_path, doc["ecopy_path"], tmp_path / "copy.pdf")
    proc = run_cli(["verify", str(copy), "--json", "--revocation", "require"], env)
    report = json.loads(proc.stdout)
    assert proc.returncode == 0, report["problems"]
    assert {s["pades_level"] for s in report["signatures"]} == {"B-LTA"}


def test_new_book_continues_the_year_numbering(corpus: Path, env: dict[str, str],
                                               tmp_path: Path) -> None:
    first = _process(corpus / "tesseract-test/phototest.tif", tmp_path, env)
    second = _process(corpus / "tesseract-test/eurotext.tif", tmp_path,
                      {**env, "ECOPY_REGISTER_BOOK": "02/2026"})
    assert (first["register_number"], second["register_number"]) == (1, 2)
    store = sealed(LocalStore(tmp_path))  # the register is sealed: read it through the store
    entries = [k for k in store.list("register/") if k.rsplit("/", 1)[-1][0].isdigit()]
    books = [json.loads(store.get(k))["book"] for k in entries]
    assert books[0].startswith("01/") and books[1] == "02/2026"


def test_bad_level_is_a_settings_error(env: dict[str, str], tmp_path: Path) -> None:
    proc = run_cli(["warehouse", "list", PERSON, "--out", str(tmp_path)],
                   {**env, "ECOPY_PADES_LEVEL": "B-X"})
    assert proc.returncode == 2 and "ECOPY_PADES_LEVEL" in proc.stderr
