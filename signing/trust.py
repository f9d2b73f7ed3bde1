"""Trust material: configured roots and intermediates, the shipped government root, and
plain-data descriptions of certificates for ``ecopy pki`` and reports.

Everything here is public data (certificates); no function takes or returns key material.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

from asn1crypto import pem
from asn1crypto import x509 as asn1_x509

GOV_ROOT_FILE = "vn-gov-rootca-chuyen-dung.cert.pem"
GOV_ROOT_LABEL = "Government Cipher Committee root (Ban Cơ yếu Chính phủ)"
GOV_ROOT_SHA256 = "f7bc89054cec7f12730d7b8cd3eb7955b163835087e5eb873edfb584763b3f90"


def parse_certificates(data: bytes) -> list[asn1_x509.Certificate]:
    """PEM (any number of CERTIFICATE blocks) or one DER certificate."""
    if pem.detect(data):
        return [
            asn1_x509.Certificate.load(der)
            for kind, _, der in pem.unarmor(data, multiple=True)
            if kind in ("CERTIFICATE", "TRUSTED CERTIFICATE", "X509 CERTIFICATE")
        ]
    return [asn1_x509.Certificate.load(data)]


def load_certificate_files(paths: Iterable[Path]) -> list[asn1_x509.Certificate]:
    return [c for p in paths for c in parse_certificates(Path(p).read_bytes())]


def shipped_roots() -> list[tuple[str, asn1_x509.Certificate]]:
    """(label, certificate) for every root shipped in ``signing/roots``."""
    out = []
    folder = resources.files("signing.roots")
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith((".pem", ".crt", ".cer", ".der")):
            label = GOV_ROOT_LABEL if entry.name == GOV_ROOT_FILE else entry.name
            out.extend((label, c) for c in parse_certificates(entry.read_bytes()))
    return out


def gov_root() -> asn1_x509.Certificate:
    cert = next(c for label, c in shipped_roots() if label == GOV_ROOT_LABEL)
    if fingerprint(cert) != GOV_ROOT_SHA256:  # a changed package file must not be trusted
        raise ValueError("shipped government root does not match its pinned fingerprint")
    return cert


def trust_anchors(
    root_files: Sequence[Path], *, include_gov_root: bool = True
) -> list[asn1_x509.Certificate]:
    """Configured roots plus (by default) the shipped government root, de-duplicated."""
    certs = load_certificate_files(root_files)
    if include_gov_root:
        certs.append(gov_root())
    seen: set[str] = set()
    unique = []
    for c in certs:
        if fingerprint(c) not in seen:
            seen.add(fingerprint(c))
            unique.append(c)
    return unique


def fingerprint(cert: asn1_x509.Certificate) -> str:
    return hashlib.sha256(cert.dump()).hexdigest()


def key_description(cert: asn1_x509.Certificate) -> tuple[str, int | None, str | None]:
    """(algorithm, size in bits, curve name or None) of the certificate's public key."""
    info = cert.public_key
    algo = info.algorithm  # "rsa", "ec", "ed25519", ...
    curve = None
    if algo == "ec":
        params = info["algorithm"]["parameters"]
        curve = params.chosen.native if params.name == "named" else "explicit"
    try:
        size = info.bit_size
    except Exception:  # unknown algorithms have no size
        size = None
    return algo, size, curve


def describe_certificate(cert: asn1_x509.Certificate) -> dict[str, Any]:
    algo, size, curve = key_description(cert)
    key_type = {"rsa": "RSA", "ec": "ECDSA"}.get(algo, algo.upper())
    return {
        "subject": cert.subject.human_friendly,
        "issuer": cert.issuer.human_friendly,
        "serial": format(cert.serial_number, "x"),
        "not_before": cert.not_valid_before.isoformat(),
        "not_after": cert.not_valid_after.isoformat(),
        "sha256": fingerprint(cert),
        "key_type": key_type,
        "key_size": size,
        "curve": curve,
        "self_signed": cert.self_signed == "maybe" or cert.self_signed == "yes",
        "is_ca": bool(cert.ca),
    }


def expiry_warnings(
    certs: Iterable[asn1_x509.Certificate],
    now: datetime | None = None,
    within_days: int = 90,
) -> list[dict[str, Any]]:
    """One entry per certificate that is expired, not yet valid, or expires within the window.

    ``status`` is "expired", "not_yet_valid" or "expiring"; ``days_left`` is negative once
    expired.
    """
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    limit = moment + timedelta(days=within_days)
    out = []
    for cert in certs:
        after, before = cert.not_valid_after, cert.not_valid_before
        if after <= moment:
            status = "expired"
        elif before > moment:
            status = "not_yet_valid"
        elif after <= limit:
            status = "expiring"
        else:
            continue
        out.append({
            "subject": cert.subject.human_friendly,
            "serial": format(cert.serial_number, "x"),
            "not_after": after.isoformat(),
            "days_left": (after - moment).days,
            "status": status,
        })
    return out


def chain_to_root(
    leaf: asn1_x509.Certificate,
    candidates: Sequence[asn1_x509.Certificate],
    roots: Sequence[asn1_x509.Certificate],
    *,
    max_depth: int = 8,
) -> list[asn1_x509.Certificate] | None:
    """The path leaf → … → a trusted root by issuer name AND verified signature, or None.

    A quick configuration check for ``ecopy pki check``; the full validation (usage,
    validity, revocation) is pyHanko's, at signing and verification time.
    """
    root_fps = {fingerprint(r) for r in roots}
    pool = [*roots, *candidates]
    path = [leaf]
    current = leaf
    for _ in range(max_depth):
        if fingerprint(current) in root_fps:
            return path
        issuer = next(
            (c for c in pool if c.subject == current.issuer and _signed_by(current, c)
             and fingerprint(c) != fingerprint(current)),
            None,
        )
        if issuer is None:
            return None
        path.append(issuer)
        current = issuer
    return None


def _signed_by(cert: asn1_x509.Certificate, issuer: asn1_x509.Certificate) -> bool:
    from cryptography import x509 as cx509

    try:
        child = cx509.load_der_x509_certificate(cert.dump())
        parent = cx509.load_der_x509_certificate(issuer.dump())
        child.verify_directly_issued_by(parent)
    except Exception:  # any failure means "not this issuer"
        return False
    return True
