"""A page that hangs or kills its process costs that document a timeout, never the batch."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from PIL import Image

from ecopy.keys import build_certify_context
from ecopy.settings import Settings
from pipeline.limits import Limits
from pipeline.run.orchestrator import ProcessOptions, process_batch
from pipeline.types import DocStatus
from storage.backends import LocalStore
from tests.conftest import PERSON, desk, open_state


@pytest.mark.parametrize("engine", ["tests.support.fault_engines:hang_on_blank",
                                    "tests.support.fault_engines:crash_on_blank"])
def test_bad_page_times_out_and_batch_goes_on(engine: str, corpus: Path, tmp_path: Path,
                                              pki_dir: Path) -> None:
    blank = tmp_path / "blank.png"
    Image.new("L", (800, 1000), 255).save(blank)
    good = corpus / "tesseract-test/phototest.tif"
    store = LocalStore(tmp_path / "store")
    state = open_state(store)
    ctx = build_certify_context(Settings(pki_dir=pki_dir), state)
    limits = Limits(page_timeout_s=10)  # the good page needs headroom on a loaded machine
    start = time.monotonic()
    outcomes = process_batch([blank, good], ctx, ProcessOptions(
        person_id=PERSON, workers=2, limits=limits, ocr_engine=engine), desk(state))
    assert time.monotonic() - start < 60
    by_name = {Path(o.source).name: o for o in outcomes}
    assert by_name["blank.png"].status == DocStatus.REJECTED
    assert by_name["blank.png"].reason == "timeout"
    assert "10" in by_name["blank.png"].message
    assert by_name["phototest.tif"].status == DocStatus.FILED, by_name["phototest.tif"]
    assert store.exists(f"originals/{by_name['blank.png'].sha256}")  # the original is kept
