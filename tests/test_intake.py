"""Intake on real files: recognised by content, limits enforced before any pixel is decoded."""

from __future__ import annotations

import resource
from pathlib import Path

import pytest

from pipeline.limits import Limits
from pipeline.reasons import MESSAGES, Reason, Rejected, message
from pipeline.steps.intake import check_size, inspect, sniff

LIMITS = Limits()


def reason_of(path: Path, limits: Limits = LIMITS, **kw: bool) -> str:
    try:
        check_size(path, limits)
        inspect(path, sniff(path), limits, **kw)
    except Rejected as exc:
        return exc.reason.value
    return "ok"


def test_every_reason_has_both_messages() -> None:
    for reason in Reason:
        vi, en = MESSAGES[reason]
        assert vi and en and vi != en


@pytest.mark.parametrize(("name", "reason"), [
    ("fuzzdb/lottapixel.jpg", "too_many_pixels"),
    ("ocrmypdf/hugemono.pdf", "too_many_pixels"),
    ("ocrmypdf/enormous.pdf", "too_many_pixels"),
    ("ocrmypdf/invalid.pdf", "corrupt_file"),
    ("qpdf/bad1.pdf", "corrupt_file"),
    ("pillow/broken.png", "corrupt_file"),
    ("pillow/crash-2020-10-test.tif", "corrupt_file"),
    ("pikepdf/graph-encrypted.pdf", "encrypted"),
    ("qpdf/encrypted-40-bit-R3.pdf", "encrypted"),
    ("node-signpdf/signed-once.pdf", "already_signed"),
    ("vietadmin-ocr-llm-rag/3.pdf", "already_signed"),
    ("ocrmypdf/livecycle.pdf", "dynamic_form"),
    ("pillow/decompression_bomb.gif", "wrong_file_type"),
    ("pyhanko/certs/real-qcert.cer", "wrong_file_type"),
    ("vietadmin-ocr-llm-rag/2.pdf", "ok"),
    ("vietadmin-ocr-llm-rag/4_1.jpg", "ok"),
    ("pillow/g4-multi.tiff", "ok"),
])
def test_corpus_file_verdicts(corpus: Path, name: str, reason: str) -> None:
    assert reason_of(corpus / name) == reason


def test_bomb_rejected_without_decoding(corpus: Path) -> None:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert reason_of(corpus / "fuzzdb/lottapixel.jpg") == "too_many_pixels"
    assert reason_of(corpus / "ocrmypdf/hugemono.pdf") == "too_many_pixels"
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mb < 50


def test_signed_pdf_accepted_only_when_asked(corpus: Path) -> None:
    assert reason_of(corpus / "node-signpdf/signed-once.pdf", accept_signed=True) == "ok"


def test_limits_are_enforced(corpus: Path, tmp_path: Path) -> None:
    tiff = corpus / "pillow/g4-multi.tiff"
    assert reason_of(tiff, Limits(max_pages=2)) == "too_many_pages"
    assert reason_of(tiff, Limits(max_bytes=1000)) == "file_too_large"
    assert reason_of(corpus / "vietadmin-ocr-llm-rag/4_1.jpg",
                     Limits(max_image_pixels=500_000)) == "too_many_pixels"
    empty = tmp_path / "empty.pdf"
    empty.write_bytes(b"")
    assert reason_of(empty) == "empty_file"
    text = tmp_path / "notes.txt"
    text.write_text("không phải bản quét")
    assert reason_of(text) == "wrong_file_type"


def test_native_resolution_plan(corpus: Path) -> None:
    path = corpus / "vietadmin-ocr-llm-rag/2.pdf"
    ins = inspect(path, sniff(path), LIMITS)
    assert ins.page_count == 2
    assert all(p.mode == "copy_jpeg" for p in ins.pages)
    assert all(295 <= p.dpi <= 305 for p in ins.pages)
    ccitt = corpus / "vietadmin-ocr-llm-rag/1.pdf"
    plans = inspect(ccitt, sniff(ccitt), LIMITS).pages
    assert {p.mode for p in plans} == {"render_mono"} and all(p.dpi >= 199 for p in plans)


def test_messages_format_in_both_languages() -> None:
    text = message(Reason.TOO_MANY_PAGES, "vi", pages=400, limit=300)
    assert "400" in text and "300" in text and "trang" in text
    assert "pages" in message(Reason.TOO_MANY_PAGES, "en", pages=400, limit=300)
