"""The schema of the working state: one definition for SQLite and PostgreSQL.

Working state is what changes (architecture.md, "Two kinds of state"): dossiers, case
documents and their history, accounts and sessions, complaints, reuse answers, the portal
outbox's delivery state, pointers. The catalogue tables (``copies``, ``register_entries``,
``cancellations``, ``refusals``) index evidence that lives in the object store, so lists and
figures are indexed queries; `ecopy db import`/`db check` rebuild and repair them from the
evidence, which always wins.

Alembic migrations (storage/db/migrations) create these tables; this module is what the
queries and the migrations' autogenerate check compare against. Times are UTC timestamps
(`UTCDateTime`): aware datetimes in Python on both engines.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    literal_column,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

metadata = MetaData(naming_convention={
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
})


class UTCDateTime(TypeDecorator):
    """An aware UTC datetime on both engines (SQLite keeps no zone: naive UTC is stored)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


Json = JSON().with_variant(JSONB(), "postgresql")
# SQLite autoincrements only INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit identity
BigId = BigInteger().with_variant(Integer(), "sqlite")


def utcnow() -> datetime:
    return datetime.now(UTC)


# --------------------------------------------------------------------------- dossiers + cases

dossiers = Table(
    "dossiers", metadata,
    Column("dossier_id", String(20), primary_key=True),  # yyyymmdd-8hex
    Column("agency", String(5), nullable=False),  # commune code that opened it
    Column("person_id", String(12), nullable=False, default=""),
    Column("person_name", String(200), nullable=False, default=""),
    # lower case, no tone marks, "đ" as "d", framed by spaces: word-start LIKE search
    Column("name_folded", String(210), nullable=False, default=""),
    Column("date_of_birth", String(10), nullable=False, default=""),
    Column("opened_by", String(64), nullable=False, default=""),
    Column("opened_at", UTCDateTime, nullable=False),
    Column("note", Text, nullable=False, default=""),
    Column("public_code", String(16), unique=True),  # the citizen's status code
    Column("procedure", String(64), nullable=False, default=""),
    Column("channel", String(16), nullable=False, default="counter"),
    Column("former_agency", String(5), nullable=False, default=""),
    # facts the figures aggregate, kept current by every status change of its cases
    # (pipeline.casework.progress): documents, pages, open documents, the legal due time,
    # when the last document reached a terminal status, and that span in working hours
    Column("documents", Integer, nullable=False, default=0),
    Column("pages", Integer, nullable=False, default=0),
    Column("open_documents", Integer, nullable=False, default=0),
    Column("due_at", UTCDateTime),
    Column("finished_at", UTCDateTime),
    Column("working_hours", BigInteger().with_variant(Integer(), "sqlite")),  # x 1000
    # its refused papers: how many, and {"<reason>:<ground>": count} (figures by reason)
    Column("rejected_documents", Integer, nullable=False, default=0),
    Column("refusals", Json, nullable=False, default=dict),
    Index("ix_dossiers_agency_opened", "agency", "opened_at", "dossier_id"),
    Index("ix_dossiers_opened", "opened_at"),
    Index("ix_dossiers_person", "person_id"),
    Index("ix_dossiers_agency_name", "agency", "name_folded"),
)

# one row per commune and Vietnam month of received dossiers (storage.db.rollups): the
# figures of now without reading the month's dossiers; durations as sorted int32 arrays
month_figures = Table(
    "month_figures", metadata,
    Column("agency", String(5), primary_key=True),
    Column("month", String(7), primary_key=True),  # YYYY-MM
    Column("received", Integer, nullable=False, default=0),
    Column("finished_on_time", Integer, nullable=False, default=0),
    Column("finished_late", Integer, nullable=False, default=0),
    Column("online", Integer, nullable=False, default=0),
    Column("seconds", LargeBinary, nullable=False),  # finished dossiers' durations
    Column("working", LargeBinary, nullable=False),  # their working hours x 1000
    # the open dossiers' due times (epoch seconds, sorted int64): how many are overdue now
    Column("open_due", LargeBinary, nullable=False),
    Column("refusals", Json, nullable=False, default=dict),  # {"<reason>:<ground>": n}
    Index("ix_month_figures_month", "month", "agency"),  # a province's month: one range
)

cases = Table(
    "cases", metadata,
    Column("case_id", String(32), primary_key=True),  # 128 random bits, hex
    Column("dossier_id", String(20), ForeignKey("dossiers.dossier_id"), nullable=False),
    Column("agency", String(5), nullable=False),  # the dossier's commune, for the queues
    Column("sha256", String(64), nullable=False),  # originals/<sha256>, OCR shared by it
    Column("name", String(255), nullable=False, default=""),  # the uploaded file's name
    Column("kind", String(16), nullable=False, default=""),
    Column("size", BigInteger, nullable=False, default=0),
    Column("person_id", String(12), nullable=False, default=""),
    Column("status", String(16), nullable=False),
    Column("version", Integer, nullable=False, default=1),  # compare-and-set
    Column("created_at", UTCDateTime, nullable=False),
    Column("status_at", UTCDateTime, nullable=False),  # since when it stands in `status`
    Column("pages", Integer, nullable=False, default=0),
    Column("doc_type", String(32), nullable=False, default=""),
    Column("document_name", String(200), nullable=False, default=""),
    Column("reason", String(64), nullable=False, default=""),
    Column("ground_code", String(32), nullable=False, default=""),
    Column("copy_id", String(32), unique=True),
    Column("register_year", Integer),
    Column("register_number", Integer),
    Column("owner", String(128), nullable=False, default=""),  # the process working on it
    Column("batch_id", String(64), nullable=False, default=""),
    # classification, fields, warnings, review reasons and messages, card QR, corrections,
    # messages, register entry, e-copy key: read with the case, never searched
    Column("data", Json, nullable=False, default=dict),
    UniqueConstraint("dossier_id", "sha256"),
    Index("ix_cases_queue", "agency", "status", "status_at", "case_id"),
    Index("ix_cases_status", "status", "status_at"),
    Index("ix_cases_sha256", "sha256"),
    Index("ix_cases_dossier", "dossier_id", "created_at"),
    Index("ix_cases_person", "person_id"),
)

case_events = Table(
    "case_events", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("case_id", String(32), ForeignKey("cases.case_id"), nullable=False),
    Column("seq", Integer, nullable=False),  # 1, 2, ... per case
    Column("status", String(16), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("reason", String(64), nullable=False, default=""),
    Column("actor", String(64), nullable=False, default=""),
    UniqueConstraint("case_id", "seq"),
)

corrections = Table(
    "corrections", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("case_id", String(32), ForeignKey("cases.case_id"), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", String(64), nullable=False),
    Column("doc_type", String(32)),
    Column("fields", Json, nullable=False, default=dict),
    Column("machine", Json, nullable=False, default=dict),  # what the machine had said
    Index("ix_corrections_case", "case_id", "id"),
)

papers = Table(  # reuse before asking: one answer per needed paper type of a dossier
    "papers", metadata,
    Column("dossier_id", String(20), ForeignKey("dossiers.dossier_id"), primary_key=True),
    Column("doc_type", String(32), primary_key=True),
    Column("status", String(16), nullable=False),  # reused / requested
    Column("at", UTCDateTime, nullable=False),
    Column("data", Json, nullable=False, default=dict),  # the answer with every check
)

batches = Table(  # distributed submissions: options and the documents they hold
    "batches", metadata,
    Column("batch_id", String(64), primary_key=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("data", Json, nullable=False, default=dict),
)

# --------------------------------------------------------------------------- people

accounts = Table(
    "accounts", metadata,
    Column("username", String(32), primary_key=True),
    Column("full_name", String(200), nullable=False, default=""),
    Column("role", String(16), nullable=False),
    Column("agency", String(5), nullable=False),
    Column("password_hash", String(255), nullable=False),
    Column("active", Boolean, nullable=False, default=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("title", String(200), nullable=False, default=""),
)

sessions = Table(
    "sessions", metadata,
    Column("token_sha256", String(64), primary_key=True),  # the cookie's token is not kept
    Column("username", String(32), ForeignKey("accounts.username"), nullable=False),
    Column("csrf", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Index("ix_sessions_expires", "expires_at"),
    Index("ix_sessions_username", "username"),
)

complaints = Table(
    "complaints", metadata,
    Column("complaint_id", String(32), primary_key=True),
    Column("public_code", String(16), nullable=False, unique=True),
    Column("agency", String(5), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("target_type", String(16), nullable=False),
    Column("target", String(64), nullable=False),
    Column("filer", String(16), nullable=False),
    Column("name", String(100), nullable=False),
    Column("organisation", String(200), nullable=False, default=""),
    Column("phone", String(20), nullable=False, default=""),
    Column("email", String(254), nullable=False, default=""),
    Column("address", String(300), nullable=False, default=""),
    Column("text", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("dossier_id", String(20), nullable=False, default=""),
    Column("events", Integer, nullable=False, default=0),  # compare-and-set of the history
    # where it stands after its last event (pipeline.casework.complaints.state_of): the
    # staff list shows open complaints first, the one due soonest (or overdue) first
    Column("closed", Boolean, nullable=False, default=False),
    Column("due", String(10), nullable=False, default=""),  # ISO date; "" when closed
    Index("ix_complaints_queue", "agency", "closed", "due", "complaint_id"),
)

complaint_events = Table(
    "complaint_events", metadata,
    Column("complaint_id", String(32), ForeignKey("complaints.complaint_id"),
           primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("action", String(16), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("by", String(64), nullable=False),
    Column("text", Text, nullable=False, default=""),
    Column("complex", Boolean, nullable=False, default=False),
)

successions = Table(  # which former communes a commune took over (Decision 19/2025)
    "successions", metadata,
    Column("agency", String(5), primary_key=True),
    Column("predecessor", String(5), primary_key=True),
    Column("recorded_at", UTCDateTime, nullable=False),
    Column("data", Json, nullable=False, default=dict),
    Index("ix_successions_predecessor", "predecessor"),
)

pointers = Table(  # small named settings of the deployment (the active document-type model)
    "pointers", metadata,
    Column("name", String(64), primary_key=True),
    Column("value", Json, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("updated_by", String(64), nullable=False, default=""),
)

# --------------------------------------------------------------------------- protection

access_events = Table(  # who read whose personal data (issue 15): working state, not evidence;
    # each day's events are hashed into the audit chain (storage.db.access.seal_days)
    "access_events", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", String(32), nullable=False),
    Column("role", String(16), nullable=False),
    Column("agency", String(5), nullable=False),  # the reader's commune
    Column("person_id", String(12), nullable=False, default=""),  # whose data ("" unknown)
    Column("what", String(32), nullable=False),  # dossier, case, page, fields, warehouse...
    Column("ref", String(64), nullable=False, default=""),  # case / dossier / copy id
    Column("address", String(64), nullable=False, default=""),
    Index("ix_access_events_person", "person_id", "at"),
    Index("ix_access_events_actor", "actor", "at"),
    Index("ix_access_events_at", "at"),
)

throttle_hits = Table(  # failed logins and rate-limited requests, shared by every process
    "throttle_hits", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("key", String(96), nullable=False),  # "user:<name>|addr:<ip>", "addr:<ip>", ...
    Column("at", UTCDateTime, nullable=False),
    Index("ix_throttle_hits_key_at", "key", "at"),
    Index("ix_throttle_hits_at", "at"),
)

spent_tokens = Table(  # single-use form tokens (the public complaint form)
    "spent_tokens", metadata,
    Column("token_sha256", String(64), primary_key=True),
    Column("spent_at", UTCDateTime, nullable=False),
    Index("ix_spent_tokens_at", "spent_at"),
)

# --------------------------------------------------------------------------- portal outbox

outbox = Table(
    "outbox", metadata,
    Column("seq", BigId, primary_key=True, autoincrement=True),  # delivery order
    Column("key", String(64), nullable=False, unique=True),  # idempotency key
    Column("kind", String(16), nullable=False),
    Column("ref", String(64), nullable=False),
    Column("version", String(200), nullable=False, default=""),
    Column("agency", String(5), nullable=False, default=""),
    Column("enqueued_at", UTCDateTime, nullable=False),
    Column("payload", Json, nullable=False),
    Column("status", String(16), nullable=False),  # pending / delivered / failed
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UTCDateTime),
    Column("first_attempt_at", UTCDateTime),
    Column("last_attempt_at", UTCDateTime),
    Column("last_error", String(500), nullable=False, default=""),
    Column("last_http_status", Integer),
    Column("delivered_at", UTCDateTime),
    Column("receipt", Json),  # the portal's receipt, also kept in the store as evidence
    Index("ix_outbox_status_seq", "status", "seq"),
    Index("ix_outbox_agency_status", "agency", "status", "seq"),
)

# --------------------------------------------------------------------------- catalogue

copies = Table(
    "copies", metadata,
    Column("copy_id", String(32), primary_key=True),
    Column("person_id", String(12), nullable=False),
    Column("doc_type", String(32), nullable=False),
    Column("document_name", String(200), nullable=False, default=""),
    Column("agency", String(5), nullable=False),  # the certifying commune (register)
    Column("register_year", Integer, nullable=False),
    Column("register_number", Integer, nullable=False),
    Column("register_book", String(16), nullable=False, default=""),
    Column("certified_at", UTCDateTime, nullable=False),
    Column("pdf_key", String(255), nullable=False),
    Column("pdf_sha256", String(64), nullable=False),
    Column("original_sha256", String(64), nullable=False),
    Column("case_id", String(32)),  # "" for copies imported without their case
    Column("test_mode", Boolean, nullable=False, default=False),
    Column("expiry_date", String(10), nullable=False, default=""),
    Column("cancelled", Boolean, nullable=False, default=False),
    Column("pages", Integer, nullable=False, default=0),
    Index("ix_copies_person", "person_id", "certified_at", "copy_id"),
    Index("ix_copies_agency", "agency", "certified_at", "copy_id"),
    Index("ix_copies_register", "agency", "register_year", "register_number"),
)

register_entries = Table(
    "register_entries", metadata,
    Column("agency", String(5), primary_key=True),
    Column("year", Integer, primary_key=True),
    Column("number", Integer, primary_key=True),
    Column("date", String(10), nullable=False),  # ISO date, Vietnam time
    Column("book", String(16), nullable=False),
    Column("copy_id", String(32), nullable=False),
    Column("entry_sha256", String(64), nullable=False),  # sha256 of the stored object
    Column("prev_hash", String(64), nullable=False, default=""),
    Column("void_reason", String(500)),  # a claimed number that never became a copy
    Column("entry", Json, nullable=False),  # the entry as stored (columns of Mẫu số 19)
    Index("ix_register_entries_date", "agency", "date", "number"),
    Index("ix_register_entries_copy", "copy_id"),
)
# the entry's month ("2026-11"): a register month is one range of this index, in number order
# (constants written into the SQL, so both engines match the query to the index's expression)
entry_month = func.substr(register_entries.c.date, literal_column("1"), literal_column("7"))
Index("ix_register_entries_month", register_entries.c.agency, register_entries.c.year,
      entry_month, register_entries.c.number)


def name_words() -> Any:
    """PostgreSQL: the folded name's words prefixed with the commune (``c00004nguyen``) as a
    text-search vector; its GIN index (migration 0002) answers a commune's name search from
    that commune's words only. Written exactly as the index's expression."""
    words = func.regexp_replace(
        dossiers.c.name_folded, literal_column("'([a-z0-9]+)'"),
        literal_column("'c'") + dossiers.c.agency + literal_column("'\\1'"),
        literal_column("'g'"))
    return func.to_tsvector(literal_column("'simple'::regconfig"), words)

cancellations = Table(
    "cancellations", metadata,
    Column("copy_id", String(32), primary_key=True),
    Column("agency", String(5), nullable=False, default=""),
    Column("decision_ref", String(200), nullable=False),
    Column("decision_date", String(10), nullable=False),
    Column("recorded_at", UTCDateTime, nullable=False),
    Column("decision", Json, nullable=False),  # as stored in cancellations/<copy_id>.json
    Index("ix_cancellations_agency", "agency", "decision_date", "copy_id"),
    Index("ix_cancellations_date", "decision_date", "copy_id"),
)

refusals = Table(  # Art 22 refusals on record (refusals/<agency>/<year>/<sha256>.json)
    "refusals", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("agency", String(5), nullable=False),
    Column("year", Integer, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("case_id", String(32), nullable=False, default=""),
    Column("ground", String(64), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("record", Json, nullable=False),
    UniqueConstraint("agency", "year", "sha256"),
)

# the tables a rebuild from the evidence (`ecopy db import`) fills, in dependency order
CATALOGUE = (copies, register_entries, cancellations, refusals)
