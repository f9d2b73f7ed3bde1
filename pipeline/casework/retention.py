"""Retention: working data past its date is deleted or anonymised, and audited; evidence never.

The schedule is ``CATEGORIES``, one row per kind of working data (docs/retention.md explains
each default and its basis); the days are settings (ECOPY_RETENTION_<CATEGORY>_DAYS).
`run_retention` finds what is due in each category, deletes or anonymises it (nothing with
``dry_run``) and appends ONE audit event per run naming counts, case / complaint ids and the
store keys deleted: ids only, never a name, a personal ID or a contact.

Evidence (e-copies, register, refusals, cancellations, the audit chain, the catalogue rows
that index them) is never touched: the only store objects deleted are uploads
(storage.backends.keyspace: ``originals/<sha256>`` and ``documents/<sha256>/…``), and an
upload only when every case that brought those bytes was rejected at intake (not an Art 22
refusal, no register number, no copy) longer ago than the period, and no copy or refusal
names the bytes. The store refuses every other key by itself.

Row changes are compare-and-set on each case's version, in short write transactions of a
few dozen rows; a run stops after ``limit`` items per category and says so (run again).
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Table,
    and_,
    delete,
    exists,
    func,
    not_,
    or_,
    select,
    union,
    update,
)
from sqlalchemy.orm import Session

from pipeline.reasons import REFUSAL_REASONS, Reason
from pipeline.vn.tz import VN_TZ
from storage.backends import ObjectStore
from storage.backends.keyspace import ObjectLocked
from storage.db.access import SEALED_POINTER
from storage.db.dossiers import TERMINAL
from storage.db.pointers import get_pointer
from storage.db.schema import (
    access_events,
    cases,
    complaint_events,
    complaints,
    copies,
    corrections,
    dossiers,
    refusals,
    sessions,
    spent_tokens,
    throttle_hits,
)
from storage.evidence.audit import append_event, refusal_key
from storage.evidence.originals import ocr_key, original_key
from storage.state import State

DELETE, ANONYMISE = "delete", "anonymise"


@dataclass(frozen=True)
class Category:
    """One kind of working data and what happens to it ``days`` after ``counted_from``."""

    name: str
    action: str
    default_days: int
    minimum_days: int  # shorter would break what the rows are for
    counted_from: tuple[str, str]  # (vi, en)
    title_vi: str
    title_en: str

    @property
    def setting(self) -> str:
        return f"retention_{self.name}_days"


CATEGORIES: tuple[Category, ...] = (
    Category("sessions", DELETE, 0, 0, ("hết hạn", "expiry"),
             "Phiên đăng nhập đã hết hạn", "Expired sign-in sessions"),
    # login and rate-limit windows are at most an hour (ecopy.web)
    Category("throttle_hits", DELETE, 1, 1, ("lần thử", "the attempt"),
             "Lượt đăng nhập sai, lượt bị giới hạn", "Failed logins, rate-limited requests"),
    # a complaint form's token lives 2 hours: its use must be remembered longer
    Category("spent_tokens", DELETE, 2, 1, ("khi dùng", "its use"),
             "Mã biểu mẫu đã dùng", "Spent form tokens"),
    Category("access_events", DELETE, 730, 0,
             ("lần đọc (khi ngày đó đã niêm phong)", "the read (once its day is sealed)"),
             "Nhật ký truy cập dữ liệu cá nhân", "Access log (who read whose data)"),
    Category("complaint_contacts", ANONYMISE, 365, 0, ("khi đóng", "closing"),
             "Thông tin liên hệ của người khiếu nại", "Complainants' contact details"),
    Category("rejected_uploads", ANONYMISE, 90, 0, ("khi từ chối", "rejection"),
             "Tệp bị từ chối tiếp nhận và hồ sơ của chúng",
             "Rejected uploads and their case records"),
    Category("closed_dossiers", ANONYMISE, 365, 0,
             ("khi hồ sơ kết thúc", "the dossier finishing"),
             "Dữ liệu xử lý của hồ sơ đã kết thúc", "Working data of finished dossiers"),
)
DEFAULT_DAYS: dict[str, int] = {c.name: c.default_days for c in CATEGORIES}
SETTINGS: tuple[str, ...] = tuple(c.setting for c in CATEGORIES)

# a rejection that is on record stays: Art 22 refusals (their refusal record names the bytes)
# and failures after a register number was claimed (the void entry names the case's copy)
KEPT_REJECTIONS = frozenset({*REFUSAL_REASONS, Reason.SIGNING_FAILED, Reason.REGISTER_CONFLICT})
# what a finished case's record holds that the e-copy keeps (fields) or nobody needs any more
CLEARED_KEYS = ("fields", "card_qr", "review_messages", "corrections", "warnings")
# what an anonymised rejected upload's record keeps of its data: why it was rejected
KEPT_REJECTION_KEYS = ("message", "message_en")
ROW_CHUNK = 50  # rows changed per write transaction
BULK_CHUNK = 10_000  # rows deleted per statement (sessions, hits, tokens, access events)


@dataclass(frozen=True)
class Kept:
    """Something due that stays, and why: ``in_use`` (another case, a copy or a refusal
    needs the bytes), ``locked`` (the store's object lock), ``on_record`` (a refusal record
    the catalogue lacks: run `ecopy db check --repair`)."""

    why: str
    ref: str


@dataclass(frozen=True)
class Outcome:
    category: str
    action: str
    days: int
    cutoff: str  # ISO 8601 UTC: what is older is due
    count: int  # rows deleted or records anonymised (with dry_run: that would be)
    ids: tuple[str, ...] = ()  # case / complaint ids
    keys: tuple[str, ...] = ()  # store objects deleted
    kept: tuple[Kept, ...] = ()
    more: bool = False  # the run's limit was reached: more is due
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        optional = {"ids": list(self.ids), "keys": list(self.keys),
                    "kept": [{"why": k.why, "ref": k.ref} for k in self.kept],
                    "more": self.more, "note": self.note}
        return {"action": self.action, "days": self.days, "cutoff": self.cutoff,
                "count": self.count, **{k: v for k, v in optional.items() if v}}


@dataclass(frozen=True)
class RetentionRun:
    run_id: str
    at: str
    dry_run: bool
    outcomes: tuple[Outcome, ...]
    audit_seq: int | None = None  # the audit event of a real run

    def to_json(self) -> dict[str, Any]:
        return {"run": self.run_id, "at": self.at, "dry_run": self.dry_run,
                "audit_seq": self.audit_seq,
                "categories": {o.category: o.to_json() for o in self.outcomes}}


def schedule_problems(days: Mapping[str, int]) -> list[str]:
    """What is wrong with a schedule: an unknown or missing category, a period below its
    minimum. [] = usable."""
    known = {c.name: c for c in CATEGORIES}
    problems = [f"unknown retention category {name!r}" for name in days if name not in known]
    for c in CATEGORIES:
        if c.name not in days:
            problems.append(f"{c.name}: no period given")
        elif days[c.name] < c.minimum_days:
            problems.append(f"{c.name}: {days[c.name]} days is below the minimum of "
                            f"{c.minimum_days}")
    return problems


@dataclass(frozen=True)
class _Run:
    state: State
    dry_run: bool
    limit: int
    stamp: dict[str, str]  # what an anonymised record says of the run

    @property
    def pg(self) -> bool:
        return self.state.db.dialect == "postgresql"


def run_retention(state: State, days: Mapping[str, int], *, actor: str, dry_run: bool,
                  now: datetime | None = None, limit: int = 5000) -> RetentionRun:
    """Every category in schedule order; one audit event unless ``dry_run`` (which changes
    nothing at all). ``days``: the period of each category (`schedule_problems` first)."""
    problems = schedule_problems(days)
    if problems:
        raise ValueError("; ".join(problems))
    if limit < 1:
        raise ValueError("limit must be at least 1")
    now = (now or datetime.now(UTC)).astimezone(UTC)
    run_id = f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(4)}"
    run = _Run(state, dry_run, limit, {"run": run_id, "at": now.isoformat(timespec="seconds")})
    outcomes: list[Outcome] = []

    def audit(failed: str = "") -> dict[str, Any]:
        details = {"run": run_id, "schedule": dict(days),
                   "categories": {o.category: o.to_json() for o in outcomes}}
        return append_event(state.store, actor=actor, action="retention",
                            object=f"retention/{run_id}",
                            details={**details, "failed": failed} if failed else details)

    for category in CATEGORIES:
        cutoff = now - timedelta(days=days[category.name])
        try:
            outcomes.append(_HANDLERS[category.name](run, category, days[category.name],
                                                     cutoff))
        except Exception as exc:  # what the finished categories did is recorded all the same
            if not dry_run:
                with contextlib.suppress(Exception):
                    audit(f"{category.name}: {type(exc).__name__}")
            raise
    result = RetentionRun(run_id, now.isoformat(timespec="seconds"), dry_run, tuple(outcomes))
    if dry_run:
        return result
    return RetentionRun(result.run_id, result.at, False, result.outcomes, audit()["seq"])


# --------------------------------------------------------------------------- plain rows


def _purge(run: _Run, table: Table, key: ColumnElement[Any], due: ColumnElement[bool]
           ) -> int:
    """Delete the rows ``due`` selects, BULK_CHUNK per statement; how many (would be)."""
    if run.dry_run:
        with run.state.db.read() as s:
            return s.execute(select(func.count()).select_from(table).where(due)).scalar_one()
    done = 0
    while True:
        with run.state.db.write() as s:
            batch = s.execute(delete(table).where(
                key.in_(select(key).where(due).limit(BULK_CHUNK)))).rowcount or 0
        done += batch
        if batch < BULK_CHUNK:
            return done


def _outcome(category: Category, days: int, cutoff: datetime, count: int,
             **kw: Any) -> Outcome:
    return Outcome(category.name, category.action, days, cutoff.isoformat(timespec="seconds"),
                   count, **kw)


def _sessions(run: _Run, category: Category, days: int, cutoff: datetime) -> Outcome:
    count = _purge(run, sessions, sessions.c.token_sha256, sessions.c.expires_at < cutoff)
    return _outcome(category, days, cutoff, count)


def _throttle_hits(run: _Run, category: Category, days: int, cutoff: datetime) -> Outcome:
    count = _purge(run, throttle_hits, throttle_hits.c.id, throttle_hits.c.at < cutoff)
    return _outcome(category, days, cutoff, count)


def _spent_tokens(run: _Run, category: Category, days: int, cutoff: datetime) -> Outcome:
    count = _purge(run, spent_tokens, spent_tokens.c.token_sha256,
                   spent_tokens.c.spent_at < cutoff)
    return _outcome(category, days, cutoff, count)


def _access_events(run: _Run, category: Category, days: int, cutoff: datetime) -> Outcome:
    """Only days already hashed into the audit chain: a row deleted before its day's seal
    would leave that day unprovable."""
    with run.state.db.read() as s:
        sealed = get_pointer(s, SEALED_POINTER)
    sealed_end = (datetime.combine(date.fromisoformat(sealed) + timedelta(days=1), time.min,
                                   UTC) if sealed else None)
    until = min(cutoff, sealed_end) if sealed_end else None
    count = _purge(run, access_events, access_events.c.id,
                   access_events.c.at < until) if until else 0
    note = ""
    if until != cutoff:
        with run.state.db.read() as s:
            waiting = s.execute(select(func.count()).select_from(access_events).where(
                access_events.c.at < cutoff, *([access_events.c.at >= until] if until else [])
            )).scalar_one()
        if waiting:
            note = (f"{waiting} rows past their date are kept until their day is sealed into "
                    "the audit chain")
    return _outcome(category, days, cutoff, count, note=note)


# --------------------------------------------------------------------------- complaints


def _complaint_due(cutoff: datetime) -> ColumnElement[bool]:
    """Closed, last step before ``cutoff``, with a contact detail left."""
    c = complaints.c
    last = (select(func.max(complaint_events.c.at))
            .where(complaint_events.c.complaint_id == c.complaint_id).scalar_subquery())
    return and_(c.closed.is_(True), last < cutoff,
                or_(c.name != "", c.phone != "", c.email != "", c.address != ""))


def _complaint_contacts(run: _Run, category: Category, days: int, cutoff: datetime
                        ) -> Outcome:
    """Name, phone, e-mail and address go; the complaint, its answers and its history stay
    (what was complained about and decided is the agency's record)."""
    c = complaints.c
    with run.state.db.read() as s:
        found = list(s.execute(select(c.complaint_id).where(_complaint_due(cutoff))
                               .order_by(c.created_at, c.complaint_id)
                               .limit(run.limit + 1)).scalars())
    more, found = len(found) > run.limit, found[:run.limit]
    done = found
    if not run.dry_run:
        done = []
        for chunk in _chunks(found, ROW_CHUNK):
            with run.state.db.write() as s:
                ids = list(s.execute(
                    update(complaints).where(c.complaint_id.in_(chunk), _complaint_due(cutoff))
                    .values(name="", phone="", email="", address="")
                    .returning(c.complaint_id)).scalars())
            done += sorted(ids)
    return _outcome(category, days, cutoff, len(done), ids=tuple(done), more=more)


# --------------------------------------------------------------------------- rejected uploads


def _rejected_upload(cutoff: datetime) -> ColumnElement[bool]:
    """A case refused at intake or at the quality gate (scan again), longer ago than the
    period: no Art 22 refusal, no register number, no copy."""
    c = cases.c
    return and_(c.status == "rejected", c.reason.not_in(sorted(KEPT_REJECTIONS)),
                c.copy_id.is_(None), c.register_number.is_(None), c.status_at < cutoff,
                ~exists().where(refusals.c.case_id == c.case_id))


def _not_anonymised() -> ColumnElement[bool]:
    return or_(cases.c.name != "", cases.c.person_id != "")


def _bytes_in_use(s: Session, store: ObjectStore, shas: Sequence[str], cutoff: datetime
                  ) -> dict[str, str]:
    """{sha256: why} of the bytes that must stay: another case that is not a due rejected
    upload (live, filed, refused, or rejected too recently), a copy issued from them, a
    refusal on record. The catalogue answers; the refusal objects of the communes that had
    the bytes are looked at too, in case the catalogue is behind."""
    if not shas:
        return {}
    c = cases.c
    blocked = dict.fromkeys(s.execute(union(
        select(c.sha256).where(c.sha256.in_(shas), not_(_rejected_upload(cutoff))),
        select(copies.c.original_sha256).where(copies.c.original_sha256.in_(shas)),
        select(refusals.c.sha256).where(refusals.c.sha256.in_(shas)))).scalars(), "in_use")
    for sha, agency, created, decided in s.execute(
            select(c.sha256, c.agency, c.created_at, c.status_at).where(c.sha256.in_(shas))):
        if sha in blocked:
            continue
        years = {moment.astimezone(VN_TZ).year for moment in (created, decided)}
        if any(store.exists(refusal_key(agency, year, sha)) for year in years):
            blocked[sha] = "on_record"
    return blocked


def _upload_keys(store: ObjectStore, sha: str) -> list[str]:
    """The objects of one upload: what was derived from it first, the bytes last."""
    keys = [k for k in store.list(f"documents/{sha}/") if k != ocr_key(sha)]
    keys += [k for k in (ocr_key(sha), original_key(sha)) if store.exists(k)]
    return keys


def _rejected_uploads(run: _Run, category: Category, days: int, cutoff: datetime) -> Outcome:
    """The bytes and what was derived from them are deleted; the case record stays as an
    anonymised row (status, reason, times: the dossier's figures count it) without the
    file's name, the person's ID or the findings; its corrections are deleted."""
    c, store = cases.c, run.state.store
    due = and_(_rejected_upload(cutoff), _not_anonymised())
    with run.state.db.read() as s:
        found = list(s.execute(select(c.case_id).where(due)
                               .order_by(c.status_at, c.case_id).limit(run.limit + 1)).scalars())
    more, found = len(found) > run.limit, found[:run.limit]
    ids: list[str] = []
    keys: list[str] = []
    kept: dict[str, Kept] = {}
    note = ""
    for chunk in _chunks(found, ROW_CHUNK):
        session = run.state.db.read if run.dry_run else run.state.db.write
        with session() as s:
            query = select(c.case_id, c.sha256, c.version, c.data).where(
                c.case_id.in_(chunk), due)
            rows = s.execute(query.with_for_update() if run.pg and not run.dry_run
                             else query).all()
            shas = sorted({r.sha256 for r in rows})
            blocked = _bytes_in_use(s, store, shas, cutoff)
            try:
                for sha in shas:
                    if sha in blocked:
                        kept[sha] = Kept(blocked[sha], original_key(sha))
                        continue
                    for key in _upload_keys(store, sha):
                        if run.dry_run:
                            keys.append(key)
                            continue
                        try:
                            if store.delete(key):
                                keys.append(key)
                        except ObjectLocked:
                            kept[key] = Kept("locked", key)
            except OSError as exc:  # the store went away: these records wait for next run
                note = f"stopped: the store failed ({type(exc).__name__}); run again"
                break
            if not run.dry_run:
                rows = [r for r in rows if _anonymise_rejected(s, r, run.stamp)]
                s.execute(delete(corrections).where(
                    corrections.c.case_id.in_([r.case_id for r in rows])))
            ids += [r.case_id for r in rows]
    return _outcome(category, days, cutoff, len(ids), ids=tuple(ids), keys=tuple(keys),
                    kept=tuple(kept.values()), more=more or bool(note), note=note)


def _anonymise_rejected(s: Session, row: Any, stamp: dict[str, str]) -> bool:
    data = {k: v for k, v in (row.data or {}).items() if k in KEPT_REJECTION_KEYS}
    return _set_case(s, row, name="", person_id="", data={**data, "retention": stamp})


def _set_case(s: Session, row: Any, **values: Any) -> bool:
    """Compare-and-set on the case's version, as every change of a case is."""
    done = s.execute(update(cases).where(cases.c.case_id == row.case_id,
                                         cases.c.version == row.version)
                     .values(**values, version=row.version + 1))
    return done.rowcount == 1


# --------------------------------------------------------------------------- finished dossiers


def _finished_case(cutoff: datetime) -> ColumnElement[bool]:
    """A case of a dossier that finished before ``cutoff`` whose record still holds data the
    e-copy keeps or nobody needs (fields, card QR, review messages, corrections)."""
    d, c = dossiers.c, cases.c
    return and_(d.finished_at < cutoff, d.opened_at < cutoff, c.status.in_(sorted(TERMINAL)),
                or_(*(c.data[key].as_string().is_not(None) for key in CLEARED_KEYS)))


def _closed_dossiers(run: _Run, category: Category, days: int, cutoff: datetime) -> Outcome:
    """The e-copy's manifest and metadata keep the fields that were certified; the case
    keeps its status, history, type, classification, register entry and copy key. The
    corrections keep who corrected which field of which type when, not the values."""
    c = cases.c
    base = select(c.case_id, c.version, c.data).join(
        dossiers, dossiers.c.dossier_id == c.dossier_id).where(_finished_case(cutoff))
    with run.state.db.read() as s:
        found = list(s.execute(base.with_only_columns(c.case_id)
                               .order_by(dossiers.c.finished_at, c.case_id)
                               .limit(run.limit + 1)).scalars())
    more, found = len(found) > run.limit, found[:run.limit]
    done = found
    if not run.dry_run:
        done = []
        for chunk in _chunks(found, ROW_CHUNK):
            with run.state.db.write() as s:
                query = base.where(c.case_id.in_(chunk))
                rows = s.execute(query.with_for_update(of=cases) if run.pg else query).all()
                cleared = [r for r in rows if _set_case(s, r, data={
                    **{k: v for k, v in (r.data or {}).items() if k not in CLEARED_KEYS},
                    "retention": run.stamp})]
                _clear_corrections(s, [r.case_id for r in cleared])
            done += [r.case_id for r in cleared]
    return _outcome(category, days, cutoff, len(done), ids=tuple(done), more=more)


def _clear_corrections(s: Session, case_ids: Sequence[str]) -> None:
    if not case_ids:
        return
    for row in s.execute(select(corrections.c.id, corrections.c.fields, corrections.c.machine)
                         .where(corrections.c.case_id.in_(case_ids))).all():
        machine = row.machine or {}
        s.execute(update(corrections).where(corrections.c.id == row.id).values(
            fields=dict.fromkeys(row.fields or {}, ""),
            machine={"doc_type": machine.get("doc_type")} if "doc_type" in machine else {}))


def _chunks(items: Sequence[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield list(items[start:start + size])


_HANDLERS: dict[str, Callable[[_Run, Category, int, datetime], Outcome]] = {
    "sessions": _sessions,
    "throttle_hits": _throttle_hits,
    "spent_tokens": _spent_tokens,
    "access_events": _access_events,
    "complaint_contacts": _complaint_contacts,
    "rejected_uploads": _rejected_uploads,
    "closed_dossiers": _closed_dossiers,
}
