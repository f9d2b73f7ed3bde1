"""The printable report (HTML, PDF) and the JSON schema, on a report from a REAL signed copy."""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
import unicodedata
from pathlib import Path

import jsonschema
import pytest

from signing.devpki import DevPki
from signing.report_render import render_html, render_pdf
from signing.sign import SignedInfo
from signing.verify import VerificationReport
from tests.test_tamper import AGENCY, CERTIFIER, PAGE_TEXT, pki, signed, verify

__all__ = ["pki", "signed"]  # module-scoped fixtures shared with the tamper suite

SCHEMA = Path(__file__).resolve().parents[1] / "docs" / "verify-report.schema.json"


@pytest.fixture(scope="module")
def report(pki: DevPki, signed: tuple[SignedInfo, bytes]) -> VerificationReport:
    result = verify(pki, signed[1])
    assert result.indication == "TOTAL-PASSED"
    return result


@pytest.fixture(scope="module")
def failed(pki: DevPki, signed: tuple[SignedInfo, bytes]) -> VerificationReport:
    data = signed[1]
    pos = data.index(PAGE_TEXT)
    return verify(pki, data[:pos] + b"X" + data[pos + 1 :])


def pdftotext(path: Path) -> str:
    out = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout
    return unicodedata.normalize("NFC", out)


def test_html_is_self_contained_and_says_the_verdict(report: VerificationReport) -> None:
    page = render_html(report)
    assert page.startswith("<!DOCTYPE html>") and '<html lang="vi">' in page
    assert "<script" not in page.lower() and "http://" not in page and "https://" not in page
    assert "BẢN THỬ NGHIỆM — KHÔNG CÓ GIÁ TRỊ PHÁP LÝ" in page
    assert "HỢP LỆ (TOTAL-PASSED)" in page and "#1b7f3b" in page
    assert CERTIFIER in page and AGENCY in page
    assert page.count("<table>") == 3  # document + two signatures
    english = render_html(report, lang="en")
    assert '<html lang="en">' in english and "VALID (TOTAL-PASSED)" in english
    assert "Signer" in english and "Người ký" not in english


def test_html_failed_verdict_is_red(failed: VerificationReport) -> None:
    page = render_html(failed)
    assert "KHÔNG HỢP LỆ (TOTAL-FAILED / HASH_FAILURE)" in page and "#b3261e" in page
    assert "mã băm không khớp" in page


def test_html_escapes_hostile_names(report: VerificationReport) -> None:
    evil = '<script>alert("x")</script>'
    sig = dataclasses.replace(
        report.signatures[0], signer_cn=evil, field_name='"><img src=x onerror=alert(1)>'
    )
    page = render_html(dataclasses.replace(report, signatures=(sig,)))
    assert "<script" not in page and "<img" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;" in page


def test_pdf_has_verdict_and_vietnamese_names(report: VerificationReport, tmp_path: Path) -> None:
    out = render_pdf(report, tmp_path / "report.pdf")
    text = pdftotext(out)
    assert "HỢP LỆ (TOTAL-PASSED)" in text
    assert "BẢN THỬ NGHIỆM" in text
    assert CERTIFIER in text and AGENCY in text
    fonts = subprocess.run(
        ["pdffonts", str(out)], capture_output=True, text=True, check=True
    ).stdout
    assert "LiberationSerif" in fonts
    rows = [line.split() for line in fonts.splitlines()[2:]]
    serif = [row for row in rows if "LiberationSerif" in row[0]]
    assert len(serif) == 2 and all(row[-5] == "yes" for row in serif)  # embedded
    # reportlab lists an unused base Helvetica in /Resources; no text is drawn with it
    assert {row[0] for row in rows} - {row[0] for row in serif} <= {"Helvetica"}
    english = pdftotext(render_pdf(report, tmp_path / "en.pdf", lang="en"))
    assert "VALID (TOTAL-PASSED)" in english and CERTIFIER in english


def test_pdf_survives_hostile_markup(report: VerificationReport, tmp_path: Path) -> None:
    sig = dataclasses.replace(report.signatures[0], signer_cn="<b>Bob & <i>co</para>")
    out = render_pdf(dataclasses.replace(report, signatures=(sig,)), tmp_path / "evil.pdf")
    assert "<b>Bob & <i>co</para>" in pdftotext(out)


def test_real_reports_match_the_json_schema(
    report: VerificationReport, failed: VerificationReport
) -> None:
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    for value in (report, failed):
        data = json.loads(json.dumps(value.to_dict()))
        jsonschema.validate(data, schema, cls=jsonschema.Draft202012Validator)
    bad = json.loads(json.dumps(report.to_dict()))
    bad["indication"] = "PASSED"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema, cls=jsonschema.Draft202012Validator)


def test_schema_documents_every_field(report: VerificationReport) -> None:
    schema = json.loads(SCHEMA.read_text())
    assert set(report.to_dict()) <= set(schema["properties"])
    sig_props = schema["$defs"]["signature"]["properties"]
    assert set(report.to_dict()["signatures"][0]) <= set(sig_props)
    doc = (SCHEMA.parent / "verify-report.md").read_text()
    for code in re.findall(
        r'^    "(\w+)": \(',
        (Path(__file__).parents[1] / "signing" / "report_text.py").read_text(),
        re.M,
    ):
        assert f"`{code}`" in doc, code


# English a Vietnamese reader would meet in the report before it was translated (issue 16):
# pyHanko's value names, the revocation line, the policy's name
ENGLISH = ("not checked", "soft-fail", "revocation", "ENTIRE_", "CONTIGUOUS", "policy",
           "two signatures", "LTA_UPDATES", "FORM_FILLING", "FILL_FORMS", "NONE", "decision",
           "cancel", "checked (", "require", "not revoked", "not established",
           "Common Name", "Organization", "Country")


def _cancelled(report: VerificationReport) -> VerificationReport:
    return dataclasses.replace(report, cancellation={
        "decision_ref": "15/QĐ-UBND", "decision_date": "2026-11-20",
        "reason": "Bản chính đã bị tẩy xóa"})


def test_the_vietnamese_report_says_everything_in_vietnamese(report: VerificationReport,
                                                              signed: tuple[SignedInfo, bytes],
                                                              pki: DevPki,
                                                              tmp_path: Path) -> None:
    from signing.verify import render_text, verify_pdf

    cancelled = _cancelled(report)
    relaxed = verify_pdf(signed[1], trust_roots=(), test_roots=(pki.root_cert(),),
                         revocation="soft-fail")  # no revocation data, policy relaxed
    for name, checked in (("default", cancelled), ("soft-fail", _cancelled(relaxed))):
        texts = {"text": render_text(checked), "html": render_html(checked)}
        render_pdf(checked, tmp_path / f"{name}.pdf")
        texts["pdf"] = pdftotext(tmp_path / f"{name}.pdf")
        for kind, text in texts.items():
            for phrase in ENGLISH:
                assert phrase.lower() not in text.lower(), (name, kind, phrase)
            assert "toàn bộ" in text and "Quyết định số 15/QĐ-UBND" in text, (name, kind)
            flat = " ".join(text.split())
            if name == "default":
                assert ("đã kiểm tra (bắt buộc có dữ liệu thu hồi): chưa bị thu hồi" in flat
                        and "ecopy mặc định: PAdES B-T trở lên, hai chữ ký" in flat), kind
            else:
                assert ("chưa kiểm tra: không có dữ liệu thu hồi" in flat
                        and "ecopy nới lỏng" in flat), kind
    # the English report keeps the machine words, and the JSON form is unchanged
    english = render_text(cancelled, lang="en")
    assert "checked (require): not revoked at" in english
    assert "revocation status required" in english
    assert "decision 15/QĐ-UBND of 2026-11-20" in english
    assert cancelled.to_dict()["signatures"][0]["revocation"].startswith("checked (require)")
