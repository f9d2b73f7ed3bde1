"""Verify an e-copy and say so in the terms an auditor expects (ETSI EN 319 102-1).

pyHanko does the cryptography, the chain building and the incremental-update (diff)
analysis; this module turns its per-signature status into ETSI indications under ecopy's
policy (PAdES B-T, two signatures, nothing unsigned after the last one), reads the embedded
manifest.json, and never raises on hostile input: a file that cannot be read is a verdict.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable, Sequence
from datetime import datetime
from importlib import metadata
from io import BytesIO
from typing import Any

from asn1crypto import cms, x509
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.ades.report import AdESFailure
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.fields import enumerate_sig_fields
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature
from pyhanko.sign.validation.status import PdfSignatureStatus, SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext

from signing.report_text import (
    INDETERMINATE,
    TOTAL_FAILED,
    TOTAL_PASSED,
    VALIDATOR_NAME,
    Problem,
    SignatureReport,
    VerificationReport,
    policy_name,
    problem,
    render_text,
)
from signing.sign import VN_TZ, iso_vn

__all__ = ["SignatureReport", "VerificationReport", "render_text", "verify_pdf"]

_ACCEPTED_COVERAGE = (SignatureCoverageLevel.ENTIRE_FILE, SignatureCoverageLevel.ENTIRE_REVISION)
_MANIFEST_NAME = "manifest.json"
_MAX_MANIFEST_BYTES = 1 << 20


def _validator_version() -> str:
    try:
        ours = metadata.version("ecopy")
    except metadata.PackageNotFoundError:
        ours = "unknown"
    return f"ecopy {ours}; pyHanko {metadata.version('pyHanko')}"


def verify_pdf(
    data: bytes,
    *,
    trust_roots: Sequence[x509.Certificate],
    test_roots: Sequence[x509.Certificate] = (),
    validation_time: datetime | None = None,
    register_lookup: Callable[[dict[str, Any]], dict[str, Any] | None] | None = None,
    cancellation_lookup: Callable[[str], dict[str, Any] | None] | None = None,
    revocation: str = "require",
    crls: Sequence[Any] = (),
    ocsps: Sequence[Any] = (),
    fetching: bool = False,
) -> VerificationReport:
    """Verify ``data`` against ``trust_roots`` (+ ``test_roots``, trusted but flagged as test).

    ``register_lookup`` receives the manifest's register entry and returns the entry the
    register holds (or None); the copy passes only when both hash the same.
    ``cancellation_lookup`` receives the manifest's copy_id and returns the decision that
    cancelled the copy (or None); a cancelled copy is TOTAL-FAILED / CANCELLED.

    ``revocation``: under the default policy ("require") every certificate's revocation status
    must be established, from the copy's DSS (B-LT and up), the ``crls``/``ocsps`` given, or
    the network when ``fetching``; without it a signature is INDETERMINATE / TRY_LATER, never
    TOTAL-PASSED. "soft-fail" (asked for explicitly) passes without revocation data and says
    so. Either way a signature is judged at the time its signature timestamp proves it
    existed (when that is before ``validation_time``), so a copy keeps passing after its
    signer's certificate expires.
    """
    moment = (validation_time or datetime.now(VN_TZ)).astimezone(VN_TZ)
    base = {
        "document_sha256": hashlib.sha256(data).hexdigest(),
        "file_size": len(data),
        "validator": VALIDATOR_NAME,
        "validator_version": _validator_version(),
        "validation_time": iso_vn(moment),
        "policy": policy_name(revocation),
    }
    try:
        reader = PdfFileReader(BytesIO(data), strict=False)
        if reader.encrypted:
            reader.decrypt("")
    except Exception as exc:  # any parser failure is a verdict about the file, not a crash
        return VerificationReport(
            **base,
            indication=TOTAL_FAILED,
            sub_indication="FORMAT_FAILURE",
            problems=(problem("unreadable", detail=_describe(exc)),),
        )
    try:
        revinfo = _RevinfoOptions(revocation, tuple(crls), tuple(ocsps), fetching)
        report = _verify_reader(
            reader, base, trust_roots, test_roots, moment, register_lookup, revinfo
        )
        return _apply_cancellation(report, reader, cancellation_lookup)
    except Exception as exc:
        return VerificationReport(
            **base,
            indication=INDETERMINATE,
            sub_indication="FORMAT_FAILURE",
            problems=(problem("structure_error", detail=_describe(exc)),),
        )


def _describe(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:300]


def _apply_cancellation(
    report: VerificationReport,
    reader: PdfFileReader,
    cancellation_lookup: Callable[[str], dict[str, Any] | None] | None,
) -> VerificationReport:
    """A copy cancelled by a decision fails whatever its signatures say (Decree 23/2015)."""
    if cancellation_lookup is None:
        return report
    manifest = _safe(lambda: _read_manifest(reader.root), None)
    copy_id = manifest.get("copy_id") if isinstance(manifest, dict) else None
    if not isinstance(copy_id, str) or not copy_id:
        copy_id = (report.register_entry or {}).get("copy_id")
    if not isinstance(copy_id, str) or not copy_id:
        return report
    decision = cancellation_lookup(copy_id)
    if not decision:
        return report
    detail = (f"{decision.get('decision_ref', '?')}, {decision.get('decision_date', '?')}: "
              f"{decision.get('reason', '')}")
    return dataclasses.replace(
        report,
        indication=TOTAL_FAILED,
        sub_indication="CANCELLED",
        problems=(problem("cancelled", detail=detail), *report.problems),
        cancellation=dict(decision),
    )


def _verify_reader(
    reader: PdfFileReader,
    base: dict[str, Any],
    trust_roots: Sequence[x509.Certificate],
    test_roots: Sequence[x509.Certificate],
    moment: datetime,
    register_lookup: Callable[[dict[str, Any]], dict[str, Any] | None] | None,
    revinfo: _RevinfoOptions,
) -> VerificationReport:
    all_roots = [*trust_roots, *test_roots]
    test_fps = {hashlib.sha256(c.dump()).hexdigest() for c in test_roots}
    checked: list[tuple[int, SignatureReport]] = []
    signed_revisions: list[int] = []
    doc_ts_revisions = [
        ts.signed_revision for ts in _safe(lambda: reader.embedded_timestamp_signatures, [])
    ]
    has_dss = "/DSS" in reader.root
    has_revinfo = has_dss or bool(revinfo.crls or revinfo.ocsps or revinfo.fetching)
    for fq_name, sig_obj, sig_field in enumerate_sig_fields(reader, filled_status=True):
        if sig_obj.get_object().get("/Type", "/Sig") != "/Sig":
            continue  # document timestamps: counted for the PAdES level only
        context = _revocation_context(reader, sig_obj, all_roots, moment, revinfo)
        report, revision = _check_signature(
            reader, fq_name, sig_field, context, all_roots, test_fps, has_dss, doc_ts_revisions
        )
        report = _revocation_outcome(
            report, revinfo, iso_vn(context.moment),
            lambda name=fq_name, field=sig_field, obj=sig_obj: _check_signature(
                reader, name, field,
                _revocation_context(reader, obj, all_roots, moment, revinfo.relaxed()),
                all_roots, test_fps, has_dss, doc_ts_revisions)[0],
            has_data=has_revinfo)
        checked.append((revision if revision is not None else 1 << 30, report))
        if revision is not None:
            signed_revisions.append(revision)
    # in signing order (certifier first), as an auditor reads the history of the copy
    sig_reports = [report for _, report in sorted(checked, key=lambda pair: pair[0])]
    manifest = _manifest_findings(reader, signed_revisions, register_lookup)
    indication, sub, problems = _document_verdict(sig_reports, manifest["problems"])
    return VerificationReport(
        **base,
        indication=indication,
        sub_indication=sub,
        problems=tuple(problems),
        is_test=any(s.chain_is_test or TEST_MARK in " ".join((*s.chain, s.issuer))
                    for s in sig_reports),
        revisions=reader.xrefs.total_revisions,
        signatures=tuple(sig_reports),
        manifest_present=manifest["present"],
        manifest_consistent=manifest["consistent"],
        register_entry=manifest["register_entry"],
        register_status=manifest["register_status"],
    )


@dataclasses.dataclass(frozen=True)
class _RevinfoOptions:
    mode: str  # pyhanko_certvalidator revocation_mode: soft-fail, hard-fail, require
    crls: tuple[Any, ...]
    ocsps: tuple[Any, ...]
    fetching: bool

    def relaxed(self) -> _RevinfoOptions:
        return dataclasses.replace(self, mode="soft-fail")


def _revocation_outcome(
    report: SignatureReport,
    revinfo: _RevinfoOptions,
    checked_at: str,
    without_revocation: Callable[[], SignatureReport],
    *,
    has_data: bool,
) -> SignatureReport:
    """Say what the revocation check found, and tell a missing revocation status apart from
    a broken chain: when the signature passes once revocation is not required, the only thing
    missing is revocation data, which ETSI EN 319 102-1 calls INDETERMINATE / TRY_LATER."""
    if revinfo.mode == "soft-fail":
        if has_data:
            outcome = "REVOKED" if report.sub_indication == "REVOKED" else "not revoked"
            return dataclasses.replace(
                report, revocation=f"checked (soft-fail): {outcome} at {checked_at}")
        return report  # "not checked: no revocation data (soft-fail policy)"
    if (report.indication == INDETERMINATE
            and {p.code for p in report.problems} == {"untrusted"}):
        relaxed = without_revocation()
        missing = f"checked ({revinfo.mode}): not established at {checked_at}"
        if relaxed.indication != TOTAL_PASSED:  # the chain itself fails: say why
            return dataclasses.replace(relaxed, revocation=missing)
        return dataclasses.replace(
            relaxed, indication=INDETERMINATE, sub_indication="TRY_LATER",
            problems=(problem("no_revocation_data"),), revocation=missing)
    outcome = (
        "REVOKED" if report.sub_indication == "REVOKED"
        else "not revoked" if not report.problems else "not established"
    )  # fmt: skip
    return dataclasses.replace(
        report, revocation=f"checked ({revinfo.mode}): {outcome} at {checked_at}")


def _revocation_context(
    reader: PdfFileReader,
    sig_obj: Any,
    roots: list[x509.Certificate],
    moment: datetime,
    revinfo: _RevinfoOptions,
) -> ValidationContext:
    """Point-in-time validation (ETSI EN 319 102-1 style, simplified).

    A signature is validated at the genTime of its own signature timestamp (its proof of
    existence) when that is earlier than ``moment``: a certificate that expired or was revoked
    AFTER that is not a reason to fail, one revoked BEFORE it is. Revocation data issued after
    that moment (the DSS's CRLs/OCSPs, gathered when the copy was extended) is accepted
    (retroactive_revinfo). The DSS's certificates, CRLs and OCSP responses are always used,
    plus any given by the caller; the network only when ``fetching``. The timestamp's own
    chain is judged at the same moment; B-LTA document timestamps, renewed before the TSA
    certificate expires, are what keep that sound for decades.
    """
    from pyhanko.sign.validation import DocumentSecurityStore

    gen_time = _safe(lambda: _signature_timestamp_time(sig_obj), None)
    when = gen_time if gen_time is not None and gen_time <= moment else moment
    kwargs: dict[str, Any] = {
        "trust_roots": roots,
        "allow_fetching": revinfo.fetching,
        "revocation_mode": revinfo.mode,
        "moment": when,
        "retroactive_revinfo": True,
        "crls": list(revinfo.crls),
        "ocsps": list(revinfo.ocsps),
    }
    try:
        dss = DocumentSecurityStore.read_dss(reader)
    except Exception:
        return ValidationContext(**kwargs)
    return dss.as_validation_context(kwargs)


def _signature_timestamp_time(sig_obj: Any) -> datetime | None:
    contents = bytes(sig_obj.get_object()["/Contents"])
    signed_data = cms.ContentInfo.load(contents)["content"]
    for signer_info in signed_data["signer_infos"]:
        for attr in signer_info["unsigned_attrs"] or ():
            if attr["type"].native == "signature_time_stamp_token":
                token = attr["values"][0]["content"]
                tst_info = token["encap_content_info"]["content"].parsed
                return tst_info["gen_time"].native
    return None


# Over-flagging is harmless, so a name is enough here (trust is decided by fingerprint): a dev
# copy verified on a machine without that dev PKI is still announced as a test.
TEST_MARK = "not legally valid"


def _safe(get: Callable[[], Any], default: Any) -> Any:
    try:
        return get()
    except Exception:
        return default


def _check_signature(
    reader: PdfFileReader,
    fq_name: str,
    sig_field: generic.DictionaryObject,
    context: ValidationContext,
    roots: Sequence[x509.Certificate],
    test_fps: set[str],
    has_dss: bool,
    doc_ts_revisions: list[int],
) -> tuple[SignatureReport, int | None]:
    try:
        embedded = EmbeddedPdfSignature(reader, sig_field, fq_name)
    except Exception as exc:
        why = problem("sig_unparsable", detail=_describe(exc))
        salvaged = _safe(lambda: _encrypted_contents_report(reader, fq_name, sig_field), None)
        return salvaged or SignatureReport.broken(fq_name, why), None
    try:
        status = validate_pdf_signature(embedded, context)
    except Exception as exc:
        report = SignatureReport.broken(fq_name, problem("sig_unverifiable", detail=_describe(exc)))
        return report, embedded.signed_revision
    return (
        _report_from_status(embedded, status, roots, test_fps, has_dss, doc_ts_revisions),
        embedded.signed_revision,
    )


def _cn(name: x509.Name) -> str:
    native = name.native
    return str(native.get("common_name") or name.human_friendly)


def _chain(
    status: PdfSignatureStatus,
    embedded: EmbeddedPdfSignature,
    roots: Sequence[x509.Certificate],
) -> list[x509.Certificate]:
    """Leaf-to-root; when pyHanko found no trusted path, walk the embedded certificates by
    issuer name so the report still shows where the chain leads (and whether it is a test)."""
    if status.validation_path is not None:
        return list(status.validation_path.iter_certs(include_root=True))[::-1]
    pool = [*embedded.other_embedded_certs, *roots]
    chain = [status.signing_cert]
    while len(chain) < 10 and chain[-1].issuer != chain[-1].subject:
        parent = next((c for c in pool if c.subject == chain[-1].issuer), None)
        if parent is None:
            break
        chain.append(parent)
    return chain


def _pades_level(
    status: PdfSignatureStatus, revision: int, has_dss: bool, doc_ts_revisions: list[int]
) -> str:
    if status.timestamp_validity is None:
        return "B-B"
    # DSS presence is document-wide; pyHanko does not tie it to one signature without VRI.
    if not has_dss:
        return "B-T"
    if any(r > revision for r in doc_ts_revisions):
        return "B-LTA"
    return "B-LT"


def _modification_problem(status: PdfSignatureStatus) -> Problem | None:
    level = status.modification_level
    coverage = status.coverage
    if coverage not in _ACCEPTED_COVERAGE:
        name = coverage.name if coverage is not None else "UNKNOWN"
        return problem("modified", detail=f"signature covers {name}, not a whole revision")
    if level is not None and level.value > ModificationLevel.FORM_FILLING.value:
        return problem("modified", detail=f"changes of kind {level.name} after signing")
    if status.docmdp_ok is False:
        return problem("modified", detail="changes not permitted by the certification (DocMDP)")
    return None


def _report_from_status(
    embedded: EmbeddedPdfSignature,
    status: PdfSignatureStatus,
    roots: Sequence[x509.Certificate],
    test_fps: set[str],
    has_dss: bool,
    doc_ts_revisions: list[int],
) -> SignatureReport:
    cert = status.signing_cert
    chain = _chain(status, embedded, roots)
    chain_is_test = hashlib.sha256(chain[-1].dump()).hexdigest() in test_fps
    ts = status.timestamp_validity
    ts_ok = ts is not None and ts.intact and ts.valid and ts.trusted
    revision = embedded.signed_revision
    docmdp = embedded.docmdp_level
    problems: list[Problem] = []
    indication, sub = TOTAL_PASSED, None
    modification = _modification_problem(status)
    if not status.intact:
        indication, sub = TOTAL_FAILED, "HASH_FAILURE"
        problems.append(problem("hash_failure"))
    elif not status.valid:
        indication, sub = TOTAL_FAILED, "SIG_CRYPTO_FAILURE"
        problems.append(problem("crypto_failure"))
    elif modification is not None:
        indication, sub = TOTAL_FAILED, "FORMAT_FAILURE"
        problems.append(modification)
    elif status.revoked:
        indication, sub = TOTAL_FAILED, "REVOKED"
        problems.append(problem("revoked"))
    elif not status.trusted:
        indic = status.trust_problem_indic
        sub = indic.name if indic is not None else "NO_CERTIFICATE_CHAIN_FOUND"
        indication = TOTAL_FAILED if isinstance(indic, AdESFailure) else INDETERMINATE
        if ts_ok and ts.timestamp < cert["tbs_certificate"]["validity"]["not_before"].native:
            # The legacy API reports CERTIFICATE_CHAIN_GENERAL_FAILURE here; a trusted
            # timestamp proves the signature predates the certificate, which ETSI EN 319 102-1
            # (and pyHanko's own AdES past-signature validation) call TOTAL-FAILED/NOT_YET_VALID.
            indication, sub = TOTAL_FAILED, "NOT_YET_VALID"
        validity = sub in {"NOT_YET_VALID", "EXPIRED", "OUT_OF_BOUNDS_NO_POE"}
        problems.append(problem("cert_validity" if validity else "untrusted", detail=sub))
    elif ts is None:
        indication, sub = INDETERMINATE, "SIG_CONSTRAINTS_FAILURE"
        problems.append(problem("no_timestamp"))
    elif not ts_ok:
        indication, sub = INDETERMINATE, "SIG_CONSTRAINTS_FAILURE"
        problems.append(problem("bad_timestamp", detail=ts.summary()))
    return SignatureReport(
        field_name=embedded.field_name,
        signer_cn=_cn(cert.subject),
        organisation=str(cert.subject.native.get("organization_name", "")),
        certificate_serial=format(cert.serial_number, "x"),
        issuer=cert.issuer.human_friendly,
        chain=tuple(_cn(c.subject) for c in chain),
        trusted=status.trusted,
        chain_is_test=chain_is_test,
        signing_time=iso_vn(status.signer_reported_dt) if status.signer_reported_dt else None,
        timestamp_time=iso_vn(ts.timestamp) if ts is not None else None,
        tsa_name=_cn(ts.signing_cert.subject) if ts is not None else None,
        timestamp_valid=ts_ok if ts is not None else None,
        revision=revision,
        byte_range=tuple(int(v) for v in embedded.byte_range),
        coverage=status.coverage.name if status.coverage is not None else "UNKNOWN",
        is_certification=docmdp is not None and "/DocMDP" in _reference_methods(embedded),
        docmdp_permission=docmdp.name if docmdp is not None else None,
        modification_level=(
            status.modification_level.name if status.modification_level is not None else None
        ),
        docmdp_ok=status.docmdp_ok,
        pades_level=_pades_level(status, revision, has_dss, doc_ts_revisions),
        indication=indication,
        sub_indication=sub,
        revocation="not checked: no revocation data (soft-fail policy)",
        problems=tuple(problems),
    )


def _reference_methods(embedded: EmbeddedPdfSignature) -> set[str]:
    # get_object(): in an encrypted file the array comes back as a DecryptedObjectProxy
    refs = embedded.sig_object.get("/Reference", generic.ArrayObject()).get_object()
    return {str(r.get_object().get("/TransformMethod")) for r in refs}


def _document_verdict(
    sigs: list[SignatureReport], extra: list[Problem]
) -> tuple[str, str | None, list[Problem]]:
    problems = [p for s in sigs for p in s.problems] + extra
    if not sigs:
        return TOTAL_FAILED, "FORMAT_FAILURE", [problem("no_signature"), *problems]
    for wanted in (TOTAL_FAILED, INDETERMINATE):
        first = next((s for s in sigs if s.indication == wanted), None)
        if first is not None:
            return wanted, first.sub_indication, problems
    last = max(sigs, key=lambda s: s.revision)
    if last.modification_level not in (None, "NONE", "LTA_UPDATES"):
        detail = f"unsigned changes ({last.modification_level}) after the last signature"
        return TOTAL_FAILED, "FORMAT_FAILURE", [*problems, problem("modified", detail=detail)]
    if len(sigs) < 2:
        return INDETERMINATE, "SIG_CONSTRAINTS_FAILURE", [*problems, problem("too_few")]
    register_codes = {p.code for p in extra}
    if "register_mismatch" in register_codes:
        return TOTAL_FAILED, "SIG_CONSTRAINTS_FAILURE", problems
    if register_codes & {"register_missing", "manifest_missing"}:
        # two good signatures without ecopy's manifest (or its register entry) are not an
        # e-copy this policy can vouch for
        return INDETERMINATE, "SIG_CONSTRAINTS_FAILURE", problems
    return TOTAL_PASSED, None, problems


def _manifest_findings(
    reader: PdfFileReader,
    signed_revisions: list[int],
    register_lookup: Callable[[dict[str, Any]], dict[str, Any] | None] | None,
) -> dict[str, Any]:
    now = _safe(lambda: _read_manifest(reader.root), None)
    signed = None
    if signed_revisions:
        last = max(signed_revisions)
        signed = _safe(lambda: _read_manifest(reader.get_historical_root(last)), None)
    problems: list[Problem] = []
    consistent = now is not None and signed is not None and now == signed
    if now is None:
        problems.append(problem("manifest_missing"))
    elif not consistent:
        problems.append(problem("manifest_changed"))
    if consistent and isinstance(now, dict) and "page_count" in now:
        pages = int(reader.root["/Pages"]["/Count"])
        if now["page_count"] != pages:
            consistent = False
            problems.append(problem("manifest_pages", detail=f"{now['page_count']} ≠ {pages}"))
    entry = now.get("register_entry") if isinstance(now, dict) else None
    entry = entry if isinstance(entry, dict) else None
    status = "not_checked"
    if register_lookup is not None and entry is not None:
        stored = register_lookup(entry)
        if stored is None:
            status = "missing"
            problems.append(problem("register_missing"))
        elif _canonical_hash(stored) == _canonical_hash(entry):
            status = "found"
        else:
            status = "mismatch"
            problems.append(problem("register_mismatch"))
    return {
        "present": now is not None,
        "consistent": consistent,
        "register_entry": entry,
        "register_status": status,
        "problems": problems,
    }


def _canonical_hash(value: dict[str, Any]) -> str:
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _read_manifest(root: generic.DictionaryObject) -> Any:
    """Walk the /EmbeddedFiles name tree (Kids included) for manifest.json; parse its JSON."""
    tree = root["/Names"]["/EmbeddedFiles"]
    pending, seen = [tree], 0
    while pending and seen < 10_000:
        node = pending.pop().get_object()
        seen += 1
        pending.extend(node.get("/Kids", ()))
        names = node.get("/Names", ())
        for i in range(0, len(names) - 1, 2):
            spec = names[i + 1].get_object()
            labels = {str(names[i]), str(spec.get("/UF", "")), str(spec.get("/F", ""))}
            if _MANIFEST_NAME in labels:
                stream = spec["/EF"]["/F"].get_object()
                raw = stream.data
                if len(raw) > _MAX_MANIFEST_BYTES:
                    raise ValueError("manifest.json too large")
                return json.loads(raw.decode("utf-8"))
    return None


def _encrypted_contents_report(
    reader: PdfFileReader, fq_name: str, sig_field: generic.DictionaryObject
) -> SignatureReport | None:
    """Some producers encrypt /Contents along with the document, which ISO 32000 forbids and
    pyHanko (rightly) refuses to parse. Decrypting it anyway still lets the report say who
    signed and whether the bytes are intact, instead of only "unparsable"."""
    if not reader.encrypted:
        return None
    sig_obj = sig_field.get_object()["/V"].get_object()
    signed_data = cms.ContentInfo.load(bytes(sig_obj["/Contents"]))["content"]
    signer_info = signed_data["signer_infos"][0]
    sid = signer_info["sid"].chosen
    cert = next(
        c.chosen
        for c in signed_data["certificates"]
        if c.name == "certificate" and c.chosen.serial_number == sid["serial_number"].native
    )
    attrs = {a["type"].native: a["values"][0].native for a in signer_info["signed_attrs"]}
    offset1, len1, offset2, len2 = (int(v) for v in sig_obj["/ByteRange"])
    stream = reader.stream
    digest = hashlib.new(signer_info["digest_algorithm"]["algorithm"].native)
    for offset, length in ((offset1, len1), (offset2, len2)):
        stream.seek(offset)
        digest.update(stream.read(length))
    intact = digest.digest() == attrs.get("message_digest")
    why = problem("hash_failure") if not intact else problem("contents_encrypted")
    broken = SignatureReport.broken(fq_name, why)
    return dataclasses.replace(
        broken,
        signer_cn=_cn(cert.subject),
        organisation=str(cert.subject.native.get("organization_name", "")),
        certificate_serial=format(cert.serial_number, "x"),
        issuer=cert.issuer.human_friendly,
        chain=(_cn(cert.subject),),
        signing_time=iso_vn(attrs["signing_time"]) if attrs.get("signing_time") else None,
        byte_range=(offset1, len1, offset2, len2),
        sub_indication="HASH_FAILURE" if not intact else "FORMAT_FAILURE",
        problems=(why, problem("contents_encrypted")) if not intact else (why,),
    )
