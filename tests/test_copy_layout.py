"""What ecopy prints on a copy never covers the original (issue 16, points 7 and 8).

Signed copies of the bundled samples (an A4-like birth certificate and a card-sized ID card)
and of the real letter 4_1.jpg (resampled to the legal 200 dpi: the corpus scan is 78 dpi,
which is refused), made by `ecopy process`: page 1 is rendered at the
scan's own resolution and every pixel of the original must come back unchanged under the
band ecopy adds (the QR at the top left, the agency's signature at the top right, the TEST
line). The QR of page 1 must decode from a 150-dpi rendering, and the agency's signature
must print at its true 10 pt (pyHanko shrinks a stamp whose box is too small).
"""

from __future__ import annotations

import io
import json
import os
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pikepdf
import pytest
from PIL import Image

from pipeline.steps.issueqr import parse_issue_qr
from signing.sign import AGENCY_FIELD
from tests.conftest import (
    CACHED_OCR,
    CERTIFY_AS,
    PERSON,
    PLACED,
    SAMPLES,
    export_copy,
    page_content,
    run_cli,
    scan_placement,
)


@pytest.fixture(scope="module")
def copies(letter_200: Path, tmp_path_factory: pytest.TempPathFactory, pki_dir: Path) -> dict:
    """{input file name: (the original's path, the signed copy exported from the store)}."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ECOPY_")}
    # OCR is not what this module checks: remembered tesseract output
    env.update(CACHED_OCR, ECOPY_PKI_DIR=str(pki_dir))
    store = tmp_path_factory.mktemp("layout") / "store"
    inputs = [SAMPLES / "birth_cert.jpg", SAMPLES / "citizen_id.png", letter_200]
    proc = run_cli(["process", *CERTIFY_AS,
                    *map(str, inputs), "--person-id", PERSON, "--certify-all",
                    "--out", str(store), "--json", "--no-progress"], env, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = {}
    for doc in json.loads(proc.stdout)["documents"]:
        assert doc["status"] == "filed", doc
        source = Path(doc["source"])
        pdf = export_copy(store, doc["ecopy_path"], store.parent / f"{doc['copy_id']}.pdf")
        out[source.name] = (source, pdf)
    assert sorted(out) == ["4_1.jpg", "birth_cert.jpg", "citizen_id.png"]
    return out


def _render(pdf: Path, page: int, dpi: float) -> np.ndarray:
    png = subprocess.run(["pdftoppm", "-f", str(page + 1), "-l", str(page + 1), "-r", f"{dpi}",
                          "-png", str(pdf)], check=True, capture_output=True).stdout
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(np.int16)


def _scan_alone(pdf_path: Path, out: Path) -> Path:
    """Page 1 of the copy with nothing but the scan drawn: its content reduced to the scan's
    placement, its annotations (the signatures' appearances) removed."""
    with pikepdf.open(pdf_path) as pdf:
        page = pdf.pages[0]
        found = PLACED.search(page_content(page))
        page.obj.Contents = pdf.make_stream(found[0])
        del page.obj["/Annots"]
        del pdf.pages[1:]
        pdf.save(out)
    return out


@pytest.mark.parametrize("name", ["birth_cert.jpg", "citizen_id.png", "4_1.jpg"])
def test_no_pixel_of_the_original_changes(copies: dict, name: str, tmp_path: Path) -> None:
    """The signed copy's page 1, rendered at the scan's resolution, against the same page
    with only the scan drawn: the scan's area must be identical, pixel for pixel."""
    source, pdf = copies[name]
    dx, width, height, w_px, h_px = scan_placement(pdf)
    dpi = w_px / width * 72
    assert h_px / height * 72 == pytest.approx(dpi, rel=1e-3)  # 100 %, not stretched
    page = _render(pdf, 0, dpi)
    alone = _render(_scan_alone(pdf, tmp_path / "alone.pdf"), 0, dpi)
    assert page.shape == alone.shape and page.shape[0] > h_px  # a band above the scan
    left = round(dx / 72 * dpi)
    area = (slice(page.shape[0] - h_px, None), slice(left, left + w_px))
    changed = np.abs(page[area] - alone[area]).max(axis=2)
    assert (changed == 0).all(), f"{(changed > 0).sum()} pixels of the original changed"
    # and what is shown is the original (poppler resamples a little even at 1:1)
    original = np.asarray(Image.open(source).convert("RGB")).astype(np.int16)
    assert alone[area].shape == original.shape
    assert np.abs(alone[area] - original).mean() < 20
    assert (page[: page.shape[0] - h_px] < 128).any()  # the band holds the QR and stamp


@pytest.mark.parametrize("name", ["birth_cert.jpg", "citizen_id.png", "4_1.jpg"])
def test_page_one_qr_reads_at_150_dpi_top_left(copies: dict, name: str) -> None:
    _, pdf = copies[name]
    page = cv2.cvtColor(_render(pdf, 0, 150).astype(np.uint8), cv2.COLOR_RGB2GRAY)
    band = page[: page.shape[0] - round(scan_placement(pdf)[2] / 72 * 150)]
    value, points = _read_qr(band)  # as a phone aimed at it: the band, not the whole page
    assert value, "no QR read on page 1"
    issue = parse_issue_qr(value)
    assert issue["copy_id"] == pdf.stem and issue["cd"] == PERSON
    corners = points.reshape(-1, 2)
    assert corners[:, 0].max() < page.shape[1] / 2  # top left


def _read_qr(image: np.ndarray) -> tuple[str, np.ndarray]:
    """OpenCV's two QR detectors, the ArUco-based one first."""
    for detector in (cv2.QRCodeDetectorAruco(), cv2.QRCodeDetector()):
        value, points, _ = detector.detectAndDecode(image)
        if value:
            return value, points
    return "", np.empty((0, 2))


@pytest.mark.parametrize("name", ["birth_cert.jpg", "citizen_id.png", "4_1.jpg"])
def test_agency_signature_prints_at_true_size(copies: dict, name: str) -> None:
    """pyHanko draws a stamp's text inside a `cm` that scales it down when its box is too
    small (the old 72 x 13 mm box printed the 10 pt text at about 7.4 pt)."""
    _, pdf_path = copies[name]
    with pikepdf.open(pdf_path) as pdf:
        (widget,) = [a for a in pdf.pages[0].get("/Annots", [])
                     if str(a.get("/T", "")) == AGENCY_FIELD
                     or str(a.get("/Parent", {}).get("/T", "")) == AGENCY_FIELD]
        scales = _scales(widget.AP.N)
    assert scales and all(s >= 0.999 for s in scales), scales


def _scales(xobject: pikepdf.Object, depth: int = 0) -> list[float]:
    """The scale factors of every `cm` in a form XObject and the forms it draws."""
    found = [float(op.operands[0]) for op in pikepdf.parse_content_stream(xobject)
             if str(op.operator) == "cm"]
    for inner in xobject.get("/Resources", {}).get("/XObject", {}).values():
        if depth < 4 and inner.get("/Subtype") == "/Form":
            found += _scales(inner, depth + 1) or [1.0]
    return found
