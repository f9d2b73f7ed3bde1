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
import functools
import hashlib
import os
import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from io import BytesIO
from pathlib import Path
from typing import BinaryIO

from asn1crypto import keys, x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from fontTools import subset, ttLib
from fontTools.ttLib.scaleUpem import scale_upem
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.font.api import FontEngineFactory
from pyhanko.pdf_utils.font.opentype import GlyphAccumulator
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.text import TextBoxStyle
from pyhanko.pdf_utils.writer import BasePdfFileWriter
from pyhanko.sign.fields import MDPPerm, SigFieldSpec, SigSeedSubFilter, append_signature_field
from pyhanko.sign.signers.pdf_cms import Signer, SimpleSigner
from pyhanko.sign.signers.pdf_signer import PdfSignatureMetadata, PdfSigner, PdfSigningSession
from pyhanko.sign.timestamps.api import TimeStamper
from pyhanko.stamp.text import TextStampStyle
from pyhanko_certvalidator.registry import SimpleCertificateStore
from pyhanko_certvalidator.util import get_pyca_cryptography_hash

# Viet Nam has kept UTC+07:00 without daylight saving since 1975; a fixed offset avoids
# depending on the tz database being installed.
VN_TZ = timezone(timedelta(hours=7))
CERTIFIER_FIELD = "CertifierSignature"
AGENCY_FIELD = "AgencySignature"
DEFAULT_COPY_FORM = "Bản sao điện tử được chứng thực từ bản chính"
FONT_SIZE = 10  # Decree 30/2020: Times New Roman 10 pt on the agency signature
CERTIFIER_REASON = "Chứng thực bản sao từ bản chính"

PageBox = tuple[int, tuple[float, float, float, float]]


class _CachedKeySigner(SimpleSigner):
    """SimpleSigner that parses its private key once instead of on every signature."""

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


# Everything Vietnamese text on a stamp can need: ASCII, Latin-1, Latin Extended-A (Đ đ),
# Ơ ơ Ư ư, combining marks, Latin Extended Additional (ạ…ỹ) and typographic punctuation.
_VIETNAMESE_RANGES = (
    (0x20, 0x7F), (0xA0, 0x180), (0x1A0, 0x1B1), (0x300, 0x324), (0x1EA0, 0x1EFA), (0x2010, 0x2027),
)  # fmt: skip


@functools.lru_cache(maxsize=4)
def _vietnamese_font_subset(path: str, mtime_ns: int) -> bytes:
    """The stamp font cut down once per process to the Vietnamese repertoire.

    Parsing a full TrueType font's layout tables and subsetting it took ~100 ms per signature;
    this smaller font (no GSUB/GPOS: Vietnamese in NFC uses precomposed glyphs) makes the
    per-signature subset a few milliseconds. The em is rescaled to 1000 units (see below).
    ``mtime_ns`` keys the cache so a replaced font file is picked up.
    """
    options = subset.Options()
    options.layout_features = []
    options.drop_tables += ["GSUB", "GPOS", "GDEF", "FFTM"]
    options.hinting = False
    options.name_IDs = ["*"]
    options.notdef_outline = True
    font = ttLib.TTFont(path)
    subsetter = subset.Subsetter(options=options)
    subsetter.populate(unicodes=[c for lo, hi in _VIETNAMESE_RANGES for c in range(lo, hi)])
    subsetter.subset(font)
    # pyHanko 0.38 writes /W widths in font units unscaled, which is only right for a
    # 1000-unit em; Liberation has 2048, so glyphs came out spaced twice too wide.
    scale_upem(font, 1000)
    out = BytesIO()
    font.save(out)
    return out.getvalue()


@dataclass(frozen=True)
class _StampFontFactory(FontEngineFactory):
    """Like GlyphAccumulatorFactory (embedded subset, ToUnicode), from the cached font bytes."""

    font_bytes: bytes
    font_size: int = FONT_SIZE

    def create_font_engine(
        self, writer: BasePdfFileWriter, obj_stream: generic.StreamObject | None = None
    ) -> GlyphAccumulator:
        if obj_stream is None and writer.stream_xrefs:
            obj_stream = writer.prepare_object_stream()
        return GlyphAccumulator(
            writer=writer,
            font_handle=BytesIO(self.font_bytes),
            font_size=self.font_size,
            obj_stream=obj_stream,
        )


def _stamp_style(font_path: Path, lines: int) -> TextStampStyle:
    # An embedded TrueType subset: the default Courier is not embedded (breaks PDF/A) and has
    # no Vietnamese glyphs.
    path = Path(font_path)
    font = _StampFontFactory(_vietnamese_font_subset(str(path), path.stat().st_mtime_ns))
    return TextStampStyle(
        stamp_text="\n".join(f"%(line{i})s" for i in range(lines)),
        text_box_style=TextBoxStyle(font=font, font_size=FONT_SIZE),
        border_width=1,
        background=None,
    )


def _bytes_reserved(identity: SigningIdentity, timestamper: TimeStamper) -> int:
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
    text = [agency.display_name, agency_copy_form, f"Thời gian ký: {iso_vn(moment)}"]
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
) -> SignedInfo:
    """Both signatures, written atomically: a crash never leaves a half-signed e-copy.

    ``signing_time`` (when given) is used for both signatures, for reproducible output; the
    RFC 3161 timestamps always carry the TSA's own clock.
    """
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    certifier_time = (signing_time or datetime.now(VN_TZ)).astimezone(VN_TZ)
    # Files, not bytes: a 300-page copy is hundreds of MB, and each revision repeats the last.
    with (
        open(pdf_in, "rb") if isinstance(pdf_in, Path) else BytesIO(pdf_in) as source,
        tempfile.TemporaryFile(dir=out_path.parent) as rev2,
    ):
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
        fd, tmp = tempfile.mkstemp(dir=out_path.parent, prefix=f".{out_path.name}.")
        try:
            with os.fdopen(fd, "w+b") as rev3:
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
                rev3.flush()
                os.fsync(rev3.fileno())
                ends = (source.seek(0, os.SEEK_END), rev2.seek(0, os.SEEK_END),
                        rev3.seek(0, os.SEEK_END))
                rev3.seek(0)
                digest = hashlib.file_digest(rev3, "sha256").hexdigest()
            os.replace(tmp, out_path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
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


def _int_box(box: tuple[float, float, float, float]) -> tuple[int, int, int, int]:
    x1, y1, x2, y2 = (round(v) for v in box)
    return x1, y1, x2, y2
