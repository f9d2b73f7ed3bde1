"""Revocation for the dev PKI: a revocation list on disk, CRLs and OCSP served over HTTP.

The list lives in ``<pki dir>/revocations.json`` (``revoke`` appends, nothing is ever
removed). CRLs are signed on demand by the CA that issued the certificates they list (root →
intermediate, intermediate → leaves); OCSP responses are signed by the issuing CA itself (an
RFC 6960 "CA-signed" response, so no responder certificate needs its own revocation data).

``RevocationService`` serves both on 127.0.0.1 with an ephemeral port:

* ``GET  /crl/<ca>.crl``              DER CRL of ``<ca>`` (``root`` or ``intermediate``)
* ``POST /ocsp/<ca>``                 OCSP (``application/ocsp-request`` body)
* ``GET  /ocsp/<ca>/<base64 request>`` OCSP (RFC 6960 appendix A GET form)
* ``POST /tsa``                      RFC 3161 timestamps (``application/timestamp-query``),
  only when the service was given a timestamper: lets tests and demos use ``ECOPY_TSA_URL``
  exactly as production does, with the dev PKI's TEST TSA behind it.

The default dev PKI certificates carry no CRL DP / AIA URLs (so existing PKIs are unchanged);
``issue_leaf`` issues extra leaves under the dev intermediate that point at a service's URLs.
``crls()`` gives the same CRLs in-process, for callers that have the PKI but no network.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import threading
import urllib.parse
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from asn1crypto import crl as asn1_crl
from asn1crypto import keys as asn1_keys
from asn1crypto import tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from signing.devpki import exclusive_lock

REVOCATIONS_FILE = "revocations.json"
CAS = ("root", "intermediate")
CRL_VALIDITY = dt.timedelta(days=7)
OCSP_VALIDITY = dt.timedelta(days=1)
_REASONS = {flag.name: flag for flag in x509.ReasonFlags}  # key_compromise, ...


@dataclass(frozen=True)
class Revocation:
    serial: int
    revoked_at: dt.datetime
    reason: str
    issuer: str  # "intermediate" (leaves) or "root" (the intermediate)


class RevocationStore:
    """The revocation list of one dev PKI directory, kept as JSON (append-only)."""

    def __init__(self, pki_dir: Path) -> None:
        self.pki_dir = Path(pki_dir)
        self.path = self.pki_dir / REVOCATIONS_FILE

    def revoke(
        self,
        serial: int,
        when: dt.datetime | None = None,
        reason: str = "unspecified",
        *,
        issuer: str = "intermediate",
    ) -> Revocation:
        """Record a revocation; ``when`` may lie in the past (e.g. key compromise discovered
        late). Revoking twice keeps the first record."""
        if reason not in _REASONS or reason in ("remove_from_crl",):
            raise ValueError(f"unknown revocation reason {reason!r}")
        if issuer not in CAS:
            raise ValueError(f"unknown issuer {issuer!r}")
        moment = (when or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).replace(microsecond=0)
        with exclusive_lock(self.pki_dir / ".revocations.lock"):
            entries = self._read()
            for entry in entries:
                if entry["serial"] == serial and entry["issuer"] == issuer:
                    return _as_revocation(entry)
            entry = {
                "serial": serial,
                "revoked_at": moment.isoformat(),
                "reason": reason,
                "issuer": issuer,
            }
            entries.append(entry)
            tmp = self.path.with_name(f".{self.path.name}.tmp")
            tmp.write_text(json.dumps(entries, indent=2), "utf-8")
            os.replace(tmp, self.path)
        return _as_revocation(entry)

    def entries(self, issuer: str | None = None) -> list[Revocation]:
        return [_as_revocation(e) for e in self._read() if issuer in (None, e["issuer"])]

    def find(self, serial: int, issuer: str = "intermediate") -> Revocation | None:
        return next((r for r in self.entries(issuer) if r.serial == serial), None)

    def _read(self) -> list[dict[str, Any]]:
        try:
            data = json.loads(self.path.read_text("utf-8"))
        except FileNotFoundError:
            return []
        return data if isinstance(data, list) else []


def _as_revocation(entry: dict[str, Any]) -> Revocation:
    return Revocation(
        serial=int(entry["serial"]),
        revoked_at=dt.datetime.fromisoformat(entry["revoked_at"]),
        reason=str(entry["reason"]),
        issuer=str(entry["issuer"]),
    )


def _load_ca(pki_dir: Path, name: str) -> tuple[x509.Certificate, Any]:
    cert = x509.load_pem_x509_certificate((pki_dir / f"{name}.cert.pem").read_bytes())
    key = serialization.load_pem_private_key((pki_dir / f"{name}.key.pem").read_bytes(), None)
    return cert, key


class RevocationAuthority:
    """Signs CRLs and OCSP responses for a dev PKI directory (no network involved)."""

    def __init__(self, pki_dir: Path) -> None:
        self.pki_dir = Path(pki_dir)
        self.store = RevocationStore(self.pki_dir)
        self._cas = {name: _load_ca(self.pki_dir, name) for name in CAS}

    def revoke(
        self,
        serial: int,
        when: dt.datetime | None = None,
        reason: str = "unspecified",
        *,
        issuer: str = "intermediate",
    ) -> Revocation:
        return self.store.revoke(serial, when, reason, issuer=issuer)

    def crl_der(self, ca: str, now: dt.datetime | None = None) -> bytes:
        cert, key = self._cas[ca]
        now = (now or dt.datetime.now(dt.UTC)).replace(microsecond=0)
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(cert.subject)
            .last_update(now - dt.timedelta(seconds=5))
            .next_update(now + CRL_VALIDITY)
            .add_extension(x509.CRLNumber(int(now.timestamp())), False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()), False
            )
        )
        for entry in self.store.entries(ca):
            revoked = (
                x509.RevokedCertificateBuilder()
                .serial_number(entry.serial)
                .revocation_date(entry.revoked_at)
            )
            if entry.reason != "unspecified":
                revoked = revoked.add_extension(x509.CRLReason(_REASONS[entry.reason]), False)
            builder = builder.add_revoked_certificate(revoked.build())
        return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)

    def crls(self) -> list[asn1_crl.CertificateList]:
        """Fresh CRLs of both CAs, as pyHanko wants them (``ValidationContext(crls=...)``)."""
        return [asn1_crl.CertificateList.load(self.crl_der(ca)) for ca in CAS]

    def ocsp_der(self, ca: str, request_der: bytes) -> bytes:
        try:
            request = ocsp.load_der_ocsp_request(request_der)
        except ValueError:
            return ocsp.OCSPResponseBuilder.build_unsuccessful(
                ocsp.OCSPResponseStatus.MALFORMED_REQUEST
            ).public_bytes(serialization.Encoding.DER)
        cert, key = self._cas[ca]
        if request.issuer_key_hash != _key_hash(cert, request.hash_algorithm):
            return ocsp.OCSPResponseBuilder.build_unsuccessful(
                ocsp.OCSPResponseStatus.UNAUTHORIZED
            ).public_bytes(serialization.Encoding.DER)
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        entry = self.store.find(request.serial_number, ca)
        if entry is None:
            status, when, reason = ocsp.OCSPCertStatus.GOOD, None, None
        else:
            status, when = ocsp.OCSPCertStatus.REVOKED, entry.revoked_at
            reason = _REASONS[entry.reason] if entry.reason != "unspecified" else None
        builder = (
            ocsp.OCSPResponseBuilder()
            .add_response_by_hash(
                issuer_name_hash=request.issuer_name_hash,
                issuer_key_hash=request.issuer_key_hash,
                serial_number=request.serial_number,
                algorithm=request.hash_algorithm,
                cert_status=status,
                this_update=now - dt.timedelta(seconds=5),
                next_update=now + OCSP_VALIDITY,
                revocation_time=when,
                revocation_reason=reason,
            )
            .responder_id(ocsp.OCSPResponderEncoding.HASH, cert)
            .certificates([cert])
        )
        for ext in request.extensions:
            if isinstance(ext.value, x509.OCSPNonce):
                builder = builder.add_extension(ext.value, critical=False)
        return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


def _key_hash(cert: x509.Certificate, algorithm: hashes.HashAlgorithm) -> bytes:
    spki = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    bit_string = asn1_keys.PublicKeyInfo.load(spki)["public_key"].contents[1:]
    digest = hashes.Hash(type(algorithm)())
    digest.update(bit_string)
    return digest.finalize()


class RevocationService:
    """CRL + OCSP over HTTP on 127.0.0.1 (ephemeral port) for one dev PKI directory."""

    def __init__(
        self, pki_dir: Path, host: str = "127.0.0.1", port: int = 0, *, timestamper: Any = None
    ) -> None:
        self.authority = RevocationAuthority(pki_dir)
        self.timestamper = timestamper  # a signing.tsa local timestamper, for POST /tsa
        self._address = (host, port)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.requests: list[str] = []  # paths served, for tests and diagnostics

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("revocation service not started")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def crl_url(self, ca: str = "intermediate") -> str:
        return f"{self.base_url}/crl/{ca}.crl"

    def ocsp_url(self, ca: str = "intermediate") -> str:
        return f"{self.base_url}/ocsp/{ca}"

    @property
    def tsa_url(self) -> str:
        if self.timestamper is None:
            raise RuntimeError("this service was started without a timestamper")
        return f"{self.base_url}/tsa"

    def revoke(
        self,
        serial: int,
        when: dt.datetime | None = None,
        reason: str = "unspecified",
        *,
        issuer: str = "intermediate",
    ) -> Revocation:
        return self.authority.revoke(serial, when, reason, issuer=issuer)

    def crls(self) -> list[asn1_crl.CertificateList]:
        return self.authority.crls()

    def start(self) -> RevocationService:
        if self._server is not None:
            return self
        self._server = ThreadingHTTPServer(self._address, _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="ecopy-revocation", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> RevocationService:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _handler(service: RevocationService) -> type[BaseHTTPRequestHandler]:
    authority = service.authority

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass  # tests and the CLI stay quiet

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _timestamp(self, request_der: bytes) -> None:
            try:
                request = tsp.TimeStampReq.load(request_der)
                request.native  # noqa: B018 - parse fully now: a bad request is a 400
            except (ValueError, TypeError):
                self._send(400, b"bad timestamp request", "text/plain")
                return
            reply = service.timestamper.request_tsa_response(request).dump()
            self._send(200, reply, "application/timestamp-reply")

        def _ocsp(self, ca: str, request_der: bytes) -> None:
            self._send(200, authority.ocsp_der(ca, request_der), "application/ocsp-response")

        def do_GET(self) -> None:
            service.requests.append(f"GET {self.path}")
            parts = [p for p in urllib.parse.urlsplit(self.path).path.split("/") if p]
            if len(parts) == 2 and parts[0] == "crl" and parts[1].removesuffix(".crl") in CAS:
                der = authority.crl_der(parts[1].removesuffix(".crl"))
                self._send(200, der, "application/pkix-crl")
            elif len(parts) >= 3 and parts[0] == "ocsp" and parts[1] in CAS:
                encoded = urllib.parse.unquote("/".join(parts[2:]))
                try:
                    request_der = base64.b64decode(encoded)
                except ValueError:
                    request_der = b""
                self._ocsp(parts[1], request_der)
            else:
                self._send(404, b"not found", "text/plain")

        def do_POST(self) -> None:
            service.requests.append(f"POST {self.path}")
            parts = [p for p in urllib.parse.urlsplit(self.path).path.split("/") if p]
            length = min(int(self.headers.get("Content-Length") or 0), 1 << 16)
            body = self.rfile.read(length)
            if len(parts) == 2 and parts[0] == "ocsp" and parts[1] in CAS:
                self._ocsp(parts[1], body)
            elif parts == ["tsa"] and service.timestamper is not None:
                self._timestamp(body)
            else:
                self._send(404, b"not found", "text/plain")

    return Handler


def issue_leaf(
    pki_dir: Path,
    *,
    common_name: str,
    organisation: str,
    crl_url: str | None = None,
    ocsp_url: str | None = None,
    lifetime: dt.timedelta = dt.timedelta(days=365),
    timestamping: bool = False,
    not_before: dt.datetime | None = None,
) -> tuple[asn1_x509.Certificate, asn1_keys.PrivateKeyInfo]:
    """A fresh RSA-2048 leaf under the dev intermediate with CRL DP / AIA OCSP URLs.

    Nothing is written to the PKI directory: the default dev PKI stays as it was.
    Returns asn1crypto objects, ready for ``signing.sign.load_identity``.
    """
    int_cert, int_key = _load_ca(Path(pki_dir), "intermediate")
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    start = not_before or dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "TEST — not legally valid"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(int_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + lifetime)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=not timestamping,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(int_key.public_key()), False
        )
    )
    if timestamping:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), True
        )
    if crl_url:
        point = x509.DistributionPoint(
            full_name=[x509.UniformResourceIdentifier(crl_url)],
            relative_name=None,
            reasons=None,
            crl_issuer=None,
        )
        builder = builder.add_extension(x509.CRLDistributionPoints([point]), False)
    if ocsp_url:
        access = x509.AccessDescription(
            x509.AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(ocsp_url)
        )
        builder = builder.add_extension(x509.AuthorityInformationAccess([access]), False)
    if not isinstance(int_key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise ValueError("the dev intermediate key must be EC or RSA")
    cert = builder.sign(int_key, hashes.SHA256())
    key_der = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return (
        asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER)),
        asn1_keys.PrivateKeyInfo.load(key_der),
    )


def load_crls(paths: list[Path]) -> list[asn1_crl.CertificateList]:
    """CRL files in DER or PEM (several PEM blocks per file allowed)."""
    from asn1crypto import pem

    out: list[asn1_crl.CertificateList] = []
    for path in paths:
        data = Path(path).read_bytes()
        if pem.detect(data):
            out.extend(
                asn1_crl.CertificateList.load(der) for _, _, der in pem.unarmor(data, multiple=True)
            )
        else:
            out.append(asn1_crl.CertificateList.load(data))
    return out
