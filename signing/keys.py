"""Key sources: where the certifier's and the agency's signing keys come from.

Three sources sit behind one small interface (``KeySource.load() -> SigningIdentity``):

- ``Pkcs12KeySource``: a PKCS#12 (.p12/.pfx) file. The password comes from an environment
  variable NAMED in the settings or from a password FILE, never from the command line
  (which other local users can read in ``/proc``). The key is parsed once and cached in a
  ``signing.sign._CachedKeySigner`` through ``load_identity``.
- ``Pkcs11KeySource``: a key on a PKCS#11 token or HSM (SoftHSM2 in the tests), through
  pyHanko's ``PKCS11Signer``. The key never leaves the token; the PIN comes from an env var
  or a file, is used for ``C_Login`` once per process and token, and is not kept.
- ``DevKeySource``: the auto-generated dev PKI (``signing.devpki``), marked TEST.

Key strength (Circular 15/2025/TT-BKHCN): RSA of at least 2048 bits or ECDSA on P-256,
P-384 or P-521. Anything else (RSA-1024, P-192, brainpool, Ed25519 …) is refused with
``WeakKey``, which carries a Vietnamese and an English message.

ECDSA and PDF/A-3: when the signature is ECDSA, pyHanko declares the ISO 32002 developer
extension and raises the file's version to PDF 2.0 (catalog /Version /2.0 plus an /ISO_
extension entry; the header still says 1.7 because the update is incremental). A PDF/A-3
e-copy is PDF 1.7-based, so an ECDSA-signed copy is no longer strictly PDF/A-3 conformant
(the signatures themselves are fine and verify). ECDSA is allowed; ``identity_warnings``
reports it so ``ecopy pki show`` / ``check`` can tell the operator.
RSA-2048+ keeps the copy PDF/A-3.

Secrets: no object here stores a password or PIN, and no repr, log line, exception message or
description contains one; ``SecretRef`` holds only the NAME of the env var / the file path.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from signing.devpki import DevPki
from signing.sign import SigningIdentity, load_identity

MIN_RSA_BITS = 2048
ALLOWED_CURVES = ("secp256r1", "secp384r1", "secp521r1")
_CURVE_ALIASES = {"prime256v1": "secp256r1"}
KINDS = ("dev", "pkcs12", "pkcs11")
ROLES = ("certifier", "agency")


class KeySourceError(Exception):
    """A key could not be loaded; ``message(lang)`` is for the clerk, str() is English.

    Messages never contain a password, PIN or key material.
    """

    def __init__(self, message_vi: str, message_en: str, *, code: str = "key_source") -> None:
        super().__init__(message_en)
        self.code = code
        self.message_vi = message_vi
        self.message_en = message_en

    def message(self, lang: str = "vi") -> str:
        return self.message_en if lang == "en" else self.message_vi


class WeakKey(KeySourceError):
    """The key is weaker than RSA-2048 / ECDSA P-256, or of an algorithm not allowed."""

    def __init__(self, message_vi: str, message_en: str) -> None:
        super().__init__(message_vi, message_en, code="weak_key")


# --- key strength ---------------------------------------------------------------------------


def key_strength_problem(public_key: asn1_keys.PublicKeyInfo) -> tuple[str, str] | None:
    """(vi, en) explanation when the key is not allowed, else None."""
    algo = public_key.algorithm
    if algo == "rsa":
        bits = public_key.bit_size
        if bits < MIN_RSA_BITS:
            return (f"Khóa RSA {bits} bit quá yếu: cần tối thiểu RSA 2048 bit hoặc ECDSA P-256"
                    " (Thông tư 15/2025/TT-BKHCN).",
                    f"RSA-{bits} key is too weak: at least RSA-2048 or ECDSA P-256 is required"
                    " (Circular 15/2025/TT-BKHCN).")
        return None
    if algo == "ec":
        params = public_key["algorithm"]["parameters"]
        curve = params.chosen.native if params.name == "named" else "explicit parameters"
        curve = _CURVE_ALIASES.get(curve, curve)
        if curve not in ALLOWED_CURVES:
            return (f"Khóa ECDSA trên đường cong {curve} không được phép: cần P-256, P-384 hoặc"
                    " P-521 (Thông tư 15/2025/TT-BKHCN).",
                    f"ECDSA key on curve {curve} is not allowed: P-256, P-384 or P-521 is"
                    " required (Circular 15/2025/TT-BKHCN).")
        return None
    return (f"Thuật toán khóa {algo} không được phép: chỉ RSA ≥ 2048 bit hoặc ECDSA P-256 trở lên.",
            f"Key algorithm {algo} is not allowed: only RSA ≥ 2048 or ECDSA P-256 and up.")


def check_key_strength(cert: asn1_x509.Certificate, *, where: str = "") -> None:
    """Raise ``WeakKey`` when the certificate's key is not allowed."""
    problem = key_strength_problem(cert.public_key)
    if problem is not None:
        suffix = f" [{where}]" if where else ""
        raise WeakKey(problem[0] + suffix, problem[1] + suffix)


def identity_warnings(identity: SigningIdentity) -> list[dict[str, str]]:
    """Things an operator should know about a loaded identity (no secrets).

    ``ecdsa_pdf20``: pyHanko raises an ECDSA-signed file to PDF 2.0 (ISO 32002), so the
    e-copy is no longer PDF/A-3 (PDF 1.7).
    """
    cert = identity.signer.signing_cert
    out = []
    if cert is not None and cert.public_key.algorithm == "ec":
        out.append({
            "code": "ecdsa_pdf20",
            "vi": "Khóa ECDSA: pyHanko nâng tệp lên PDF 2.0 (ISO 32002), bản sao không còn đúng"
                  " chuẩn PDF/A-3. Dùng RSA ≥ 2048 bit để giữ PDF/A-3.",
            "en": "ECDSA key: pyHanko raises the file to PDF 2.0 (ISO 32002), so the copy is no"
                  " longer PDF/A-3. Use RSA ≥ 2048 to keep PDF/A-3.",
        })
    if identity.is_test:
        out.append({"code": "test_key",
                    "vi": "Khóa THỬ NGHIỆM — chữ ký không có giá trị pháp lý.",
                    "en": "TEST key — signatures are not legally valid."})
    return out


# --- secrets --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SecretRef:
    """Where a password/PIN is: an env var NAME or a file path. Never the value itself."""

    env: str = ""
    file: Path | None = None

    @property
    def configured(self) -> bool:
        return bool(self.env or self.file)

    def describe(self) -> str:
        if self.file:
            return f"file {self.file}"
        return f"env ${self.env}" if self.env else "not configured"

    def read(self, what: tuple[str, str], environ: Mapping[str, str] | None = None) -> str:
        """The secret's value; the caller must not keep it longer than needed.

        ``what`` names the secret for messages, (vi, en).
        """
        vi, what = what
        env = os.environ if environ is None else environ
        if self.file:
            try:
                value = Path(self.file).read_text("utf-8")
            except OSError as exc:  # the path is not secret; the contents are never shown
                raise KeySourceError(
                    f"Không đọc được tệp {vi} {self.file}: {exc.strerror}",
                    f"cannot read the {what} file {self.file}: {exc.strerror}",
                ) from None
            return value.rstrip("\r\n")
        if self.env:
            if self.env not in env:
                raise KeySourceError(
                    f"Biến môi trường ${self.env} (chứa {vi}) chưa được đặt.",
                    f"environment variable ${self.env} (holding the {what}) is not set",
                )
            return env[self.env]
        raise KeySourceError(
            f"Chưa cấu hình {vi}: đặt tên biến môi trường hoặc tệp chứa {vi}.",
            f"no {what} configured: set an environment variable name or a file",
        )


# --- the interface and the three sources ----------------------------------------------------


class KeySource(Protocol):
    kind: str
    role: str

    def describe(self) -> dict[str, Any]:
        """Configuration for display: never a secret."""
        ...

    def load(self, environ: Mapping[str, str] | None = None) -> SigningIdentity: ...


def _der_cert(cert: Any) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


@dataclass(frozen=True)
class Pkcs12KeySource:
    path: Path
    password: SecretRef
    role: str = "certifier"
    extra_chain: tuple[asn1_x509.Certificate, ...] = field(default=(), repr=False)
    kind: str = "pkcs12"

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "role": self.role, "file": str(self.path),
                "password": self.password.describe()}

    def load(self, environ: Mapping[str, str] | None = None) -> SigningIdentity:
        try:
            data = Path(self.path).read_bytes()
        except OSError as exc:
            raise KeySourceError(f"Không đọc được tệp PKCS#12 {self.path}: {exc.strerror}",
                                 f"cannot read PKCS#12 file {self.path}: {exc.strerror}") from None
        secret = self.password.read(("mật khẩu PKCS#12", "PKCS#12 password"), environ)
        try:
            key, cert, more = pkcs12.load_key_and_certificates(data, secret.encode("utf-8"))
        except ValueError:
            # cryptography's message is generic; ours names the file, never the password
            raise KeySourceError(
                f"Không mở được tệp PKCS#12 {self.path}: sai mật khẩu hoặc tệp hỏng.",
                f"cannot open PKCS#12 file {self.path}: wrong password or damaged file",
            ) from None
        finally:
            del secret
        if key is None or cert is None:
            raise KeySourceError(f"Tệp PKCS#12 {self.path} không có khóa riêng và chứng thư.",
                                 f"PKCS#12 file {self.path} lacks a private key or certificate")
        leaf = _der_cert(cert)
        check_key_strength(leaf, where=str(self.path))
        key_info = asn1_keys.PrivateKeyInfo.load(key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()))
        del key
        chain = [_der_cert(c) for c in more or ()]
        chain += [c for c in self.extra_chain if c.dump() not in {x.dump() for x in chain}]
        return load_identity(leaf, key_info, chain, is_test=False)


_SESSIONS: dict[tuple[str, str], Any] = {}
_SESSIONS_LOCK = threading.Lock()


def _pkcs11_session(module: str, token_label: str, pin: SecretRef,
                    environ: Mapping[str, str] | None) -> Any:
    """One logged-in session per (module, token) and process: a second C_Login on the same
    token fails with CKR_USER_ALREADY_LOGGED_IN, and logging in once keeps the PIN short-lived.
    """
    from pkcs11 import PKCS11Error
    from pyhanko.config.pkcs11 import TokenCriteria
    from pyhanko.sign.pkcs11 import open_pkcs11_session

    with _SESSIONS_LOCK:
        session = _SESSIONS.get((module, token_label))
        if session is not None:
            return session
        value = pin.read(("mã PIN", "PIN"), environ)
        try:
            session = open_pkcs11_session(
                module, token_criteria=TokenCriteria(label=token_label), user_pin=value)
        except (PKCS11Error, OSError, RuntimeError) as exc:
            raise KeySourceError(
                f"Không mở được token PKCS#11 '{token_label}' ({module}): {type(exc).__name__}",
                f"cannot open PKCS#11 token '{token_label}' ({module}): {type(exc).__name__}",
            ) from None
        finally:
            del value
        _SESSIONS[(module, token_label)] = session
        return session


@dataclass(frozen=True)
class Pkcs11KeySource:
    module: Path
    token_label: str
    key_label: str
    pin: SecretRef
    cert_label: str = ""  # default: same label as the key
    role: str = "certifier"
    extra_chain: tuple[asn1_x509.Certificate, ...] = field(default=(), repr=False)
    kind: str = "pkcs11"

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "role": self.role, "module": str(self.module),
                "token": self.token_label, "key_label": self.key_label,
                "cert_label": self.cert_label or self.key_label, "pin": self.pin.describe()}

    def load(self, environ: Mapping[str, str] | None = None) -> SigningIdentity:
        from pkcs11 import PKCS11Error
        from pyhanko.sign.pkcs11 import PKCS11Signer

        session = _pkcs11_session(str(self.module), self.token_label, self.pin, environ)
        cert_label = self.cert_label or self.key_label
        probe = PKCS11Signer(session, cert_label=cert_label, key_label=self.key_label,
                             ca_chain=list(self.extra_chain))
        try:
            cert = probe.signing_cert  # loads the certificate and the key handle once
        except PKCS11Error as exc:
            raise KeySourceError(
                f"Không tìm thấy khóa/chứng thư '{self.key_label}' trên token"
                f" '{self.token_label}': {exc}",
                f"key/certificate '{self.key_label}' not found on token"
                f" '{self.token_label}': {exc}",
            ) from None
        check_key_strength(cert, where=f"{self.token_label}/{self.key_label}")
        signer = probe
        if cert.public_key.algorithm == "ec":
            # Hash in software and sign with raw CKM_ECDSA: every token supports it, not every
            # token supports CKM_ECDSA_SHA256.
            signer = PKCS11Signer(session, cert_label=cert_label, key_label=self.key_label,
                                  ca_chain=list(self.extra_chain), signing_cert=cert,
                                  use_raw_mechanism=True)
            signer.signing_cert  # noqa: B018 - load the key handle now, not mid-signature
        subject = cert.subject.native
        return SigningIdentity(
            signer=signer,  # type: ignore[arg-type]  # a pyHanko Signer, like SimpleSigner
            display_name=str(subject.get("common_name", "")),
            organisation=str(subject.get("organization_name", "")),
            is_test=False,
        )


@dataclass(frozen=True)
class DevKeySource:
    pki: DevPki
    role: str = "certifier"
    kind: str = "dev"

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "role": self.role, "directory": str(self.pki.directory),
                "test": True}

    def load(self, environ: Mapping[str, str] | None = None) -> SigningIdentity:
        cert = self.pki.load_cert(self.role)
        check_key_strength(cert, where=f"dev PKI {self.role}")
        return load_identity(cert, self.pki.load_key(self.role), self.pki.chain(), is_test=True)


# --- building sources from settings ---------------------------------------------------------


def key_source_for(
    settings: Any,
    role: str,
    *,
    dev_pki: Callable[[], DevPki] | None = None,
    intermediates: Sequence[asn1_x509.Certificate] = (),
) -> KeySource:
    """The configured source for ``role`` ("certifier" | "agency").

    ``settings`` is anything with the ``ecopy.settings.Settings`` key fields
    (``key_source``, ``<role>_p12``, ``<role>_p12_password_env`` …); signing/ does not import
    the shell's settings module.
    """
    if role not in ROLES:
        raise ValueError(f"unknown signer role {role!r}")
    kind = str(getattr(settings, "key_source", "dev") or "dev")

    def opt(name: str) -> Any:
        return getattr(settings, f"{role}_{name}", None)

    chain = tuple(intermediates)
    if kind == "dev":
        if dev_pki is None:
            raise ValueError("the dev key source needs the dev PKI")
        return DevKeySource(dev_pki(), role)
    if kind == "pkcs12":
        if not opt("p12"):
            raise KeySourceError(
                f"Chưa cấu hình tệp PKCS#12 cho {role} (ECOPY_{role.upper()}_P12).",
                f"no PKCS#12 file configured for the {role} (ECOPY_{role.upper()}_P12)")
        secret = SecretRef(opt("p12_password_env") or "", opt("p12_password_file"))
        return Pkcs12KeySource(Path(opt("p12")), secret, role, chain)
    if kind == "pkcs11":
        missing = [n for n in ("pkcs11_module", "pkcs11_token", "pkcs11_key_label") if not opt(n)]
        if missing:
            names = ", ".join(f"ECOPY_{role.upper()}_{n.upper()}" for n in missing)
            raise KeySourceError(f"Thiếu cấu hình PKCS#11 cho {role}: {names}.",
                                 f"missing PKCS#11 settings for the {role}: {names}")
        secret = SecretRef(opt("pkcs11_pin_env") or "", opt("pkcs11_pin_file"))
        return Pkcs11KeySource(Path(opt("pkcs11_module")), str(opt("pkcs11_token")),
                               str(opt("pkcs11_key_label")), secret,
                               str(opt("pkcs11_cert_label") or ""), role, chain)
    raise KeySourceError(f"Nguồn khóa không hợp lệ: {kind!r} (dev | pkcs12 | pkcs11).",
                         f"invalid key source {kind!r} (dev | pkcs12 | pkcs11)")


def http_timestamper(url: str) -> Any:
    """pyHanko's RFC 3161 HTTP client for a configured TSA URL."""
    try:
        from pyhanko.sign.timestamps.requests_client import HTTPTimeStamper
    except ImportError as exc:
        raise KeySourceError(
            "Đã cấu hình tsa_url nhưng thiếu gói 'requests' cho máy khách TSA qua HTTP.",
            "tsa_url is set but the HTTP TSA client needs the 'requests' package",
        ) from exc
    return HTTPTimeStamper(url)
