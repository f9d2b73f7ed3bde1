"""Chip-card QR codes: real symbols drawn onto scan-like pages, decoded and checked."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image
from reportlab.graphics.barcode import qrencoder

from pipeline.flow import StageOptions, conflicts, read_card_qr
from pipeline.steps.extract import extract
from pipeline.steps.intake import sha256_file
from pipeline.types import OcrPage, OcrWord
from pipeline.vn.cardqr import CardQr, decode_card_qr, parse_card_payload, read_qr_codes
from scripts.synthdocs import make_document
from storage.backends import LocalStore
from storage.evidence.originals import store_original

ADDRESS = "Số 12 ngõ 3 phố Huế, Phường Hai Bà Trưng, Thành phố Hà Nội"
PAYLOAD = f"001195012345|012345678|Nguyễn Thị Mai Anh|15031995|Nữ|{ADDRESS}|20042021"
EXPECTED = {
    "id_number": "001195012345",
    "old_id_number": "012345678",
    "full_name": "Nguyễn Thị Mai Anh",
    "date_of_birth": "1995-03-15",
    "sex": "F",
    "place_of_residence": ADDRESS,
    "issue_date": "2021-04-20",
}


def qr_modules(text: str) -> np.ndarray:
    """The symbol's dark modules, encoded by reportlab (UTF-8 bytes, level M)."""
    code = qrencoder.QRCode(None, qrencoder.QRErrorCorrectLevel.M)
    code.addData(text)
    code.make()
    return np.array([[bool(v) for v in row] for row in code.modules])


def qr_image(text: str, module_px: float) -> np.ndarray:
    """Grey symbol with a 4-module quiet zone; fractional module sizes as a scanner sees them."""
    modules = np.pad(qr_modules(text), 4, constant_values=False)
    sharp = np.where(modules, 20, 250).astype(np.uint8)
    sharp = cv2.resize(sharp, None, fx=10, fy=10, interpolation=cv2.INTER_NEAREST)
    side = round(modules.shape[0] * module_px)
    return cv2.resize(sharp, (side, side), interpolation=cv2.INTER_AREA)


def scan(codes: list[tuple[np.ndarray, tuple[int, int]]], angle: float = 0.0, seed: int = 0,
         size: tuple[int, int] = (1000, 1400), noise: float = 7.0,
         ) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """A colour page: tinted uneven paper, lines of "text", the codes, tilt, noise, JPEG.

    Returns the page and where each code's centre ended up (x, y) after the tilt.
    """
    rng = np.random.default_rng(seed)
    h, w = size
    shade = np.linspace(238, 222, w)[None, :] + np.linspace(0, 8, h)[:, None]
    page = shade.astype(np.uint8)
    for y in range(60, h - 40, 38):  # printed text lines as ragged dark strokes
        x = 60
        while x < w - 120:
            word = int(rng.integers(25, 110))
            cv2.rectangle(page, (x, y), (x + word, y + 14), int(rng.integers(30, 90)), -1)
            x += word + int(rng.integers(10, 25))
    centres = []
    for img, (top, left) in codes:
        page[top : top + img.shape[0], left : left + img.shape[1]] = img
        centres.append((left + img.shape[1] / 2, top + img.shape[0] / 2))
    turn = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    page = cv2.warpAffine(page, turn, (w, h), flags=cv2.INTER_LINEAR, borderValue=230)
    centres = [tuple(turn @ np.array([x, y, 1.0])) for x, y in centres]
    noisy = page.astype(np.float32) + rng.normal(0, noise, page.shape)
    noisy = cv2.GaussianBlur(np.clip(noisy, 0, 255).astype(np.uint8), (0, 0), 0.6)
    colour = cv2.merge([noisy, np.clip(noisy.astype(np.int16) + 6, 0, 255).astype(np.uint8),
                        np.clip(noisy.astype(np.int16) + 10, 0, 255).astype(np.uint8)])
    ok, jpeg = cv2.imencode(".jpg", colour, [cv2.IMWRITE_JPEG_QUALITY, 85])
    assert ok
    return cv2.imdecode(jpeg, cv2.IMREAD_COLOR), centres


# --- payloads -----------------------------------------------------------------------------


def test_payload_fields() -> None:
    card = parse_card_payload(PAYLOAD)
    assert card is not None
    assert card.field_values() == EXPECTED
    assert card.problems == ()
    assert card.valid
    assert card.extra == ()


def test_payload_upper_case_name_empty_old_id_and_extra_fields() -> None:
    payload = f"079205001234||TRẦN VĂN BÌNH|01012005|Nam|{ADDRESS}|10072021|X|Y"
    card = parse_card_payload(payload)
    assert card is not None
    assert card.full_name == "Trần Văn Bình"
    assert card.old_id_number is None
    assert "old_id_number" not in card.field_values()
    assert card.date_of_birth == "2005-01-01"
    assert card.sex == "M"
    assert card.issue_date == "2021-07-10"
    assert card.extra == ("X", "Y")
    assert card.valid, card.problems


def test_payload_decomposed_text_comes_back_nfc() -> None:
    import unicodedata

    card = parse_card_payload(unicodedata.normalize("NFD", PAYLOAD))
    assert card is not None
    assert card.full_name == "Nguyễn Thị Mai Anh"
    assert card.place_of_residence == ADDRESS
    assert card.sex == "F"


@pytest.mark.parametrize(("payload", "fragment"), [
    # 1 = female born 1900s, but the code says a man
    (f"001195012345||Nguyễn Văn An|15031995|Nam|{ADDRESS}|20042021", "sex F"),
    # 2 = born 2000s, the code says 1995
    (f"001295012345||Nguyễn Thị An|15031995|Nữ|{ADDRESS}|20042021", "born in 2095"),
    # year digits 96 contradict 1995
    (f"001196012345||Nguyễn Thị An|15031995|Nữ|{ADDRESS}|20042021", "born in 1996"),
    (f"999195012345||Nguyễn Thị An|15031995|Nữ|{ADDRESS}|20042021", "province code 999"),
    (f"00119501234||Nguyễn Thị An|15031995|Nữ|{ADDRESS}|20042021", "12 digits"),
    (f"001195012345|12345|Nguyễn Thị An|15031995|Nữ|{ADDRESS}|20042021", "old_id_number"),
    (f"001195012345||Nguyễn Thị An|31021995|Nữ|{ADDRESS}|20042021", "date_of_birth"),
    (f"001195012345||Nguyễn Thị An|15031995|Nữ|{ADDRESS}|2004202", "issue_date"),
    (f"001195012345||Nguyễn Thị An|15031995|Nữ|{ADDRESS}|20041990", "before date_of_birth"),
    (f"001195012345||Nguyễn Thị An|15031995|X|{ADDRESS}|20042021", "sex 'X'"),
    (f"001195012345|||15031995|Nữ|{ADDRESS}|20042021", "full_name"),
])
def test_payload_problems_are_reported(payload: str, fragment: str) -> None:
    card = parse_card_payload(payload)
    assert card is not None
    assert not card.valid
    assert any(fragment in p for p in card.problems), card.problems


@pytest.mark.parametrize("payload", [
    "https://ecopy.example.vn/verify/ABC123",
    "001195012345|012345678|Nguyễn Thị Mai Anh|15031995|Nữ|Hà Nội",  # too few fields
    "a|b|c|d|e|f|g",
    "",
])
def test_not_a_card_payload(payload: str) -> None:
    assert parse_card_payload(payload) is None


# --- images -------------------------------------------------------------------------------


def check_card(card: CardQr | None, centre: tuple[float, float], side: int) -> None:
    """Every field read right, and the box reported where the code really is."""
    assert card is not None
    assert card.field_values() == EXPECTED
    assert card.valid, card.problems
    assert card.raw == PAYLOAD
    assert card.box is not None
    x, y, w, h = card.box
    assert side * 0.8 < max(w, h) < side * 1.6
    assert abs(x + w / 2 - centre[0]) < side / 4 and abs(y + h / 2 - centre[1]) < side / 4


@pytest.mark.parametrize(("module_px", "angle", "seed", "noise"), [
    # ~2 px per module (a card scanned near 200 dpi), tilted: OpenCV misses these on the whole
    # page; they are read once located, cut out and enlarged
    (2.0, 5.0, 3, 7.0),
    (2.2, 5.0, 2, 7.0),
    (2.2, 12.0, 3, 7.0),
    (2.2, 40.0, 2, 12.0),  # grainy and steeply tilted: read only once turned upright
    (2.5, 0.0, 1, 7.0),
    (3.0, 7.0, 2, 7.0),  # slightly tilted on the glass
    (3.0, 90.0, 3, 7.0),
    (4.0, 180.0, 4, 7.0),  # card placed upside down
    (6.0, -25.0, 5, 7.0),
])
def test_decode_card_qr_on_scanned_page(module_px: float, angle: float, seed: int,
                                        noise: float) -> None:
    code = qr_image(PAYLOAD, module_px)
    page, centres = scan([(code, (400, 600))], angle=angle, seed=seed, noise=noise)
    check_card(decode_card_qr(page), centres[0], code.shape[0])


def test_decode_from_file_and_pillow_image(tmp_path: Path) -> None:
    code = qr_image(PAYLOAD, 3.0)
    page, centres = scan([(code, (150, 200))], seed=7, size=(700, 900))
    path = tmp_path / "cccd-back.png"
    assert cv2.imwrite(str(path), page)
    check_card(decode_card_qr(path), centres[0], code.shape[0])
    with Image.open(path) as im:
        check_card(decode_card_qr(im.convert("RGB")), centres[0], code.shape[0])


def test_contradicting_id_found_in_image_is_a_problem() -> None:
    payload = PAYLOAD.replace("|Nữ|", "|Nam|")
    page, _ = scan([(qr_image(payload, 3.0), (300, 300))], seed=8)
    card = decode_card_qr(page)
    assert card is not None
    assert card.sex == "M"
    assert not card.valid
    assert card.problems == ("id_number says sex F, the code says M",)


def test_card_code_chosen_among_other_codes() -> None:
    url = "https://ecopy.example.vn/verify/0f3a9c"
    code = qr_image(PAYLOAD, 4.0)
    page, centres = scan([(qr_image(url, 4.0), (100, 100)), (code, (500, 800))], seed=9)
    check_card(decode_card_qr(page), centres[1], code.shape[0])
    only_url, _ = scan([(qr_image(url, 4.0), (100, 100))], seed=9)
    assert [text for text, _ in read_qr_codes(only_url)] == [url]
    assert decode_card_qr(only_url) is None


def test_page_without_qr_code() -> None:
    page, _ = scan([], seed=10)
    assert decode_card_qr(page) is None
    assert read_qr_codes(page) == []
    # the same page with the code stamped on it is read, so the empty answer is meaningful
    code = qr_image(PAYLOAD, 4.0)
    stamped, _ = scan([(code, (400, 600))], seed=10)
    assert decode_card_qr(stamped) is not None
    assert decode_card_qr(np.full((200, 300), 255, np.uint8)) is None


# --- in the pipeline ----------------------------------------------------------------------


def _front_page(rows: list[str]) -> OcrPage:
    words = tuple(OcrWord(t, 10 + 60 * j, 40 * i, 50, 30, 88.0, f"1.1.{i}")
                  for i, row in enumerate(rows) for j, t in enumerate(row.split()))
    return OcrPage(0, 1000, 640, 0, words, 88.0, "tesseract")


def test_qr_fills_missing_fields_and_repairs_the_printed_name() -> None:
    card = parse_card_payload(PAYLOAD)
    assert card is not None
    page = _front_page(["CĂN CƯỚC CÔNG DÂN", "Số / No.: 001195012345",
                        "Họ và tên / Full name: NGUYEN THI MAI ANH"])
    extraction = extract([page], "citizen_id", card, 0)
    got = {f.name: f for f in extraction.fields}
    assert got["full_name"].value == "Nguyễn Thị Mai Anh" and got["full_name"].confidence == 1.0
    assert got["date_of_birth"].value == "1995-03-15" and got["sex"].value == "F"
    assert got["issue_date"].value == "2021-04-20"
    assert got["place_of_residence"].value == ADDRESS
    assert extraction.warnings == ()


def test_qr_contradicting_the_printed_text_goes_to_review() -> None:
    card = parse_card_payload(PAYLOAD)
    page = _front_page(["CĂN CƯỚC CÔNG DÂN", "Số / No.: 001195012345",
                        "Ngày sinh / Date of birth: 16/03/1995"])
    extraction = extract([page], "citizen_id", card, 0)
    assert [w for w in extraction.warnings if w.startswith("conflict: date_of_birth")]
    assert conflicts(extraction)  # what review_reasons turns into field_conflict


def test_a_code_whose_id_contradicts_itself_fills_at_half_confidence() -> None:
    card = parse_card_payload(PAYLOAD.replace("15031995", "15031996"))
    assert card is not None and not card.valid
    extraction = extract([_front_page(["CĂN CƯỚC CÔNG DÂN"])], "citizen_id", card, 0)
    assert {f.name: f.confidence for f in extraction.fields}["id_number"] == 0.5
    assert any("QR code" in w for w in extraction.warnings)


def test_stage_reads_the_code_of_a_generated_card_from_the_store(tmp_path: Path) -> None:
    """The understand step's reader: original from the store, page re-rendered, turned
    upright with the OCR's rotation, decoded."""
    label = make_document(tmp_path, "card", "citizen_id", 0, seed=11, degrade=False)
    assert label["side"] == "front"
    path = tmp_path / label["file"]
    store = LocalStore(tmp_path / "store")
    sha = sha256_file(path)
    store_original(store, sha, path)
    page = _front_page(["CĂN CƯỚC CÔNG DÂN"])
    with Image.open(path) as im:
        page = replace(page, width_px=im.width, height_px=im.height)
    found = read_card_qr(store, sha, label["file"], [page], StageOptions(person_id="0" * 12))
    assert found is not None
    card, index = found
    assert index == 0 and card.raw == label["qr"] and card.valid
    assert card.id_number == label["fields"]["id_number"]
    assert card.box is not None and card.box[0] > im.width // 2  # top right of the card
