"""The learned document-type model: calibrated answers, abstention, safe files, retraining
from clerks' corrections, and the version recorded with each classification."""

from __future__ import annotations

import io
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from pipeline.casework.status import claim, save_status
from pipeline.doctypes.model import (
    BASE_CORPUS,
    DoctypeModel,
    Example,
    active_model,
    bundled_model,
    read_corpus,
    train,
)
from pipeline.flow import save_ocr
from pipeline.steps.classify import classify
from pipeline.types import DocStatus
from storage.backends import LocalStore
from storage.db.cases import get_case
from storage.db.dossiers import open_dossier
from tests.conftest import open_state, run_cli
from tests.test_understand import page_of

MOTTO = ["CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc"]


@pytest.mark.parametrize(("title", "doc_type"), [
    ("GIẤY KHAI SINH", "birth_cert"),
    ("GIAY KHAI SINH", "birth_cert"),  # tone marks lost by OCR
    ("GIẤY KHAI  SI NH", "birth_cert"),  # a word broken by OCR
    ("GIÂY CHỨNG NHẠN KÊT HÔN", "marriage_cert"),  # wrong tone marks
    ("TRÍCH LỤC KHAI TỬ", "death_extract"),
    ("GIẤY XÁC NHẬN TÌNH TRẠNG HÔN NHÂN", "marital_status"),
    ("GIẤY CHỨNG NHẬN ĐĂNG KÝ DOANH NGHIỆP", "business_registration"),
    ("GIẤY CHỨNG NHẬN QUYỀN SỬ DỤNG ĐẤT", "land_use_cert"),
])
def test_titles_are_recognised_with_confidence(title: str, doc_type: str) -> None:
    result = classify([page_of([*MOTTO, title, "Họ, chữ đệm, tên: NGUYỄN VĂN AN",
                                "Ngày, tháng, năm sinh: 01/02/1990"])])
    assert result.doc_type == doc_type
    assert not result.abstains, result
    assert result.model == bundled_model().name and result.method == "model"


def test_no_text_abstains() -> None:
    result = classify([page_of([])])
    assert result.abstains and result.doc_type == "other"


def test_garbled_text_is_not_answered_with_confidence() -> None:
    """Upside-down OCR garbage (as tesseract gives on a card back it failed to turn)."""
    garbage = [">>>>>>>>>>>>>>0Nf\\ML>NVnX>>NVHd", "S>>>>>>>>>>>lLÌNA68Z0TT£€NT8/0TT6",
               "1u2 Buonuda 27", "10H WX AL LÿML 3A HNIHD HNVH ~1 NYNO"]
    page = page_of(garbage)
    unsure = replace(page, mean_conf=55.0,  # what tesseract reports for such pages
                     words=tuple(replace(w, conf=55.0) for w in page.words))
    assert classify([unsure]).abstains
    # the same words read with high confidence are taken as text in another language
    assert not classify([page]).abstains or classify([page]).confidence < 0.5


def test_confidence_is_calibrated_on_the_base_corpus() -> None:
    """Out of fold, the answered documents are right at least as often as the model claims."""
    meta = bundled_model().meta["out_of_fold"]
    assert meta["answered_accuracy"] >= 0.98
    assert meta["abstention"] <= 0.10
    assert 0.5 <= bundled_model().threshold < 1.0


def test_model_file_round_trips_and_never_unpickles(tmp_path: Path) -> None:
    model = bundled_model()
    again = DoctypeModel.from_bytes(model.to_bytes())
    page = page_of([*MOTTO, "GIẤY KHAI SINH"])
    assert again.classify([page]).confidence == model.classify([page]).confidence
    buf = io.BytesIO()
    np.savez(buf, vocabulary=np.array([object()], dtype=object), meta=np.array("{}"))
    with pytest.raises(ValueError):
        DoctypeModel.from_bytes(buf.getvalue())


def test_a_model_of_another_registry_refuses_to_load(monkeypatch: pytest.MonkeyPatch) -> None:
    """The model records the rule features it was trained with (issue 17 point 6): against a
    registry with other types or other title phrases it does not load, and says why."""
    from pipeline.doctypes import model as model_module
    from pipeline.doctypes import titles

    data = bundled_model().to_bytes()
    assert DoctypeModel.from_bytes(data).version == bundled_model().version
    monkeypatch.setitem(titles.TITLE_PATTERNS, "adoption_cert", ("GIAYCHUNGNHANNUOICONNUOI",))
    with pytest.raises(model_module.RegistryMismatch, match="retrain"):
        DoctypeModel.from_bytes(data)
    monkeypatch.delitem(titles.TITLE_PATTERNS, "adoption_cert")
    meta = json.loads(str(np.load(io.BytesIO(data))["meta"]))
    meta["classes"] = [*meta["classes"], "adoption_cert"]
    with pytest.raises(model_module.RegistryMismatch, match="adoption_cert"):
        model_module.check_registry(meta)
    meta["classes"].pop()
    meta["features"]["rules_sha256"] = "0" * 64  # trained with other phrases for the same types
    with pytest.raises(model_module.RegistryMismatch, match="title phrases"):
        model_module.check_registry(meta)
    meta["features"]["rules_sha256"] = model_module.rules_digest()
    model_module.check_registry(meta)


def test_bundled_corpus_is_the_models_training_data() -> None:
    examples = read_corpus()
    trained = bundled_model().meta["trained_on"]
    assert trained["documents"] + trained["left_out_unreadable"] == len(examples)
    from pipeline.doctypes.model import corpus_digest
    assert trained["digest"] == corpus_digest(examples)
    assert BASE_CORPUS.stat().st_size < 1_000_000


HOUSEHOLD = [*MOTTO, "UBND HUYỆN {district}", "PHÒNG TÀI CHÍNH - KẾ HOẠCH",
             "GIẤY CHỨNG NHẬN ĐĂNG KÝ HỘ KINH DOANH", "Số: {n}/HKD",
             "1. Tên hộ kinh doanh: TIỆM {shop}", "2. Địa điểm kinh doanh: thôn {village}",
             "3. Ngành, nghề kinh doanh: bán lẻ", "4. Vốn kinh doanh: 50.000.000 đồng",
             "5. Chủ thể thành lập hộ kinh doanh: {owner}"]
SHOPS = [("Hòa Vang", "TẠP HÓA AN", "Đông", "Lê Văn Tám"),
         ("Nghi Lộc", "SỬA XE MINH", "Trung", "Phạm Thị Hoa"),
         ("Củ Chi", "BÁNH MÌ HẢI", "Tây", "Trần Quốc Hải"),
         ("Hoa Lư", "VẢI SỢI LAN", "Nam", "Đỗ Thị Lan"),
         ("Cẩm Mỹ", "NÔNG SẢN PHÚC", "Bắc", "Vũ Đình Phúc"),
         ("Tiên Du", "ĐIỆN MÁY THÀNH", "Thượng", "Ngô Văn Thành")]


def household(n: int) -> list:
    district, shop, village, owner = SHOPS[n]
    return [page_of([line.format(district=district, n=100 + n, shop=shop, village=village,
                                 owner=owner) for line in HOUSEHOLD])]


def test_retrain_learns_from_corrections_and_is_recorded(tmp_path: Path,
                                                         env: dict[str, str]) -> None:
    """Household-business certificates are not in the base corpus; clerks file five as
    business_registration; the retrained model classifies a sixth by itself."""
    root = tmp_path / "store"
    state = open_state(LocalStore(root))
    store, db = state.store, state.db
    senv = {**env, "ECOPY_STORE": str(root), "ECOPY_ACTOR": "clerk.lan"}
    with db.write() as s:
        dossier = open_dossier(s, agency="99999", person_id="001301012345", person_name="",
                               date_of_birth="", opened_by="clerk.lan",
                               deadlines=state.deadlines)
    before = classify(household(5))
    assert before.doc_type != "business_registration" or before.abstains, before

    refused = run_cli(["model", "retrain"], senv)
    assert refused.returncode == 1 and "nothing to learn" in refused.stderr
    case_ids = []
    for n in range(5):
        sha = f"{n:064x}"
        pages = household(n)
        save_ocr(store, sha, pages)
        machine = classify(pages, model=active_model(store, db))
        case, _ = claim(state, dossier, sha, name=f"hkd-{n}.jpg", size=1,
                        person_id=dossier.person_id, actor="ecopy")
        save_status(state, case["case_id"], DocStatus.NEEDS_REVIEW, actor="ecopy",
                    doc_type=machine.doc_type, fields=[], review_reasons=["low_confidence"])
        case_ids.append(case["case_id"])
        fixed = run_cli(["review", "correct", sha, "--doc-type", "business_registration"], senv)
        assert fixed.returncode == 0, fixed.stderr

    not_admin = run_cli(["model", "retrain", "--activate"], senv)
    assert not_admin.returncode == 1 and "admin" in not_admin.stderr
    admin = {**senv, "ECOPY_ROLE": "admin", "ECOPY_ACTOR": "admin.tinh"}
    made = run_cli(["model", "retrain", "--activate", "--json"], admin)
    assert made.returncode == 0, made.stderr
    summary = json.loads(made.stdout)
    assert summary["version"] == "doctype-2" and summary["active"]
    assert summary["corrections"] == 5

    model = active_model(store, db)
    assert model.version == "doctype-2" and model.sha256 == summary["sha256"]
    after = classify(household(5), model=model)
    assert after.doc_type == "business_registration" and not after.abstains, after
    assert after.model == f"doctype-2@{summary['sha256'][:12]}"
    # what the base corpus taught is kept
    assert classify([page_of([*MOTTO, "GIẤY KHAI SINH"])], model=model).doc_type == "birth_cert"

    # versions are never overwritten; activation is reversible and audited
    listed = run_cli(["model", "list", "--json"], senv)
    assert [(r["version"], r["active"]) for r in json.loads(listed.stdout)] == [
        ("doctype-1", False), ("doctype-2", True)]
    back = run_cli(["model", "activate", "doctype-1"], admin)
    assert back.returncode == 0 and "was doctype-2" in back.stdout
    assert active_model(store, db).version == "doctype-1"
    events = [json.loads(p.read_text()) for p in sorted((root / "audit").rglob("0*.json"))]
    acts = [(e["details"]["act"], e["details"]["version"]) for e in events
            if e["action"] == "model"]
    assert acts == [("retrain", "doctype-2"), ("activate", "doctype-2"),
                    ("activate", "doctype-1")]
    with db.read() as s:
        corrected = get_case(s, case_ids[0])["corrections"]["doc_type"]
    assert corrected == "business_registration"


def test_training_refuses_unknown_types() -> None:
    with pytest.raises(ValueError, match="unknown document types"):
        train([Example("GIAY KHAI SINH", (0.0,) * 18, "passport")] * 4, "x")
