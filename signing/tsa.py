"""The timestamp authority seam: where B-T timestamps come from.

Signing code only needs a pyHanko ``TimeStamper``. In the embedded deployment it comes from
``local_timestamper`` (a TSA inside this process, using the dev PKI's TSA key); in the
distributed deployment a factory with the same shape will return pyHanko's
``HTTPTimeStamper`` for the configured RFC 3161 URL. Callers never learn which one they hold.

Why pyHanko's ``DummyTimeStamper`` is the engine: it emits genuine RFC 3161 tokens (TSTInfo in
a signed CMS, nonce echoed, ESS signing-certificate attribute), which pyHanko, poppler and
Adobe all validate like any TSA's. Writing our own token encoder would be more code to get
wrong. Two things it lacks are added here: it signs with RSA only (our dev keys are ECDSA
P-256) and it re-parses the key for every token. Both live in its two signing hooks, which
this wrapper overrides; the signing tests fail loudly if a pyHanko upgrade changes them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from asn1crypto import algos, cms, core, keys, tsp, x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from pyhanko.sign.general import as_signing_certificate_v2, simple_cms_attribute
from pyhanko.sign.timestamps.api import TimeStamper
from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper
from pyhanko_certvalidator.registry import SimpleCertificateStore
from pyhanko_certvalidator.util import get_pyca_cryptography_hash

from signing.der import frozen


class TimestampAuthority(Protocol):
    """What ``sign_ecopy`` needs from a TSA: pyHanko's ``TimeStamper`` interface.

    Implementations MUST return RFC 3161 tokens over the digest they are given and SHOULD
    include the TSA certificate chain. ``local_timestamper`` is the embedded one; a URL-based
    factory returning ``pyhanko.sign.timestamps.HTTPTimeStamper`` is the distributed one.
    """

    async def async_timestamp(
        self, message_digest: bytes, md_algorithm: str
    ) -> cms.ContentInfo: ...


class _LocalTimeStamper(DummyTimeStamper):
    """DummyTimeStamper with a cached key that may be ECDSA as well as RSA."""

    def __init__(
        self,
        tsa_cert: x509.Certificate,
        tsa_key: keys.PrivateKeyInfo,
        chain: Sequence[x509.Certificate],
    ) -> None:
        store = SimpleCertificateStore.from_certs([tsa_cert, *chain])
        super().__init__(tsa_cert=tsa_cert, tsa_key=tsa_key, certs_to_embed=store)
        loaded = serialization.load_der_private_key(tsa_key.dump(), password=None)
        if not isinstance(loaded, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
            raise ValueError("the local TSA supports ECDSA and RSA keys only")
        self._private_key = loaded
        self._signing_certificate_v2 = frozen(as_signing_certificate_v2(tsa_cert))

    def request_tsa_response(self, req: tsp.TimeStampReq) -> tsp.TimeStampResp:
        # Frozen: the token is dumped several times on its way into the signature.
        return frozen(super().request_tsa_response(req))

    def _sign_tst_info(
        self, tst_info_data: bytes, md_algorithm: str, dt: datetime
    ) -> tuple[bytes, cms.CMSAttributes]:
        digest = hashes.Hash(get_pyca_cryptography_hash(md_algorithm))
        digest.update(tst_info_data)
        signed_attrs = frozen(
            cms.CMSAttributes(
                [
                    simple_cms_attribute("content_type", "tst_info"),
                    simple_cms_attribute("signing_time", cms.Time({"utc_time": core.UTCTime(dt)})),
                    simple_cms_attribute("signing_certificate_v2", self._signing_certificate_v2),
                    simple_cms_attribute("message_digest", digest.finalize()),
                ]
            )
        )
        hash_algo = get_pyca_cryptography_hash(md_algorithm)
        key = self._private_key
        if isinstance(key, ec.EllipticCurvePrivateKey):
            signature = key.sign(signed_attrs.dump(), ec.ECDSA(hash_algo))
        else:
            signature = key.sign(signed_attrs.dump(), padding.PKCS1v15(), hash_algo)
        return signature, signed_attrs

    def _build_signed_data(
        self,
        tst_info_data: bytes,
        md_algorithm: str,
        signature: bytes,
        signed_attrs: cms.CMSAttributes,
    ) -> dict[str, Any]:
        signed_data = super()._build_signed_data(
            tst_info_data, md_algorithm, signature, signed_attrs
        )
        if isinstance(self._private_key, ec.EllipticCurvePrivateKey):
            mechanism = algos.SignedDigestAlgorithm({"algorithm": f"{md_algorithm}_ecdsa"})
            for signer_info in signed_data["signer_infos"]:
                signer_info["signature_algorithm"] = mechanism
        return signed_data


def local_timestamper(
    tsa_cert: x509.Certificate,
    tsa_key: keys.PrivateKeyInfo,
    chain: Sequence[x509.Certificate],
) -> TimeStamper:
    """An in-process RFC 3161 TSA; build it once per process and reuse it for every signature.

    Reuse matters: pyHanko caches a dummy token per TimeStamper to size the signature
    placeholder, so a fresh instance per signature pays for an extra token each time.
    """
    return _LocalTimeStamper(tsa_cert, tsa_key, chain)
