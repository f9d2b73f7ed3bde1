"""Protection of personal data: who read what, shared throttles, single-use tokens.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07

- ``access_events``: every staff read of a person's data (issue 15), reported per person
  (`ecopy access report`), hashed day by day into the audit chain, deleted on its retention
  date;
- ``throttle_hits``: failed logins and rate-limited requests, counted by every web process
  alike (a throttle in one process's memory let ``--workers 2`` double every limit);
- ``spent_tokens``: form tokens that may be used once (a complaint form cannot file twice).
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UTC_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "access_events",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("at", UTC_TIME, nullable=False),
        sa.Column("actor", sa.String(32), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("agency", sa.String(5), nullable=False),
        sa.Column("person_id", sa.String(12), nullable=False),
        sa.Column("what", sa.String(32), nullable=False),
        sa.Column("ref", sa.String(64), nullable=False),
        sa.Column("address", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_access_events"),
    )
    op.create_index("ix_access_events_person", "access_events", ["person_id", "at"])
    op.create_index("ix_access_events_actor", "access_events", ["actor", "at"])
    op.create_index("ix_access_events_at", "access_events", ["at"])
    op.create_table(
        "throttle_hits",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("key", sa.String(96), nullable=False),
        sa.Column("at", UTC_TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_throttle_hits"),
    )
    op.create_index("ix_throttle_hits_key_at", "throttle_hits", ["key", "at"])
    op.create_index("ix_throttle_hits_at", "throttle_hits", ["at"])
    op.create_table(
        "spent_tokens",
        sa.Column("token_sha256", sa.String(64), nullable=False),
        sa.Column("spent_at", UTC_TIME, nullable=False),
        sa.PrimaryKeyConstraint("token_sha256", name="pk_spent_tokens"),
    )
    op.create_index("ix_spent_tokens_at", "spent_tokens", ["spent_at"])


def downgrade() -> None:
    for table in ("spent_tokens", "throttle_hits", "access_events"):
        op.drop_table(table)
