"""Schema migrations (Alembic): `ecopy db upgrade` and `ecopy db status`.

The set-up script and compose run the upgrade before anything else uses the database; a
process that finds the schema behind its code refuses to start (`require_current`) rather
than fail later on a missing column.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from storage.db import Database, DatabaseError

MIGRATIONS = Path(__file__).parent / "migrations"


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head_revision() -> str:
    return ScriptDirectory.from_config(_config()).get_current_head() or ""


def current_revision(db: Database) -> str:
    with db.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision() or ""


def upgrade(db: Database, revision: str = "head") -> tuple[str, str]:
    """Bring the schema to ``revision``; (before, after). Safe to run again and from several
    processes at once: one migrator at a time (an advisory lock on PostgreSQL, the write lock
    taken up front on SQLite), in one transaction; the next finds nothing to do."""
    before = current_revision(db)
    config = _config()
    with db.engine.execution_options(ecopy_write=True).begin() as conn:
        if db.dialect == "postgresql":  # one migrator at a time
            conn.exec_driver_sql("SELECT pg_advisory_xact_lock(74530001)")
        config.attributes["connection"] = conn
        command.upgrade(config, revision)
    return before, current_revision(db)


def require_current(db: Database) -> None:
    current, head = current_revision(db), head_revision()
    if current != head:
        raise DatabaseError(
            f"the database {db.describe()} is at schema {current or '(empty)'}, this ecopy "
            f"needs {head}: run `ecopy db upgrade` first")
