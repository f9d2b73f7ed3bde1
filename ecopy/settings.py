"""Settings: built once here from ECOPY_* environment variables (and an optional TOML file).

This is the only module that reads the environment or config files; everything below the shell
receives explicit values.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

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
    pades_level: str = "B-T"  # B-T, B-LT (validation data) or B-LTA (+ document timestamp)
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
    # Working state (storage/db): PostgreSQL in production, "postgresql://user@host/db"
    # with the password in a file; empty: a SQLite file inside the local store directory.
    database_url: str = ""
    database_password_file: Path | None = None
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
    # National/provincial portal sync (`ecopy sync run`): empty URL = not configured, items
    # wait in the outbox. The bearer token is read from a file, never given as a value.
    portal_url: str = ""
    portal_token_file: Path | None = None
    portal_ca_file: Path | None = None  # private CA for the portal's TLS certificate
    portal_timeout_s: int = 30  # read timeout per request (connect: at most 10 s)
    # Authoritative registers asked before a citizen is asked for a paper (reuse before
    # asking): JSON files read by pipeline.connectors.FileSource, ":"-separated in the env
    external_sources: tuple[Path, ...] = ()
    limits: Limits = field(default_factory=Limits)


_ENV = {
    "ECOPY_STORE": "store_dir", "ECOPY_PKI_DIR": "pki_dir", "ECOPY_COMMUNE": "commune_code",
    "ECOPY_AGENCY_NAME": "agency_name", "ECOPY_CERTIFIER_NAME": "certifier_name",
    "ECOPY_CERTIFIER_TITLE": "certifier_title", "ECOPY_WORKERS": "workers",
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
    **{f"ECOPY_{name.upper()}": name for name in (
        "s3_endpoint", "s3_bucket", "s3_secure", "s3_region", "s3_access_key_file",
        "s3_secret_key_file", "s3_access_key_env", "s3_secret_key_env", "s3_ca_file",
        "database_url", "database_password_file", "redis_url", "redis_password_file",
        "web_host", "web_port", "web_secure_cookies",
        "web_session_minutes", "web_login_failures", "web_login_window_s",
        "web_max_upload_files")},
    **{f"ECOPY_{name.upper()}": name for name in (
        "portal_url", "portal_token_file", "portal_ca_file", "portal_timeout_s",
        "external_sources")},
}
_LIMIT_ENV = {
    "ECOPY_MAX_BYTES": "max_bytes", "ECOPY_MAX_PAGES": "max_pages",
    "ECOPY_MAX_IMAGE_PIXELS": "max_image_pixels", "ECOPY_MAX_PAGE_PIXELS": "max_page_pixels",
    "ECOPY_PAGE_TIMEOUT": "page_timeout_s", "ECOPY_DOC_TIMEOUT": "doc_timeout_s",
    # quality gate thresholds (pipeline/quality.py)
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
    if settings.pades_level not in ("B-T", "B-LT", "B-LTA"):
        raise ValueError("ECOPY_PADES_LEVEL must be B-T, B-LT or B-LTA, "
                         f"not {settings.pades_level!r}")
    return settings
