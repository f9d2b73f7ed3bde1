"""The database of working state (architecture.md, "Two kinds of state").

`Database` wraps one SQLAlchemy engine: PostgreSQL in production and in the distributed
tests, SQLite (a file beside the local store, WAL) in the embedded default. The shell builds
it once from settings and passes it down; nothing below the shell reads a URL or a password.

Transactions are short and explicit: ``with db.read() as s`` for queries, ``with
db.write() as s`` for changes (committed at the end of the block, rolled back on an
exception). On SQLite a write transaction starts with BEGIN IMMEDIATE, so two writers queue
on the database lock instead of both reading and one failing to upgrade; readers never wait
(WAL). On PostgreSQL a compare-and-set UPDATE (storage.db.cases) is what keeps concurrent
writers from losing each other's changes.
"""

from __future__ import annotations

import os
import sqlite3
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Table, create_engine, event, insert
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

SQLITE_NAME = ".ecopy.sqlite3"  # in the local store's directory; "." keeps it out of keys
BUSY_TIMEOUT_S = 60  # SQLite: how long a writer waits for another writer's lock


class DatabaseError(RuntimeError):
    """The database cannot be used as configured; the message says what to do."""


def sqlite_url(store_root: Path) -> str:
    """The embedded default: a SQLite file inside the local store's directory."""
    return f"sqlite:///{Path(store_root).absolute() / SQLITE_NAME}"


def insert_once(s: Session, table: Table, values: dict[str, Any]) -> bool:
    """Insert unless a row with the same keys exists; True when this call added it. A
    savepoint keeps the caller's transaction usable when the row was there."""
    try:
        with s.begin_nested():
            s.execute(insert(table).values(**values))
    except IntegrityError:
        return False
    return True


def instant(text: Any, fallback: datetime | None = None) -> datetime:
    """An ISO 8601 time as stored in JSON (a naive one is UTC); ``fallback`` (else now) when
    it cannot be read."""
    try:
        value = datetime.fromisoformat(str(text))
    except ValueError:
        return fallback or datetime.now(UTC)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class Database:
    def __init__(self, url: str | URL, *, password: str | None = None,
                 pool_size: int = 5) -> None:
        parsed = make_url(url)
        if password is not None:
            parsed = parsed.set(password=password)
        self.url = parsed
        self.dialect = parsed.get_backend_name()
        if self.dialect == "sqlite":
            database = parsed.database or ""
            if database and database != ":memory:":
                Path(database).parent.mkdir(parents=True, exist_ok=True)
            self.engine = create_engine(
                parsed, connect_args={"timeout": BUSY_TIMEOUT_S, "check_same_thread": False})
            event.listen(self.engine, "connect", _sqlite_connect)
            event.listen(self.engine, "begin", _sqlite_begin)
        elif self.dialect == "postgresql":
            if parsed.drivername == "postgresql":
                parsed = parsed.set(drivername="postgresql+psycopg")
                self.url = parsed
            self.engine = _pg_engine(parsed, pool_size, "")
            # reads get connections of their own: autocommit (no BEGIN and COMMIT round
            # trips around a page's queries) and read-only, so a write that strays into a
            # read session fails instead of committing statement by statement
            self.read_engine = _pg_engine(parsed, pool_size,
                                          "-c default_transaction_read_only=on",
                                          isolation_level="AUTOCOMMIT")
        else:
            raise DatabaseError(f"unsupported database {self.dialect!r}: use postgresql:// "
                                "or sqlite:///")
        if self.dialect == "sqlite":
            self.read_engine = self.engine
        self._sessions = sessionmaker(self.read_engine, expire_on_commit=False)
        self._writes = sessionmaker(self.engine.execution_options(ecopy_write=True),
                                    expire_on_commit=False)
        _after_fork.add(self)

    def describe(self) -> str:
        """Where the database is, without its password."""
        return self.url.render_as_string(hide_password=True)

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self._sessions() as session, session.begin():
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        with self._writes() as session, session.begin():
            yield session

    def close(self) -> None:
        self.engine.dispose()
        if self.read_engine is not self.engine:
            self.read_engine.dispose()

    def _forked(self) -> None:
        """A forked child (an rq work-horse) must not use its parent's connections."""
        self.engine.dispose(close=False)
        if self.read_engine is not self.engine:
            self.read_engine.dispose(close=False)


def _pg_engine(url: URL, pool_size: int, options: str, **kw: Any) -> Engine:
    """A PostgreSQL engine. Planning: psycopg prepares a statement run five times, and
    PostgreSQL may then plan it once for any value (a generic plan), which reads the whole
    province for a name search one commune's words answer; plan with each call's values.
    Pool: a connection found dead is dropped with the whole pool (SQLAlchemy's disconnect
    handling) rather than pinged before every use, which would cost a round trip each."""
    return create_engine(
        url, pool_size=pool_size, max_overflow=pool_size, pool_recycle=1800,
        connect_args={"options": f"-c plan_cache_mode=force_custom_plan {options}".strip()},
        **kw)


def _sqlite_connect(dbapi_connection: sqlite3.Connection, _record: object) -> None:
    # SQLAlchemy, not the driver, emits BEGIN (see _sqlite_begin)
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    # the busy timeout first: switching a new file to WAL waits for a lock too
    for pragma in (f"busy_timeout={BUSY_TIMEOUT_S * 1000}", "journal_mode=WAL",
                   "synchronous=NORMAL", "foreign_keys=ON"):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


def _sqlite_begin(connection: object) -> None:
    immediate = connection.get_execution_options().get("ecopy_write")  # type: ignore[attr-defined]
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")  # type: ignore[attr-defined]


class _ForkRegistry:
    """Every Database of this process, disposed (without closing) in a forked child."""

    def __init__(self) -> None:
        self._open: weakref.WeakSet[Database] = weakref.WeakSet()
        self._hooked = False

    def add(self, db: Database) -> None:
        if not self._hooked:
            os.register_at_fork(after_in_child=self._in_child)
            self._hooked = True
        self._open.add(db)

    def _in_child(self) -> None:
        for db in list(self._open):
            db._forked()


_after_fork = _ForkRegistry()
