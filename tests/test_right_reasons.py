"""Rejections with the right reason (issue 17 point 4): a whole file of another kind is the
wrong type whatever its name says, only a damaged scan is `corrupt_file`; a blank scan with
noise, dust, a shadow at the edge or a grey slope is `blank_page`, not `illegible`."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from pipeline.steps.ocr import has_no_ink
from tests.conftest import CACHED_OCR, CORPUS, PERSON, ROOT, run_cli
from tests.test_intake import reason_of

FONT = "/usr/share/fonts/truetype/liberation2/LiberationSerif-Regular.ttf"


def _zip(names: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for name, data in names.items():
            z.writestr(name, data)
    return out.getvalue()


def _image(fmt: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 64), "white").save(out, format=fmt)
    return out.getvalue()


def test_whole_files_of_other_kinds_are_the_wrong_type(tmp_path: Path) -> None:
    docx = _zip({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w:document/>"})
    png = (ROOT / "samples" / "citizen_id.png").read_bytes()
    jpeg = (ROOT / "samples" / "birth_cert.jpg").read_bytes()
    files = {
        "scan.png": (_zip({"scan.png": png}), "wrong_file_type"),  # a ZIP named .png
        "giay-khai-sinh.pdf": (docx, "wrong_file_type"),
        "trang.jpg": (b"<!DOCTYPE html>\n<html><body>Gi\xe1\xba\xa5y</body></html>",
                      "wrong_file_type"),
        "data.tif": (json.dumps({"id": PERSON}).encode(), "wrong_file_type"),
        "note.pdf": ("Giấy khai sinh của Nguyễn Văn An\n".encode(), "corrupt_file"),
        "old.png": (_image("BMP"), "wrong_file_type"),
        "anim.jpg": (_image("GIF"), "wrong_file_type"),
        "phone.jpg": (_image("WEBP"), "wrong_file_type"),
        # damaged: a scan's own format cut short, or bytes no reader knows under a scan's name
        "cut.jpg": (jpeg[:200], "corrupt_file"),
        "noise.jpg": (bytes(np.random.default_rng(7).integers(0, 256, 4096, dtype=np.uint8)),
                      "corrupt_file"),
    }
    for name, (data, expected) in files.items():
        path = tmp_path / name
        path.write_bytes(data)
        assert reason_of(path) == expected, name


def _blank_scan(path: Path, *, specks: bool, shadow: bool) -> Path:
    """A blank A4 sheet as a scanner makes it: grey paper with noise, a slope of light,
    dust and a dark edge, saved as JPEG at 300 dpi."""
    rng = np.random.default_rng(3)
    h, w = 3508, 2480
    page = np.full((h, w), 232.0) + rng.normal(0, 6, (h, w)) + np.linspace(-16, 16, w)[None, :]
    if specks:
        for y, x in zip(rng.integers(200, h - 200, 60), rng.integers(200, w - 200, 60),
                        strict=True):
            page[y:y + 3, x:x + 3] = 70
    if shadow:
        page[:, :45] = 85
    Image.fromarray(page.clip(0, 255).astype("uint8")).convert("RGB").save(
        path, quality=70, dpi=(300, 300))
    return path


def test_blank_scans_are_blank_and_written_pages_are_not(tmp_path: Path) -> None:
    for i, (specks, shadow) in enumerate(((False, False), (True, False), (True, True))):
        with Image.open(_blank_scan(tmp_path / f"b{i}.jpg", specks=specks, shadow=shadow)) as im:
            assert has_no_ink(im), (specks, shadow)
    line = Image.new("RGB", (2480, 3508), (236, 236, 236))
    ImageDraw.Draw(line).text((900, 1500), "Số: 123", fill=(20, 20, 20),
                              font=ImageFont.truetype(FONT, 42))
    assert not has_no_ink(line)  # one short line is writing
    for path in (ROOT / "samples" / "birth_cert.jpg", ROOT / "samples" / "citizen_id.png",
                 CORPUS / "vietadmin-ocr-llm-rag" / "4_1.jpg",
                 CORPUS / "tesseract-test" / "phototest.tif"):
        with Image.open(path) as im:
            assert not has_no_ink(im), path.name


def test_blank_and_damaged_scans_are_refused_with_their_reason(tmp_path: Path,
                                                                env: dict[str, str]) -> None:
    """Through `ecopy process`: blank scans are `blank_page`, a PNG cut short (its header
    reads, its pixels do not) is `corrupt_file`; each original stays stored."""
    blank = _blank_scan(tmp_path / "trang-trang.jpg", specks=True, shadow=False)
    shadowed = _blank_scan(tmp_path / "trang-bong.jpg", specks=True, shadow=True)
    cut = tmp_path / "cut.png"
    cut.write_bytes((ROOT / "samples" / "citizen_id.png").read_bytes()[:300])
    done = run_cli(["process", str(blank), str(shadowed), str(cut), "--person-id", PERSON,
                    "--out", str(tmp_path / "store"), "--json", "--no-progress"],
                   {**env, **CACHED_OCR}, timeout=300)
    docs = {Path(d["source"]).name: d for d in json.loads(done.stdout)["documents"]}
    for name, reason in (("trang-trang.jpg", "blank_page"), ("trang-bong.jpg", "blank_page"),
                         ("cut.png", "corrupt_file")):
        assert (docs[name]["status"], docs[name]["reason"]) == ("rejected", reason), docs[name]
        assert (tmp_path / "store" / "originals").is_dir()
    assert "trống" in docs["trang-trang.jpg"]["message"]
