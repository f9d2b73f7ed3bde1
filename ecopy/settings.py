"""Settings: built once here from ECOPY_* environment variables (and an optional TOML file).

This is the only module that reads the environment or config files; everything below the shell
receives explicit values.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from pipeline.casework.retention import DEFAULT_DAYS as RETENTION_DAYS
from pipeline.casework.retention import SETTINGS as RETENTION_SETTINGS
from pipeline.limits import Limits

FONT_DIR = Path("/usr/share/fonts/truetype/liberation2")


def _default_pki_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "ecopy" / "dev-pki"


@dataclass(frozen=True)
class Settings:
    store_dir: Path = Path("ecopy-data")
    pki_dir: Path = field(default_factory=_default_pki_dir)
    commune_code: str = "99999"
    agency_name: str = "Ủy ban nhân dân xã Thử Nghiệm"
    certifier_name: str = "Nguyễn Văn Thử"
    certifier_title: str = "Phó Chủ tịch Ủy ban nhân dân xã"
    # the certifier's legal basis (pipeline/casework/certifiers.py, docs/certifiers.md):
    # chairman, vice_chairman, authorised or assigned; the decision that gives the task and
    # its date; the specimen-signature notification to the Department of Justice. Several
    # certifiers, or certifiers of several communes: a TOML file of [[certifier]] tables.
    certifier_basis: str = "vice_chairman"
    certifier_decision: str = ""
    certifier_decision_date: str = ""
    certifier_specimen: str = ""
    certifier_certificate_sha256: str = ""  # pins the signing certificate to the certifier
    certifiers_file: Path | None = None
    workers: int = max(1, os.cpu_count() or 1)
    ocr_lang: str = "vie+eng"
    lang: str = "vi"
    verify_base_url: str = "http://127.0.0.1:8080/verify"
    font_path: Path = FONT_DIR / "LiberationSerif-Regular.ttf"
    bold_font_path: Path = FONT_DIR / "LiberationSerif-Bold.ttf"
    trust_roots: tuple[Path, ...] = ()
    # Signing keys (signing/keys.py): "dev" | "pkcs12" | "pkcs11". Secrets are never settings
    # values: only the NAME of an env var holding them, or a file to read them from.
    key_source: str = "dev"
    certifier_p12: Path | None = None
    certifier_p12_password_env: str = ""
    certifier_p12_password_file: Path | None = None
    certifier_pkcs11_module: Path | None = None
    certifier_pkcs11_token: str = ""
    certifier_pkcs11_key_label: str = ""
    certifier_pkcs11_pin_env: str = ""
    certifier_pkcs11_pin_file: Path | None = None
    agency_p12: Path | None = None
    agency_p12_password_env: str = ""
    agency_p12_password_file: Path | None = None
    agency_pkcs11_module: Path | None = None
    agency_pkcs11_token: str = ""
    agency_pkcs11_key_label: str = ""
    agency_pkcs11_pin_env: str = ""
    agency_pkcs11_pin_file: Path | None = None
    intermediates: tuple[Path, ...] = ()  # CA certificates embedded with the signer's
    tsa_url: str = ""  # RFC 3161 TSA; empty: the local TEST TSA of the dev PKI
    include_gov_root: bool = True  # trust the shipped Government Cipher Committee root
    pades_level: str = "B-LT"  # B-T, B-LT (validation data, the default) or B-LTA (+ doc timestamp)
    register_book: str = ""  # "02/2026": a new book within the year; empty: "01/<year>"
    actor: str = ""  # who acts (cancellations), ECOPY_ACTOR
    role: str = ""  # certifier / admin / clerk, ECOPY_ROLE
    # Distributed mode. An S3 endpoint (MinIO in production) replaces the local store
    # directory when set; credentials are read from files (or named env vars), never given.
    s3_endpoint: str = ""  # host:port, e.g. "minio:9000"; empty: LocalStore at store_dir
    s3_bucket: str = "ecopy"
    s3_secure: bool = True  # TLS
    s3_region: str = ""
    s3_access_key_file: Path | None = None
    s3_secret_key_file: Path | None = None
    s3_access_key_env: str = ""  # name of an env var holding the access key
    s3_secret_key_env: str = ""
    s3_ca_file: Path | None = None  # private CA for the endpoint's TLS certificate
    # Encryption at rest of the store's personal data (docs/encryption.md). The KEK that seals
    # new objects: a file (base64 of 32 random bytes) or an AES key on a PKCS#11 token (PIN
    # from a file or a named env var); previous KEKs stay readable. Neither: a generated dev
    # KEK in pki_dir (local stores, and S3 with the dev key source only).
    store_kek_file: Path | None = None
    store_kek_previous_files: tuple[Path, ...] = ()  # ":"-separated in the env
    store_kek_pkcs11_module: Path | None = None
    store_kek_pkcs11_token: str = ""
    store_kek_pkcs11_key_label: str = ""
    store_kek_pkcs11_previous_labels: str = ""  # ","-separated, on the same token
    store_kek_pkcs11_pin_file: Path | None = None
    store_kek_pkcs11_pin_env: str = ""
    # Working state (storage/db): PostgreSQL in production, "postgresql://user@host/db"
    # with the password in a file; empty: a SQLite file inside the local store directory.
    database_url: str = ""
    database_password_file: Path | None = None
    # private CA of the server's TLS certificate: connect with sslmode=verify-full against it
    database_ca_file: Path | None = None
    redis_url: str = "redis://127.0.0.1:6379/0"  # rq queues and progress only
    redis_password_file: Path | None = None  # keep the password out of the URL
    # Web app (ecopy serve). Cookies are Secure unless turned off for plain-http local tests.
    web_host: str = "127.0.0.1"
    web_port: int = 8080
    web_secure_cookies: bool = True
    web_session_minutes: int = 480  # a working day
    web_login_failures: int = 5  # per user name in web_login_window_s, then HTTP 429
    web_login_window_s: int = 900
    web_max_upload_files: int = 50  # per request; each file is also under limits.max_bytes
    web_max_request_bytes: int = 1 << 30  # any request body, whatever the route: then HTTP 413
    # client addresses of reverse proxies whose X-Forwarded-For is believed ("," separated
    # addresses or networks, e.g. "127.0.0.1,10.0.0.0/8"); empty: the peer is the client
    web_trusted_proxies: str = ""
    # the anonymous verify page: its own size cap, and each check in a child process with a
    # time and memory limit (a hostile PDF cannot take the web server's memory or time)
    web_verify_max_bytes: int = 25 * 1000 * 1000
    web_verify_timeout_s: int = 60
    web_verify_memory_mb: int = 1024
    # an account that reads more different persons' data within an hour is reported (an
    # `access_alert` audit event); 0 switches the detector off
    access_alert_persons_per_hour: int = 200
    # National/provincial portal sync (`ecopy sync run`): empty URL = not configured, items
    # wait in the outbox. The bearer token is read from a file, never given as a value.
    portal_url: str = ""
    portal_token_file: Path | None = None
    portal_ca_file: Path | None = None  # private CA for the portal's TLS certificate
    portal_timeout_s: int = 30  # read timeout per request (connect: at most 10 s)
    # Authoritative registers asked before a citizen is asked for a paper (reuse before
    # asking): JSON files read by pipeline.casework.once_only.connectors.FileSource,
    # ":"-separated in the env
    external_sources: tuple[Path, ...] = ()
    # Retention (docs/retention.md): days after which `ecopy retention run` deletes or
    # anonymises each kind of working data, ECOPY_RETENTION_<CATEGORY>_DAYS; never evidence
    retention_sessions_days: int = RETENTION_DAYS["sessions"]  # after expiry
    retention_throttle_hits_days: int = RETENTION_DAYS["throttle_hits"]
    retention_spent_tokens_days: int = RETENTION_DAYS["spent_tokens"]
    retention_access_events_days: int = RETENTION_DAYS["access_events"]
    retention_complaint_contacts_days: int = RETENTION_DAYS["complaint_contacts"]  # closed
    retention_rejected_uploads_days: int = RETENTION_DAYS["rejected_uploads"]  # rejected
    retention_closed_dossiers_days: int = RETENTION_DAYS["closed_dossiers"]  # finished
    limits: Limits = field(default_factory=Limits)


_ENV = {
    "ECOPY_STORE": "store_dir", "ECOPY_PKI_DIR": "pki_dir", "ECOPY_COMMUNE": "commune_code",
    "ECOPY_AGENCY_NAME": "agency_name", "ECOPY_CERTIFIER_NAME": "certifier_name",
    "ECOPY_CERTIFIER_TITLE": "certifier_title", "ECOPY_WORKERS": "workers",
    "ECOPY_CERTIFIER_BASIS": "certifier_basis", "ECOPY_CERTIFIER_DECISION": "certifier_decision",
    "ECOPY_CERTIFIER_DECISION_DATE": "certifier_decision_date",
    "ECOPY_CERTIFIER_SPECIMEN": "certifier_specimen",
    "ECOPY_CERTIFIER_CERTIFICATE_SHA256": "certifier_certificate_sha256",
    "ECOPY_CERTIFIERS_FILE": "certifiers_file",
    "ECOPY_OCR_LANG": "ocr_lang", "ECOPY_LANG": "lang", "ECOPY_VERIFY_BASE_URL": "verify_base_url",
    "ECOPY_FONT": "font_path", "ECOPY_BOLD_FONT": "bold_font_path",
    "ECOPY_TRUST_ROOTS": "trust_roots", "ECOPY_KEY_SOURCE": "key_source",
    "ECOPY_INTERMEDIATES": "intermediates", "ECOPY_TSA_URL": "tsa_url",
    "ECOPY_INCLUDE_GOV_ROOT": "include_gov_root", "ECOPY_PADES_LEVEL": "pades_level",
    "ECOPY_REGISTER_BOOK": "register_book",
    **{f"ECOPY_{role.upper()}_{name.upper()}": f"{role}_{name}" for role in ("certifier", "agency")
       for name in ("p12", "p12_password_env", "p12_password_file", "pkcs11_module",
                    "pkcs11_token", "pkcs11_key_label", "pkcs11_pin_env", "pkcs11_pin_file")},
    "ECOPY_ACTOR": "actor", "ECOPY_ROLE": "role",
    "ECOPY_TRUSTED_PROXIES": "web_trusted_proxies",  # also ECOPY_WEB_TRUSTED_PROXIES
    **{f"ECOPY_{name.upper()}": name for name in (
        "s3_endpoint", "s3_bucket", "s3_secure", "s3_region", "s3_access_key_file",
        "s3_secret_key_file", "s3_access_key_env", "s3_secret_key_env", "s3_ca_file",
        "database_url", "database_password_file", "database_ca_file",
        "redis_url", "redis_password_file", "web_host", "web_port", "web_secure_cookies",
        "web_session_minutes", "web_login_failures", "web_login_window_s",
        "web_max_upload_files", "web_max_request_bytes", "web_trusted_proxies",
        "web_verify_max_bytes", "web_verify_timeout_s", "web_verify_memory_mb",
        "access_alert_persons_per_hour")},
    **{f"ECOPY_{name.upper()}": name for name in (
        "store_kek_file", "store_kek_previous_files", "store_kek_pkcs11_module",
        "store_kek_pkcs11_token", "store_kek_pkcs11_key_label",
        "store_kek_pkcs11_previous_labels", "store_kek_pkcs11_pin_file",
        "store_kek_pkcs11_pin_env")},
    **{f"ECOPY_{name.upper()}": name for name in (
        "portal_url", "portal_token_file", "portal_ca_file", "portal_timeout_s",
        "external_sources")},
    **{f"ECOPY_{name.upper()}": name for name in RETENTION_SETTINGS},
}
_LIMIT_ENV = {
    "ECOPY_MAX_BYTES": "max_bytes", "ECOPY_MAX_PAGES": "max_pages",
    "ECOPY_MAX_IMAGE_PIXELS": "max_image_pixels", "ECOPY_MAX_PAGE_PIXELS": "max_page_pixels",
    "ECOPY_PAGE_TIMEOUT": "page_timeout_s", "ECOPY_DOC_TIMEOUT": "doc_timeout_s",
    # quality gate thresholds (pipeline/steps/quality.py)
    **{f"ECOPY_{name.upper()}": name for name in (
        "refuse_below_dpi", "review_below_dpi", "refuse_sharpness", "review_sharpness",
        "refuse_dark_paper", "review_dark_paper", "refuse_contrast", "review_contrast",
        "review_skew_deg")},
}


def _convert(raw: object, annotation: str) -> object:
    """Annotations are strings here (postponed evaluation); the set of types is small."""
    if annotation.startswith("tuple[Path"):
        items = raw if isinstance(raw, list) else str(raw).split(":")
        return tuple(Path(p).expanduser() for p in items if p)
    if annotation == "Path | None":
        return Path(str(raw)).expanduser() if raw else None
    if annotation == "bool":
        text = str(raw).strip().lower()
        return raw if isinstance(raw, bool) else text in ("1", "true", "yes", "on")
    if annotation == "Path":
        return Path(str(raw)).expanduser()
    if annotation == "int":
        return int(str(raw))
    return str(raw)


def with_certifier_key(settings: Settings, pairs: tuple[tuple[str, str], ...]) -> Settings:
    """The settings with one certifier's own key (CertifierEntry.key) in place of the
    deployment's ECOPY_CERTIFIER_P12* / _PKCS11* ones."""
    if not pairs:
        return settings
    types = {f.name: str(f.type) for f in fields(Settings)}
    return replace(settings, **{f"certifier_{k}": _convert(v, types[f"certifier_{k}"])
                                for k, v in pairs})


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    env = dict(os.environ if environ is None else environ)
    values: dict[str, object] = {}
    limit_values: dict[str, object] = {}
    config = env.get("ECOPY_CONFIG")
    if config:
        with open(config, "rb") as fh:
            data = tomllib.load(fh)
        limit_values.update(data.pop("limits", {}))
        values.update(data)
    for var, name in _ENV.items():
        if var in env:
            values[name] = env[var]
    for var, name in _LIMIT_ENV.items():
        if var in env:
            raw = env[var]
            limit_values[name] = float(raw) if name.endswith(("sharpness", "deg")) else int(raw)
    types = {f.name: f.type for f in fields(Settings)}
    unknown = set(values) - set(types)
    if unknown:
        raise ValueError(f"unknown settings: {', '.join(sorted(unknown))}")
    converted = {k: _convert(v, str(types[k])) for k, v in values.items()}
    settings = Settings(**converted)  # type: ignore[arg-type]
    if limit_values:
        settings = replace(settings, limits=replace(settings.limits, **limit_values))
    if settings.database_url:
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            url = make_url(settings.database_url)
        except ArgumentError as exc:
            raise ValueError(f"ECOPY_DATABASE_URL is not a database URL: {exc}") from None
        if url.password:
            raise ValueError("ECOPY_DATABASE_URL must not carry a password: put it in the "
                             "file ECOPY_DATABASE_PASSWORD_FILE names")
        if settings.database_ca_file and url.get_backend_name() != "postgresql":
            raise ValueError("ECOPY_DATABASE_CA_FILE is for a PostgreSQL ECOPY_DATABASE_URL")
        if settings.database_ca_file and (
                url.query.get("sslmode", "verify-full") != "verify-full"
                or "sslrootcert" in url.query):
            raise ValueError("ECOPY_DATABASE_CA_FILE sets sslmode=verify-full and sslrootcert: "
                             "leave both out of ECOPY_DATABASE_URL")
    if settings.pades_level not in ("B-T", "B-LT", "B-LTA"):
        raise ValueError("ECOPY_PADES_LEVEL must be B-T, B-LT or B-LTA, "
                         f"not {settings.pades_level!r}")
    from pipeline.casework.certifiers import check_certifiers

    # a title its basis does not allow stops the deployment here, not at the first copy
    check_certifiers(certifiers(settings), real_keys=settings.key_source != "dev")
    return settings


def certifiers(settings: Settings) -> tuple:
    """The configured certifiers (pipeline.casework.certifiers.CertifierEntry): the file's
    [[certifier]] tables, else the one certifier of the ECOPY_CERTIFIER_* settings."""
    from pipeline.casework.certifiers import load_certifiers

    if settings.certifiers_file is not None:
        return load_certifiers(settings.certifiers_file, commune=settings.commune_code)
    return (signing_certifier(settings),)


def signing_certifier(settings: Settings):  # -> CertifierEntry
    """The certifier these settings sign as (ecopy.actions.settings_for_signer fills them from
    the configured certifier who approves)."""
    from pipeline.casework.certifiers import CertifierEntry

    return CertifierEntry(
        name=settings.certifier_name, position=settings.certifier_title,
        basis=settings.certifier_basis, commune=settings.commune_code,
        decision=settings.certifier_decision, decision_date=settings.certifier_decision_date,
        specimen_notice=settings.certifier_specimen,
        certificate_sha256=settings.certifier_certificate_sha256)


class SettingsProblem(ValueError):
    """Settings that cannot work together; the message says what to set."""


def require_public_verify_url(settings: Settings) -> None:
    """A copy signed with real keys carries, in its QR code, a link the public must be able to
    open: the deployment's https address of the verify page, never a loopback or private
    address (issue 16: copies pointed at http://127.0.0.1:8080). TEST copies may keep the
    default."""
    import ipaddress
    from urllib.parse import urlsplit

    url = urlsplit(settings.verify_base_url)
    host = url.hostname or ""
    try:
        private = not ipaddress.ip_address(host).is_global
    except ValueError:  # a name: only a local one is refused
        private = host in ("", "localhost") or host.endswith((".localhost", ".local"))
    if url.scheme != "https" or private:
        raise SettingsProblem(
            "ECOPY_VERIFY_BASE_URL phải là địa chỉ https công khai của trang xác thực (ví dụ "
            "https://chungthuc.example.gov.vn/verify) khi ký bằng khóa thật: mã QR của mọi bản "
            f"sao trỏ tới đó; hiện là {settings.verify_base_url!r}. / ECOPY_VERIFY_BASE_URL "
            "must be the public https address of the verify page (e.g. "
            "https://chungthuc.example.gov.vn/verify) when signing with real keys: every "
            f"copy's QR code points there; it is {settings.verify_base_url!r}.")
