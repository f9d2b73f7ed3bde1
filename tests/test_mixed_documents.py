"""One number per original paper (Decree 23/2015 Art 13; issue 16 point 3): a file that holds
a birth certificate and an ID card is not certified as one "Giấy khai sinh". Real OCR of a
2-page PDF made from the bundled samples: the case waits for a clerk with `mixed_documents`
and the split the machine proposes; a paper of several pages is still one paper."""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image

from pipeline.classify import describe_split
from tests.conftest import CACHED_OCR, PERSON, ROOT, run_cli

SAMPLES = ROOT / "samples"


def _pdf(out: Path, *images: Path) -> Path:
    pages = [Image.open(p).convert("RGB") for p in images]
    pages[0].save(out, save_all=True, append_images=pages[1:], resolution=300.0)
    return out


def _process(tmp_path: Path, env: dict[str, str], scan: Path) -> dict:
    env = {k: v for k, v in env.items() if k not in CACHED_OCR}  # about reading: tesseract
    done = run_cli(["process", str(scan), "--person-id", PERSON, "--out",
                    str(tmp_path / "store"), "--json", "--no-progress"], env)
    (doc,) = json.loads(done.stdout)["documents"]
    return doc


def test_a_file_with_two_papers_waits_with_the_split_proposed(tmp_path: Path,
                                                             env: dict[str, str]) -> None:
    scan = _pdf(tmp_path / "hai-giay.pdf", SAMPLES / "birth_cert.jpg",
                SAMPLES / "citizen_id.png")
    doc = _process(tmp_path, env, scan)
    assert doc["status"] == "needs_review" and not doc.get("copy_id"), doc
    assert "mixed_documents" in doc["review_reasons"], doc
    shown = run_cli(["review", "show", doc["case_id"], "--store", str(tmp_path / "store")],
                    env)
    line = next(x for x in shown.stdout.splitlines() if "mixed_documents" in x)
    assert "trang 1: Giấy khai sinh; trang 2: Căn cước" in line, line


def test_one_paper_over_two_pages_is_one_paper(tmp_path: Path, env: dict[str, str]) -> None:
    """The birth certificate with a second page that has no title of its own."""
    blank_back = tmp_path / "mat-sau.png"
    Image.new("RGB", (2480, 3508), "white").save(blank_back, dpi=(300, 300))
    doc = _process(tmp_path, env, _pdf(tmp_path / "mot-giay.pdf", SAMPLES / "birth_cert.jpg",
                                       blank_back))
    assert "mixed_documents" not in doc.get("review_reasons", []), doc


def test_the_split_names_page_ranges() -> None:
    assert describe_split([(0, "birth_cert"), (1, "citizen_id"), (3, "other")], 5) == (
        "trang 1: Giấy khai sinh; trang 2–3: Căn cước công dân; trang 4–5: Giấy tờ khác")
