"""Alembic's environment: always run from storage.db.migrate with a live connection.

The shell never runs the `alembic` command-line tool against a URL; `ecopy db upgrade`
(storage.db.migrate.upgrade) hands a connection over in ``config.attributes``.
"""

from __future__ import annotations

from alembic import context

from storage.db.schema import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata,
                  render_as_batch=connection.dialect.name == "sqlite",
                  transaction_per_migration=True, compare_type=True)
with context.begin_transaction():
    context.run_migrations()
