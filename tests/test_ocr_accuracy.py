"""Real OCR on real Vietnamese scans with ground truth (vietadmin 4_1, 4_2): accuracy, NFC words,
boxes on the page, and what the default preprocessing buys (docs/ocr.md)."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pipeline.limits import Limits
from pipeline.steps.intake import inspect, sniff
from pipeline.steps.ocr import DEFAULT_STEPS, ocr_page
from pipeline.steps.preprocess import to_grey
from pipeline.textmetrics import error_rates
from pipeline.types import OcrPage

# Measured with the default steps (docs/ocr.md): 4_1 9.16 %, 4_2 7.67 %. A little headroom,
# so that a real regression (a worse upscale, a lost language, a damaging step) fails.
MAX_CER = {"4_1": 0.097, "4_2": 0.082}


def read(path: Path, tmp: Path, steps: tuple[str, ...] = DEFAULT_STEPS) -> OcrPage:
    from pipeline.steps.rasterize import rasterize_page

    kind, limits = sniff(path), Limits()
    plan = inspect(path, kind, limits).pages[0]
    workdir = tmp / path.stem
    workdir.mkdir(exist_ok=True)
    return ocr_page(rasterize_page(path, kind, plan, workdir, limits), steps=steps)


@pytest.fixture(scope="module")
def letters(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, OcrPage]:
    tmp = tmp_path_factory.mktemp("letters")
    folder = corpus / "vietadmin-ocr-llm-rag"
    return {name: read(folder / f"{name}.jpg", tmp) for name in MAX_CER}


@pytest.fixture(scope="module")
def truth(corpus: Path) -> dict[str, str]:
    folder = corpus / "vietadmin-ocr-llm-rag"
    return {name: (folder / f"{name}_gt.txt").read_text(encoding="utf-8") for name in MAX_CER}


@pytest.mark.parametrize("name", sorted(MAX_CER))
def test_cer_against_ground_truth(letters: dict[str, OcrPage], truth: dict[str, str],
                                  name: str) -> None:
    rates = error_rates(truth[name], letters[name].text)
    assert rates.cer < MAX_CER[name], f"CER {rates.cer:.4f}"
    assert rates.wer < 0.20


def test_words_are_nfc_vietnamese(letters: dict[str, OcrPage]) -> None:
    words = [w.text for page in letters.values() for w in page.words]
    assert all(unicodedata.is_normalized("NFC", w) for w in words)
    # every Vietnamese letter has a precomposed form: NFC text holds no combining mark
    assert not [w for w in words if any(unicodedata.combining(c) for c in w)]
    assert {"Nẵng,", "thực", "Đào"} <= set(words)  # letters with two diacritics


def test_boxes_lie_on_the_page_and_on_ink(letters: dict[str, OcrPage], corpus: Path) -> None:
    page = letters["4_1"]
    grey = to_grey(Image.open(corpus / "vietadmin-ocr-llm-rag" / "4_1.jpg"))
    assert (page.width_px, page.height_px) == (grey.shape[1], grey.shape[0])
    inside = np.zeros(grey.shape, bool)
    for w in page.words:
        assert w.left >= 0 and w.left + w.width <= page.width_px
        assert w.top >= 0 and w.top + w.height <= page.height_px
        assert 0 <= w.conf <= 100
        inside[w.top:w.top + w.height, w.left:w.left + w.width] = True
    ink = grey < 128
    # boxes are mapped back from the ×2 OCR input: nearly all ink is inside a word box
    assert ink[inside].sum() / ink.sum() > 0.9
    assert inside.mean() < 0.5


def test_page_confidence_is_the_mean_of_word_confidences(
        letters: dict[str, OcrPage]) -> None:
    for page in letters.values():
        confs = [w.conf for w in page.words]
        assert page.mean_conf == pytest.approx(sum(confs) / len(confs), abs=0.01)
        assert page.mean_conf > 85


def test_illumination_rescues_a_shadowed_page(corpus: Path, tmp_path: Path,
                                              truth: dict[str, str]) -> None:
    """Faded ink under a shadow across the page: the global threshold inside tesseract loses
    the dark side without illumination normalisation."""
    grey = to_grey(Image.open(corpus / "vietadmin-ocr-llm-rag" / "4_1.jpg"))
    faded = 255 - (255 - grey.astype(np.float32)) * 0.5
    shade = 0.35 + 0.65 * np.arange(grey.shape[1], dtype=np.float32) / grey.shape[1]
    path = tmp_path / "shadow.png"
    Image.fromarray((faded * shade).astype(np.uint8)).save(path)
    assert "illumination" in DEFAULT_STEPS
    flat = read(path, tmp_path)
    as_is = read(path, tmp_path, tuple(s for s in DEFAULT_STEPS if s != "illumination"))
    assert error_rates(truth["4_1"], flat.text).cer < 0.12
    assert error_rates(truth["4_1"], as_is.text).cer > 0.30


def test_a_letter_upside_down_is_read_upright(corpus: Path, tmp_path: Path,
                                              truth: dict[str, str]) -> None:
    """Read first, turn only when the reading is not Vietnamese: a real letter scanned upside
    down at 82 dpi comes out upright and as accurate as the upright scan."""
    with Image.open(corpus / "vietadmin-ocr-llm-rag" / "4_2.jpg") as img:
        img.rotate(180).save(tmp_path / "4_2-upside-down.png")
    page = read(tmp_path / "4_2-upside-down.png", tmp_path)
    assert page.rotation == 180
    assert error_rates(truth["4_2"], page.text).cer < MAX_CER["4_2"] + 0.01


def test_english_pages_are_not_turned_for_want_of_vietnamese(corpus: Path,
                                                             tmp_path: Path) -> None:
    page = read(corpus / "tesseract-test" / "phototest.tif", tmp_path)
    assert page.rotation == 0 and "quick brown dog" in page.text
