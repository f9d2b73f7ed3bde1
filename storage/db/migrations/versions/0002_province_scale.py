"""Province scale: refusals kept on the dossier, a register month index, word search.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-07

Measured with scripts/bench_catalogue.py at 1,000,000 cases:
- the figures counted refused papers by joining every rejected case of the year to the
  period's dossiers; each dossier now keeps its own count and reasons (``refusals``, kept by
  storage.db.dossiers.refresh_progress), filled here for the dossiers already there;
- a register month was found by walking the year's numbers from 1; the index on the entry's
  month (``substr(date, 1, 7)``) gives the month in number order directly;
- on PostgreSQL, a name search within a commune read the trigram lists of common words
  ("nguyen") across the province; the words of each name, prefixed with its commune
  (``c00004nguyen``), are indexed for text search, so a commune's search reads only its own.
  The trigram index stays for searches over every commune (auditors).
"""

from collections import defaultdict

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# must read exactly as storage.db.schema builds them, or the planner will not use the index
REGISTER_MONTH = "substr(date, 1, 7)"
NAME_WORDS = ("to_tsvector('simple'::regconfig, regexp_replace(name_folded, '([a-z0-9]+)', "
              "'c' || agency || '\\1', 'g'))")


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    op.add_column("dossiers", sa.Column("rejected_documents", sa.Integer(), nullable=False,
                                        server_default="0"))
    op.add_column("dossiers", sa.Column(
        "refusals", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
        nullable=False, server_default=sa.text("'{}'::jsonb" if postgres else "'{}'")))
    _fill_refusals()
    op.create_index("ix_register_entries_month", "register_entries",
                    ["agency", "year", sa.text(REGISTER_MONTH), "number"])
    if postgres:
        op.execute(f"CREATE INDEX ix_dossiers_name_words ON dossiers USING gin ({NAME_WORDS})")


def _fill_refusals() -> None:
    bind = op.get_bind()
    found: dict[str, dict[str, int]] = defaultdict(dict)
    for dossier_id, reason, ground, n in bind.execute(sa.text(
            "SELECT dossier_id, reason, ground_code, count(*) FROM cases "
            "WHERE status = 'rejected' GROUP BY dossier_id, reason, ground_code")):
        found[dossier_id][f"{reason}:{ground}"] = n
    dossiers = sa.table("dossiers", sa.column("dossier_id"), sa.column("rejected_documents"),
                        sa.column("refusals", sa.JSON()))
    for dossier_id, refusals in found.items():
        bind.execute(dossiers.update().where(dossiers.c.dossier_id == dossier_id).values(
            rejected_documents=sum(refusals.values()), refusals=refusals))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_dossiers_name_words")
    op.drop_index("ix_register_entries_month", "register_entries")
    with op.batch_alter_table("dossiers") as batch:
        batch.drop_column("refusals")
        batch.drop_column("rejected_documents")
