"""One number per original paper (Decree 23/2015 Art 13; issue 16 point 3): a file that holds
a birth certificate and an ID card is not certified as one "Giấy khai sinh". Real OCR of a
2-page PDF made from the bundled samples: the case waits for a clerk with `mixed_documents`
and the split the machine proposes; a paper of several pages is still one paper."""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image

from pipeline.steps.classify import describe_split
from tests.conftest import CACHED_OCR, CERTIFY_AS, PERSON, ROOT, run_cli

SAMPLES = ROOT / "samples"


def _pdf(out: Path, *images: Path) -> Path:
    pages = [Image.open(p).convert("RGB") for p in images]
    pages[0].save(out, save_all=True, append_images=pages[1:], resolution=300.0)
    return out


def test_two_papers_wait_with_the_split_proposed_and_one_paper_does_not(
        tmp_path: Path, env: dict[str, str]) -> None:
    """A birth certificate and an ID card in one PDF, and the birth certificate with a second
    page that has no title of its own; one batch (one process, both cores)."""
    env = {k: v for k, v in env.items() if k not in CACHED_OCR}  # about reading: tesseract
    blank_back = tmp_path / "mat-sau.png"
    Image.new("RGB", (2480, 3508), "white").save(blank_back, dpi=(300, 300))
    two = _pdf(tmp_path / "hai-giay.pdf", SAMPLES / "birth_cert.jpg", SAMPLES / "citizen_id.png")
    one = _pdf(tmp_path / "mot-giay.pdf", SAMPLES / "birth_cert.jpg", blank_back)
    done = run_cli(["process", *CERTIFY_AS, str(two), str(one), "--person-id", PERSON, "--out",
                    str(tmp_path / "store"), "--json", "--no-progress"], env)
    mixed, single = json.loads(done.stdout)["documents"]
    assert mixed["status"] == "needs_review" and not mixed.get("copy_id"), mixed
    assert "mixed_documents" in mixed["review_reasons"], mixed
    shown = run_cli(["review", "show", mixed["case_id"], "--store", str(tmp_path / "store")],
                    env)
    line = next(x for x in shown.stdout.splitlines() if "mixed_documents" in x)
    assert "trang 1: Giấy khai sinh; trang 2: Căn cước" in line, line
    assert "mixed_documents" not in single.get("review_reasons", []), single


def test_the_split_names_page_ranges() -> None:
    assert describe_split([(0, "birth_cert"), (1, "citizen_id"), (3, "other")], 5) == (
        "trang 1: Giấy khai sinh; trang 2–3: Căn cước công dân; trang 4–5: Giấy tờ khác")
