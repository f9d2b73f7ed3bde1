"""What a user sees on stderr is ecopy's own: no library deprecation notices, and the
environment is exactly the locked one (the lock is what the tests passed with)."""

from __future__ import annotations

import os
import re
from importlib import metadata
from pathlib import Path

from tests.conftest import ROOT, run_cli


def _env(pki_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("ECOPY_") and k != "PYTHONWARNINGS"}
    env["ECOPY_PKI_DIR"] = str(pki_dir)
    return env


def test_commands_that_load_pyhanko_print_nothing_on_stderr(corpus: Path, pki_dir: Path
                                                             ) -> None:
    env = _env(pki_dir)
    signed = corpus / "vietadmin-ocr-llm-rag" / "3.pdf"  # signed by other software
    proc = run_cli(["verify", str(signed), "--json"], env)
    assert proc.returncode in (0, 1, 3), proc.stderr
    assert proc.stderr == ""
    proc = run_cli(["pki", "show"], env)
    assert proc.returncode == 0 and proc.stderr == ""


def test_library_warnings_come_back_when_python_is_asked_for_them(pki_dir: Path) -> None:
    env = _env(pki_dir) | {"PYTHONWARNINGS": "always::DeprecationWarning,"
                                             "always::UserWarning"}
    proc = run_cli(["pki", "show"], env)
    assert proc.returncode == 0
    assert "DSA is deprecated" in proc.stderr  # cryptography >= 51 under pyHanko 0.38


def test_installed_packages_are_the_locked_versions() -> None:
    pinned = re.findall(r"^([A-Za-z0-9_.\-]+)==([^\s;]+)(?: ; ([^\\]+?))? \\$",
                        (ROOT / "requirements-dev.lock").read_text(), re.M)
    assert len(pinned) > 50
    from packaging.markers import Marker

    checked = 0
    for name, version, marker in pinned:
        if marker and not Marker(marker).evaluate():
            continue
        assert metadata.version(name) == version, name
        checked += 1
    assert checked > 50
