"""Cancelled certifications: one decision per copy, certifier/admin only, the copy then fails
verification (TOTAL-FAILED / CANCELLED), and the publishable list (JSON + static HTML)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from ecopy.reports.books import load_book
from ecopy.reports.cancellations import publish
from ecopy.settings import Settings
from pipeline.casework.cancellation import cancel_copy
from signing.devpki import ensure_dev_pki
from signing.verify import render_text, verify_pdf
from storage.backends import LocalStore
from storage.db.catalogue import all_cancellations, copy_row
from storage.evidence.cancellations import (
    NotAllowed,
    UnknownCopy,
    find_cancellation,
    scan_cancellations,
)
from storage.state import State
from tests.conftest import CACHED_OCR, CERTIFY_AS, CORPUS, PERSON, open_state, run_cli

REF, DATE, REASON = "15/QĐ-UBND", "2026-11-20", "Bản chính đã bị tẩy xóa, sửa chữa <b>&</b>"


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory, pki_dir: Path) -> tuple[Path, str]:
    """A real signed e-copy, made once by `ecopy process`; tests work on copies of its store."""
    store_dir = tmp_path_factory.mktemp("cancel-store")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ECOPY_")}
    env.update(CACHED_OCR)  # not about OCR
    env["ECOPY_PKI_DIR"] = str(pki_dir)
    scan = CORPUS / "tesseract-test" / "phototest.tif"
    result = run_cli(["process", *CERTIFY_AS,
                      str(scan), "--person-id", PERSON, "--out", str(store_dir),
                      "--json", "--no-progress"], env, timeout=300)
    assert result.returncode == 0, result.stderr
    (doc,) = json.loads(result.stdout)["documents"]
    assert doc["status"] == "filed"
    return store_dir, doc["copy_id"]


@pytest.fixture
def state(made: tuple[Path, str], tmp_path: Path) -> State:
    shutil.copytree(made[0], tmp_path / "store")
    return open_state(LocalStore(tmp_path / "store"))


@pytest.fixture
def store(state: State) -> LocalStore:
    return state.store


@pytest.fixture
def copy_id(made: tuple[Path, str]) -> str:
    return made[1]


def _cancel(state: State, copy_id: str, **kw: str) -> dict:
    args = {"decision_ref": REF, "decision_date": DATE, "reason": REASON,
            "actor": "Nguyễn Văn Thử", "role": "certifier", **kw}
    return cancel_copy(state, copy_id, **args)[0]


def test_certifier_cancels_once(state: State, store: LocalStore, copy_id: str) -> None:
    first = _cancel(state, copy_id)
    assert first["decision_ref"] == REF and first["decision_date"] == DATE
    assert first["register_number"] == 1 and first["person_id"] == PERSON
    again = _cancel(state, copy_id, decision_ref="99/QĐ-UBND", reason="khác")
    assert again == first  # the first decision stands
    assert find_cancellation(store, copy_id) == first
    assert scan_cancellations(store) == [first]
    with state.db.read() as s:  # the catalogue knows it too
        assert all_cancellations(s) == [first] and copy_row(s, copy_id).cancelled
    # the register book keeps the entry and shows the decision in column 9
    book = load_book(state, first["agency_code"], int(first["register_date"][:4]))
    (row,) = book.rows
    assert f"Đã hủy theo Quyết định số {REF} ngày 20/11/2026" in row.cells()[8]


def test_clerk_and_admin_are_refused(state: State, store: LocalStore, copy_id: str) -> None:
    """Decree 280/2025 Art 5: only the person who certifies may cancel; an administrator
    administers accounts and the system and does neither."""
    with pytest.raises(NotAllowed, match="certifier"):
        _cancel(state, copy_id, role="clerk")
    with pytest.raises(NotAllowed, match="certifier"):
        _cancel(state, copy_id, role="admin")
    with pytest.raises(NotAllowed):
        _cancel(state, copy_id, role="")
    assert find_cancellation(store, copy_id) is None


def test_unknown_copy_is_refused(state: State, store: LocalStore, copy_id: str) -> None:
    with pytest.raises(UnknownCopy):
        _cancel(state, "0" * 32)
    with pytest.raises(UnknownCopy):
        _cancel(state, "../../etc/passwd")
    with pytest.raises(UnknownCopy):  # another commune's copy does not exist for it
        cancel_copy(state, copy_id, decision_ref=REF, reason=REASON, actor="X",
                    role="certifier", agencies=("11111",))
    assert scan_cancellations(store) == []


def test_cancelled_copy_fails_verification(state: State, store: LocalStore, copy_id: str,
                                           pki_dir: Path) -> None:
    s = Settings()
    root = ensure_dev_pki(pki_dir, agency_name=s.agency_name, certifier_name=s.certifier_name,
                          certifier_title=s.certifier_title).root_cert()
    (pdf_key,) = [k for k in store.list("warehouse/") if k.endswith(f"{copy_id}.pdf")]
    data = store.get(pdf_key)

    def lookup(cid: str) -> dict | None:
        return find_cancellation(store, cid)

    before = verify_pdf(data, trust_roots=(), test_roots=[root], cancellation_lookup=lookup)
    assert before.indication == "TOTAL-PASSED", before.problems
    assert before.cancellation is None

    _cancel(state, copy_id)
    report = verify_pdf(data, trust_roots=(), test_roots=[root], cancellation_lookup=lookup)
    assert (report.indication, report.sub_indication) == ("TOTAL-FAILED", "CANCELLED")
    (cancelled,) = [p for p in report.problems if p.code == "cancelled"]
    for fact in (REF, DATE, REASON):
        assert fact in cancelled.detail and fact in cancelled.message_vi
    assert report.cancellation is not None and report.cancellation["copy_id"] == copy_id
    assert report.to_dict()["cancellation"]["decision_ref"] == REF
    assert REF in render_text(report) and "KHÔNG HỢP LỆ" in render_text(report)
    # the signatures themselves are still intact: only the decision makes the copy fail
    assert all(sig.indication == "TOTAL-PASSED" for sig in report.signatures)


def test_cli_cancel_and_publish(store: LocalStore, copy_id: str, env: dict[str, str],
                                tmp_path: Path) -> None:
    root = str(store.root)
    args = ["cancel", copy_id, "--decision", REF, "--reason", REASON,
            "--decision-date", DATE, "--store", root]
    refused = run_cli(args, {**env, "ECOPY_ACTOR": "Lê Thị Văn Thư", "ECOPY_ROLE": "clerk"},
                      timeout=60)
    assert refused.returncode == 1 and "certifier" in refused.stderr
    certifier = {**env, "ECOPY_ACTOR": "Nguyễn Văn Thử", "ECOPY_ROLE": "certifier"}
    done = run_cli(args, certifier, timeout=60)
    assert done.returncode == 0, done.stderr
    again = run_cli([*args, "--json"], certifier, timeout=60)
    assert again.returncode == 0 and json.loads(again.stdout)["already_cancelled"] is True
    admin = run_cli(args, {**env, "ECOPY_ACTOR": "Hồ Văn Trị", "ECOPY_ROLE": "admin"},
                    timeout=60)
    assert admin.returncode == 1 and "certifier" in admin.stderr
    # the warehouse says so, on the screen and in JSON
    listed = run_cli(["warehouse", "list", PERSON, "--out", root], {**env, "COLUMNS": "200"},
                     timeout=60)
    assert listed.returncode == 0 and "ĐÃ HỦY" in listed.stdout, listed.stdout
    listed = run_cli(["warehouse", "list", PERSON, "--out", root, "--json"], env, timeout=60)
    assert [c["cancelled"] for c in json.loads(listed.stdout)] == [True]

    out = tmp_path / "public"
    pub = run_cli(["cancellations", "publish", "--store", root, "--out", str(out)], env,
                  timeout=60)
    assert pub.returncode == 0, pub.stderr
    listing = json.loads((out / "cancellations.json").read_text(encoding="utf-8"))
    assert listing["count"] == 1
    (item,) = listing["cancellations"]
    assert item["decision_ref"] == REF and item["reason"] == REASON
    assert "person_id" not in item and "actor" not in item  # nothing personal is published
    page = (out / "cancellations.html").read_text(encoding="utf-8")
    assert '<html lang="vi">' in page and "<script" not in page
    assert "&lt;b&gt;&amp;&lt;/b&gt;" in page and "<b>&</b>" not in page
    assert REF in page and "20/11/2026" in page and copy_id in page


def test_publish_with_no_cancellations(tmp_path: Path) -> None:
    json_path, html_path = publish([], tmp_path / "out")
    assert json.loads(json_path.read_text(encoding="utf-8"))["count"] == 0
    assert "Chưa có bản sao nào bị hủy" in html_path.read_text(encoding="utf-8")


def test_cli_verify_reports_cancellation(state: State, store: LocalStore, copy_id: str,
                                         env: dict[str, str], tmp_path: Path) -> None:
    """`ecopy verify --store` consults the store's cancellation decisions."""
    (pdf_key,) = [k for k in store.list("warehouse/") if k.endswith(f"{copy_id}.pdf")]
    pdf = tmp_path / "copy.pdf"
    store.get_to_file(pdf_key, pdf)  # the store seals it: the file there is not the PDF
    before = run_cli(["verify", str(pdf), "--json", "--store", str(store.root)], env)
    assert before.returncode == 0, before.stdout
    _cancel(state, copy_id)
    after = run_cli(["verify", str(pdf), "--json", "--store", str(store.root)], env)
    report = json.loads(after.stdout)
    assert after.returncode == 1
    assert (report["indication"], report["sub_indication"]) == ("TOTAL-FAILED", "CANCELLED")
    assert REF in json.dumps(report, ensure_ascii=False)
    from storage.evidence.audit import read_events, verify_audit

    actions = [e["action"] for e in read_events(store)]
    assert actions.count("verify") == 2 and "cancel" in actions
    assert verify_audit(store) == []
