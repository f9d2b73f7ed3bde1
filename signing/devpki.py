"""A throw-away PKI so the embedded deployment can sign without any real key material.

Every certificate says TEST in its subject and chains to a root whose name says it is not
legally valid, so a dev e-copy can never be mistaken for a real one; the verifier flags any
chain ending at a root it was told is a test root.

The PKI is created on first use and only loaded afterwards. Workers start in parallel, so
creation happens under an exclusive flock and every file is written atomically: a reader
either sees the finished PKI (``pki.json`` is written last) or waits for the writer.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

TEST_MARKER = "TEST — not legally valid"
ROOT_CN = "ECOPY TEST ROOT — not legally valid"
INTERMEDIATE_CN = "ECOPY TEST ISSUING CA — not legally valid"
TSA_CN = "ECOPY TEST TSA — not legally valid"
TEST_ORG = "ecopy TEST"

_YEAR = dt.timedelta(days=365)
_STATE_FILE = "pki.json"
SIGNER_KEYS = "rsa2048"
PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
_LEAVES = ("certifier", "agency", "tsa")


@dataclass(frozen=True)
class DevPki:
    """Where the dev PKI lives, with loaders shaped for pyHanko (asn1crypto objects)."""

    directory: Path
    root_fingerprint: str  # sha256 of the root certificate's DER, hex
    agency_name: str
    certifier_name: str
    certifier_title: str

    def cert_path(self, name: str) -> Path:
        return self.directory / f"{name}.cert.pem"

    def key_path(self, name: str) -> Path:
        return self.directory / f"{name}.key.pem"

    def load_cert(self, name: str) -> asn1_x509.Certificate:
        der = x509.load_pem_x509_certificate(self.cert_path(name).read_bytes()).public_bytes(
            serialization.Encoding.DER
        )
        return asn1_x509.Certificate.load(der)

    def load_key(self, name: str) -> asn1_keys.PrivateKeyInfo:
        key = serialization.load_pem_private_key(self.key_path(name).read_bytes(), None)
        der = key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        return asn1_keys.PrivateKeyInfo.load(der)

    def root_cert(self) -> asn1_x509.Certificate:
        return self.load_cert("root")

    def intermediate_cert(self) -> asn1_x509.Certificate:
        return self.load_cert("intermediate")

    def chain(self) -> tuple[asn1_x509.Certificate, ...]:
        """CA certificates a leaf needs to reach the root: embedded in signatures."""
        return (self.intermediate_cert(), self.root_cert())

    def certifier_cert(self) -> asn1_x509.Certificate:
        return self.load_cert("certifier")

    def certifier_key(self) -> asn1_keys.PrivateKeyInfo:
        return self.load_key("certifier")

    def agency_cert(self) -> asn1_x509.Certificate:
        return self.load_cert("agency")

    def agency_key(self) -> asn1_keys.PrivateKeyInfo:
        return self.load_key("agency")

    def tsa_cert(self) -> asn1_x509.Certificate:
        return self.load_cert("tsa")

    def tsa_key(self) -> asn1_keys.PrivateKeyInfo:
        return self.load_key("tsa")

    def is_dev_root(self, cert: asn1_x509.Certificate) -> bool:
        """By fingerprint, not by name: anyone can put 'ECOPY TEST ROOT' in a subject."""
        return hashlib.sha256(cert.dump()).hexdigest() == self.root_fingerprint


def ensure_dev_pki(
    directory: Path, *, agency_name: str, certifier_name: str, certifier_title: str
) -> DevPki:
    """Create the dev PKI once, then load it.

    When the agency or certifier named in the call differs from what is on disk, only the leaf
    certificates are re-issued under the existing CAs: roots that verifiers were told to
    trust keep working.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    wanted = {
        "agency_name": agency_name,
        "certifier_name": certifier_name,
        "certifier_title": certifier_title,
        "signer_keys": SIGNER_KEYS,  # a PKI made with older key choices gets new leaves
    }
    with exclusive_lock(directory / ".lock"):
        state = _read_state(directory)
        if state is None:
            int_key, int_cert = _create_cas(directory)
        elif {k: state.get(k) for k in wanted} != wanted:
            int_key, int_cert = _load_intermediate(directory)
        else:
            return _as_dev_pki(directory, state)
        _issue_leaves(directory, int_key, int_cert, agency_name=agency_name,
                      certifier_name=certifier_name, certifier_title=certifier_title)
        root_der = x509.load_pem_x509_certificate(
            (directory / "root.cert.pem").read_bytes()
        ).public_bytes(serialization.Encoding.DER)
        state = {**wanted, "root_fingerprint": hashlib.sha256(root_der).hexdigest()}
        # Written last: its presence means the whole PKI is complete.
        _atomic_write(directory / _STATE_FILE, json.dumps(state, indent=2).encode(), 0o644)
        return _as_dev_pki(directory, state)


def _as_dev_pki(directory: Path, state: dict[str, str]) -> DevPki:
    return DevPki(
        directory=directory,
        root_fingerprint=state["root_fingerprint"],
        agency_name=state["agency_name"],
        certifier_name=state["certifier_name"],
        certifier_title=state["certifier_title"],
    )


def _load_intermediate(
    directory: Path,
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = serialization.load_pem_private_key(
        (directory / "intermediate.key.pem").read_bytes(), None
    )
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError(f"{directory}/intermediate.key.pem is not an EC key")
    cert = x509.load_pem_x509_certificate((directory / "intermediate.cert.pem").read_bytes())
    return key, cert


@contextmanager
def exclusive_lock(path: Path) -> Iterator[None]:
    """An flock held for the block: serialises processes sharing a PKI directory."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _read_state(directory: Path) -> dict[str, str] | None:
    try:
        state = json.loads((directory / _STATE_FILE).read_text("utf-8"))
    except FileNotFoundError:
        return None
    return state if isinstance(state, dict) else None


def _atomic_write(path: Path, data: bytes, mode: int) -> None:
    """Private keys must never exist, even briefly, with loose permissions or half-written."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _write_pair(
    directory: Path, name: str, key: PrivateKey, cert: x509.Certificate
) -> None:
    pem_key = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    _atomic_write(directory / f"{name}.key.pem", pem_key, 0o600)
    _atomic_write(
        directory / f"{name}.cert.pem", cert.public_bytes(serialization.Encoding.PEM), 0o644
    )


def _name(cn: str, org: str, *, title: str | None = None) -> x509.Name:
    attrs = [
        x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, TEST_MARKER),
    ]
    if title:
        attrs.append(x509.NameAttribute(NameOID.TITLE, title))
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    return x509.Name(attrs)


def _build(
    subject: x509.Name,
    public_key: ec.EllipticCurvePublicKey | rsa.RSAPublicKey,
    issuer: x509.Name,
    issuer_key: ec.EllipticCurvePrivateKey,
    lifetime: dt.timedelta,
    *,
    ca_path_length: int | None,
    key_usage: dict[str, bool],
    eku: x509.ObjectIdentifier | None = None,
) -> x509.Certificate:
    # Backdated a day so a verifier with a slightly slow clock still sees it as valid.
    now = dt.datetime.now(dt.UTC)
    usage = dict.fromkeys(
        (
            "digital_signature",
            "content_commitment",
            "key_encipherment",
            "data_encipherment",
            "key_agreement",
            "key_cert_sign",
            "crl_sign",
            "encipher_only",
            "decipher_only",
        ),
        False,
    )
    usage.update(key_usage)
    is_ca = ca_path_length is not None
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + lifetime)
        .add_extension(x509.BasicConstraints(ca=is_ca, path_length=ca_path_length), True)
        .add_extension(x509.KeyUsage(**usage), True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), False
        )
    )
    if eku is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage([eku]), True)
    return builder.sign(issuer_key, hashes.SHA256())


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _new_signer_key() -> rsa.RSAPrivateKey:
    """Document signers get RSA-2048: an ECDSA signature makes pyHanko declare the ISO 32002
    extension and raise the file to PDF 2.0, which a PDF/A-3 e-copy (PDF 1.7) must not be."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _create_cas(directory: Path) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    ca_usage = {"key_cert_sign": True, "crl_sign": True, "digital_signature": True}
    root_key = _new_key()
    root_name = _name(ROOT_CN, TEST_ORG)
    root = _build(
        root_name, root_key.public_key(), root_name, root_key, 20 * _YEAR,
        ca_path_length=1, key_usage=ca_usage,
    )  # fmt: skip
    int_key = _new_key()
    inter = _build(
        _name(INTERMEDIATE_CN, TEST_ORG), int_key.public_key(), root_name, root_key, 20 * _YEAR,
        ca_path_length=0, key_usage=ca_usage,
    )  # fmt: skip
    _write_pair(directory, "root", root_key, root)
    _write_pair(directory, "intermediate", int_key, inter)
    return int_key, inter


def _issue_leaves(
    directory: Path,
    int_key: ec.EllipticCurvePrivateKey,
    int_cert: x509.Certificate,
    *,
    agency_name: str,
    certifier_name: str,
    certifier_title: str,
) -> None:
    signing_usage = {"digital_signature": True, "content_commitment": True}
    subjects = {
        "certifier": _name(certifier_name, agency_name, title=certifier_title),
        "agency": _name(agency_name, agency_name),
        "tsa": _name(TSA_CN, TEST_ORG),
    }
    for leaf in _LEAVES:
        is_tsa = leaf == "tsa"
        key = _new_key() if is_tsa else _new_signer_key()
        cert = _build(
            subjects[leaf], key.public_key(), int_cert.subject, int_key,
            (10 if is_tsa else 5) * _YEAR, ca_path_length=None,
            key_usage={"digital_signature": True} if is_tsa else signing_usage,
            eku=ExtendedKeyUsageOID.TIME_STAMPING if is_tsa else None,
        )  # fmt: skip
        _write_pair(directory, leaf, key, cert)
