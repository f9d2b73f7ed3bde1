"""Real signatures on real files: sign twice with the dev PKI, verify, then tamper.

No mocks: pyHanko signs and validates, poppler's pdfsig gives a second opinion, and the
broken files come from the shared corpus.
"""

from __future__ import annotations

import hashlib
import io
import json
import multiprocessing
import os
import subprocess
from datetime import datetime
from io import BytesIO
from pathlib import Path
from typing import Any

import pikepdf
import pytest
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

import signing.sign as sign_module
from signing import pdfparse
from signing.der import frozen
from signing.devpki import DevPki, ensure_dev_pki
from signing.ltv import extend_to_level
from signing.report_text import POLICY_SOFT_FAIL
from signing.report_text import render_text as render
from signing.revocation import RevocationAuthority
from signing.sign import (
    VN_TZ,
    SignedInfo,
    SigningIdentity,
    load_identity,
    sign_as_certifier,
    sign_ecopy,
)
from signing.tsa import local_timestamper
from signing.verify import VerificationReport, render_text, verify_pdf

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
FONT = Path("/usr/share/fonts/truetype/liberation2/LiberationSerif-Regular.ttf")
AGENCY = "Ủy ban nhân dân xã Hòa Vang"
CERTIFIER = "Nguyễn Thị Ánh Tuyết"
TITLE = "Phó Chủ tịch Ủy ban nhân dân"
PAGE_TEXT = b"Giay khai sinh - ban chinh"
REGISTER_ENTRY = {"agency_code": "20314", "year": 2026, "book": "01/2026", "number": 7}
A4 = (595.0, 842.0)
AGENCY_BOX = (0, (335.0, 772.0, 575.0, 832.0))
CERTIFIER_BOX = (-1, (60.0, 40.0, 330.0, 80.0))


def _unsigned_pdf() -> bytes:
    """One A4 page with uncompressed text (so a test can flip a byte in it) and manifest."""
    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=A4)
    page = pdf.pages[0]
    font = pdf.make_indirect(
        pikepdf.Dictionary(
            Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1, BaseFont=pikepdf.Name.Helvetica
        )
    )
    page.Resources = pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=font))
    page.Contents = pdf.make_stream(b"BT /F1 18 Tf 72 700 Td (" + PAGE_TEXT + b") Tj ET")
    manifest = {"page_count": 1, "register_entry": REGISTER_ENTRY, "doc_type": "birth_cert"}
    pdf.attachments["manifest.json"] = pikepdf.AttachedFileSpec(
        pdf, json.dumps(manifest).encode(), mime_type="application/json"
    )
    out = io.BytesIO()
    pdf.save(out, compress_streams=False)
    return out.getvalue()


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> DevPki:
    directory = tmp_path_factory.mktemp("pki")
    return ensure_dev_pki(
        directory, agency_name=AGENCY, certifier_name=CERTIFIER, certifier_title=TITLE
    )


@pytest.fixture(scope="module")
def identities(pki: DevPki) -> tuple[SigningIdentity, SigningIdentity]:
    certifier = load_identity(pki.certifier_cert(), pki.certifier_key(), pki.chain(), is_test=True)
    agency = load_identity(pki.agency_cert(), pki.agency_key(), pki.chain(), is_test=True)
    return certifier, agency


@pytest.fixture(scope="module")
def timestamper(pki: DevPki) -> Any:
    return local_timestamper(pki.tsa_cert(), pki.tsa_key(), pki.chain())


@pytest.fixture(scope="module")
def unsigned() -> bytes:
    return _unsigned_pdf()


@pytest.fixture(scope="module")
def signed(
    tmp_path_factory: pytest.TempPathFactory,
    identities: tuple[SigningIdentity, SigningIdentity],
    timestamper: Any,
    unsigned: bytes,
) -> tuple[SignedInfo, bytes]:
    certifier, agency = identities
    out = tmp_path_factory.mktemp("signed") / "ecopy.pdf"
    info = sign_ecopy(
        unsigned,
        out,
        certifier=certifier,
        agency=agency,
        timestamper=timestamper,
        certifier_box=CERTIFIER_BOX,
        agency_box=AGENCY_BOX,
        font_path=FONT,
        location="Hòa Vang, Đà Nẵng",
        signing_time=datetime(2026, 11, 23, 14, 5, 9, tzinfo=VN_TZ),
    )
    return info, out.read_bytes()


def _verify(pki: DevPki, data: bytes, **kwargs: Any) -> VerificationReport:
    """Verify under the default policy, the dev CAs' current CRLs given as revocation evidence
    (as `ecopy verify --crl` does for a B-T copy)."""
    kwargs.setdefault("trust_roots", ())
    kwargs.setdefault("test_roots", (pki.root_cert(),))
    kwargs.setdefault("crls", RevocationAuthority(pki.directory).crls())
    return verify_pdf(data, **kwargs)


def _pdfsig_valid_count(path: Path) -> int:
    done = subprocess.run(
        ["pdfsig", str(path)], capture_output=True, text=True, timeout=60, check=False
    )
    return done.stdout.count("Signature Validation: Signature is Valid.")


def test_two_signatures_pass_as_test_copy(pki: DevPki, signed: tuple[SignedInfo, bytes]) -> None:
    info, data = signed
    assert info.sha256 == hashlib.sha256(data).hexdigest()
    assert info.agency_signing_time == "2026-11-23T14:05:09+07:00"
    report = _verify(pki, data, register_lookup=lambda entry: dict(entry))
    assert report.indication == "TOTAL-PASSED", report.problems
    assert report.is_test
    assert report.manifest_consistent
    assert report.register_status == "found"
    assert report.register_entry == REGISTER_ENTRY
    by_field = {s.field_name: s for s in report.signatures}
    assert set(by_field) == {"CertifierSignature", "AgencySignature"}
    for sig in report.signatures:
        assert sig.indication == "TOTAL-PASSED"
        assert sig.pades_level == "B-T"
        assert sig.timestamp_time is not None and sig.timestamp_valid
        assert sig.tsa_name and "TEST" in sig.tsa_name
        assert sig.chain[-1] == "ECOPY TEST ROOT — not legally valid"
    certifier = by_field["CertifierSignature"]
    assert certifier.signer_cn == CERTIFIER and certifier.organisation == AGENCY
    assert certifier.is_certification and certifier.docmdp_permission == "FILL_FORMS"
    assert certifier.modification_level == "FORM_FILLING" and certifier.docmdp_ok
    assert certifier.coverage == "ENTIRE_REVISION"
    assert by_field["AgencySignature"].coverage == "ENTIRE_FILE"
    json.dumps(report.to_dict(), ensure_ascii=False)


def test_revocation_status_unknown_is_never_total_passed(
    pki: DevPki, signed: tuple[SignedInfo, bytes]
) -> None:
    """A B-T copy verified with no revocation data (none in the copy, none given, offline):
    under the default policy it is INDETERMINATE / TRY_LATER, and says how to complete the
    check; only an explicitly relaxed policy passes it, and the report names that policy."""
    data = signed[1]
    strict = verify_pdf(data, trust_roots=(), test_roots=(pki.root_cert(),))
    assert (strict.indication, strict.sub_indication) == ("INDETERMINATE", "TRY_LATER")
    assert {p.code for p in strict.problems} == {"no_revocation_data"}
    assert all(s.revocation.startswith("checked (require): not established")
               for s in strict.signatures)
    vi = render(strict)
    assert "thu hồi" in vi and "--crl" in vi and "TOTAL-PASSED" not in vi
    relaxed = verify_pdf(data, trust_roots=(), test_roots=(pki.root_cert(),),
                         revocation="soft-fail")
    assert relaxed.indication == "TOTAL-PASSED" and relaxed.policy == POLICY_SOFT_FAIL
    assert "không bắt buộc dữ liệu thu hồi" in render(relaxed)
    assert all(s.revocation.startswith("not checked") for s in relaxed.signatures)


def test_a_b_lt_copy_passes_offline_after_its_certificates_expire(
    pki: DevPki, signed: tuple[SignedInfo, bytes], tmp_path: Path
) -> None:
    """The copy is judged at the time its signature timestamp proves, with the revocation
    data it carries: verified a year after the certifier's certificate has expired, a B-LT
    copy still passes, offline."""
    source = tmp_path / "bt.pdf"
    source.write_bytes(signed[1])
    extend_to_level(source, tmp_path / "lt.pdf", "B-LT", roots=[pki.root_cert()],
                    crls=RevocationAuthority(pki.directory).crls(), fetching=False)
    expiry = pki.certifier_cert()["tbs_certificate"]["validity"]["not_after"].native
    later = expiry.replace(year=expiry.year + 1)
    report = verify_pdf((tmp_path / "lt.pdf").read_bytes(), trust_roots=(),
                        test_roots=(pki.root_cert(),), validation_time=later)
    assert report.indication == "TOTAL-PASSED", report.problems
    assert {s.pades_level for s in report.signatures} == {"B-LT"}
    assert all(s.revocation == f"checked (require): not revoked at {s.timestamp_time}"
               for s in report.signatures)  # judged when the timestamp says it was signed


def test_register_mismatch_and_missing_fail(pki: DevPki, signed: tuple[SignedInfo, bytes]) -> None:
    data = signed[1]
    changed = _verify(pki, data, register_lookup=lambda e: {**e, "number": 8})
    assert (changed.register_status, changed.indication) == ("mismatch", "TOTAL-FAILED")
    missing = _verify(pki, data, register_lookup=lambda e: None)
    assert (missing.register_status, missing.indication) == ("missing", "INDETERMINATE")


def test_earlier_revisions_stay_byte_identical(
    unsigned: bytes, signed: tuple[SignedInfo, bytes]
) -> None:
    info, data = signed
    original_end, certifier_end, agency_end = info.revision_ends
    assert data[:original_end] == unsigned
    assert agency_end == len(data)
    reader_rev2 = pikepdf.open(io.BytesIO(data[:certifier_end]))  # revision 2 stands alone
    assert len(reader_rev2.pages) == 1


def test_pdfsig_agrees_both_signatures_valid(
    tmp_path: Path, signed: tuple[SignedInfo, bytes]
) -> None:
    path = tmp_path / "ecopy.pdf"
    path.write_bytes(signed[1])
    assert _pdfsig_valid_count(path) == 2


def test_flipped_byte_is_hash_failure(pki: DevPki, signed: tuple[SignedInfo, bytes]) -> None:
    data = bytearray(signed[1])
    at = data.index(PAGE_TEXT)
    data[at] ^= 0x01  # 'G' -> 'F': still a valid PDF, different content
    report = _verify(pki, bytes(data))
    assert report.indication == "TOTAL-FAILED"
    assert report.sub_indication == "HASH_FAILURE"
    assert all(s.sub_indication == "HASH_FAILURE" for s in report.signatures)


def _append_update(data: bytes, change: str) -> bytes:
    """An incremental update nobody signed, as a forger with a PDF library would write it."""
    writer = IncrementalPdfFileWriter(io.BytesIO(data))
    page_ref = writer.find_page_for_modification(0)[0]
    page = page_ref.get_object()
    if change == "annotation":
        note = generic.DictionaryObject(
            {
                generic.NameObject("/Type"): generic.NameObject("/Annot"),
                generic.NameObject("/Subtype"): generic.NameObject("/Text"),
                generic.NameObject("/Rect"): generic.ArrayObject(
                    [generic.NumberObject(v) for v in (100, 100, 120, 120)]
                ),
                generic.NameObject("/Contents"): generic.TextStringObject("Đã hủy"),
            }
        )
        annots = page["/Annots"]
        annots.append(writer.add_object(note))
        raw = page.raw_get("/Annots")
        writer.update_container(raw if isinstance(raw, generic.IndirectObject) else page)
        writer.update_container(page)
    else:
        forged = generic.StreamObject(stream_data=b"BT /F1 18 Tf 72 700 Td (FORGED) Tj ET")
        page[generic.NameObject("/Contents")] = writer.add_object(forged)
        writer.update_container(page)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@pytest.mark.parametrize("change", ["annotation", "page_content"])
def test_unsigned_update_is_format_failure(
    tmp_path: Path, pki: DevPki, signed: tuple[SignedInfo, bytes], change: str
) -> None:
    tampered = _append_update(signed[1], change)
    report = _verify(pki, tampered)
    assert report.indication == "TOTAL-FAILED"
    assert report.sub_indication == "FORMAT_FAILURE"
    assert any("modified after signing" in p.message_en.lower() for p in report.problems)
    if change == "annotation":
        # pdfsig checks each byte range only: it still calls both signatures valid, which is
        # why the verifier must run diff analysis on what came after them.
        path = tmp_path / "annotated.pdf"
        path.write_bytes(tampered)
        assert _pdfsig_valid_count(path) == 2


def test_no_trust_roots_is_indeterminate(pki: DevPki, signed: tuple[SignedInfo, bytes]) -> None:
    report = verify_pdf(signed[1], trust_roots=())
    assert report.indication == "INDETERMINATE"
    assert report.sub_indication == "NO_CERTIFICATE_CHAIN_FOUND"
    assert all(not s.trusted for s in report.signatures)


def test_single_signature_is_not_enough(
    pki: DevPki,
    identities: tuple[SigningIdentity, SigningIdentity],
    timestamper: Any,
    unsigned: bytes,
) -> None:
    once = BytesIO()
    sign_as_certifier(
        BytesIO(unsigned),
        once,
        certifier=identities[0],
        timestamper=timestamper,
        certifier_box=CERTIFIER_BOX,
        agency_box=AGENCY_BOX,
        font_path=FONT,
    )
    report = _verify(pki, once.getvalue())
    assert report.signatures[0].indication == "TOTAL-PASSED"
    assert report.indication == "INDETERMINATE"
    assert report.sub_indication == "SIG_CONSTRAINTS_FAILURE"


def test_broken_vietnamese_ecopy_is_not_intact(pki: DevPki) -> None:
    report = _verify(pki, (CORPUS / "vietadmin-ocr-llm-rag" / "3.pdf").read_bytes())
    assert report.indication != "TOTAL-PASSED"
    assert report.signatures and report.signatures[0].sub_indication == "HASH_FAILURE"
    assert "Đà Nẵng" in report.signatures[0].signer_cn
    assert not report.is_test


def test_unreadable_pdf_is_total_failed(pki: DevPki) -> None:
    report = _verify(pki, (CORPUS / "ocrmypdf" / "invalid.pdf").read_bytes())
    assert report.indication == "TOTAL-FAILED"
    assert report.sub_indication == "FORMAT_FAILURE"
    assert "KHÔNG HỢP LỆ" in render_text(report)


def test_rendered_report_says_test_and_verdict(
    pki: DevPki, signed: tuple[SignedInfo, bytes]
) -> None:
    report = _verify(pki, signed[1])
    vi = render_text(report)
    assert vi.splitlines()[0] == "*** BẢN THỬ NGHIỆM — KHÔNG CÓ GIÁ TRỊ PHÁP LÝ ***"
    assert "HỢP LỆ (TOTAL-PASSED)" in vi and CERTIFIER in vi
    en = render_text(report, lang="en")
    assert en.startswith("*** TEST — not legally valid ***") and "VALID (TOTAL-PASSED)" in en


def test_large_copies_are_signed_through_files(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    pki: DevPki,
    identities: tuple[SigningIdentity, SigningIdentity],
    timestamper: Any,
    unsigned: bytes,
) -> None:
    """Copies above IN_MEMORY_MAX_BYTES take the temporary-file path; same result."""
    monkeypatch.setattr(sign_module, "IN_MEMORY_MAX_BYTES", 0)
    source = tmp_path / "unsigned.pdf"
    source.write_bytes(unsigned)
    certifier, agency = identities
    info = sign_ecopy(
        source, tmp_path / "big.pdf", certifier=certifier, agency=agency,
        timestamper=timestamper, certifier_box=CERTIFIER_BOX, agency_box=AGENCY_BOX,
        font_path=FONT, durable=False,
    )  # fmt: skip
    data = (tmp_path / "big.pdf").read_bytes()
    assert (info.sha256, info.size) == (hashlib.sha256(data).hexdigest(), len(data))
    assert data[: info.revision_ends[0]] == unsigned
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.pdf", "unsigned.pdf"]  # no scratch
    report = _verify(pki, data, register_lookup=lambda entry: dict(entry))
    assert report.indication == "TOTAL-PASSED", report.problems


def _stamp_font_programs(data: bytes) -> dict[str, bytes]:
    """Signature field name → the embedded font program of its appearance stream."""
    out = {}
    with pikepdf.open(io.BytesIO(data)) as pdf:
        for field in pdf.Root.AcroForm.Fields:
            fonts = field.AP.N.Resources.Font
            (font,) = fonts.values()
            descriptor = font.DescendantFonts[0].FontDescriptor
            out[str(field.T)] = descriptor.FontFile2.read_bytes()
    return out


def test_stamp_font_program_is_reused_and_complete(
    tmp_path: Path,
    identities: tuple[SigningIdentity, SigningIdentity],
    timestamper: Any,
    unsigned: bytes,
    signed: tuple[SignedInfo, bytes],
) -> None:
    """The per-process font cache: a second copy signed at another time embeds the very same
    font programs (digits are always in the subset), and they draw every character used."""
    certifier, agency = identities
    sign_ecopy(
        unsigned, tmp_path / "later.pdf", certifier=certifier, agency=agency,
        timestamper=timestamper, certifier_box=CERTIFIER_BOX, agency_box=AGENCY_BOX,
        font_path=FONT, signing_time=datetime(2027, 1, 8, 9, 7, 3, tzinfo=VN_TZ),
    )  # fmt: skip
    later = (tmp_path / "later.pdf").read_bytes()
    first, second = _stamp_font_programs(signed[1]), _stamp_font_programs(later)
    assert set(first) == {"CertifierSignature", "AgencySignature"}
    assert first == second
    text = subprocess.run(
        ["pdftotext", "-f", "1", "-l", "1", str(tmp_path / "later.pdf"), "-"],
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout  # fmt: skip
    assert "Thời gian ký: 2027-01-08T09:07:03+07:00" in text


@pytest.mark.parametrize(
    "raw",
    [
        b"<48656C6C6F> rest",
        b"<48 65\n6C\t6C 6F\r\n> rest",
        b"<4865f> rest",  # odd number of digits: final 0 implied
        b"<> rest",
        b"<" + b"0" * 40000 + b"ab>",  # a signature placeholder spans several blocks
        b"<48 % a comment\n65> rest",  # pyHanko skips comments; we defer to it
        b"<48zz65> rest",  # not hex: pyHanko's error
        b"<48656C",  # no closing bracket: pyHanko's error
    ],
)
def test_fast_hex_reader_matches_pyhanko(raw: bytes) -> None:

    def run(reader: Any) -> tuple[Any, int]:
        stream = io.BytesIO(raw)
        try:
            value = reader(stream)
        except Exception as exc:
            return type(exc), -1
        return (type(value), bytes(value.original_bytes)), stream.tell()

    assert run(pdfparse.read_hex_string) == run(pdfparse._pyhanko_reader)
    assert generic.read_hex_string_from_stream is pdfparse.read_hex_string  # installed


def test_frozen_der_keeps_bytes_and_type(pki: DevPki) -> None:
    from pyhanko.sign.general import as_signing_certificate_v2

    value = as_signing_certificate_v2(pki.certifier_cert())
    kept = frozen(value)
    assert type(kept) is type(value) and kept.dump() == value.dump()


def _racer(directory: str, barrier: Any, out: Any) -> None:
    barrier.wait()
    pki = ensure_dev_pki(
        Path(directory), agency_name=AGENCY, certifier_name=CERTIFIER, certifier_title=TITLE
    )
    out.put(pki.root_fingerprint)


def test_concurrent_first_use_creates_one_pki(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("fork")
    barrier, results = ctx.Barrier(2), ctx.Queue()
    procs = [ctx.Process(target=_racer, args=(str(tmp_path), barrier, results)) for _ in range(2)]
    for p in procs:
        p.start()
    fingerprints = {results.get(timeout=30) for _ in procs}
    for p in procs:
        p.join(timeout=30)
        assert p.exitcode == 0
    assert len(fingerprints) == 1
    pki = ensure_dev_pki(
        tmp_path, agency_name=AGENCY, certifier_name=CERTIFIER, certifier_title=TITLE
    )
    assert fingerprints == {pki.root_fingerprint}
    assert pki.is_dev_root(pki.root_cert()) and not pki.is_dev_root(pki.certifier_cert())
    for key in tmp_path.glob("*.key.pem"):
        assert os.stat(key).st_mode & 0o777 == 0o600


def test_agency_stamp_text_is_embedded_vietnamese(
    tmp_path: Path, signed: tuple[SignedInfo, bytes]
) -> None:
    """pdftotext inserts spaces between glyphs drawn too far apart, so an exact match also
    catches wrong glyph widths (pyHanko's unscaled /W with a 2048-unit em did that)."""
    path = tmp_path / "ecopy.pdf"
    path.write_bytes(signed[1])
    text = subprocess.run(
        ["pdftotext", "-f", "1", "-l", "1", str(path), "-"],
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout  # fmt: skip
    assert AGENCY in text
    assert "Bản sao điện tử được chứng thực từ bản chính" in text
    assert "Thời gian ký: 2026-11-23T14:05:09+07:00" in text
    fonts = subprocess.run(
        ["pdffonts", str(path)], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    assert "LiberationSerif" in fonts and "Courier" not in fonts


def test_stamp_font_covers_every_vietnamese_letter() -> None:
    """The cut-down stamp font still draws every Vietnamese letter with every tone, both
    cases, precomposed (NFC) and as base + combining tone mark."""
    import unicodedata

    from fontTools import ttLib

    from signing.stampfont import stamp_font

    font = ttLib.TTFont(BytesIO(stamp_font(FONT).font_bytes))
    cmap = font.getBestCmap()
    bases = "aăâeêioôơuưy"
    tones = ["", "\u0300", "\u0301", "\u0303", "\u0309", "\u0323"]
    letters = {unicodedata.normalize("NFC", b + t) for b in bases for t in tones} | set("dđ")
    letters |= {c.upper() for c in letters}
    needed = letters | set(tones[1:]) | set("0123456789:+-–—“”‘’…·ABCDEFGHIJKLMNOPQRSTUVWXYZ")
    missing = sorted(c for c in needed if ord(c) not in cmap)
    assert not missing, missing
    assert len(letters) == 2 * (len(bases) * len(tones) + 2)  # every NFC form is one char
