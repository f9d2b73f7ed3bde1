"""The quality gate on real scans and on real scans made worse in known ways."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from PIL import Image, ImageEnhance, ImageFilter

from pipeline.limits import Limits
from pipeline.reasons import Reason, Rejected
from pipeline.steps.quality import assess
from tests.conftest import CACHED_OCR, CERTIFY_AS, PERSON, ROOT, run_cli

# the gate's other checks are measured on a real 82-dpi letter: read with the resolution gate
# lowered, as an evaluation may (a copy below 200 dpi is never certified whatever it says)
LIMITS = Limits(refuse_below_dpi=50)

@pytest.fixture
def env(env: dict[str, str]) -> dict[str, str]:
    """This module is about reading the papers: tesseract itself, never remembered OCR."""
    return {k: v for k, v in env.items() if k not in CACHED_OCR}



@pytest.fixture(scope="module")
def scan_4_1(corpus: Path) -> Image.Image:
    """A real Vietnamese administrative letter, photographed/scanned at 82 dpi."""
    with Image.open(corpus / "vietadmin-ocr-llm-rag" / "4_1.jpg") as img:
        return img.convert("L")


@pytest.fixture(scope="module")
def sample_300() -> Image.Image:
    with Image.open(ROOT / "samples" / "birth_cert.jpg") as img:
        return img.convert("RGB")


def test_good_scans_pass_clean(sample_300: Image.Image, corpus: Path) -> None:
    report = assess(sample_300, 300, LIMITS)
    assert report.flags == ()
    assert report.metrics["dpi"] == 300 and report.metrics["dpi_source"] == "metadata"
    with Image.open(corpus / "tesseract-test" / "eurotext.tif") as img:
        bilevel = assess(img, 300, LIMITS)
    assert bilevel.flags == () and bilevel.metrics["colour"] == "bilevel"


def test_below_200_dpi_is_refused_by_default(scan_4_1: Image.Image) -> None:
    """Decree 30/2020 Annex I: scans at 200 dpi or more; the default gate refuses below."""
    with pytest.raises(Rejected) as refused:
        assess(scan_4_1, 82, Limits())
    assert refused.value.reason == Reason.LOW_RESOLUTION
    assert refused.value.params == {"dpi": 82, "limit": 200}
    assert "200 dpi" in refused.value.message("vi") and "100 %" in refused.value.message("en")


def test_a_lowered_gate_reads_low_scans_and_holds_them(scan_4_1: Image.Image) -> None:
    assert assess(scan_4_1, 82, LIMITS).flags == ("low_resolution",)
    tiny = scan_4_1.resize((scan_4_1.width // 2, scan_4_1.height // 2))
    with pytest.raises(Rejected) as rejected:
        assess(tiny, 41, LIMITS)
    assert rejected.value.reason == Reason.LOW_RESOLUTION
    assert rejected.value.params == {"dpi": 41, "limit": 200}


def test_lying_metadata_is_replaced_by_the_text_height_estimate(sample_300: Image.Image) -> None:
    """The JPEG says 72 dpi, which would make this A4 page 48 inches tall."""
    report = assess(sample_300, 72, LIMITS)
    assert report.metrics["dpi_source"] == "text"
    assert 200 <= report.metrics["dpi"] <= 420, report.metrics
    assert "low_resolution" not in report.flags


def test_blur(scan_4_1: Image.Image, sample_300: Image.Image) -> None:
    assert assess(scan_4_1.filter(ImageFilter.GaussianBlur(2)), 82, LIMITS).flags == (
        "low_resolution", "blurry")
    with pytest.raises(Rejected) as rejected:
        assess(scan_4_1.filter(ImageFilter.GaussianBlur(3)), 82, LIMITS)
    assert rejected.value.reason == Reason.BLURRY
    # the same blur in millimetres is milder on a 300 dpi scan: measured at 150 dpi
    assert "blurry" not in assess(sample_300.filter(ImageFilter.GaussianBlur(2)), 300,
                                  LIMITS).flags


def test_exposure(sample_300: Image.Image) -> None:
    dim = ImageEnhance.Brightness(sample_300)
    assert "too_dark" in assess(dim.enhance(0.4), 300, LIMITS).flags
    with pytest.raises(Rejected) as dark:
        assess(dim.enhance(0.2), 300, LIMITS)
    assert dark.value.reason == Reason.TOO_DARK
    faint = ImageEnhance.Contrast(sample_300)
    assert "too_light" in assess(faint.enhance(0.3), 300, LIMITS).flags
    with pytest.raises(Rejected) as light:
        assess(faint.enhance(0.1), 300, LIMITS)
    assert light.value.reason == Reason.TOO_LIGHT


@pytest.mark.parametrize("angle", [-6, 5])
def test_skew_measured_and_flagged(scan_4_1: Image.Image, angle: float) -> None:
    report = assess(scan_4_1.rotate(angle, expand=True, fillcolor=255), 82, LIMITS)
    assert abs(report.metrics["skew_deg"] - angle) <= 0.5
    assert "skewed" in report.flags


def test_small_skew_and_sideways_pages_are_fine(scan_4_1: Image.Image) -> None:
    assert assess(scan_4_1.rotate(2, expand=True, fillcolor=255), 82, LIMITS).flags == (
        "low_resolution",)
    sideways = assess(scan_4_1.rotate(90, expand=True), 82, LIMITS)  # OSD turns these
    assert abs(sideways.metrics["skew_deg"]) <= 0.5


def test_thresholds_are_settings(scan_4_1: Image.Image) -> None:
    assert assess(scan_4_1, 82, replace(LIMITS, review_below_dpi=80)).flags == ()


def test_cli_review_and_rejection_messages(tmp_path: Path, env: dict[str, str],
                                           corpus: Path, scan_4_1: Image.Image) -> None:
    blurred = tmp_path / "blurred.png"
    scan_4_1.filter(ImageFilter.GaussianBlur(4)).save(blurred, dpi=(82, 82))
    store = tmp_path / "store"
    refused = run_cli(["process", *CERTIFY_AS, str(corpus / "vietadmin-ocr-llm-rag" / "4_1.jpg"),
                       "--person-id", PERSON, "--out", str(store), "--json"], env)
    (low,) = json.loads(refused.stdout)["documents"]
    assert (low["status"], low["reason"]) == ("rejected", "low_resolution"), low
    assert "200 dpi" in low["message"] and "100 %" in low["message"]
    assert (store / "originals" / low["sha256"]).is_file()  # the original is kept
    env = {**env, "ECOPY_REFUSE_BELOW_DPI": "50"}  # read them anyway (other checks below)
    done = run_cli(["process", *CERTIFY_AS,
                    str(corpus / "vietadmin-ocr-llm-rag" / "4_1.jpg"), str(blurred),
                    "--person-id", PERSON, "--out", str(store), "--json", "--new-dossier"],
                   env)
    docs = {Path(d["source"]).name: d for d in json.loads(done.stdout)["documents"]}
    review = docs["4_1.jpg"]
    assert review["status"] == "needs_review" and "low_resolution" in review["review_reasons"]
    assert "82 dpi" in review["message"] and "200 dpi" in review["message"]
    bad = docs["blurred.png"]
    assert (bad["status"], bad["reason"]) == ("rejected", "blurry")
    assert "quét lại" in bad["message"]  # Vietnamese, and it says what to do
    assert (store / "originals" / bad["sha256"]).is_file()  # the original is kept
    english = run_cli(["process", *CERTIFY_AS,
                       str(blurred), "--person-id", PERSON, "--out", str(store),
                       "--json", "--lang", "en"], env)
    (again,) = json.loads(english.stdout)["documents"]
    assert "scan again" in again["message"]


def test_a_scan_below_200_dpi_is_never_certified(tmp_path: Path, env: dict[str, str],
                                                 corpus: Path) -> None:
    """Neither a lowered gate, nor --certify-all, nor a certifier's approval after review
    makes a copy of an 82-dpi scan (issue 16 point 4)."""
    store = tmp_path / "store"
    low = {**env, "ECOPY_REFUSE_BELOW_DPI": "50", "ECOPY_STORE": str(store)}
    letter = str(corpus / "vietadmin-ocr-llm-rag" / "4_1.jpg")
    forced = run_cli(["process", *CERTIFY_AS, letter, "--certify-all", "--person-id", PERSON,
                      "--json"], low)
    (doc,) = json.loads(forced.stdout)["documents"]
    assert (doc["status"], doc["reason"]) == ("rejected", "low_resolution"), doc
    held = run_cli(["process", letter, "--person-id", PERSON, "--json", "--new-dossier"], low)
    (doc,) = json.loads(held.stdout)["documents"]
    assert doc["status"] == "needs_review" and "low_resolution" in doc["review_reasons"]
    approved = run_cli(["review", "approve", doc["case_id"], "--json"],
                       {**low, "ECOPY_ROLE": "certifier", "ECOPY_ACTOR": CERTIFY_AS[1]})
    assert approved.returncode == 1, approved.stdout + approved.stderr
    result = json.loads(approved.stdout)
    assert (result["status"], result["reason"]) == ("rejected", "low_resolution"), result
    assert "200 dpi" in result["message"]
    assert not list(store.glob("warehouse/**/*.pdf"))
    assert (store / "originals" / doc["sha256"]).is_file()
