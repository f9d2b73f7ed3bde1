"""Revocation and long-term validation with real CRLs, real OCSP over HTTP, real signatures.

A CRL/OCSP service for a throw-away dev PKI runs on 127.0.0.1; test leaves (certifier,
agency, TSA) carry CRL DP and AIA OCSP URLs pointing at it. The dev intermediate has no URLs
(the default dev PKI is unchanged), so its revocation status comes from the root's CRL,
handed over explicitly.
"""

from __future__ import annotations

import datetime as dt
import json
import time
import urllib.error
import urllib.request
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import pem
from asn1crypto import x509 as asn1_x509
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import DocumentSecurityStore, validate_pdf_timestamp

from signing.devpki import DevPki, ensure_dev_pki
from signing.ltv import add_archive_timestamp, dss_contents, extend_to_lt, validation_context
from signing.revocation import RevocationService, issue_leaf
from signing.sign import SigningIdentity, load_identity, sign_ecopy
from signing.tsa import local_timestamper
from signing.verify import VerificationReport, verify_pdf
from tests.conftest import CERTIFY_AS, PERSON, export_copy, run_cli
from tests.test_signing import AGENCY, AGENCY_BOX, CERTIFIER, CERTIFIER_BOX, FONT, _unsigned_pdf

ROOT_CRL = 0  # index of the root's CRL in RevocationService.crls()


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> DevPki:
    return ensure_dev_pki(
        tmp_path_factory.mktemp("rev-pki"),
        agency_name=AGENCY,
        certifier_name=CERTIFIER,
        certifier_title="Phó Chủ tịch",
    )


@pytest.fixture(scope="module")
def service(pki: DevPki) -> Any:
    with RevocationService(pki.directory) as svc:
        yield svc


class Signers:
    def __init__(self, pki: DevPki, service: RevocationService) -> None:
        urls = {"crl_url": service.crl_url(), "ocsp_url": service.ocsp_url()}
        self.certifier_cert, key = issue_leaf(
            pki.directory, common_name=CERTIFIER, organisation=AGENCY, **urls
        )
        self.certifier = load_identity(self.certifier_cert, key, pki.chain(), is_test=True)
        agency_cert, key = issue_leaf(
            pki.directory, common_name=AGENCY, organisation=AGENCY, **urls
        )
        self.agency = load_identity(agency_cert, key, pki.chain(), is_test=True)
        tsa_cert, key = issue_leaf(
            pki.directory, common_name="TEST TSA", organisation="ecopy TEST", timestamping=True,
            **urls,
        )  # fmt: skip
        self.timestamper = local_timestamper(tsa_cert, key, pki.chain())


def _sign(tmp: Path, signers: Signers, name: str = "copy.pdf") -> Path:
    out = tmp / name
    sign_ecopy(
        _unsigned_pdf(),
        out,
        certifier=signers.certifier,
        agency=signers.agency,
        timestamper=signers.timestamper,
        certifier_box=CERTIFIER_BOX,
        agency_box=AGENCY_BOX,
        font_path=FONT,
    )
    return out


def _verify(pki: DevPki, data: bytes, **kwargs: Any) -> VerificationReport:
    return verify_pdf(data, trust_roots=(), test_roots=(pki.root_cert(),), **kwargs)


def _serial(identity: SigningIdentity) -> int:
    cert = identity.signer.signing_cert
    assert isinstance(cert, asn1_x509.Certificate)
    return int(cert.serial_number)


def test_crl_and_ocsp_served_over_http(pki: DevPki, service: RevocationService) -> None:
    import urllib.request

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509 import ocsp

    signers = Signers(pki, service)
    serial = _serial(signers.agency)
    service.revoke(serial, reason="key_compromise")
    with urllib.request.urlopen(service.crl_url(), timeout=5) as resp:
        crl = x509.load_der_x509_crl(resp.read())
    issuer = x509.load_pem_x509_certificate(pki.cert_path("intermediate").read_bytes())
    assert crl.is_signature_valid(issuer.public_key())
    assert crl.get_revoked_certificate_by_serial_number(serial) is not None
    leaf = x509.load_der_x509_certificate(signers.certifier_cert.dump())
    request = ocsp.OCSPRequestBuilder().add_certificate(leaf, issuer, hashes.SHA1()).build()
    http = urllib.request.Request(
        service.ocsp_url(),
        data=request.public_bytes(serialization.Encoding.DER),
        headers={"Content-Type": "application/ocsp-request"},
    )
    with urllib.request.urlopen(http, timeout=5) as resp:
        answer = ocsp.load_der_ocsp_response(resp.read())
    assert answer.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL
    assert answer.certificate_status == ocsp.OCSPCertStatus.GOOD


def test_revoked_before_signing_fails(
    tmp_path: Path, pki: DevPki, service: RevocationService
) -> None:
    signers = Signers(pki, service)
    when = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    service.revoke(_serial(signers.certifier), when, "key_compromise")
    data = _sign(tmp_path, signers).read_bytes()
    before = len(service.requests)
    # fetching from the local server (leaf + TSA); the intermediate's status from the root CRL
    report = _verify(
        pki, data, revocation="require", fetching=True, crls=[service.crls()[ROOT_CRL]]
    )
    assert len(service.requests) > before, "revocation data was not fetched over HTTP"
    assert report.indication == "TOTAL-FAILED", report.problems
    assert report.sub_indication == "REVOKED"
    by_field = {s.field_name: s for s in report.signatures}
    assert by_field["CertifierSignature"].sub_indication == "REVOKED"
    assert by_field["AgencySignature"].indication == "TOTAL-PASSED"
    # same verdict from a supplied CRL alone, no network
    offline = _verify(pki, data, revocation="require", crls=service.crls())
    assert (offline.indication, offline.sub_indication) == ("TOTAL-FAILED", "REVOKED")


@pytest.fixture(scope="module")
def extended(
    tmp_path_factory: pytest.TempPathFactory, pki: DevPki, service: RevocationService
) -> tuple[Signers, Path]:
    """A copy signed and extended to B-LT while its certificates were good."""
    tmp = tmp_path_factory.mktemp("lt")
    signers = Signers(pki, service)
    signed = _sign(tmp, signers)
    context = validation_context([pki.root_cert()], crls=[service.crls()[ROOT_CRL]], fetching=True)
    return signers, extend_to_lt(signed, tmp / "copy-lt.pdf", context)


def test_extended_before_revocation_passes_offline_after_it(
    pki: DevPki, service: RevocationService, extended: tuple[Signers, Path]
) -> None:
    signers, lt_path = extended
    data = lt_path.read_bytes()
    held = dss_contents(data)
    assert held["crls"] or held["ocsps"]
    # revoked now, i.e. after the signature's timestamp and after the extension (revocation
    # times have whole seconds: wait so "now" cannot round down to the signing second)
    time.sleep(1.1)
    service.revoke(_serial(signers.certifier), reason="key_compromise")
    report = _verify(pki, data, revocation="require")  # no network, no extra data
    assert report.indication == "TOTAL-PASSED", report.problems
    assert {s.pades_level for s in report.signatures} == {"B-LT"}
    assert all(s.revocation.startswith("checked (require)") for s in report.signatures)
    # a fresh CRL from the server now lists the certificate, revoked after the signing time:
    # point-in-time validation at the timestamp keeps the copy valid
    online = _verify(pki, data, revocation="require", fetching=True)
    assert online.indication == "TOTAL-PASSED", online.problems
    # but the B-T original, without a DSS, cannot pass with revocation required offline
    signed_only = data[: _first_revision_end_with_both_signatures(data)]
    bare = _verify(pki, signed_only, revocation="require")
    assert bare.indication != "TOTAL-PASSED"


def _first_revision_end_with_both_signatures(data: bytes) -> int:
    reader = PdfFileReader(BytesIO(data))
    agency = next(
        s for s in reader.embedded_regular_signatures if s.field_name == "AgencySignature"
    )
    return int(agency.byte_range[2] + agency.byte_range[3])


def test_archive_timestamp_twice_is_b_lta(
    tmp_path: Path, pki: DevPki, service: RevocationService, extended: tuple[Signers, Path]
) -> None:
    signers, lt_path = extended

    def context() -> Any:
        return validation_context([pki.root_cert()], crls=service.crls(), fetching=True)

    first = add_archive_timestamp(lt_path, tmp_path / "lta1.pdf", signers.timestamper, context())
    second = add_archive_timestamp(first, tmp_path / "lta2.pdf", signers.timestamper, context())
    data = second.read_bytes()
    assert data.startswith(lt_path.read_bytes())  # append-only
    report = _verify(pki, data, revocation="require")
    assert report.indication == "TOTAL-PASSED", report.problems
    assert {s.pades_level for s in report.signatures} == {"B-LTA"}
    reader = PdfFileReader(BytesIO(data))
    stamps = reader.embedded_timestamp_signatures
    assert len(stamps) == 2
    # the older document timestamp validates offline from the DSS, revocation required
    dss_context = DocumentSecurityStore.read_dss(reader).as_validation_context(
        {"trust_roots": [pki.root_cert()], "revocation_mode": "require",
         "allow_fetching": False, "retroactive_revinfo": True}
    )  # fmt: skip
    status = validate_pdf_timestamp(stamps[0], dss_context)
    assert status.intact and status.valid and status.trusted, status.summary()


def test_cli_extend_lta(tmp_path: Path, env: dict[str, str], pki_dir: Path, corpus: Path) -> None:
    store = tmp_path / "store"
    done = run_cli(
        ["process", *CERTIFY_AS,
         str(corpus / "tesseract-test" / "phototest.tif"), "--person-id", PERSON,
         "--out", str(store), "--json", "--no-progress", "--certify-all"],
        {**env, "ECOPY_PADES_LEVEL": "B-T"},  # a bare copy, extended below
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    (doc,) = json.loads(done.stdout)["documents"]
    copy = export_copy(store, doc["ecopy_path"], tmp_path / "copy.pdf")  # sealed in the store
    out = tmp_path / "extended"
    ext = run_cli(["extend", str(copy), "--lta", "--out", str(out), "--offline", "--json"], env)
    assert ext.returncode == 0, ext.stdout + ext.stderr
    assert json.loads(ext.stdout)["results"][0]["level"] == "B-LTA"
    data = (out / copy.name).read_bytes()
    root = asn1_x509.Certificate.load(pem.unarmor((pki_dir / "root.cert.pem").read_bytes())[2])
    report = verify_pdf(data, trust_roots=(), test_roots=(root,), revocation="require")
    assert report.indication == "TOTAL-PASSED", report.problems
    assert {s.pades_level for s in report.signatures} == {"B-LTA"}
    # the same through the command line, offline, revocation evidence required
    cli = run_cli(["verify", str(out / copy.name), "--revocation", "require", "--json"], env)
    assert cli.returncode == 0, cli.stdout
    # the unextended copy has no evidence: required revocation checking cannot pass
    bare = run_cli(["verify", str(copy), "--revocation", "require", "--json"], env)
    assert bare.returncode != 0 and json.loads(bare.stdout)["indication"] != "TOTAL-PASSED"


def test_tsa_url_setting_is_used_for_signing_and_extending(
    tmp_path: Path, env: dict[str, str], corpus: Path
) -> None:
    """ECOPY_TSA_URL: both B-T timestamps and the archive timestamp come from the RFC 3161
    server at that URL (here the dev PKI's TSA behind HTTP on 127.0.0.1)."""
    from ecopy.keys import dev_pki
    from ecopy.settings import load_settings

    pki = dev_pki(load_settings(env))  # the PKI the CLI runs will use
    tsa = local_timestamper(pki.tsa_cert(), pki.tsa_key(), pki.chain())
    with RevocationService(pki.directory, timestamper=tsa) as svc:
        url_env = {**env, "ECOPY_TSA_URL": svc.tsa_url}
        store = tmp_path / "store"
        done = run_cli(
            ["process", *CERTIFY_AS,
             str(corpus / "tesseract-test" / "phototest.tif"), "--person-id",
             PERSON, "--out", str(store), "--json", "--no-progress", "--certify-all"],
            url_env,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        signing_requests = svc.requests.count("POST /tsa")
        # one token per signature, plus one that pyHanko asks for once per process to size
        # the signature placeholder
        assert signing_requests == 3
        (doc,) = json.loads(done.stdout)["documents"]
        copy = export_copy(store, doc["ecopy_path"], tmp_path / "copy.pdf")
        ext = run_cli(["extend", str(copy), "--lta", "--offline", "--json"], url_env)
        assert ext.returncode == 0, ext.stdout + ext.stderr
        assert svc.requests.count("POST /tsa") == signing_requests + 2  # size probe + archive
        bad = urllib.request.Request(svc.tsa_url, data=b"not DER", method="POST")
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(bad, timeout=10)
        assert refused.value.code == 400
    verified = run_cli(["verify", str(copy), "--revocation", "require", "--json"], env)
    report = json.loads(verified.stdout)
    assert verified.returncode == 0 and report["indication"] == "TOTAL-PASSED", report
    assert {s["pades_level"] for s in report["signatures"]} == {"B-LTA"}
