"""The synthetic evaluation set: deterministic, complete, labels that are right, and papers the
real pipeline can read."""

from __future__ import annotations

import hashlib
import re
import time
import unicodedata
from concurrent.futures import ProcessPoolExecutor
from datetime import date
from pathlib import Path

import pytest
from PIL import Image

from pipeline.flow import StageOptions, check_refusal, read_pages
from pipeline.reasons import Reason, Rejected
from pipeline.run.pagework import TaskFailure, init_worker
from pipeline.steps.classify import classify
from pipeline.steps.intake import sniff
from pipeline.steps.ocr import is_blank
from pipeline.vn.cardqr import decode_card_qr
from pipeline.vn.idnumber import parse_personal_id
from scripts.synthdocs import (
    BAD_KINDS,
    DOC_TYPES,
    date_in_words,
    generate,
    long_date,
    make_document,
    mrz_check_digit,
    number_in_words,
    read_labels,
)

ISO = re.compile(r"^\d{4}-\d{2}-\d{2}$")
DATE_FIELDS = ("date_of_birth", "issue_date", "expiry_date", "date_of_death",
               "husband_date_of_birth", "wife_date_of_birth")
NAME_FIELDS = ("full_name", "father_full_name", "mother_full_name", "husband_full_name",
               "wife_full_name")
REASON_CODES = {r.value for r in Reason}


@pytest.fixture(scope="module")
def eval_set(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict]]:
    out = tmp_path_factory.mktemp("synth")
    return out, generate(out, per_type=4, seed=5)


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_deterministic_for_a_seed(tmp_path: Path) -> None:
    first = generate(tmp_path / "a", per_type=1, seed=11)
    again = generate(tmp_path / "b", per_type=1, seed=11)
    other = generate(tmp_path / "c", per_type=1, seed=12, types=DOC_TYPES[:3])
    assert first == again
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    assert [x["fields"] for x in first[:3]] != [x["fields"] for x in other]
    assert read_labels(tmp_path / "a") == first


def test_a_document_does_not_depend_on_the_set_size(tmp_path: Path) -> None:
    small = generate(tmp_path / "s", per_type=1, seed=3, types=("land_use_cert",))
    large = generate(tmp_path / "l", per_type=2, seed=3, types=("land_use_cert",))
    assert small[0] == large[0]


def test_generation_is_fast(tmp_path: Path) -> None:
    """Twenty documents well under 10 s. CPU time, so another job on the machine cannot make
    this fail; OpenCV threads count in it too."""
    started = time.process_time()
    labels = generate(tmp_path, per_type=2, seed=1)
    assert len(labels) == 20
    assert time.process_time() - started < 8.0


def test_every_type_layout_font_and_refusal(eval_set: tuple[Path, list[dict]]) -> None:
    _, labels = eval_set
    assert {x["doc_type"] for x in labels} == set(DOC_TYPES)
    assert {x["expected"] for x in labels if x["expected"] != "ok"} == {
        f"rejected:{k}" for k in BAD_KINDS}
    for doc_type in DOC_TYPES:
        mine = [x for x in labels if x["doc_type"] == doc_type]
        assert len(mine) == 4
        assert len({x["layout"].removesuffix("-front").removesuffix("-back")
                    for x in mine}) >= 2, doc_type
        assert len({x["font"] for x in mine}) >= 2, doc_type
    sides = {x["side"] for x in labels if x["doc_type"] == "citizen_id"}
    assert sides == {"front", "back"}
    damaged = [x for x in labels if x["expected"] == "ok" and x["degradations"]]
    assert len(damaged) >= len(labels) // 3
    for x in labels:
        assert x["expected"] == "ok" or x["expected"].split(":", 1)[1] in REASON_CODES


def test_images_match_their_labels(eval_set: tuple[Path, list[dict]]) -> None:
    folder, labels = eval_set
    for x in labels:
        path = folder / x["file"]
        assert sniff(path) in ("jpeg", "png")
        with Image.open(path) as img:
            assert round(img.info["dpi"][0]) == x["dpi"]
            long_mm = max(img.size) / x["dpi"] * 25.4
            blank = is_blank(img)
        card = x["doc_type"] in ("citizen_id", "driving_license")
        assert abs(long_mm - (93.6 if card else 297.0)) < 3, x["file"]
        assert blank == (x["expected"] == "rejected:blank_page"), x["file"]
        if x["expected"] == "rejected:low_resolution":
            assert x["dpi"] <= 60
        if x["expected"] == "ok":
            assert x["dpi"] >= 100


def test_labels_are_valid(eval_set: tuple[Path, list[dict]]) -> None:
    _, labels = eval_set
    for x in labels:
        f = x["fields"]
        for name in DATE_FIELDS:
            if name in f:
                assert ISO.match(f[name]), (name, f[name])
                if name != "expiry_date":
                    assert date.fromisoformat(f[name]) <= date(2025, 12, 31)
        for name in NAME_FIELDS:
            if name in f:
                value = f[name]
                assert value == unicodedata.normalize("NFC", value)
                assert all(w[0].isupper() and w[1:] == w[1:].lower() for w in value.split())
                assert len(value.split()) >= 3 and not any(c.isdigit() for c in value)
        for prefix, sex in (("", f.get("sex")), ("husband_", "M"), ("wife_", "F")):
            if f"{prefix}id_number" in f:
                pid = parse_personal_id(f[f"{prefix}id_number"])  # raises if invalid
                dob = f.get(f"{prefix}date_of_birth")
                if dob:
                    assert pid.matches_birth(int(dob[:4]), sex), (x["file"], prefix)
        if "sex" in f:
            assert f["sex"] in ("M", "F")
        if "issue_date" in f and "date_of_birth" in f:
            assert f["date_of_birth"] < f["issue_date"]
        if "expiry_date" in f and "issue_date" in f:
            assert f["issue_date"] < f["expiry_date"]
        if "enterprise_code" in f:
            assert re.fullmatch(r"\d{10}", f["enterprise_code"])
        if x["doc_type"] == "land_use_cert":
            assert re.fullmatch(r"[A-Z]{2}\d{8}", f["serial_number"])
            assert re.fullmatch(r"\d+\.\d", f["area_m2"])
        if x["expected"] == "rejected:blank_page":
            assert f == {}
        elif x["doc_type"] != "other":
            assert len(f) >= 4, x


def _check_digit(data: str) -> int:
    values = {**{str(d): d for d in range(10)}, "<": 0,
              **{chr(ord("A") + i): 10 + i for i in range(26)}}
    return sum(values[c] * (7, 3, 1)[i % 3] for i, c in enumerate(data)) % 10


def test_icao_check_digit_example() -> None:
    """ICAO 9303 part 3 worked example, independent of our cards."""
    assert mrz_check_digit("L898902C3") == "6"
    assert mrz_check_digit("740812") == "2"
    assert mrz_check_digit("120415") == "9"


def test_card_backs_carry_a_valid_td1_mrz(eval_set: tuple[Path, list[dict]]) -> None:
    _, labels = eval_set
    backs = [x for x in labels if x.get("side") == "back" and x["fields"]]
    assert backs
    for x in backs:
        l1, l2, l3 = x["mrz"]
        assert all(len(line) == 30 and re.fullmatch(r"[A-Z0-9<]+", line) for line in x["mrz"])
        assert l1.startswith("IDVNM")
        assert int(l1[14]) == _check_digit(l1[5:14])
        assert int(l2[6]) == _check_digit(l2[0:6])
        assert int(l2[14]) == _check_digit(l2[8:14])
        assert int(l2[29]) == _check_digit(l1[5:30] + l2[0:7] + l2[8:15] + l2[18:29])
        f = x["fields"]
        assert l1[5:14] == f["id_number"][3:] and f["id_number"] in l1
        assert l2[0:6] == date.fromisoformat(f["date_of_birth"]).strftime("%y%m%d")
        assert l2[7] == f["sex"] and l2[15:18] == "VNM"
        assert l2[8:14] == date.fromisoformat(f["expiry_date"]).strftime("%y%m%d")
        assert "<<" in l3


@pytest.mark.parametrize(("value", "words"), [
    (2024, "hai nghìn không trăm hai mươi tư"),
    (2001, "hai nghìn không trăm linh một"),
    (1985, "một nghìn chín trăm tám mươi lăm"),
    (2010, "hai nghìn không trăm mười"),
    (2000, "hai nghìn"),
    (21, "hai mươi mốt"),
    (15, "mười lăm"),
    (14, "mười bốn"),
])
def test_numbers_in_words(value: int, words: str) -> None:
    assert number_in_words(value) == words


def test_dates_as_printed() -> None:
    assert date_in_words(date(2024, 2, 5)) == \
        "ngày năm tháng hai năm hai nghìn không trăm hai mươi tư"
    assert date_in_words(date(1999, 4, 24)) == \
        "ngày hai mươi tư tháng tư năm một nghìn chín trăm chín mươi chín"
    assert long_date(date(2024, 2, 5)) == "ngày 05 tháng 02 năm 2024"
    assert long_date(date(2024, 11, 15)) == "ngày 15 tháng 11 năm 2024"
    assert long_date(date(2024, 3, 7)) == "ngày 07 tháng 3 năm 2024"


def test_the_pipeline_reads_titles_and_secret_stamps(tmp_path: Path) -> None:
    """Small end to end: real OCR (two single-threaded tesseracts) and the real classifier on
    clean papers of four types, and the refusal check on a paper stamped secret."""
    types = ("birth_cert", "citizen_id", "driving_license", "business_registration")
    labels = generate(tmp_path, per_type=1, seed=4, degrade=False, types=types)
    stamped = make_document(tmp_path, "stamped", "other", 0, seed=4, condition="classified")
    assert stamped["expected"] == "rejected:classified"
    docs = [*labels, stamped]
    opt = StageOptions(person_id="000000000000")
    with ProcessPoolExecutor(max_workers=2, initializer=init_worker) as pool:
        futures = []
        for n, x in enumerate(docs):
            path = tmp_path / x["file"]
            (tmp_path / f"work{n}").mkdir()
            futures.append(pool.submit(read_pages, path, sniff(path), tmp_path / f"work{n}", opt))
        results = [f.result(timeout=300) for f in futures]
    for x, result in zip(docs, results, strict=True):
        assert not isinstance(result, TaskFailure), (x["file"], result)
        pages = [page for _scan, page in result[1]]
        if x is stamped:
            with pytest.raises(Rejected) as refused:
                check_refusal(pages)
            assert refused.value.reason == Reason.CLASSIFIED
            continue
        check_refusal(pages)
        assert classify(pages).doc_type == x["doc_type"], (x["file"], pages[0].text[:300])


def test_card_fronts_carry_a_real_qr_code_of_their_labels(tmp_path: Path) -> None:
    """Both chip-card layouts: the QR symbol decodes to the card's true values in the real
    payload format, and the printed fields agree with it."""
    labels = generate(tmp_path, per_type=2, seed=7, degrade=False, types=("citizen_id",))
    assert {x["layout"] for x in labels} == {"cccd-2021-front", "cancuoc-2024-front"}
    for x in labels:
        card = decode_card_qr(tmp_path / x["file"])
        assert card is not None and card.valid, x["file"]
        assert card.raw == x["qr"]
        decoded = card.field_values()
        for name, value in x["fields"].items():
            if name in decoded:
                assert decoded[name] == value, (x["file"], name)
        assert {"id_number", "full_name", "date_of_birth", "sex"} <= decoded.keys()
