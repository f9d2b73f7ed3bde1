"""Splitting a file that holds several papers (issue 16 point 3; Decree 23/2015 Art 13: one
number per original paper). The clerk splits on the command line or on the review page; each
part is a new case of the dossier, read again, and the uploaded file stays stored."""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from dataclasses import replace
from pathlib import Path

import pikepdf
import pytest
from fastapi.testclient import TestClient
from PIL import Image, ImageChops

from ecopy import accounts
from ecopy.settings import load_settings
from ecopy.web.app import create_app
from pipeline.reasons import EcopyError
from pipeline.steps.split import parse_parts, parts_text, proposed_parts, write_parts
from storage.backends import LocalStore
from storage.db.cases import cases_of_dossier, get_case
from storage.db.dossiers import open_dossier
from storage.evidence.originals import original_key
from tests.conftest import CACHED_OCR, PERSON, ROOT, open_state, run_cli, sign_in

SAMPLES = ROOT / "samples"
PASSWORD = "mật khẩu đủ dài 2026"


def _pdf(out: Path, *images: Path) -> Path:
    pages = [Image.open(p).convert("RGB") for p in images]
    pages[0].save(out, save_all=True, append_images=pages[1:], resolution=300.0)
    return out


def test_the_clerks_split_covers_every_page_once_in_order() -> None:
    assert parse_parts("1; 2-3", 3) == [(0, 0), (1, 2)]
    assert parse_parts(" 1 , 2 – 3 ", 3) == [(0, 0), (1, 2)]  # comma, en dash, spaces
    for bad in ("1", "1; 3", "2; 1", "1; 2-4", "1-2; 2-3", "a; b", "", "1; 2"):
        with pytest.raises(ValueError):
            parse_parts(bad, 3)
    with pytest.raises(ValueError, match="mỗi trang"):
        parse_parts("1; 3", 3)
    assert proposed_parts([(0, "birth_cert"), (2, "citizen_id")], 4) == [(0, 1), (2, 3)]
    assert proposed_parts([(1, "birth_cert"), (2, "citizen_id")], 3) == [(0, 1), (2, 2)]
    assert parts_text([(0, 0), (1, 2)]) == "1; 2-3"


def test_parts_keep_their_pages_as_they_were(tmp_path: Path) -> None:
    """PDF pages are copied with their image streams byte for byte; TIFF frames keep their
    pixels; a single image has nothing to split."""
    pdf = _pdf(tmp_path / "ba-trang.pdf", SAMPLES / "birth_cert.jpg", SAMPLES / "citizen_id.png",
               SAMPLES / "birth_cert.jpg")
    first, second = write_parts(pdf, "pdf", [(0, 0), (1, 2)], tmp_path / "out", "hồ sơ.pdf")
    assert (first.name, second.name) == ("hồ sơ (trang 1).pdf", "hồ sơ (trang 2-3).pdf")

    def streams(path: Path) -> list[bytes]:
        with pikepdf.open(path) as doc:
            return [img.read_raw_bytes() for page in doc.pages
                    for _, img in page.Resources.XObject.items()]

    assert streams(first) + streams(second) == streams(pdf)
    tiff = tmp_path / "hai.tif"
    frames = [Image.open(SAMPLES / "citizen_id.png").convert("RGB"),
              Image.open(SAMPLES / "birth_cert.jpg").convert("RGB")]
    frames[0].save(tiff, save_all=True, append_images=frames[1:], compression="tiff_deflate")
    parts = write_parts(tiff, "tiff", [(0, 0), (1, 1)], tmp_path / "tif")
    for part, frame in zip(parts, frames, strict=True):
        with Image.open(part) as img:
            assert getattr(img, "n_frames", 1) == 1
            assert not ImageChops.difference(img.convert("RGB"), frame).getbbox()
    with pytest.raises(EcopyError):
        write_parts(SAMPLES / "birth_cert.jpg", "jpeg", [(0, 0), (1, 1)], tmp_path / "jpg")


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory, pki_dir: Path) -> tuple[Path, str]:
    """A birth certificate and an ID card in one PDF, taken into a dossier of commune 99999
    (with accounts) by the real CLI: the case waits with `mixed_documents`."""
    root = tmp_path_factory.mktemp("split")
    store_dir = root / "store"
    two = _pdf(root / "hai-giay.pdf", SAMPLES / "birth_cert.jpg", SAMPLES / "citizen_id.png")
    env = _env(pki_dir, store_dir)
    state = open_state(LocalStore(store_dir))
    accounts.create(state.db, "lan", "Trần Thị Lan", "clerk", "99999", PASSWORD)
    with state.db.write() as s:
        dossier = open_dossier(s, agency="99999", person_id=PERSON,
                               person_name="Nguyễn Văn An", date_of_birth="",
                               opened_by="lan", deadlines=state.deadlines)
    state.db.close()
    done = run_cli(["process", str(two), "--person-id", PERSON, "--json", "--no-progress",
                    "--dossier", dossier.public_code], env, timeout=600)
    (doc,) = json.loads(done.stdout)["documents"]
    assert doc["status"] == "needs_review" and "mixed_documents" in doc["review_reasons"], doc
    return store_dir, doc["case_id"]


def _env(pki_dir: Path, store_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ECOPY_")}
    env.update(CACHED_OCR)  # about splitting, not about reading
    env.update(ECOPY_PKI_DIR=str(pki_dir), ECOPY_STORE=str(store_dir), ECOPY_WORKERS="1",
               ECOPY_COMMUNE="99999", ECOPY_ACTOR="lan", ECOPY_ROLE="clerk")
    return env


def _copy(mixed: tuple[Path, str], tmp_path: Path) -> Path:
    shutil.copytree(mixed[0], tmp_path / "store")
    return tmp_path / "store"


def _check_split(store_dir: Path, case_id: str, new_ids: list[str]) -> None:
    """The file's case ended split, the file is still stored, each part is a case of the
    same dossier read as its own paper, and the audit log links them."""
    state = open_state(LocalStore(store_dir))
    with state.db.read() as s:
        old = get_case(s, case_id)
        parts = [get_case(s, c) for c in new_ids]
        siblings = {c["case_id"] for c in cases_of_dossier(s, old["dossier_id"])}
    assert (old["status"], old["reason"]) == ("rejected", "split_into_papers"), old
    assert "2 giấy tờ" in old["message"] and "1; 2" in old["message"]
    assert state.store.exists(original_key(old["sha256"]))
    assert set(new_ids) <= siblings and len(new_ids) == 2
    assert [p["doc_type"] for p in parts] == ["birth_cert", "citizen_id"]
    assert [p["split_from"]["pages"] for p in parts] == ["1", "2"]
    assert {p["status"] for p in parts} <= {"needs_review", "ready"}
    assert all(p["pages"] == 1 and p["sha256"] != old["sha256"] for p in parts)
    events = [json.loads(p.read_text()) for p in sorted((store_dir / "audit").rglob("0*.json"))]
    (split,) = [e for e in events if e["action"] == "split"]
    assert split["actor"] == "lan" and split["object_sha256"] == old["sha256"]
    assert [p["case_id"] for p in split["details"]["parts"]] == new_ids
    state.db.close()


def test_the_clerk_splits_on_the_command_line(mixed, tmp_path: Path, pki_dir: Path) -> None:
    store_dir = _copy(mixed, tmp_path)
    env = _env(pki_dir, store_dir)
    shown = run_cli(["review", "show", mixed[1]], env)
    assert f'ecopy review split {mixed[1]} --pages "1; 2"' in shown.stdout, shown.stdout
    bad = run_cli(["review", "split", mixed[1], "--pages", "1-2"], env)
    assert bad.returncode == 2 and "hai giấy" in bad.stderr, bad.stderr
    done = run_cli(["review", "split", mixed[1], "--json"], env, timeout=600)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["split"] == "1; 2"
    _check_split(store_dir, mixed[1], [p["case_id"] for p in result["parts"]])
    from storage.db.access import of_person

    state = open_state(LocalStore(store_dir))
    with state.db.read() as s:
        shown = {(r.actor, r.ref) for r in of_person(s, PERSON)}
    state.db.close()
    assert {("lan", p["case_id"]) for p in result["parts"]} <= shown  # shown parts are audited
    again = run_cli(["review", "split", mixed[1]], env)
    assert again.returncode == 1  # split already: the case no longer waits


def test_the_clerk_splits_on_the_review_page(mixed, tmp_path: Path, pki_dir: Path) -> None:
    store_dir = _copy(mixed, tmp_path)
    state = open_state(LocalStore(store_dir))
    settings = replace(load_settings(_env(pki_dir, store_dir)), web_secure_cookies=False)
    app = create_app(settings, state)
    with TestClient(app, follow_redirects=False) as client:
        assert sign_in(client, "lan", PASSWORD).status_code == 303
        page = client.get(f"/documents/{mixed[1]}/review")
        assert 'data-testid="split-pages"' in page.text and 'value="1; 2"' in page.text
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
        wrong = client.post(f"/documents/{mixed[1]}/split", data={"csrf": csrf, "pages": "1"})
        assert wrong.status_code == 400 and "còn thiếu trang 2" in wrong.text
        assert client.post(f"/documents/{mixed[1]}/split",
                           data={"pages": "1; 2"}).status_code == 403  # no CSRF token
        done = client.post(f"/documents/{mixed[1]}/split", data={"csrf": csrf, "pages": "1; 2"})
        assert done.status_code == 303 and done.headers["location"].endswith("?split=2")
        assert "2 giấy tờ" in client.get(done.headers["location"]).text
        deadline = time.monotonic() + 300
        while True:  # the parts are read in the background, as uploads are
            with state.db.read() as s:
                old = get_case(s, mixed[1])
                parts = [c for c in cases_of_dossier(s, old["dossier_id"])
                         if c["case_id"] != mixed[1]]
            if len(parts) == 2 and all(c["status"] not in ("received", "ocr") for c in parts):
                break
            assert time.monotonic() < deadline, parts
            time.sleep(0.5)
    order = sorted(parts, key=lambda c: c["split_from"]["pages"])
    _check_split(store_dir, mixed[1], [c["case_id"] for c in order])
