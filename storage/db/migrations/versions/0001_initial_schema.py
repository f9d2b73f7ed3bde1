"""The initial schema of the working state (storage/db/schema.py at ecopy 0.1.0).

Revision ID: 0001
Revises:
Create Date: 2026-12-07

On PostgreSQL the diacritic-insensitive name search also gets pg_trgm and a trigram index
on the folded names (Debian `postgresql-contrib`; the extension is trusted, so the database
owner may create it).
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime(timezone=True)
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "accounts",
        sa.Column("username", sa.String(length=32), nullable=False),
        sa.Column("full_name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("agency", sa.String(length=5), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("username", name=op.f("pk_accounts")),
    )
    op.create_table(
        "batches",
        sa.Column("batch_id", sa.String(length=64), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("data", JSON, nullable=False),
        sa.PrimaryKeyConstraint("batch_id", name=op.f("pk_batches")),
    )
    op.create_table(
        "cancellations",
        sa.Column("copy_id", sa.String(length=32), nullable=False),
        sa.Column("agency", sa.String(length=5), nullable=False),
        sa.Column("decision_ref", sa.String(length=200), nullable=False),
        sa.Column("decision_date", sa.String(length=10), nullable=False),
        sa.Column("recorded_at", TIMESTAMP, nullable=False),
        sa.Column("decision", JSON, nullable=False),
        sa.PrimaryKeyConstraint("copy_id", name=op.f("pk_cancellations")),
    )
    op.create_index(
        "ix_cancellations_agency",
        "cancellations",
        ["agency", "decision_date", "copy_id"],
        unique=False,
    )
    op.create_index(
        "ix_cancellations_date", "cancellations", ["decision_date", "copy_id"], unique=False
    )

    op.create_table(
        "complaints",
        sa.Column("complaint_id", sa.String(length=32), nullable=False),
        sa.Column("public_code", sa.String(length=16), nullable=False),
        sa.Column("agency", sa.String(length=5), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("target_type", sa.String(length=16), nullable=False),
        sa.Column("target", sa.String(length=64), nullable=False),
        sa.Column("filer", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("organisation", sa.String(length=200), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("address", sa.String(length=300), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("dossier_id", sa.String(length=20), nullable=False),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.Column("closed", sa.Boolean(), nullable=False),
        sa.Column("due", sa.String(length=10), nullable=False),
        sa.PrimaryKeyConstraint("complaint_id", name=op.f("pk_complaints")),
        sa.UniqueConstraint("public_code", name=op.f("uq_complaints_public_code")),
    )
    op.create_index(
        "ix_complaints_queue",
        "complaints",
        ["agency", "closed", "due", "complaint_id"],
        unique=False,
    )

    op.create_table(
        "copies",
        sa.Column("copy_id", sa.String(length=32), nullable=False),
        sa.Column("person_id", sa.String(length=12), nullable=False),
        sa.Column("doc_type", sa.String(length=32), nullable=False),
        sa.Column("document_name", sa.String(length=200), nullable=False),
        sa.Column("agency", sa.String(length=5), nullable=False),
        sa.Column("register_year", sa.Integer(), nullable=False),
        sa.Column("register_number", sa.Integer(), nullable=False),
        sa.Column("register_book", sa.String(length=16), nullable=False),
        sa.Column("certified_at", TIMESTAMP, nullable=False),
        sa.Column("pdf_key", sa.String(length=255), nullable=False),
        sa.Column("pdf_sha256", sa.String(length=64), nullable=False),
        sa.Column("original_sha256", sa.String(length=64), nullable=False),
        sa.Column("case_id", sa.String(length=32), nullable=True),
        sa.Column("test_mode", sa.Boolean(), nullable=False),
        sa.Column("expiry_date", sa.String(length=10), nullable=False),
        sa.Column("cancelled", sa.Boolean(), nullable=False),
        sa.Column("pages", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("copy_id", name=op.f("pk_copies")),
    )
    op.create_index(
        "ix_copies_agency", "copies", ["agency", "certified_at", "copy_id"], unique=False
    )
    op.create_index(
        "ix_copies_person", "copies", ["person_id", "certified_at", "copy_id"], unique=False
    )
    op.create_index(
        "ix_copies_register", "copies", ["agency", "register_year", "register_number"], unique=False
    )

    op.create_table(
        "dossiers",
        sa.Column("dossier_id", sa.String(length=20), nullable=False),
        sa.Column("agency", sa.String(length=5), nullable=False),
        sa.Column("person_id", sa.String(length=12), nullable=False),
        sa.Column("person_name", sa.String(length=200), nullable=False),
        sa.Column("name_folded", sa.String(length=210), nullable=False),
        sa.Column("date_of_birth", sa.String(length=10), nullable=False),
        sa.Column("opened_by", sa.String(length=64), nullable=False),
        sa.Column("opened_at", TIMESTAMP, nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("public_code", sa.String(length=16), nullable=True),
        sa.Column("procedure", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("former_agency", sa.String(length=5), nullable=False),
        sa.Column("documents", sa.Integer(), nullable=False),
        sa.Column("pages", sa.Integer(), nullable=False),
        sa.Column("open_documents", sa.Integer(), nullable=False),
        sa.Column("due_at", TIMESTAMP, nullable=True),
        sa.Column("finished_at", TIMESTAMP, nullable=True),
        sa.Column("working_hours", BIGID, nullable=True),
        sa.PrimaryKeyConstraint("dossier_id", name=op.f("pk_dossiers")),
        sa.UniqueConstraint("public_code", name=op.f("uq_dossiers_public_code")),
    )
    op.create_index("ix_dossiers_agency_name", "dossiers", ["agency", "name_folded"], unique=False)
    op.create_index(
        "ix_dossiers_agency_opened", "dossiers", ["agency", "opened_at", "dossier_id"], unique=False
    )
    op.create_index("ix_dossiers_opened", "dossiers", ["opened_at"], unique=False)
    op.create_index("ix_dossiers_person", "dossiers", ["person_id"], unique=False)

    op.create_table(
        "outbox",
        sa.Column("seq", BIGID, autoincrement=True, nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("ref", sa.String(length=64), nullable=False),
        sa.Column("version", sa.String(length=200), nullable=False),
        sa.Column("agency", sa.String(length=5), nullable=False),
        sa.Column("enqueued_at", TIMESTAMP, nullable=False),
        sa.Column("payload", JSON, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", TIMESTAMP, nullable=True),
        sa.Column("first_attempt_at", TIMESTAMP, nullable=True),
        sa.Column("last_attempt_at", TIMESTAMP, nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=False),
        sa.Column("last_http_status", sa.Integer(), nullable=True),
        sa.Column("delivered_at", TIMESTAMP, nullable=True),
        sa.Column("receipt", JSON, nullable=True),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_outbox")),
        sa.UniqueConstraint("key", name=op.f("uq_outbox_key")),
    )
    op.create_index("ix_outbox_agency_status", "outbox", ["agency", "status", "seq"], unique=False)
    op.create_index("ix_outbox_status_seq", "outbox", ["status", "seq"], unique=False)

    op.create_table(
        "pointers",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", JSON, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.Column("updated_by", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_pointers")),
    )
    op.create_table(
        "refusals",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("agency", sa.String(length=5), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("case_id", sa.String(length=32), nullable=False),
        sa.Column("ground", sa.String(length=64), nullable=False),
        sa.Column("at", TIMESTAMP, nullable=False),
        sa.Column("record", JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refusals")),
        sa.UniqueConstraint(
            "agency", "year", "sha256", name=op.f("uq_refusals_agency_year_sha256")
        ),
    )
    op.create_table(
        "register_entries",
        sa.Column("agency", sa.String(length=5), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("date", sa.String(length=10), nullable=False),
        sa.Column("book", sa.String(length=16), nullable=False),
        sa.Column("copy_id", sa.String(length=32), nullable=False),
        sa.Column("entry_sha256", sa.String(length=64), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("void_reason", sa.String(length=500), nullable=True),
        sa.Column("entry", JSON, nullable=False),
        sa.PrimaryKeyConstraint("agency", "year", "number", name=op.f("pk_register_entries")),
    )
    op.create_index("ix_register_entries_copy", "register_entries", ["copy_id"], unique=False)
    op.create_index(
        "ix_register_entries_date", "register_entries", ["agency", "date", "number"], unique=False
    )

    op.create_table(
        "successions",
        sa.Column("agency", sa.String(length=5), nullable=False),
        sa.Column("predecessor", sa.String(length=5), nullable=False),
        sa.Column("recorded_at", TIMESTAMP, nullable=False),
        sa.Column("data", JSON, nullable=False),
        sa.PrimaryKeyConstraint("agency", "predecessor", name=op.f("pk_successions")),
    )
    op.create_index("ix_successions_predecessor", "successions", ["predecessor"], unique=False)

    op.create_table(
        "cases",
        sa.Column("case_id", sa.String(length=32), nullable=False),
        sa.Column("dossier_id", sa.String(length=20), nullable=False),
        sa.Column("agency", sa.String(length=5), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("person_id", sa.String(length=12), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("status_at", TIMESTAMP, nullable=False),
        sa.Column("pages", sa.Integer(), nullable=False),
        sa.Column("doc_type", sa.String(length=32), nullable=False),
        sa.Column("document_name", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=False),
        sa.Column("ground_code", sa.String(length=32), nullable=False),
        sa.Column("copy_id", sa.String(length=32), nullable=True),
        sa.Column("register_year", sa.Integer(), nullable=True),
        sa.Column("register_number", sa.Integer(), nullable=True),
        sa.Column("owner", sa.String(length=128), nullable=False),
        sa.Column("batch_id", sa.String(length=64), nullable=False),
        sa.Column("data", JSON, nullable=False),
        sa.ForeignKeyConstraint(
            ["dossier_id"], ["dossiers.dossier_id"], name=op.f("fk_cases_dossier_id_dossiers")
        ),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_cases")),
        sa.UniqueConstraint("copy_id", name=op.f("uq_cases_copy_id")),
        sa.UniqueConstraint("dossier_id", "sha256", name=op.f("uq_cases_dossier_id_sha256")),
    )
    op.create_index("ix_cases_dossier", "cases", ["dossier_id", "created_at"], unique=False)
    op.create_index("ix_cases_person", "cases", ["person_id"], unique=False)
    op.create_index(
        "ix_cases_queue", "cases", ["agency", "status", "status_at", "case_id"], unique=False
    )
    op.create_index("ix_cases_sha256", "cases", ["sha256"], unique=False)
    op.create_index("ix_cases_status", "cases", ["status", "status_at"], unique=False)

    op.create_table(
        "complaint_events",
        sa.Column("complaint_id", sa.String(length=32), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("at", TIMESTAMP, nullable=False),
        sa.Column("by", sa.String(length=64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("complex", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["complaint_id"],
            ["complaints.complaint_id"],
            name=op.f("fk_complaint_events_complaint_id_complaints"),
        ),
        sa.PrimaryKeyConstraint("complaint_id", "seq", name=op.f("pk_complaint_events")),
    )
    op.create_table(
        "papers",
        sa.Column("dossier_id", sa.String(length=20), nullable=False),
        sa.Column("doc_type", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("at", TIMESTAMP, nullable=False),
        sa.Column("data", JSON, nullable=False),
        sa.ForeignKeyConstraint(
            ["dossier_id"], ["dossiers.dossier_id"], name=op.f("fk_papers_dossier_id_dossiers")
        ),
        sa.PrimaryKeyConstraint("dossier_id", "doc_type", name=op.f("pk_papers")),
    )
    op.create_table(
        "sessions",
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("username", sa.String(length=32), nullable=False),
        sa.Column("csrf", sa.String(length=64), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("expires_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["username"], ["accounts.username"], name=op.f("fk_sessions_username_accounts")
        ),
        sa.PrimaryKeyConstraint("token_sha256", name=op.f("pk_sessions")),
    )
    op.create_index("ix_sessions_expires", "sessions", ["expires_at"], unique=False)
    op.create_index("ix_sessions_username", "sessions", ["username"], unique=False)

    op.create_table(
        "case_events",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("case_id", sa.String(length=32), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("at", TIMESTAMP, nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.case_id"], name=op.f("fk_case_events_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_events")),
        sa.UniqueConstraint("case_id", "seq", name=op.f("uq_case_events_case_id_seq")),
    )
    op.create_table(
        "corrections",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("case_id", sa.String(length=32), nullable=False),
        sa.Column("at", TIMESTAMP, nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("doc_type", sa.String(length=32), nullable=True),
        sa.Column("fields", JSON, nullable=False),
        sa.Column("machine", JSON, nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.case_id"], name=op.f("fk_corrections_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_corrections")),
    )
    op.create_index("ix_corrections_case", "corrections", ["case_id", "id"], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.execute(
            "CREATE INDEX ix_dossiers_name_trgm ON dossiers USING gin (name_folded gin_trgm_ops)"
        )


def downgrade() -> None:
    """Downgrade schema: every table, dependents first."""
    op.drop_table("corrections")
    op.drop_table("case_events")
    op.drop_table("sessions")
    op.drop_table("papers")
    op.drop_table("complaint_events")
    op.drop_table("cases")
    op.drop_table("successions")
    op.drop_table("register_entries")
    op.drop_table("refusals")
    op.drop_table("pointers")
    op.drop_table("outbox")
    op.drop_table("dossiers")
    op.drop_table("copies")
    op.drop_table("complaints")
    op.drop_table("cancellations")
    op.drop_table("batches")
    op.drop_table("accounts")
