"""Long-term validation: B-T → B-LT (DSS) → B-LTA (document timestamps), in incremental updates.

* ``extend_to_lt`` validates every signature's chain (and its signature timestamp's chain,
  and every document timestamp's) against a ``ValidationContext`` that is allowed to fetch
  and/or was given CRLs/OCSPs, and writes ALL certificates, CRLs and OCSP responses it used
  into the document security store in ONE incremental update (with a VRI per signature).
  The context should use ``revocation_mode="require"``: then a missing CRL/OCSP for any
  certificate is an error here, at extension time, instead of an LT copy that cannot be
  validated offline later.
* ``add_archive_timestamp`` adds a document timestamp (PAdES B-LTA) covering everything
  before it, after adding the validation data of the previous document timestamp (if any) to
  the DSS: calling it again before the last TSA certificate expires (or its algorithms
  weaken) is how a copy that "never expires" stays verifiable.

Signed revisions are never touched: both only append.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from pathlib import Path

from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.signers.pdf_signer import PdfTimeStamper
from pyhanko.sign.timestamps.api import TimeStamper
from pyhanko.sign.validation import DocumentSecurityStore, collect_validation_info
from pyhanko.sign.validation.errors import ValidationInfoReadingError
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.policy_decl import RevocationCheckingPolicy

__all__ = [
    "add_archive_timestamp",
    "dss_contents",
    "extend_to_lt",
    "validation_context",
]


def validation_context(
    trust_roots: list,
    *,
    crls: list | tuple = (),
    ocsps: list | tuple = (),
    fetching: bool = True,
    revocation: str = "require",
    other_certs: list | tuple = (),
) -> ValidationContext:
    """The context an extension needs: revocation required, fetching when online."""
    return ValidationContext(
        trust_roots=trust_roots,
        other_certs=list(other_certs),
        crls=list(crls),
        ocsps=list(ocsps),
        allow_fetching=fetching,
        revocation_mode=revocation,
    )


def _atomic_output(out_path: Path):
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out_path.parent, prefix=f".{out_path.name}.")
    return out_path, fd, Path(tmp)


def _finish(fd_file, tmp: Path, out_path: Path) -> None:
    fd_file.flush()
    os.fsync(fd_file.fileno())
    fd_file.close()
    os.replace(tmp, out_path)


async def _collect_all(reader: PdfFileReader, context: ValidationContext) -> list:
    """(signature contents, validation paths) for every signature and document timestamp."""
    found = []
    try:
        for embedded in reader.embedded_signatures:
            paths = await collect_validation_info(embedded, context)
            found.append((embedded.pkcs7_content, paths))
    finally:
        await context.aclose()  # the HTTP session a fetching context opened for itself
    return found


def extend_to_lt(pdf_path: Path, out_path: Path, validation_context: ValidationContext) -> Path:
    """Add validation data for all signatures to the DSS (one incremental update).

    Raises whatever pyHanko raises when a chain cannot be validated under the context's
    policy (e.g. ``pyhanko_certvalidator.errors.RevokedError`` or a path-building /
    missing-revocation-info error with ``revocation_mode="require"``).
    """
    out_path, fd, tmp = _atomic_output(out_path)
    try:
        with open(pdf_path, "rb") as source, os.fdopen(fd, "w+b") as out:
            reader = PdfFileReader(source, strict=False)
            if not reader.embedded_signatures:
                raise ValueError(f"{pdf_path}: no signature to extend")
            found = asyncio.run(_collect_all(reader, validation_context))
            writer = IncrementalPdfFileWriter.from_reader(reader)
            for contents, paths in found:
                DocumentSecurityStore.supply_dss_in_writer(
                    writer,
                    contents.hex().encode("ascii"),
                    paths=paths,
                    validation_context=validation_context,
                )
            writer.write(out)
            _finish(out, tmp, out_path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return out_path


def add_archive_timestamp(
    pdf_path: Path,
    out_path: Path,
    timestamper: TimeStamper,
    validation_context: ValidationContext,
) -> Path:
    """Append a document timestamp (B-LTA). Repeatable: each call first puts the previous
    document timestamp's validation data into the DSS, then timestamps the whole file."""
    out_path, fd, tmp = _atomic_output(out_path)
    try:
        with open(pdf_path, "rb") as source, os.fdopen(fd, "w+b") as out:
            reader = PdfFileReader(source, strict=False)
            stamper = PdfTimeStamper(timestamper)
            stamper.update_archival_timestamp_chain(
                reader, validation_context, in_place=False, output=out
            )
            _finish(out, tmp, out_path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return out_path


def extend_to_level(pdf_path: Path, out_path: Path, level: str, *, roots: list,
                    crls: list | tuple = (), fetching: bool = True,
                    timestamper: TimeStamper | None = None) -> str:
    """B-T → "B-LT" (validation data in the DSS) or "B-LTA" (then a document timestamp).

    Revocation is required while extending, so only a copy that will verify offline is written.
    """
    if level not in ("B-LT", "B-LTA"):
        raise ValueError(f"unknown PAdES level {level!r}: B-LT or B-LTA")
    extend_to_lt(pdf_path, out_path, validation_context(roots, crls=crls, fetching=fetching))
    if level == "B-LTA":
        if timestamper is None:
            raise ValueError("B-LTA needs a timestamper")
        add_archive_timestamp(out_path, out_path, timestamper,
                              validation_context(roots, crls=crls, fetching=fetching))
    return level


def dss_contents(data: bytes) -> dict[str, list]:
    """Certificates, CRLs and OCSP responses held by a PDF's DSS (empty lists when none)."""
    from io import BytesIO

    from asn1crypto import crl as asn1_crl
    from asn1crypto import ocsp as asn1_ocsp

    reader = PdfFileReader(BytesIO(data), strict=False)
    try:
        dss = DocumentSecurityStore.read_dss(reader)
    except ValidationInfoReadingError:
        return {"certs": [], "crls": [], "ocsps": []}
    return {
        "certs": list(dss.load_certs()),
        "crls": [asn1_crl.CertificateList.load(r.get_object().data) for r in dss.crls],
        "ocsps": [asn1_ocsp.OCSPResponse.load(r.get_object().data) for r in dss.ocsps],
    }


def revocation_required(context: ValidationContext) -> bool:
    policy: RevocationCheckingPolicy = context.revinfo_policy.revocation_checking_policy
    return policy.essential
