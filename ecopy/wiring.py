"""Builds what the commands and the web app work on, once per process: the object store,
the database and the State that carries both (architecture.md: the shell wires, the layers
below take explicit parameters).

The database is ECOPY_DATABASE_URL (PostgreSQL; the password from the file
ECOPY_DATABASE_PASSWORD_FILE names; with ECOPY_DATABASE_CA_FILE, over TLS verified against
that CA: sslmode=verify-full), else a SQLite file inside the local store's directory.
An embedded SQLite database is created and upgraded on first use, so `ecopy process` needs no
set-up; a PostgreSQL database must be at the code's schema already (`ecopy db upgrade`), or
the command stops with that instruction.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from sqlalchemy.engine import URL, make_url

from ecopy.settings import Settings
from storage.backends import LocalStore, ObjectStore
from storage.backends.kek import Keyring
from storage.backends.sealed import SealedStore
from storage.db import Database, DatabaseError, sqlite_url
from storage.state import State


def open_store(args: argparse.Namespace | None, settings: Settings) -> ObjectStore:
    """The store a command works on: --out/--store (a directory) when given; else S3 when
    ECOPY_S3_ENDPOINT is set; else the ECOPY_STORE directory. Always sealed (see seal)."""
    path = (getattr(args, "out", None) or getattr(args, "store", None)) if args else None
    if path is None and settings.s3_endpoint:
        return seal(s3_store(settings), settings)
    return seal(LocalStore(path or settings.store_dir), settings)


DEV_KEK_NAME = "store-kek.b64"


def seal(store: ObjectStore, settings: Settings, *, create_kek: bool = True) -> SealedStore:
    """``store`` with encryption at rest (storage.backends.sealed, docs/encryption.md).

    ``create_kek=False`` (verifying) reads with the dev KEK only if it already exists."""
    return SealedStore(store, store_keyring(settings, local=isinstance(store, LocalStore),
                                            create=create_kek))


def store_keyring(settings: Settings, *, local: bool, create: bool = True) -> Keyring:
    """The KEKs of this deployment: ECOPY_STORE_KEK_FILE or the PKCS#11 key seals, the
    previous ones only open. With neither configured, a dev KEK generated in the dev PKI's
    directory (never inside a store) seals: for a local store, or an S3 store of a test
    deployment (dev key source); a production S3 store without a KEK is refused."""
    from storage.backends.kek import FileKek, KekError, Pkcs11Kek, ensure_kek_file

    try:
        previous: list = [FileKek.from_file(p) for p in settings.store_kek_previous_files]
        if settings.store_kek_pkcs11_token:
            if settings.store_kek_file:
                raise KekError("set ECOPY_STORE_KEK_FILE or ECOPY_STORE_KEK_PKCS11_TOKEN, not "
                               "both: a former KEK file goes to ECOPY_STORE_KEK_PREVIOUS_FILES")
            if settings.store_kek_pkcs11_module is None or not settings.store_kek_pkcs11_key_label:
                raise KekError("ECOPY_STORE_KEK_PKCS11_TOKEN needs ECOPY_STORE_KEK_PKCS11_MODULE "
                               "and ECOPY_STORE_KEK_PKCS11_KEY_LABEL")
            pin = secret("pin", settings.store_kek_pkcs11_pin_file,
                         settings.store_kek_pkcs11_pin_env, "ECOPY_STORE_KEK_PKCS11_TOKEN")
            labels = [label.strip() for label in
                      settings.store_kek_pkcs11_previous_labels.split(",") if label.strip()]
            module, token = settings.store_kek_pkcs11_module, settings.store_kek_pkcs11_token
            current = Pkcs11Kek(module, token, settings.store_kek_pkcs11_key_label, pin)
            previous += [Pkcs11Kek(module, token, label, pin) for label in labels]
        elif settings.store_kek_file is not None:
            current = FileKek.from_file(settings.store_kek_file)
        elif not local and settings.key_source != "dev":
            raise KekError("an S3 store needs a key-encryption key: set ECOPY_STORE_KEK_FILE "
                           "(`head -c 32 /dev/urandom | base64 > FILE`, docs/encryption.md)")
        else:
            dev = settings.pki_dir / DEV_KEK_NAME
            current = (ensure_kek_file(dev) if create
                       else FileKek.from_file(dev) if dev.is_file() else None)
    except KekError as exc:
        raise SystemExit(f"ecopy: {exc}") from None
    return Keyring(current, previous)


def local_root(store: ObjectStore) -> Path | None:
    """The directory of a local store, seen through the sealing wrapper; None for S3."""
    inner = store.inner if isinstance(store, SealedStore) else store
    return inner.root if isinstance(inner, LocalStore) else None


def secret(what: str, file: Path | None, env_name: str, setting: str) -> str:
    """A credential from a file (Docker secrets) or a named env var; never a settings value."""
    if file is not None:
        return file.read_text(encoding="utf-8").strip()
    if env_name and os.environ.get(env_name):
        return os.environ[env_name]
    raise SystemExit(f"ecopy: {setting} is set but no {what}: set "
                     f"{setting.rsplit('_', 1)[0]}_{what.upper().replace(' ', '_')}_FILE "
                     "(or ..._ENV)")


def s3_store(settings: Settings) -> ObjectStore:
    from storage.backends.s3 import S3Store

    return S3Store(
        settings.s3_endpoint, settings.s3_bucket,
        secret("access key", settings.s3_access_key_file, settings.s3_access_key_env,
               "ECOPY_S3_ENDPOINT"),
        secret("secret key", settings.s3_secret_key_file, settings.s3_secret_key_env,
               "ECOPY_S3_ENDPOINT"),
        secure=settings.s3_secure, region=settings.s3_region or None,
        ca_file=settings.s3_ca_file,
    )  # fmt: skip


def open_database(settings: Settings, store: ObjectStore, *, check: bool = True,
                  connections: int = 5) -> Database:
    """The working-state database of this deployment (see the module's docstring);
    ``connections`` kept open to a server (as many again opened at peaks)."""
    from storage.db.migrate import require_current, upgrade

    if settings.database_url:
        password = None
        if settings.database_password_file is not None:
            password = settings.database_password_file.read_text(encoding="utf-8").strip()
        db = Database(database_url(settings), password=password, pool_size=connections)
        if check:
            require_current(db)
        return db
    root = local_root(store)
    if root is None:
        raise DatabaseError("a store that is not a local directory needs a database "
                            "server: set ECOPY_DATABASE_URL (PostgreSQL)")
    db = Database(sqlite_url(root))
    if check:
        upgrade(db)  # the embedded file: created and kept current on first use
    return db


def database_url(settings: Settings) -> str | URL:
    """ECOPY_DATABASE_URL; with ECOPY_DATABASE_CA_FILE, TLS is required and the server's
    certificate must chain to that CA and name the host dialled (libpq's verify-full; the
    settings refuse a URL that says otherwise). Other libpq parameters in the URL pass
    through unchanged."""
    if settings.database_ca_file is None:
        return settings.database_url
    return make_url(settings.database_url).update_query_dict(
        {"sslmode": "verify-full", "sslrootcert": str(settings.database_ca_file)})


def open_state(args: argparse.Namespace | None, settings: Settings, *,
               connections: int = 5) -> State:
    """Store, database and the procedures' time limits, as every step takes them."""
    from pipeline.casework.deadlines import ProcedureDeadlines

    store = open_store(args, settings)
    return State(store, open_database(settings, store, connections=connections),
                 ProcedureDeadlines())
