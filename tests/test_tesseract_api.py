"""The tesseract library kept loaded (ECOPY_OCR_ENGINE=tesserocr; issue 17 point 7) reads as
the CLI does: the same words within a few characters, the same orientations, the same
failures, and a whole paper through `ecopy process`."""

from __future__ import annotations

import json
from pathlib import Path

import pytesseract
import pytest

from pipeline.steps.ocr import ocr_page
from pipeline.steps.tesseract import image_to_data, image_to_osd
from pipeline.textmetrics import error_rates
from tests.conftest import PERSON, ROOT, run_cli
from tests.test_understand import scan_of


def test_the_library_reads_as_the_cli_does(corpus: Path) -> None:
    for path in (corpus / "vietadmin-ocr-llm-rag" / "4_1.jpg", ROOT / "samples" / "birth_cert.jpg"):
        cli = ocr_page(scan_of(path), backend="cli")
        api = ocr_page(scan_of(path), backend="api")
        assert abs(len(api.words) - len(cli.words)) <= len(cli.words) // 50, path.name
        assert error_rates(cli.text, api.text).cer < 0.02, path.name  # 5.3 against 5.5.4
    viet = ocr_page(scan_of(corpus / "tesseract-test" / "viet.tif"), backend="api")
    assert "tiếng" in viet.text


def test_words_boxes_lines_and_orientation_match(corpus: Path) -> None:
    image = str(corpus / "tesseract-test" / "phototest.tif")
    cli = image_to_data(image, lang="eng", psm=3, timeout=60, backend="cli")
    api = image_to_data(image, lang="eng", psm=3, timeout=60, backend="api")
    words = [(t, x, y) for t, x, y, c in zip(cli["text"], cli["left"], cli["top"], cli["conf"],
                                               strict=True) if t.strip() and float(c) >= 0]
    got = [(t, x, y) for t, x, y in zip(api["text"], api["left"], api["top"], strict=True)]
    assert got == words  # clean text: the same words at the same places
    assert max(api["line_num"]) == max(n for n, t in zip(cli["line_num"], cli["text"],
                                                         strict=True) if t.strip())
    for name, rotate in (("phototest-rotated-R.png", 270), ("phototest-rotated-L.png", 90),
                         ("phototest-rotated-180.png", 180)):
        for backend in ("cli", "api"):
            osd = image_to_osd(str(corpus / "tesseract-test" / name), timeout=60,
                               backend=backend)
            assert f"Rotate: {rotate}" in osd, (name, backend, osd)


def test_failures_are_the_clis(tmp_path: Path) -> None:
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 64)
    with pytest.raises(pytesseract.TesseractError, match="pixRead"):
        image_to_data(str(junk), lang="eng", psm=3, timeout=60, backend="api")
    blank = tmp_path / "blank.png"
    from PIL import Image

    Image.new("L", (400, 400), 255).save(blank)
    with pytest.raises(pytesseract.TesseractError):  # too few characters to tell
        image_to_osd(str(blank), timeout=60, backend="api")


def test_process_with_the_library(tmp_path: Path, env: dict[str, str]) -> None:
    engine = {k: v for k, v in env.items() if k not in ("ECOPY_OCR_ENGINE",
                                                        "ECOPY_TEST_OCR_CACHE")}
    done = run_cli(["process", str(ROOT / "samples" / "birth_cert.jpg"), "--person-id", PERSON,
                    "--out", str(tmp_path / "store"), "--json", "--no-progress"],
                   {**engine, "ECOPY_OCR_ENGINE": "tesserocr"}, timeout=300)
    (doc,) = json.loads(done.stdout)["documents"]
    assert doc["doc_type"] == "birth_cert" and doc["status"] in ("ready", "needs_review"), doc


def test_the_web_reads_with_the_configured_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    """Uploads on the web are read by the same engine as `ecopy process` and the workers."""
    from types import SimpleNamespace

    from ecopy.settings import load_settings
    from ecopy.web.processing import Processor

    processor = Processor(load_settings({}), None)  # type: ignore[arg-type]
    dossier = SimpleNamespace(person_id=PERSON)
    monkeypatch.delenv("ECOPY_OCR_ENGINE", raising=False)
    assert processor.options(dossier, "lan").ocr_engine == "tesserocr"  # type: ignore[arg-type]
    monkeypatch.setenv("ECOPY_OCR_ENGINE", "tesseract")
    assert processor.options(dossier, "lan").ocr_engine == "tesseract"  # type: ignore[arg-type]
