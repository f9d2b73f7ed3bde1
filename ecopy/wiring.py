"""Builds what the commands and the web app work on, once per process: the object store,
the database and the State that carries both (architecture.md: the shell wires, the layers
below take explicit parameters).

The database is ECOPY_DATABASE_URL (PostgreSQL; the password from the file
ECOPY_DATABASE_PASSWORD_FILE names), else a SQLite file inside the local store's directory.
An embedded SQLite database is created and upgraded on first use, so `ecopy process` needs no
set-up; a PostgreSQL database must be at the code's schema already (`ecopy db upgrade`), or
the command stops with that instruction.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from ecopy.settings import Settings
from storage.backends import LocalStore, ObjectStore
from storage.db import Database, DatabaseError, sqlite_url
from storage.state import State


def open_store(args: argparse.Namespace | None, settings: Settings) -> ObjectStore:
    """The store a command works on: --out/--store (a directory) when given; else S3 when
    ECOPY_S3_ENDPOINT is set; else the ECOPY_STORE directory."""
    path = (getattr(args, "out", None) or getattr(args, "store", None)) if args else None
    if path is None and settings.s3_endpoint:
        return s3_store(settings)
    return LocalStore(path or settings.store_dir)


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
        db = Database(settings.database_url, password=password, pool_size=connections)
        if check:
            require_current(db)
        return db
    if not isinstance(store, LocalStore):
        raise DatabaseError("a store that is not a local directory needs a database "
                            "server: set ECOPY_DATABASE_URL (PostgreSQL)")
    db = Database(sqlite_url(store.root))
    if check:
        upgrade(db)  # the embedded file: created and kept current on first use
    return db


def open_state(args: argparse.Namespace | None, settings: Settings, *,
               connections: int = 5) -> State:
    """Store, database and the procedures' time limits, as every step takes them."""
    from pipeline.casework.deadlines import ProcedureDeadlines

    store = open_store(args, settings)
    return State(store, open_database(settings, store, connections=connections),
                 ProcedureDeadlines())
