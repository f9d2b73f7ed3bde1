"""OCR-input clean-up (pipeline.steps.preprocess): each kept step does what it is kept for."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from pipeline.steps.preprocess import (
    MIN_SKEW_DEG,
    STEPS,
    estimate_skew,
    normalise_illumination,
    prepare,
    rotate,
    to_grey,
)
from pipeline.steps.quality import skew_angle


@pytest.fixture(scope="module")
def letter(corpus: Path) -> np.ndarray:
    """A real ~80 dpi scan of a Vietnamese letter (vietadmin 4_1), grey."""
    return to_grey(Image.open(corpus / "vietadmin-ocr-llm-rag" / "4_1.jpg"))


def _paper_by_column(grey: np.ndarray, bands: int = 6) -> list[float]:
    """The paper level (90th grey percentile) in vertical bands, left to right."""
    return [float(np.percentile(part, 90)) for part in np.array_split(grey, bands, axis=1)]


def test_deskew_straightens_a_page_turned_by_3_degrees(letter: np.ndarray) -> None:
    turned = rotate(letter, 3.0)
    assert estimate_skew(turned) == pytest.approx(3.0, abs=0.3)
    prepared = prepare(Image.fromarray(turned), ["deskew"])
    assert prepared.skew_deg == pytest.approx(3.0, abs=0.3)
    # judged by the quality gate's own projection-profile estimate, on the output
    assert abs(skew_angle(np.asarray(prepared.image))) < MIN_SKEW_DEG


def test_deskew_leaves_a_straight_page_alone(letter: np.ndarray) -> None:
    prepared = prepare(Image.fromarray(letter), ["deskew"])
    assert prepared.skew_deg == 0.0
    assert np.array_equal(np.asarray(prepared.image), letter)


def test_boxes_map_back_onto_the_page_after_deskew_and_upscaling() -> None:
    """A marker drawn at a known place on a tilted page is found in the OCR input and its box
    mapped back lands where it was drawn."""
    page = np.full((1400, 1000), 255, np.uint8)
    for y in range(100, 1300, 40):  # text-like lines so the tilt can be measured
        cv2.rectangle(page, (80, y), (920, y + 12), 0, -1)
    turned = rotate(page, 4.0)
    left, top, width, height = 300, 500, 60, 30  # the marker, on the turned page
    turned[top - 25:top + height + 25, left - 25:left + width + 25] = 255
    cv2.rectangle(turned, (left, top), (left + width - 1, top + height - 1), 0, -1)
    prepared = prepare(Image.fromarray(turned), ["deskew"], scale=2.0)
    assert prepared.skew_deg == pytest.approx(4.0, abs=0.3)
    assert prepared.page_size == (turned.shape[1], turned.shape[0])
    ink = (np.asarray(prepared.image) < 128).astype(np.uint8)
    _, _, stats, _ = cv2.connectedComponentsWithStats(ink)
    expected_area = width * height * 4  # ×2 each way
    found = 1 + int(np.argmin(np.abs(stats[1:, cv2.CC_STAT_AREA] - expected_area)))
    assert abs(int(stats[found, cv2.CC_STAT_AREA]) - expected_area) < expected_area * 0.1
    x, y, w, h = prepared.box_on_page(*(int(v) for v in stats[found, :4]))
    # the box holds the marker; a 4° turn there and back widens it by a few pixels only
    assert x <= left + 1 and y <= top + 1
    assert x + w >= left + width - 1 and y + h >= top + height - 1
    assert w - width <= 8 and h - height <= 12


def test_illumination_flattens_a_shadow(letter: np.ndarray) -> None:
    width = letter.shape[1]
    shade = 0.35 + 0.65 * np.arange(width, dtype=np.float32) / width
    shadowed = (letter * shade).astype(np.uint8)
    before = _paper_by_column(shadowed)
    assert max(before) - min(before) > 120
    flat = normalise_illumination(shadowed)
    after = _paper_by_column(flat)
    assert max(after) - min(after) < 12
    assert min(after) > 235
    # the ink stays ink: the darkest 1 % is still dark in the shadowed half
    left = flat[:, : width // 2]
    assert float(np.percentile(left, 1)) < 60


def test_illumination_leaves_an_evenly_lit_scan_alone(letter: np.ndarray) -> None:
    assert normalise_illumination(letter) is letter
    prepared = prepare(Image.fromarray(letter), ["illumination"])
    assert not prepared.changed
    assert prepare(Image.fromarray(letter), ["illumination"], scale=2.0).changed


def test_unknown_step_is_refused(letter: np.ndarray) -> None:
    with pytest.raises(ValueError, match="unknown preprocessing steps"):
        prepare(Image.fromarray(letter), ["deskew", "magic"])
    assert "deskew" in STEPS and "illumination" in STEPS


def test_no_steps_keeps_colour_and_identity(letter: np.ndarray) -> None:
    """Colour stays colour (tesseract thresholds each channel); boxes map one to one."""
    for img, mode in ((Image.fromarray(letter), "L"),
                      (Image.fromarray(letter).convert("RGB"), "RGB")):
        prepared = prepare(img, [])
        assert prepared.image.mode == mode
        assert prepared.box_on_page(10, 20, 30, 40) == (10, 20, 30, 40)
