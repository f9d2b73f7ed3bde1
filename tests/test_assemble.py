"""The e-copy assembler against real scans and real tools (poppler, pikepdf, OpenCV)."""

from __future__ import annotations

import io
import json
import re
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pikepdf
import pytest
from PIL import Image
from reportlab.graphics.barcode import qrencoder

from pipeline.casework.certifiers import CertifierEntry
from pipeline.steps.assemble import AssembledCopy, build_ecopy
from pipeline.types import (
    Certification,
    Certifier,
    OcrPage,
    OcrWord,
    PageScan,
    RegisterEntry,
)
from signing.sign import agency_stamp_lines

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"
JPEG_1 = CORPUS / "vietadmin-ocr-llm-rag" / "4_1.jpg"
JPEG_2 = CORPUS / "vietadmin-ocr-llm-rag" / "4_2.jpg"
PNG_180 = CORPUS / "tesseract-test" / "phototest-rotated-180.png"
FONT = Path("/usr/share/fonts/truetype/liberation2/LiberationSerif-Regular.ttf")
VERIFY_REF = "https://xacthuc.example.vn/v/26734-2026-12-7Q3KX9"
MM = 72 / 25.4
# the fonts, and the agency signature's lines the box on page 1 is sized for
FONT_AND_STAMP = {"font_path": FONT, "agency_stamp": agency_stamp_lines("UBND xã Hòa Vang")}

@pytest.fixture(autouse=True, scope="module")
def _inputs_present() -> None:
    """A missing corpus or font fails these tests (scripts/setup.sh installs the fonts)."""
    for needed in (JPEG_1, PNG_180, FONT):
        assert needed.is_file(), f"{needed} is missing"


def _line(line_id: str, *words: tuple[str, int, int, int, int]) -> list[OcrWord]:
    return [OcrWord(t, left, top, w, h, 95.0, line_id) for t, left, top, w, h in words]


# Boxes from tesseract 5 (`-l vie`) on 4_1.jpg, upright pixels.
WORDS_1 = [
    *_line(
        "1.1.1",
        ("UBND", 51, 49, 43, 12),
        ("THÀNH", 98, 46, 53, 14),
        ("PHỐ", 156, 46, 30, 14),
        ("ĐÀ", 190, 46, 22, 14),
        ("NẴNG", 216, 46, 44, 14),
    ),
    *_line("1.2.2", ("Đà", 305, 93, 18, 11), ("Nẵng,", 328, 90, 37, 18), ("ngày", 371, 93, 31, 15)),
]
# Hand-made boxes (the text layer is invisible, so any place is fine) on 4_2.jpg.
WORDS_2 = [
    *_line(
        "1.1.1",
        ("Ủy", 60, 120, 30, 16),
        ("ban", 96, 120, 34, 16),
        ("nhân", 136, 120, 44, 16),
        ("dân", 186, 120, 36, 16),
    ),
    *_line(
        "1.1.2", ("GIẤY", 60, 160, 52, 18), ("KHAI", 118, 160, 50, 18), ("SINH", 174, 160, 48, 18)
    ),
]
# tesseract boxes on phototest after turning it upright: the OCR layer is in upright pixels.
WORDS_PNG = _line(
    "1.1.1",
    ("This", 36, 92, 60, 24),
    ("is", 109, 92, 20, 24),
    ("a", 141, 98, 15, 18),
    ("lot", 169, 92, 32, 24),
)

DPI_JPEG = 96.0  # the corpus JPEGs carry no dpi; 96 makes their pages about 152 mm wide


def _scan_pages() -> list[tuple[PageScan, OcrPage]]:
    s1 = PageScan(0, str(JPEG_1), "jpeg", 576, 960, DPI_JPEG)
    s2 = PageScan(1, str(PNG_180), "png", 640, 480, 200.0, rotation=180)
    s3 = PageScan(2, str(JPEG_2), "jpeg", 572, 960, DPI_JPEG)
    return [
        (s1, OcrPage(0, 576, 960, 0, tuple(WORDS_1), 94.0, "test")),
        (s2, OcrPage(1, 640, 480, 180, tuple(WORDS_PNG), 96.0, "test")),
        (s3, OcrPage(2, 572, 960, 0, tuple(WORDS_2), 95.0, "test")),
    ]


def _certification(test_mode: bool) -> Certification:
    entry = RegisterEntry(
        agency_code="20333",
        agency_name="UBND xã Hòa Vang",
        year=2026,
        book="01/2026",
        number=12,
        date="2026-02-05",
        requester_name="Nguyễn Văn An",
        document_name="Giấy khai sinh",
        signer="Trần Thị Bích, Phó Chủ tịch",
        copies=1,
        fee_vnd=6000,
        electronic=True,
        notes="",
        copy_id="c-0001",
        prev_hash="",
    )
    position = "Phó Chủ tịch Ủy ban nhân dân xã Hòa Vang"
    who = Certifier("Trần Thị Bích", position,
                    CertifierEntry("Trần Thị Bích", position, "vice_chairman").form(
                        "Ủy ban nhân dân xã Hòa Vang"))
    return Certification(entry, who, VERIFY_REF, test_mode)


MANIFEST = {
    "doc_type": "giay_khai_sinh",
    "original_sha256": "ab" * 32,
    "place": "Đà Nẵng",
    "register": {"number": 12, "book": "01/2026-SCT/BS"},
}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> AssembledCopy:
    out = tmp_path_factory.mktemp("ecopy") / "copy.pdf"
    return build_ecopy(_scan_pages(), _certification(False), MANIFEST, out, **FONT_AND_STAMP)


@pytest.fixture(scope="module")
def built_test_mode(tmp_path_factory: pytest.TempPathFactory) -> AssembledCopy:
    out = tmp_path_factory.mktemp("ecopy") / "test-mode.pdf"
    return build_ecopy(_scan_pages(), _certification(True), MANIFEST, out, **FONT_AND_STAMP)


def _text(pdf: Path, *args: str) -> str:
    return subprocess.run(
        ["pdftotext", "-enc", "UTF-8", *args, str(pdf), "-"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def _render(pdf: Path, page: int, dpi: int, gray: bool = False) -> np.ndarray:
    args = ["pdftoppm", "-f", str(page + 1), "-l", str(page + 1), "-r", str(dpi), "-png"]
    png = subprocess.run(
        [*args, *(["-gray"] if gray else []), str(pdf)], check=True, capture_output=True
    ).stdout
    return np.asarray(Image.open(io.BytesIO(png)).convert("L"))


def _images(page: pikepdf.Page) -> list[pikepdf.Stream]:
    return [v for v in page.Resources.get("/XObject", {}).values() if v.Subtype == "/Image"]


def _band_of(pdf_path: Path, scan_w: float, scan_h: float) -> tuple[float, float, float]:
    """(page width, band height, dx) of page 1: the scan sits at the bottom, centred."""
    with pikepdf.open(pdf_path) as pdf:
        _, _, w, h = (float(v) for v in pdf.pages[0].MediaBox)
    return w, h - scan_h, (w - scan_w) / 2


def test_pages_sizes_and_boxes(built: AssembledCopy) -> None:
    assert built.page_count == 4  # three scans and the statement page
    with pikepdf.open(built.path) as pdf:
        assert len(pdf.pages) == 4
        sizes = [tuple(float(v) for v in p.MediaBox) for p in pdf.pages]
        assert "/Rotate" not in pdf.pages[1].obj
    scan_w, scan_h = 576 / 96 * 72, 960 / 96 * 72
    # page 1: the scan at 100 %, and above it the band with the QR and the agency's signature
    width, band, dx = _band_of(built.path, scan_w, scan_h)
    assert width == pytest.approx(scan_w) and dx == pytest.approx(0)
    assert 20 * MM < band < 40 * MM
    assert sizes[1] == pytest.approx((0, 0, 640 / 200 * 72, 480 / 200 * 72))  # no band
    assert sizes[2] == pytest.approx((0, 0, 572 / 96 * 72, 960 / 96 * 72))
    assert sizes[3] == pytest.approx((0, 0, 595.2756, 841.8898))  # A4
    page, (x1, y1, x2, y2) = built.agency_box
    # sized for its three lines at 10 pt (the longest, the copy form, is about 200 pt)
    assert page == 0 and 200 < x2 - x1 < 240 and y2 - y1 == pytest.approx(54)
    assert x2 < width and y2 < sizes[0][3] and x1 > width / 3 and y1 > scan_h  # in the band
    page, (x1, y1, x2, y2) = built.certifier_box
    assert page == 3 and x1 > sizes[3][2] / 2 and y1 > sizes[3][3] / 2
    assert 40 * MM < x2 - x1 <= 60 * MM and 13 * MM < y2 - y1 <= 18 * MM


def test_the_first_page_qr_is_top_left_and_reads_at_150_dpi(built: AssembledCopy) -> None:
    """Circular 01/2023: the QR at the top left of the issued paper, modules >= 0.4 mm."""
    page = _render(built.path, 0, 150)
    points = _qr_at(page)
    assert points[:, 0].max() < page.shape[1] / 2 and points[:, 1].max() < 40 / 25.4 * 150
    side_mm = (points[:, 0].max() - points[:, 0].min()) / 150 * 25.4  # corner to corner
    qr = qrencoder.QRCode(None, qrencoder.QRErrorCorrectLevel.M)
    qr.addData(VERIFY_REF)
    qr.make()
    assert side_mm / qr.getModuleCount() >= 0.4


def _qr_at(page: np.ndarray) -> np.ndarray:
    """The corners of the page's QR, which must decode to the copy's link (OpenCV's ArUco
    based detector: the classic one misses some small symbols a phone reads)."""
    value, points, _ = cv2.QRCodeDetectorAruco().detectAndDecode(page)
    assert value == VERIFY_REF
    return points.reshape(-1, 2)


def test_original_image_data_is_embedded(built: AssembledCopy) -> None:
    with pikepdf.open(built.path) as pdf:
        for index, path in ((0, JPEG_1), (2, JPEG_2)):
            (image,) = _images(pdf.pages[index])
            assert image.Filter == "/DCTDecode" and image.ColorSpace == "/DeviceRGB"
            assert image.read_raw_bytes() == path.read_bytes()
        (png,) = _images(pdf.pages[1])
        assert png.Filter == "/FlateDecode" and (png.Width, png.Height) == (640, 480)
        assert png.read_bytes() == Image.open(PNG_180).convert("RGB").tobytes()  # lossless


def test_rotated_page_is_shown_upright(built: AssembledCopy) -> None:
    rendered = _render(built.path, 1, 200).astype(np.int16)
    upright = np.asarray(Image.open(PNG_180).convert("L").rotate(180)).astype(np.int16)
    assert rendered.shape == upright.shape
    # poppler resamples even at 1:1, hence not 0; the unturned image differs by ~39
    assert np.abs(rendered - upright).mean() < 8
    assert np.abs(rendered - upright[::-1, ::-1]).mean() > 25


@pytest.mark.parametrize("rotation", [90, 270])
def test_quarter_turns_follow_clockwise_convention(tmp_path: Path, rotation: int) -> None:
    """A black block at the stored top-left lands top-right (90) or bottom-left (270)."""
    stored = Image.new("L", (300, 200), 255)
    stored.paste(0, (0, 0, 60, 40))
    stored.save(tmp_path / "q.png")
    scan = PageScan(0, str(tmp_path / "q.png"), "png", 300, 200, 72.0, rotation=rotation)
    ocr = OcrPage(0, 200, 300, rotation, (), 0.0, "test")
    copy = build_ecopy([(scan, ocr)], _certification(False), {}, tmp_path / "q.pdf",
                       **FONT_AND_STAMP)
    _, band, dx = _band_of(copy.path, 200, 300)
    page = _render(copy.path, 0, 72)[-300:, round(dx):round(dx) + 200]  # the scan
    assert band > 0
    assert page.shape == (300, 200)
    expect = (slice(0, 60), slice(160, 200)) if rotation == 90 else (slice(240, 300), slice(0, 40))
    assert page[expect].mean() < 20
    assert (page < 128).sum() == pytest.approx(60 * 40, rel=0.05)


def test_text_layer_keeps_vietnamese(built: AssembledCopy) -> None:
    text = _squash(_text(built.path, "-layout"))
    for phrase in (
        "UBND THÀNH PHỐ ĐÀ NẴNG",
        "Đà Nẵng, ngày",
        "Ủy ban nhân dân",
        "GIẤY KHAI SINH",
        "This is a lot",
        "Chứng thực bản sao đúng với bản chính",
        "Số chứng thực 12 quyển số 01/2026 - SCT/BS",
        "Ngày 05 tháng 02 năm 2026",
        "KT. CHỦ TỊCH ỦY BAN NHÂN DÂN",
        "Trần Thị Bích",
        "Mã xác thực",
    ):
        assert phrase in text, phrase
    assert "THỬ NGHIỆM" not in text
    # The statement is on the last page only, never over a scan.
    assert "Chứng thực" not in _text(built.path, "-f", "1", "-l", "3")
    assert "Giấy khai sinh, 3 trang bản chính" in _text(built.path, "-f", "4")


def test_the_statement_page_is_mau_so_01_within_the_margins(built: AssembledCopy) -> None:
    """No heading of ecopy's own above the statement (issue 16: "an extra heading"), and the
    box inside the page margins of Decree 30/2020 (right 15-20 mm, top 20-25 mm), not 6 mm
    from the edge."""
    page = _squash(_text(built.path, "-f", "4", "-l", "4"))
    assert page.startswith("Chứng thực bản sao đúng với bản chính"), page[:200]
    assert "ĐƯỢC CHỨNG THỰC TỪ BẢN CHÍNH" not in page
    image = _render(built.path, 3, 72, gray=True)
    inked = np.argwhere(image < 200)
    mm_per_px = 25.4 / 72
    (top, _), (_, right) = inked.min(axis=0), inked.max(axis=0)
    assert (image.shape[1] - 1 - right) * mm_per_px >= 15, "box within 15 mm of the edge"
    assert top * mm_per_px >= 20, "box within 20 mm of the top"


@pytest.mark.parametrize(
    ("page", "word", "dpi"),
    [
        (0, WORDS_1[1], DPI_JPEG),
        (0, WORDS_1[6], DPI_JPEG),
        (2, WORDS_2[0], DPI_JPEG),
        (2, WORDS_2[5], DPI_JPEG),
        (1, WORDS_PNG[3], 200.0),
    ],
)
def test_words_sit_on_their_boxes(
    built: AssembledCopy, page: int, word: OcrWord, dpi: float
) -> None:
    k = 72 / dpi
    top = 0.0
    if page == 0:  # below the band the first page adds
        top = _band_of(built.path, 576 / 96 * 72, 960 / 96 * 72)[1]
    crop = [
        str(round(v))
        for v in (word.left * k - 1, top + word.top * k - 1, word.width * k + 2,
                  word.height * k + 2)
    ]
    got = _text(
        built.path,
        "-f",
        str(page + 1),
        "-l",
        str(page + 1),
        "-x",
        crop[0],
        "-y",
        crop[1],
        "-W",
        crop[2],
        "-H",
        crop[3],
    )
    assert got.strip() == word.text


def test_manifest_is_an_associated_file(built: AssembledCopy) -> None:
    with pikepdf.open(built.path) as pdf:
        spec = pdf.attachments["manifest.json"]
        data = spec.get_file().read_bytes()
        expected = {**MANIFEST, "page_count": built.page_count}
        assert json.loads(data.decode("utf-8")) == expected
        assert data == json.dumps(expected, sort_keys=True, ensure_ascii=False, indent=2).encode()
        (af,) = list(pdf.Root.AF)
        assert af.AFRelationship == "/Data" and str(af.UF) == "manifest.json" and "/Desc" in af
        stream = af.EF.F
        assert stream.Subtype == "/application/json"
        assert int(stream.Params.Size) == len(data) and "/ModDate" in stream.Params


def test_pdfa_plumbing(built: AssembledCopy) -> None:
    with pikepdf.open(built.path) as pdf:
        assert pdf.pdf_version == "1.7" and not pdf.is_encrypted
        assert len(pdf.trailer.ID) == 2
        meta = pdf.open_metadata()
        assert meta["pdfaid:part"] == "3" and meta["pdfaid:conformance"] == "B"
        assert meta["dc:title"] == "Giấy khai sinh"
        assert meta["pdf:Producer"] == str(pdf.docinfo.Producer) == "ecopy"
        assert "xmp:CreateDate" in meta and "xmp:ModifyDate" in meta
        (intent,) = list(pdf.Root.OutputIntents)
        assert intent.S == "/GTS_PDFA1" and intent.DestOutputProfile.N == 3
        assert str(pdf.Root.Lang) == "vi-VN"
        assert "/Filter" not in pdf.Root.Metadata.stream_dict
    info = subprocess.run(["pdfinfo", str(built.path)], capture_output=True, text=True).stdout
    assert re.search(r"JavaScript:\s+no", info) and re.search(r"Encrypted:\s+no", info)


def test_pdfa_validator_approves(built: AssembledCopy, built_test_mode: AssembledCopy) -> None:
    """pikepdf's PDF/A checker (pikepdf.pdfa, in the locked pikepdf)."""
    from pikepdf import pdfa

    for copy in (built, built_test_mode):
        report = pdfa.validate_written(copy.path, "3b")
        assert report.passed, [str(f) for f in report.findings]


def test_every_font_is_embedded(built_test_mode: AssembledCopy) -> None:
    out = subprocess.run(
        ["pdffonts", str(built_test_mode.path)], check=True, capture_output=True, text=True
    ).stdout.splitlines()[2:]
    assert out, "expected fonts"
    for row in out:
        # name type(may hold spaces) encoding emb sub uni object-id gen
        emb, _sub, uni = row.split()[-5:-2]
        assert emb == "yes" and uni == "yes", row


def test_qr_code_decodes_to_verify_ref(built: AssembledCopy) -> None:
    _qr_at(_render(built.path, built.page_count - 1, 150))


def test_test_mode_is_marked_on_every_page(built_test_mode: AssembledCopy) -> None:
    for page in range(1, built_test_mode.page_count + 1):
        text = _squash(_text(built_test_mode.path, "-f", str(page), "-l", str(page)))
        assert "BẢN THỬ NGHIỆM — KHÔNG CÓ GIÁ TRỊ PHÁP LÝ / TEST — not legally valid" in text
    last = _text(built_test_mode.path, "-f", str(built_test_mode.page_count))
    assert last.count("BẢN THỬ NGHIỆM") == 2  # the top line and the statement box


def test_small_last_page_gets_a4_statement_page(tmp_path: Path) -> None:
    """An ID card (85.6 x 54 mm) is too small: the statement and QR go on an extra A4 page."""
    card = tmp_path / "card.jpg"
    Image.new("RGB", (1011, 638), (200, 220, 240)).save(card, quality=90)
    scan = PageScan(0, str(card), "jpeg", 1011, 638, 300.0)
    words = _line("1.1.1", ("CĂN", 100, 100, 90, 40), ("CƯỚC", 200, 100, 130, 40))
    ocr = OcrPage(0, 1011, 638, 0, tuple(words), 90.0, "test")
    copy = build_ecopy(
        [(scan, ocr)], _certification(True), MANIFEST, tmp_path / "card.pdf", **FONT_AND_STAMP
    )
    assert copy.page_count == 2 and copy.certifier_box[0] == 1 and copy.agency_box[0] == 0
    card_w, card_h = 242.64, 153.12
    width, band, dx = _band_of(copy.path, card_w, card_h)
    assert width > card_w and dx > 0 and band > 30 * MM  # the band needs a wider page
    with pikepdf.open(copy.path) as pdf:
        assert [float(v) for v in pdf.pages[1].MediaBox] == pytest.approx(
            [0, 0, 595.2756, 841.8898], abs=0.01
        )
        assert not _images(pdf.pages[1])
    assert "CĂN CƯỚC" in _text(copy.path, "-f", "1", "-l", "1")
    assert "Chứng thực bản sao" in _text(copy.path, "-f", "2", "-l", "2")
    x1, y1, x2, y2 = copy.agency_box[1]
    assert 0 < x1 < x2 < width and card_h < y1 < y2 < card_h + band
    _qr_at(_render(copy.path, 1, 150))  # the statement page's QR
    _qr_at(_render(copy.path, 0, 150))  # and page 1's, top left


def test_cmyk_jpeg_and_bilevel_png(tmp_path: Path) -> None:
    cmyk, bilevel = tmp_path / "cmyk.jpg", tmp_path / "bw.png"
    Image.new("CMYK", (400, 560), (0, 0, 0, 30)).save(cmyk, quality=90)
    Image.new("1", (400, 560), 1).save(bilevel)
    pages = [
        (PageScan(0, str(cmyk), "jpeg", 400, 560, 50.0), OcrPage(0, 400, 560, 0, (), 0, "t")),
        (PageScan(1, str(bilevel), "png", 400, 560, 50.0), OcrPage(1, 400, 560, 0, (), 0, "t")),
    ]
    copy = build_ecopy(pages, _certification(False), {}, tmp_path / "x.pdf", **FONT_AND_STAMP)
    with pikepdf.open(copy.path) as pdf:
        (jpeg,) = _images(pdf.pages[0])
        assert jpeg.ColorSpace == "/DeviceRGB" and jpeg.Filter == "/DCTDecode"
        (bw,) = _images(pdf.pages[1])
        assert bw.ColorSpace == "/DeviceGray" and bw.BitsPerComponent == 1


def test_rejects_inconsistent_input(tmp_path: Path) -> None:
    ocr = OcrPage(0, 576, 960, 0, (), 0.0, "t")
    wrong_size = PageScan(0, str(JPEG_1), "jpeg", 600, 960, 96.0)
    with pytest.raises(ValueError, match="576x960"):
        build_ecopy(
            [(wrong_size, ocr)], _certification(False), {}, tmp_path / "a.pdf", **FONT_AND_STAMP
        )
    bad_turn = PageScan(0, str(JPEG_1), "jpeg", 576, 960, 96.0, rotation=45)
    with pytest.raises(ValueError, match="rotation"):
        build_ecopy(
            [(bad_turn, ocr)], _certification(False), {}, tmp_path / "b.pdf", **FONT_AND_STAMP
        )
    with pytest.raises(ValueError):
        build_ecopy([], _certification(False), {}, tmp_path / "c.pdf", **FONT_AND_STAMP)


MAU_SO_01 = CORPUS / "vn-legal-text" / "vbpl-layout-detection" / \
    "nd-280-2025-chung-thuc-ban-sao.txt"


def test_statement_is_mau_so_01_word_for_word(built: AssembledCopy) -> None:
    """The statement's three lines are Mẫu số 01 of Decree 280/2025 as the decree prints it,
    with its dotted places filled in: the template is read from the decree's text, not from
    our own constants."""
    decree = MAU_SO_01.read_text(encoding="utf-8").splitlines()
    start = max(i for i, line in enumerate(decree) if line.strip() == "Mẫu số 01")
    template = [line.strip() for line in decree[start:start + 8]][3:6]
    assert template[0] == "Chứng thực bản sao đúng với bản chính", template
    filled = [template[0],
              re.sub(r"\s*\(1\)\s*", " ", re.sub(r"\.{3,}", "{}", template[1])).format(
                  "12 ", " 01/2026"),
              re.sub(r"\.{3,}", "{}", template[2]).format(" 05 ", " 02 ", " 2026")]
    filled = [" ".join(line.split()) for line in filled]
    page = " ".join(_text(built.path, "-f", "4").split())
    for line in filled:
        assert line in page, (line, page)
    # under the date: the signing form of the certifier's basis with the commune's name, the
    # position, then (after the signature) the full name
    signer = "KT. CHỦ TỊCH ỦY BAN NHÂN DÂN XÃ HÒA VANG PHÓ CHỦ TỊCH Trần Thị Bích"
    assert signer in page, page
