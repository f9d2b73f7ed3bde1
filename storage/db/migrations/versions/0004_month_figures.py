"""Month figures kept current.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07

- ``month_figures``: one row per commune and Vietnam month of received dossiers
  (storage.db.rollups), so the figures of now read one row per commune instead of every
  dossier of the period; filled here from the dossiers already there.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from storage.db.rollups import rebuild

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "month_figures",
        sa.Column("agency", sa.String(5), nullable=False),
        sa.Column("month", sa.String(7), nullable=False),
        sa.Column("received", sa.Integer(), nullable=False),
        sa.Column("finished_on_time", sa.Integer(), nullable=False),
        sa.Column("finished_late", sa.Integer(), nullable=False),
        sa.Column("online", sa.Integer(), nullable=False),
        sa.Column("seconds", sa.LargeBinary(), nullable=False),
        sa.Column("working", sa.LargeBinary(), nullable=False),
        sa.Column("open_due", sa.LargeBinary(), nullable=False),
        sa.Column("refusals", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
                  nullable=False),
        sa.PrimaryKeyConstraint("agency", "month", name="pk_month_figures"),
    )
    op.create_index("ix_month_figures_month", "month_figures", ["month", "agency"])
    rebuild(op.get_bind())


def downgrade() -> None:
    op.drop_table("month_figures")
