"""Sign an assembled e-copy twice (Decree 45/2020 Art 10): certifier first, then agency.

Revision 1 is the assembled PDF/A with manifest.json attached. Revision 2 adds both signature
fields and the certifier's CERTIFICATION signature (DocMDP P=2: only form filling and further
signatures allowed afterwards). Revision 3 fills the agency's field with an approval
signature. Each is an incremental update, so every earlier revision stays byte-identical and
each signature can be checked against exactly what its signer saw.

Speed: pyHanko's stock signer re-parses the private key for every signature and sizes the
signature placeholder by making a throw-away signature first. ``SigningIdentity`` holds a
signer with the key parsed once, and the placeholder is sized from the certificates and a
cached timestamp token instead.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import tempfile
import weakref
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from io import BytesIO
from pathlib import Path
from typing import BinaryIO

from asn1crypto import cms, keys, x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.text import TextBoxStyle
from pyhanko.sign.attributes import CMSAttributeProvider, SigningCertificateV2Provider
from pyhanko.sign.fields import MDPPerm, SigFieldSpec, SigSeedSubFilter, append_signature_field
from pyhanko.sign.general import as_signing_certificate_v2
from pyhanko.sign.signers.pdf_cms import Signer, SimpleSigner
from pyhanko.sign.signers.pdf_signer import PdfSignatureMetadata, PdfSigner, PdfSigningSession
from pyhanko.sign.timestamps.api import TimeStamper
from pyhanko.stamp.text import TextStampStyle
from pyhanko_certvalidator.registry import SimpleCertificateStore
from pyhanko_certvalidator.util import get_pyca_cryptography_hash

from signing.der import frozen
from signing.stampfont import FONT_SIZE, stamp_font

# Viet Nam has kept UTC+07:00 without daylight saving since 1975; a fixed offset avoids
# depending on the tz database being installed.
VN_TZ = timezone(timedelta(hours=7))
CERTIFIER_FIELD = "CertifierSignature"
AGENCY_FIELD = "AgencySignature"
DEFAULT_COPY_FORM = "Bản sao điện tử được chứng thực từ bản chính"
IN_MEMORY_MAX_BYTES = 32 * 1024 * 1024  # larger copies are signed through temporary files
CERTIFIER_REASON = "Chứng thực bản sao từ bản chính"

PageBox = tuple[int, tuple[float, float, float, float]]


class _FixedAttribute(CMSAttributeProvider):
    """A signed attribute whose value never changes for a signer, encoded once."""

    def __init__(self, attribute_type: str, value: object) -> None:
        self.attribute_type = attribute_type
        self._value = value

    async def build_attr_value(self, dry_run: bool = False) -> object:
        return self._value


class _CachedKeySigner(SimpleSigner):
    """SimpleSigner that does its per-signer work once instead of on every signature: the
    private key is parsed once, the signing-certificate-v2 attribute is encoded once, and
    the signed and unsigned attribute sets are frozen (see ``signing.der``)."""

    def __init__(
        self,
        cert: x509.Certificate,
        key: keys.PrivateKeyInfo,
        chain: tuple[x509.Certificate, ...],
    ) -> None:
        super().__init__(
            signing_cert=cert,
            signing_key=key,
            cert_registry=SimpleCertificateStore.from_certs([cert, *chain]),
        )
        self._private_key = serialization.load_der_private_key(key.dump(), password=None)
        self._signing_certificate_v2 = _FixedAttribute(
            "signing_certificate_v2", frozen(as_signing_certificate_v2(cert))
        )

    def _signed_attr_providers(self, *args, **kwargs):
        for provider in super()._signed_attr_providers(*args, **kwargs):
            if isinstance(provider, SigningCertificateV2Provider):
                provider = self._signing_certificate_v2
            yield provider

    async def signed_attrs(self, *args, **kwargs) -> cms.CMSAttributes:
        return frozen(await super().signed_attrs(*args, **kwargs))

    async def unsigned_attrs(self, *args, **kwargs) -> cms.CMSAttributes | None:
        attrs = await super().unsigned_attrs(*args, **kwargs)
        return None if attrs is None else frozen(attrs)

    def sign_raw(self, data: bytes, digest_algorithm: str) -> bytes:
        mechanism = self.get_signature_mechanism_for_digest(digest_algorithm).signature_algo
        hash_algo = get_pyca_cryptography_hash(digest_algorithm)
        key = self._private_key
        if mechanism == "ecdsa" and isinstance(key, ec.EllipticCurvePrivateKey):
            return key.sign(data, ec.ECDSA(hash_algo))
        if mechanism == "rsassa_pkcs1v15" and isinstance(key, rsa.RSAPrivateKey):
            return key.sign(data, padding.PKCS1v15(), hash_algo)
        return super().sign_raw(data, digest_algorithm)


@dataclass(frozen=True)
class SigningIdentity:
    """Who signs, with a ready signer: build once per process, reuse for every document."""

    signer: Signer  # SimpleSigner for key files, PKCS11Signer for tokens
    display_name: str
    organisation: str
    is_test: bool

    @property
    def subject(self) -> str:
        cert = self.signer.signing_cert
        return cert.subject.human_friendly if cert is not None else self.display_name


def load_identity(
    cert: x509.Certificate,
    key: keys.PrivateKeyInfo,
    chain: tuple[x509.Certificate, ...] | list[x509.Certificate],
    *,
    is_test: bool,
    display_name: str | None = None,
    organisation: str | None = None,
) -> SigningIdentity:
    """Names default to the certificate's CN and O so the stamp matches what verifiers show."""
    subject = cert.subject.native
    return SigningIdentity(
        signer=_CachedKeySigner(cert, key, tuple(chain)),
        display_name=display_name or str(subject.get("common_name", "")),
        organisation=organisation or str(subject.get("organization_name", "")),
        is_test=is_test,
    )


@dataclass(frozen=True)
class SignedInfo:
    """What signing produced; times are ISO 8601 in +07:00, as printed on the stamps."""

    path: str
    sha256: str
    size: int
    revision_ends: tuple[int, ...]  # file length after revision 1, 2 (certifier), 3 (agency)
    certifier_signing_time: str
    agency_signing_time: str
    certifier_subject: str
    agency_subject: str
    is_test: bool


def agency_stamp_lines(display_name: str, copy_form: str = DEFAULT_COPY_FORM,
                       moment: datetime | None = None) -> list[str]:
    """The agency signature's text (Decree 30/2020): who, what, when. Without ``moment`` a
    time of the same width stands in (the assembler sizes the box before anyone signs)."""
    when = iso_vn(moment) if moment else "2000-01-01T00:00:00+07:00"
    return [display_name, copy_form, f"Thời gian ký: {when}"]


def iso_vn(moment: datetime) -> str:
    """ISO 8601 with +07:00, seconds precision: the form Decree 30/2020 asks for."""
    return moment.astimezone(VN_TZ).replace(microsecond=0).isoformat()


class _FixedTimePdfSigner(PdfSigner):
    """PdfSigner whose /M and stamp time come from the caller, so both always agree."""

    def __init__(
        self,
        meta: PdfSignatureMetadata,
        signer: Signer,
        *,
        timestamper: TimeStamper,
        stamp_style: TextStampStyle,
        new_field_spec: SigFieldSpec | None,
        signing_time: datetime,
    ) -> None:
        super().__init__(
            meta,
            signer,
            timestamper=timestamper,
            stamp_style=stamp_style,
            new_field_spec=new_field_spec,
        )
        self._signing_time = signing_time

    def init_signing_session(
        self, pdf_out: IncrementalPdfFileWriter, existing_fields_only: bool = False
    ) -> PdfSigningSession:
        session = super().init_signing_session(pdf_out, existing_fields_only)
        session.system_time = self._signing_time
        return session


def _stamp_style(font_path: Path, lines: int) -> TextStampStyle:
    # An embedded TrueType subset: the default Courier is not embedded (breaks PDF/A) and has
    # no Vietnamese glyphs.
    font = stamp_font(font_path)
    return TextStampStyle(
        stamp_text="\n".join(f"%(line{i})s" for i in range(lines)),
        text_box_style=TextBoxStyle(font=font, font_size=FONT_SIZE),
        border_width=1,
        background=None,
    )


_RESERVED: weakref.WeakKeyDictionary[Signer, dict[int, int]] = weakref.WeakKeyDictionary()


def _bytes_reserved(identity: SigningIdentity, timestamper: TimeStamper) -> int:
    """Per signer and timestamper, computed once (see ``_estimate_bytes_reserved``)."""
    per_signer = _RESERVED.setdefault(identity.signer, {})
    key = id(timestamper)
    if key not in per_signer:
        per_signer[key] = _estimate_bytes_reserved(identity, timestamper)
    return per_signer[key]


def _estimate_bytes_reserved(identity: SigningIdentity, timestamper: TimeStamper) -> int:
    """Placeholder size without a trial signature: certs + a token + slack, doubled for hex.

    The token is pyHanko's own cached size-estimation token, so a TSA is asked once per
    TimeStamper, not once per signature.
    """
    certs = sum(len(c.dump()) for c in identity.signer.cert_registry)
    token = asyncio.run(timestamper.async_dummy_response("sha256"))
    return 2 * (certs + len(token.dump()) + 2048)


def _page_index(writer: IncrementalPdfFileWriter, page: int) -> int:
    count = int(writer.root["/Pages"]["/Count"])
    index = page if page >= 0 else count + page
    if not 0 <= index < count:
        raise ValueError(f"page {page} does not exist in a {count}-page document")
    return index


def _sign_revision(
    writer: IncrementalPdfFileWriter,
    output: BinaryIO,
    *,
    identity: SigningIdentity,
    timestamper: TimeStamper,
    meta: PdfSignatureMetadata,
    style: TextStampStyle,
    text: list[str],
    signing_time: datetime,
    new_field: SigFieldSpec | None,
    extra_field: SigFieldSpec | None = None,
) -> None:
    if extra_field is not None:
        append_signature_field(writer, extra_field)
    pdf_signer = _FixedTimePdfSigner(
        meta,
        identity.signer,
        timestamper=timestamper,
        stamp_style=style,
        new_field_spec=new_field,
        signing_time=signing_time,
    )
    pdf_signer.sign_pdf(
        writer,
        existing_fields_only=new_field is None,
        bytes_reserved=_bytes_reserved(identity, timestamper),
        appearance_text_params={f"line{i}": line for i, line in enumerate(text)},
        output=output,
    )


def sign_as_certifier(
    source: BinaryIO,
    output: BinaryIO,
    *,
    certifier: SigningIdentity,
    timestamper: TimeStamper,
    certifier_box: PageBox,
    agency_box: PageBox,
    font_path: Path,
    location: str = "",
    signing_time: datetime | None = None,
) -> bytes:
    """Revision 2. The agency's empty field is created HERE, under the certification
    signature, so that filling it later counts as form filling (allowed by P=2) rather than
    as adding a field (which a strict verifier treats as a disallowed change)."""
    moment = (signing_time or datetime.now(VN_TZ)).astimezone(VN_TZ)
    writer = IncrementalPdfFileWriter(source)
    agency_page = _page_index(writer, agency_box[0])
    certifier_page = _page_index(writer, certifier_box[0])
    meta = PdfSignatureMetadata(
        field_name=CERTIFIER_FIELD,
        md_algorithm="sha256",
        subfilter=SigSeedSubFilter.PADES,
        certify=True,
        docmdp_permissions=MDPPerm.FILL_FORMS,
        name=certifier.display_name,
        reason=CERTIFIER_REASON,
        location=location or None,
    )
    text = [f"Ký bởi: {certifier.display_name}", f"Thời gian ký: {iso_vn(moment)}"]
    _sign_revision(
        writer,
        output,
        identity=certifier,
        timestamper=timestamper,
        meta=meta,
        style=_stamp_style(font_path, len(text)),
        text=text,
        signing_time=moment,
        new_field=SigFieldSpec(
            CERTIFIER_FIELD, on_page=certifier_page, box=_int_box(certifier_box[1])
        ),
        extra_field=SigFieldSpec(
            AGENCY_FIELD,
            on_page=agency_page,
            box=_int_box(agency_box[1]),
            empty_field_appearance=True,  # PDF/A: every widget needs an appearance
        ),
    )


def sign_as_agency(
    source: BinaryIO,
    output: BinaryIO,
    *,
    agency: SigningIdentity,
    timestamper: TimeStamper,
    font_path: Path,
    agency_copy_form: str = DEFAULT_COPY_FORM,
    location: str = "",
    signing_time: datetime | None = None,
) -> bytes:
    """Revision 3: the approval signature in the field the certifier's revision prepared."""
    moment = (signing_time or datetime.now(VN_TZ)).astimezone(VN_TZ)
    meta = PdfSignatureMetadata(
        field_name=AGENCY_FIELD,
        md_algorithm="sha256",
        subfilter=SigSeedSubFilter.PADES,
        name=agency.display_name,
        reason=agency_copy_form,
        location=location or None,
    )
    text = agency_stamp_lines(agency.display_name, agency_copy_form, moment)
    _sign_revision(
        IncrementalPdfFileWriter(source),
        output,
        identity=agency,
        timestamper=timestamper,
        meta=meta,
        style=_stamp_style(font_path, len(text)),
        text=text,
        signing_time=moment,
        new_field=None,
    )


def sign_ecopy(
    pdf_in: bytes | Path,
    out_path: Path,
    *,
    certifier: SigningIdentity,
    agency: SigningIdentity,
    timestamper: TimeStamper,
    certifier_box: PageBox,
    agency_box: PageBox,
    font_path: Path,
    agency_copy_form: str = DEFAULT_COPY_FORM,
    location: str = "",
    signing_time: datetime | None = None,
    durable: bool = True,
) -> SignedInfo:
    """Both signatures, written atomically: a crash never leaves a half-signed e-copy.

    ``signing_time`` (when given) is used for both signatures, for reproducible output; the
    RFC 3161 timestamps always carry the TSA's own clock. ``durable=False`` skips the fsync,
    for callers that copy the output into the object store (which syncs) and then drop it.
    """
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    certifier_time = (signing_time or datetime.now(VN_TZ)).astimezone(VN_TZ)
    source_size = len(pdf_in) if isinstance(pdf_in, bytes) else Path(pdf_in).stat().st_size
    # Small copies are signed in memory: pyHanko's many small reads, seeks and writes cost
    # several milliseconds more on files. Large ones go through temporary files, since a
    # 300-page copy is hundreds of MB and each revision repeats the last.
    in_memory = source_size <= IN_MEMORY_MAX_BYTES

    def scratch() -> BinaryIO:
        return BytesIO() if in_memory else tempfile.TemporaryFile(dir=out_path.parent)

    with ExitStack() as stack:
        if isinstance(pdf_in, bytes):
            source: BinaryIO = BytesIO(pdf_in)
        elif in_memory:
            source = BytesIO(Path(pdf_in).read_bytes())
        else:
            source = stack.enter_context(open(pdf_in, "rb"))
        rev2 = stack.enter_context(scratch())
        rev3 = stack.enter_context(scratch())
        sign_as_certifier(
            source,
            rev2,
            certifier=certifier,
            timestamper=timestamper,
            certifier_box=certifier_box,
            agency_box=agency_box,
            font_path=font_path,
            location=location,
            signing_time=certifier_time,
        )
        agency_time = (signing_time or datetime.now(VN_TZ)).astimezone(VN_TZ)
        rev2.seek(0)
        sign_as_agency(
            rev2,
            rev3,
            agency=agency,
            timestamper=timestamper,
            font_path=font_path,
            agency_copy_form=agency_copy_form,
            location=location,
            signing_time=agency_time,
        )
        ends = tuple(f.seek(0, os.SEEK_END) for f in (source, rev2, rev3))
        rev3.seek(0)
        digest = _write_atomically(rev3, out_path, durable=durable)
    return SignedInfo(
        path=str(out_path),
        sha256=digest,
        size=ends[2],
        revision_ends=ends,
        certifier_signing_time=iso_vn(certifier_time),
        agency_signing_time=iso_vn(agency_time),
        certifier_subject=certifier.subject,
        agency_subject=agency.subject,
        is_test=certifier.is_test or agency.is_test,
    )


def _write_atomically(data: BinaryIO, out_path: Path, *, durable: bool) -> str:
    """Copy ``data`` to ``out_path`` through a temporary file (fsynced if ``durable``) and
    rename it into place; returns its sha256."""
    fd, tmp = tempfile.mkstemp(dir=out_path.parent, prefix=f".{out_path.name}.")
    digest = hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as out:
            while block := data.read(1 << 20):
                digest.update(block)
                out.write(block)
            out.flush()
            if durable:
                os.fsync(out.fileno())
        os.replace(tmp, out_path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return digest.hexdigest()


def _int_box(box: tuple[float, float, float, float]) -> tuple[int, int, int, int]:
    x1, y1, x2, y2 = (round(v) for v in box)
    return x1, y1, x2, y2
