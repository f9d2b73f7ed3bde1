"""Tamper suite: a REAL e-copy signed once per module, then attacked in every way we know.

Each attack must end in the right ETSI EN 319 102-1 indication AND sub-indication, and for
each we record what poppler's ``pdfsig`` says, asserting where it is blind (it keeps saying
"Signature is Valid" because it checks byte ranges only, never what came after signing).
Legitimate later revisions (DSS, document timestamp) must still pass.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import json
import re
import subprocess
from collections.abc import Callable
from datetime import datetime
from io import BytesIO
from pathlib import Path
from typing import Any

import pikepdf
import pytest
from asn1crypto import cms
from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign.fields import SigFieldSpec, append_signature_field
from pyhanko.sign.signers import PdfTimeStamper
from pyhanko.sign.validation.dss import DocumentSecurityStore

from signing.devpki import DevPki, ensure_dev_pki
from signing.revocation import RevocationAuthority
from signing.sign import VN_TZ, SignedInfo, SigningIdentity, load_identity, sign_ecopy
from signing.tsa import local_timestamper
from signing.verify import VerificationReport, verify_pdf

FONT = Path("/usr/share/fonts/truetype/liberation2/LiberationSerif-Regular.ttf")
AGENCY = "Ủy ban nhân dân xã Hòa Vang"
CERTIFIER = "Nguyễn Thị Ánh Tuyết"
TITLE = "Phó Chủ tịch Ủy ban nhân dân"
PAGE_TEXT = b"Giay khai sinh - ban chinh"
FIELD_VALUE = "Nguyen Van A"
REGISTER_ENTRY = {"agency_code": "20314", "year": 2026, "book": "01/2026", "number": 9}
A4 = (595.0, 842.0)
AGENCY_BOX = (0, (335.0, 772.0, 575.0, 832.0))
CERTIFIER_BOX = (-1, (60.0, 40.0, 330.0, 80.0))
SIGNING_TIME = datetime(2026, 11, 23, 14, 5, 9, tzinfo=VN_TZ)
VALID_LINE = "Signature Validation: Signature is Valid."


# --------------------------------------------------------------------------- fixtures


def unsigned_pdf() -> bytes:
    """One A4 page, uncompressed text, a filled text field ``FullName``, manifest.json."""
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
    appearance = pdf.make_stream(
        b"/Tx BMC BT /F1 12 Tf 2 6 Td (" + FIELD_VALUE.encode() + b") Tj ET EMC",
        Type=pikepdf.Name.XObject,
        Subtype=pikepdf.Name.Form,
        BBox=[0, 0, 200, 24],
        Resources=pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=font)),
    )
    field = pdf.make_indirect(
        pikepdf.Dictionary(
            Type=pikepdf.Name.Annot,
            Subtype=pikepdf.Name.Widget,
            FT=pikepdf.Name.Tx,
            T=pikepdf.String("FullName"),
            V=pikepdf.String(FIELD_VALUE),
            Rect=[72, 600, 272, 624],
            F=4,
            P=page.obj,
            DA=pikepdf.String("/F1 12 Tf 0 g"),
            AP=pikepdf.Dictionary(N=appearance),
        )
    )
    page.Annots = pdf.make_indirect(pikepdf.Array([field]))
    pdf.Root.AcroForm = pikepdf.Dictionary(
        Fields=pikepdf.Array([field]),
        DA=pikepdf.String("/F1 12 Tf 0 g"),
        DR=pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=font)),
    )
    manifest = {"page_count": 1, "register_entry": REGISTER_ENTRY, "doc_type": "birth_cert"}
    pdf.attachments["manifest.json"] = pikepdf.AttachedFileSpec(
        pdf, json.dumps(manifest).encode(), mime_type="application/json"
    )
    out = io.BytesIO()
    pdf.save(out, compress_streams=False)
    return out.getvalue()


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> DevPki:
    return ensure_dev_pki(
        tmp_path_factory.mktemp("pki"),
        agency_name=AGENCY,
        certifier_name=CERTIFIER,
        certifier_title=TITLE,
    )


@pytest.fixture(scope="module")
def rogue_pki(tmp_path_factory: pytest.TempPathFactory) -> DevPki:
    """A second self-made PKI with the SAME names: only the fingerprints differ."""
    return ensure_dev_pki(
        tmp_path_factory.mktemp("rogue"),
        agency_name=AGENCY,
        certifier_name=CERTIFIER,
        certifier_title=TITLE,
    )


def identities(pki: DevPki) -> tuple[SigningIdentity, SigningIdentity]:
    certifier = load_identity(pki.certifier_cert(), pki.certifier_key(), pki.chain(), is_test=True)
    agency = load_identity(pki.agency_cert(), pki.agency_key(), pki.chain(), is_test=True)
    return certifier, agency


def sign(
    pki: DevPki,
    directory: Path,
    *,
    certifier: SigningIdentity | None = None,
    data: bytes | None = None,
) -> tuple[SignedInfo, bytes]:
    default_certifier, agency = identities(pki)
    out = directory / "ecopy.pdf"
    info = sign_ecopy(
        data if data is not None else unsigned_pdf(),
        out,
        certifier=certifier or default_certifier,
        agency=agency,
        timestamper=local_timestamper(pki.tsa_cert(), pki.tsa_key(), pki.chain()),
        certifier_box=CERTIFIER_BOX,
        agency_box=AGENCY_BOX,
        font_path=FONT,
        location="Hòa Vang, Đà Nẵng",
        signing_time=SIGNING_TIME,
    )
    return info, out.read_bytes()


@pytest.fixture(scope="module")
def signed(pki: DevPki, tmp_path_factory: pytest.TempPathFactory) -> tuple[SignedInfo, bytes]:
    return sign(pki, tmp_path_factory.mktemp("signed"))


def verify(pki: DevPki, data: bytes) -> VerificationReport:
    """The default policy, with the dev CAs' CRLs as revocation evidence for B-T copies."""
    return verify_pdf(data, trust_roots=(), test_roots=(pki.root_cert(),),
                      crls=RevocationAuthority(pki.directory).crls())


def pdfsig(data: bytes, tmp_path: Path, name: str = "case.pdf") -> str:
    path = tmp_path / name
    path.write_bytes(data)
    done = subprocess.run(
        ["pdfsig", str(path)], capture_output=True, text=True, timeout=60, check=False
    )
    return done.stdout + done.stderr


def valid_count(pdfsig_out: str) -> int:
    return pdfsig_out.count(VALID_LINE)


# --------------------------------------------------------------------------- attacks


def incremental(data: bytes, change: Callable[[IncrementalPdfFileWriter], None]) -> bytes:
    writer = IncrementalPdfFileWriter(BytesIO(data))
    change(writer)
    out = BytesIO()
    writer.write(out)
    return out.getvalue()


def _page(writer: IncrementalPdfFileWriter) -> generic.DictionaryObject:
    return writer.root["/Pages"]["/Kids"][0].get_object()


def change_page_content(writer: IncrementalPdfFileWriter) -> None:
    page = _page(writer)
    stream = generic.StreamObject(stream_data=b"BT /F1 18 Tf 72 700 Td (Giay khai tu) Tj ET")
    page[generic.NameObject("/Contents")] = writer.add_object(stream)
    writer.update_container(page)


def add_annotation(writer: IncrementalPdfFileWriter) -> None:
    page = _page(writer)
    annot = generic.DictionaryObject(
        {
            generic.NameObject("/Type"): generic.NameObject("/Annot"),
            generic.NameObject("/Subtype"): generic.NameObject("/FreeText"),
            generic.NameObject("/Rect"): generic.ArrayObject(
                map(generic.NumberObject, (72, 650, 300, 690))
            ),
            generic.NameObject("/Contents"): generic.TextStringObject("Đã đính chính: khai tử"),
            generic.NameObject("/DA"): generic.TextStringObject("/Helv 12 Tf 0 g"),
        }
    )
    annots = page["/Annots"]
    annots.append(writer.add_object(annot))
    writer.update_container(annots)


def change_field_value(writer: IncrementalPdfFileWriter) -> None:
    fields = writer.root["/AcroForm"]["/Fields"]
    field = next(f.get_object() for f in fields if f.get_object().get("/T") == "FullName")
    field[generic.NameObject("/V")] = generic.TextStringObject("Tran Thi B")
    writer.update_container(field)


def replace_manifest(writer: IncrementalPdfFileWriter) -> None:
    names = writer.root["/Names"]["/EmbeddedFiles"]["/Names"]
    spec = names[1].get_object()
    forged = {
        "page_count": 1,
        "register_entry": {**REGISTER_ENTRY, "number": 999},
        "doc_type": "birth_cert",
    }
    stream = generic.StreamObject(
        {generic.NameObject("/Type"): generic.NameObject("/EmbeddedFile")},
        stream_data=json.dumps(forged).encode(),
    )
    spec["/EF"][generic.NameObject("/F")] = writer.add_object(stream)
    writer.update_container(spec)


def add_extra_signature_field(writer: IncrementalPdfFileWriter) -> None:
    append_signature_field(
        writer, SigFieldSpec("ExtraSignature", on_page=0, box=(60, 100, 300, 140))
    )


def shadow_overlay(writer: IncrementalPdfFileWriter) -> None:
    """'Shadow attack': a white image over the text plus new text, drawn after the original."""
    page = _page(writer)
    image = generic.StreamObject(
        {
            generic.NameObject("/Type"): generic.NameObject("/XObject"),
            generic.NameObject("/Subtype"): generic.NameObject("/Image"),
            generic.NameObject("/Width"): generic.NumberObject(1),
            generic.NameObject("/Height"): generic.NumberObject(1),
            generic.NameObject("/ColorSpace"): generic.NameObject("/DeviceGray"),
            generic.NameObject("/BitsPerComponent"): generic.NumberObject(8),
        },
        stream_data=b"\xff",
    )
    resources = page["/Resources"]
    resources[generic.NameObject("/XObject")] = generic.DictionaryObject(
        {generic.NameObject("/Shadow"): writer.add_object(image)}
    )
    overlay = writer.add_object(
        generic.StreamObject(
            stream_data=b"q 400 0 0 40 60 690 cm /Shadow Do Q BT /F1 18 Tf 72 700 Td (FORGED) Tj ET"
        )
    )
    original = page.raw_get("/Contents")
    page[generic.NameObject("/Contents")] = generic.ArrayObject([original, overlay])
    writer.update_container(page)


def strip_signatures(writer: IncrementalPdfFileWriter) -> None:
    for ref in writer.root["/AcroForm"]["/Fields"]:
        field = ref.get_object()
        if field.get("/FT") == "/Sig" and "/V" in field:
            del field["/V"]
            writer.update_container(field)


def strip_with_pikepdf(data: bytes) -> bytes:
    with pikepdf.open(BytesIO(data)) as pdf:
        for field in pdf.Root.AcroForm.Fields:
            if field.get("/FT") == "/Sig" and "/V" in field:
                del field["/V"]
        out = BytesIO()
        pdf.save(out)
        return out.getvalue()


def _sig_dicts(data: bytes) -> list[tuple[int, int, list[int]]]:
    """(start of /Contents hex, end, byte range) per signature, in file order."""
    found = []
    for match in re.finditer(rb"/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]", data):
        br = [int(v) for v in match.groups()]
        found.append((br[1], br[2], br))
    return found


def flip_signature_value(data: bytes) -> bytes:
    """Flip a bit inside the RSA signature value of the agency (last) signature."""
    start, end, _ = _sig_dicts(data)[-1]
    der = bytes.fromhex(data[start + 1 : end - 1].decode())
    info = cms.ContentInfo.load(der)
    value = info["content"]["signer_infos"][0]["signature"].native
    pos = der.find(value) + len(value) // 2
    hex_pos = start + 1 + 2 * pos
    digit = data[hex_pos : hex_pos + 1]
    new = b"0" if digit != b"0" else b"1"
    return data[:hex_pos] + new + data[hex_pos + 1 :]


def edit_byte_range(data: bytes, how: str) -> bytes:
    """Rewrite the agency signature's /ByteRange numbers, keeping the file length."""
    matches = list(re.finditer(rb"/ByteRange\s*\[[^\]]*\]", data))
    match = matches[-1]
    a, b, c, d = (int(v) for v in re.findall(rb"\d+", match.group()))
    new = [a, b, c, d - 100] if how == "shorter" else [a, b + 100, c, d]
    text = ("/ByteRange [" + " ".join(map(str, new)) + "]").encode()
    old = match.group()
    assert len(text) <= len(old)
    text = text[:-1] + b" " * (len(old) - len(text)) + b"]"
    return data[: match.start()] + text + data[match.end() :]


def leaf_identity(pki: DevPki, not_before: datetime, not_after: datetime) -> SigningIdentity:
    """A certifier certificate from the dev intermediate with a chosen validity window."""
    int_key = serialization.load_pem_private_key(
        (pki.directory / "intermediate.key.pem").read_bytes(), None
    )
    int_cert = x509.load_pem_x509_certificate(
        (pki.directory / "intermediate.cert.pem").read_bytes()
    )
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, AGENCY),
            x509.NameAttribute(NameOID.COMMON_NAME, CERTIFIER),
        ]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(int_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
        .add_extension(
            x509.KeyUsage(True, True, False, False, False, False, False, False, False), True
        )
        .sign(int_key, hashes.SHA256())
    )
    asn1_cert = asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))
    asn1_key = asn1_keys.PrivateKeyInfo.load(
        key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return load_identity(asn1_cert, asn1_key, pki.chain(), is_test=True)


# --------------------------------------------------------------------------- the suite


def test_genuine_copy_passes_and_pdfsig_agrees(
    pki: DevPki, signed: tuple[SignedInfo, bytes], tmp_path: Path
) -> None:
    report = verify(pki, signed[1])
    assert (report.indication, report.sub_indication) == ("TOTAL-PASSED", None), report.problems
    assert len(report.signatures) == 2
    assert valid_count(pdfsig(signed[1], tmp_path)) == 2


def test_content_byte_flip_is_hash_failure(
    pki: DevPki, signed: tuple[SignedInfo, bytes], tmp_path: Path
) -> None:
    data = signed[1]
    pos = data.index(PAGE_TEXT)
    bad = data[:pos] + b"X" + data[pos + 1 :]
    report = verify(pki, bad)
    assert (report.indication, report.sub_indication) == ("TOTAL-FAILED", "HASH_FAILURE")
    assert all(s.sub_indication == "HASH_FAILURE" for s in report.signatures)
    assert valid_count(pdfsig(bad, tmp_path)) == 0  # pdfsig sees this one


def test_signature_value_flip_is_sig_crypto_failure(
    pki: DevPki, signed: tuple[SignedInfo, bytes], tmp_path: Path
) -> None:
    """The signed bytes still hash to the messageDigest attribute; only the signature value
    over the signed attributes is wrong: that is SIG_CRYPTO_FAILURE, not HASH_FAILURE."""
    bad = flip_signature_value(signed[1])
    assert len(bad) == len(signed[1])
    report = verify(pki, bad)
    assert (report.indication, report.sub_indication) == ("TOTAL-FAILED", "SIG_CRYPTO_FAILURE")
    agency = report.signatures[-1]
    assert agency.field_name == "AgencySignature"
    assert agency.sub_indication == "SIG_CRYPTO_FAILURE"
    assert report.signatures[0].indication == "TOTAL-PASSED"
    assert valid_count(pdfsig(bad, tmp_path)) == 1


INCREMENTAL_ATTACKS: dict[str, Callable[[IncrementalPdfFileWriter], None]] = {
    "page_content": change_page_content,
    "annotation": add_annotation,
    "field_value": change_field_value,
    "manifest": replace_manifest,
    "extra_signature_field": add_extra_signature_field,
    "shadow_overlay": shadow_overlay,
}


@pytest.mark.parametrize("attack", sorted(INCREMENTAL_ATTACKS))
def test_incremental_update_after_signing_fails(
    pki: DevPki, signed: tuple[SignedInfo, bytes], tmp_path: Path, attack: str
) -> None:
    bad = incremental(signed[1], INCREMENTAL_ATTACKS[attack])
    report = verify(pki, bad)
    assert (report.indication, report.sub_indication) == ("TOTAL-FAILED", "FORMAT_FAILURE"), (
        attack,
        [p.code for p in report.problems],
    )
    assert "modified" in {p.code for p in report.problems}
    if attack == "manifest":
        assert not report.manifest_consistent
        assert "manifest_changed" in {p.code for p in report.problems}
    # pdfsig is blind to every one of these: it checks each byte range, not what came after
    out = pdfsig(bad, tmp_path)
    assert valid_count(out) == 2, out


def test_truncated_to_certifier_revision_is_not_passed(
    pki: DevPki, signed: tuple[SignedInfo, bytes], tmp_path: Path
) -> None:
    info, data = signed
    cut = data[: info.revision_ends[1]]
    report = verify(pki, cut)
    assert [s.field_name for s in report.signatures] == ["CertifierSignature"]
    assert report.signatures[0].indication == "TOTAL-PASSED"
    assert (report.indication, report.sub_indication) == (
        "INDETERMINATE",
        "SIG_CONSTRAINTS_FAILURE",
    )
    assert "too_few" in {p.code for p in report.problems}
    assert valid_count(pdfsig(cut, tmp_path)) == 1  # pdfsig: one valid signature, no policy


def test_cut_inside_agency_revision_fails(
    pki: DevPki, signed: tuple[SignedInfo, bytes], tmp_path: Path
) -> None:
    info, data = signed
    middle = (info.revision_ends[1] + info.revision_ends[2]) // 2
    cut = data[:middle]
    report = verify(pki, cut)
    assert report.indication == "TOTAL-FAILED"
    assert report.sub_indication in {"FORMAT_FAILURE", "HASH_FAILURE"}
    assert valid_count(pdfsig(cut, tmp_path)) < 2


@pytest.mark.parametrize("how", ["shorter", "overlapping"])
def test_byte_range_edit_is_hash_failure(
    pki: DevPki, signed: tuple[SignedInfo, bytes], tmp_path: Path, how: str
) -> None:
    bad = edit_byte_range(signed[1], how)
    assert len(bad) == len(signed[1])
    report = verify(pki, bad)
    assert (report.indication, report.sub_indication) == ("TOTAL-FAILED", "HASH_FAILURE")
    assert report.signatures[0].indication == "TOTAL-PASSED"
    assert valid_count(pdfsig(bad, tmp_path)) == 1


def test_copy_signed_by_untrusted_pki_is_indeterminate(
    pki: DevPki, rogue_pki: DevPki, tmp_path: Path
) -> None:
    _, forged = sign(rogue_pki, tmp_path)
    report = verify(pki, forged)
    assert (report.indication, report.sub_indication) == (
        "INDETERMINATE",
        "NO_CERTIFICATE_CHAIN_FOUND",
    )
    for sig in report.signatures:
        assert (sig.indication, sig.sub_indication) == (
            "INDETERMINATE",
            "NO_CERTIFICATE_CHAIN_FOUND",
        )
        assert not sig.trusted
    # pdfsig checks the chain against its NSS store, where neither root is: it cannot tell
    # the forged copy from the genuine one
    out = pdfsig(forged, tmp_path)
    assert valid_count(out) == 2, out


def test_extra_signature_by_untrusted_pki_is_not_passed(
    pki: DevPki, rogue_pki: DevPki, signed: tuple[SignedInfo, bytes], tmp_path: Path
) -> None:
    """A third, approval signature appended by someone else's PKI."""
    from pyhanko.sign.signers import PdfSignatureMetadata, PdfSigner

    _, rogue_agency = identities(rogue_pki)
    writer = IncrementalPdfFileWriter(BytesIO(signed[1]))
    out = BytesIO()
    PdfSigner(
        PdfSignatureMetadata(field_name="Rogue", md_algorithm="sha256"),
        rogue_agency.signer,
        timestamper=local_timestamper(rogue_pki.tsa_cert(), rogue_pki.tsa_key(), rogue_pki.chain()),
        new_field_spec=SigFieldSpec("Rogue", box=(60, 100, 300, 140), on_page=0),
    ).sign_pdf(writer, output=out)
    report = verify(pki, out.getvalue())
    assert report.indication != "TOTAL-PASSED"
    rogue = report.signatures[-1]
    assert (rogue.field_name, rogue.indication, rogue.sub_indication) == (
        "Rogue",
        "INDETERMINATE",
        "NO_CERTIFICATE_CHAIN_FOUND",
    )
    assert valid_count(pdfsig(out.getvalue(), tmp_path)) == 3


@pytest.mark.parametrize("how", ["incremental", "pikepdf"])
def test_stripped_signatures_are_format_failure(
    pki: DevPki, signed: tuple[SignedInfo, bytes], tmp_path: Path, how: str
) -> None:
    data = signed[1]
    bad = incremental(data, strip_signatures) if how == "incremental" else strip_with_pikepdf(data)
    report = verify(pki, bad)
    assert (report.indication, report.sub_indication) == ("TOTAL-FAILED", "FORMAT_FAILURE")
    assert report.signatures == ()
    assert "no_signature" in {p.code for p in report.problems}
    assert valid_count(pdfsig(bad, tmp_path)) == 0


@pytest.mark.parametrize(
    ("window", "expected"),
    [
        ("expired", ("INDETERMINATE", "OUT_OF_BOUNDS_NO_POE")),
        ("not_yet_valid", ("TOTAL-FAILED", "NOT_YET_VALID")),
    ],
)
def test_certificate_outside_validity_at_signing_time(
    pki: DevPki, tmp_path: Path, window: str, expected: tuple[str, str]
) -> None:
    now = dt.datetime.now(dt.UTC)
    if window == "expired":
        bounds = (now - dt.timedelta(days=800), now - dt.timedelta(days=400))
    else:
        bounds = (now + dt.timedelta(days=400), now + dt.timedelta(days=800))
    _, data = sign(pki, tmp_path, certifier=leaf_identity(pki, *bounds))
    report = verify(pki, data)
    certifier = report.signatures[0]
    assert certifier.field_name == "CertifierSignature"
    assert (certifier.indication, certifier.sub_indication) == expected, certifier.problems
    assert (report.indication, report.sub_indication) == expected
    assert report.signatures[1].indication == "TOTAL-PASSED"
    RECORDED_PDFSIG[window] = pdfsig(data, tmp_path)


RECORDED_PDFSIG: dict[str, str] = {}


def add_dss(pki: DevPki, data: bytes) -> bytes:
    writer = IncrementalPdfFileWriter(BytesIO(data))
    start, end, _ = _sig_dicts(data)[-1]
    contents = bytes.fromhex(data[start + 1 : end - 1].decode())
    DocumentSecurityStore.supply_dss_in_writer(
        writer,
        contents,
        certs=[
            pki.intermediate_cert(),
            pki.root_cert(),
            pki.agency_cert(),
            pki.certifier_cert(),
            pki.tsa_cert(),
        ],
    )
    out = BytesIO()
    writer.write(out)
    return out.getvalue()


def add_document_timestamp(pki: DevPki, data: bytes) -> bytes:
    writer = IncrementalPdfFileWriter(BytesIO(data))
    out = BytesIO()
    timestamper = local_timestamper(pki.tsa_cert(), pki.tsa_key(), pki.chain())
    asyncio.run(
        PdfTimeStamper(timestamper, field_name="DocTimeStamp").async_timestamp_pdf(
            writer, "sha256", output=out, dss_settings=_no_dss()
        )
    )
    return out.getvalue()


def _no_dss() -> Any:
    from pyhanko.sign.signers.pdf_signer import TimestampDSSContentSettings

    return TimestampDSSContentSettings(update_before_ts=False, include_vri=False)


@pytest.mark.parametrize("extension", ["dss", "dss+timestamp", "timestamp"])
def test_legitimate_later_revisions_still_pass(
    pki: DevPki, signed: tuple[SignedInfo, bytes], tmp_path: Path, extension: str
) -> None:
    data = signed[1]
    if "dss" in extension:
        data = add_dss(pki, data)
    if "timestamp" in extension:
        data = add_document_timestamp(pki, data)
    report = verify(pki, data)
    assert (report.indication, report.sub_indication) == ("TOTAL-PASSED", None), report.problems
    assert len(report.signatures) == 2
    levels = {s.pades_level for s in report.signatures}
    assert levels == {
        "B-LTA" if extension == "dss+timestamp" else "B-LT" if extension == "dss" else "B-T"
    }
    assert valid_count(pdfsig(data, tmp_path)) >= 2
