"""PAdES signing and verification of e-copies: the lowest layer above storage.

Takes every key, root, font and clock as a parameter and reads no configuration, so the
embedded deployment (dev PKI, local TSA) and the distributed one (PKCS#12/PKCS#11, TSA URL)
share this code unchanged.
"""

from signing import pdfparse
from signing.devpki import DevPki, ensure_dev_pki
from signing.sign import (
    SignedInfo,
    SigningIdentity,
    load_identity,
    sign_as_agency,
    sign_as_certifier,
    sign_ecopy,
)
from signing.tsa import TimestampAuthority, local_timestamper
from signing.verify import SignatureReport, VerificationReport, render_text, verify_pdf

# pyHanko parses hex strings byte by byte; see signing.pdfparse. Patched at call sites, so
# the order of imports does not matter.
pdfparse.install()

__all__ = [
    "DevPki",
    "SignatureReport",
    "SignedInfo",
    "SigningIdentity",
    "TimestampAuthority",
    "VerificationReport",
    "ensure_dev_pki",
    "load_identity",
    "local_timestamper",
    "render_text",
    "sign_as_agency",
    "sign_as_certifier",
    "sign_ecopy",
    "verify_pdf",
]
