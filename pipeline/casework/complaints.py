"""Complaints ("khiếu nại") and feedback ("phản ánh, kiến nghị") about a dossier or an e-copy.

A complaint names what it is about the way the complainant holds it: a dossier by its public
status code (on the receipt), an e-copy by its copy id (printed on the copy and in its QR
link). It is filed with the commune responsible: the dossier's agency, or the agency whose
register holds the copy's certification (its successor after a merger). The complaint is
written once and each step (accept / answer / close / reopen) is the next numbered event,
added by compare-and-set (storage.db.complaints), so two staff members acting at the same
moment never both succeed: the loser re-reads the history and is refused if the step no
longer applies (a complaint is closed once). Nothing is stored about the state that can be
computed: status, due date and overdue follow from the events and the legal time limits.

The complainant's contact details are personal data: they are working state in the
database, for the staff of that commune; `public_view` is what the follow-up code shows (no
contact, no staff user names). The id is 128 random bits; the follow-up code 60 bits of an
alphabet without look-alikes, like the dossier status code.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import unicodedata
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from datetime import UTC, date, datetime, time, timedelta, timezone

from sqlalchemy.orm import Session

from storage.db import complaints as rows
from storage.db.catalogue import copy_row
from storage.db.dossiers import AGENCY, CODE_ALPHABET, dossier_by_code
from storage.db.paging import Page
from storage.db.successions import successor_of

COMPLAINT_ID = re.compile(r"^[0-9a-f]{32}$")
FOLLOW_CODE = re.compile(f"^[{CODE_ALPHABET}]{{12}}$")
COPY_ID = re.compile(r"^[0-9a-f]{32}$")  # uuid4().hex, as pipeline.steps.certify makes them
VN = timezone(timedelta(hours=7))

KINDS = ("complaint", "feedback")  # khiếu nại / phản ánh, kiến nghị
TARGETS = ("dossier", "copy")
FILERS = ("citizen", "agency")
ACTIONS = ("accept", "answer", "close", "reopen")

# Length limits, in characters after normalisation (NFC, trimmed, control characters removed).
MAX_NAME = 100
MAX_ORGANISATION = 200
MAX_PHONE = 20
MAX_EMAIL = 254
MAX_ADDRESS = 300
MAX_TEXT = 4000
MAX_ANSWER = 4000
MAX_TARGET = 64
MAX_EVENTS = 200  # a complaint's history is bounded; past it, file a new one
FIELD_LIMITS = {"name": MAX_NAME, "organisation": MAX_ORGANISATION, "phone": MAX_PHONE,
                "email": MAX_EMAIL, "address": MAX_ADDRESS, "text": MAX_TEXT,
                "target": MAX_TARGET}

# Stable reason codes of refusals (the web and CLI turn them into vi/en messages).
TOO_LONG = "complaint_field_too_long"
MISSING = "complaint_field_missing"
BAD_VALUE = "complaint_bad_value"
UNKNOWN_TARGET = "complaint_unknown_target"
BAD_STEP = "complaint_step_not_allowed"


@dataclass(frozen=True)
class TimeLimit:
    days: int
    working_days: bool  # working days of the calendar the caller gives (see due_date)
    source: str


@dataclass(frozen=True)
class LegalLimits:
    accept: TimeLimit  # from filing to acceptance ("thụ lý")
    resolve: TimeLimit  # from acceptance to the answer/decision
    resolve_complex: TimeLimit  # the same for a case marked complex


# The legal time limits as data. Days are counted from the day after the start, in Vietnam
# time, and a limit ends at the end of its last day. Items marked [check] need a lawyer's
# confirmation before production; see docs/complaints.md.
TIME_LIMITS: dict[str, LegalLimits] = {
    "complaint": LegalLimits(
        accept=TimeLimit(10, False, "Luật Khiếu nại 2011 (02/2011/QH13), Điều 27: thụ lý trong "
                                    "10 ngày kể từ ngày nhận khiếu nại [check: ngày làm việc?]"),
        resolve=TimeLimit(30, False, "Luật Khiếu nại 2011, Điều 28: giải quyết lần đầu không "
                                     "quá 30 ngày kể từ ngày thụ lý"),
        resolve_complex=TimeLimit(45, False, "Luật Khiếu nại 2011, Điều 28: vụ việc phức tạp "
                                             "không quá 45 ngày (vùng sâu, vùng xa: 45/60 ngày, "
                                             "chưa áp dụng) [check]"),
    ),
    "feedback": LegalLimits(
        accept=TimeLimit(5, True, "Nghị định 20/2008/NĐ-CP (sửa đổi bởi NĐ 92/2017/NĐ-CP): "
                                  "tiếp nhận, phân loại phản ánh, kiến nghị [check]"),
        resolve=TimeLimit(10, True, "Nghị định 20/2008/NĐ-CP: xử lý phản ánh, kiến nghị "
                                    "[check]"),
        resolve_complex=TimeLimit(20, True, "Nghị định 20/2008/NĐ-CP: trường hợp phức tạp "
                                            "[check]"),
    ),
}


class ComplaintError(ValueError):
    """A complaint or a step that cannot be taken: `reason` is the stable code, `field` the
    form field at fault ("" when none)."""

    def __init__(self, reason: str, field: str = "", detail: str = "") -> None:
        super().__init__(f"{reason}: {field or detail}")
        self.reason, self.field, self.detail = reason, field, detail


@dataclass(frozen=True)
class Complaint:
    complaint_id: str
    public_code: str  # the complainant's follow-up code
    agency: str  # commune responsible: the dossier's, or the copy's certifying agency
    kind: str  # complaint / feedback
    target_type: str  # dossier / copy
    target: str  # the dossier's status code or the copy id, as the complainant holds it
    filer: str  # citizen / agency
    name: str  # the complainant (or the agency's contact person): personal data
    organisation: str
    phone: str
    email: str
    address: str
    text: str
    created_at: str  # ISO UTC
    dossier_id: str = ""  # for staff: the dossier a status code named

    @property
    def ref(self) -> str:
        """How the audit log names it (no personal data)."""
        return f"complaints/{self.agency}/{self.complaint_id}"


@dataclass(frozen=True)
class Event:
    seq: int
    action: str  # accept / answer / close / reopen
    at: str  # ISO UTC
    by: str  # staff user name (never shown publicly)
    text: str = ""
    complex: bool = False  # accept: the case is complex (longer resolution limit)


@dataclass(frozen=True)
class State:
    status: str  # received / accepted / answered / closed
    accepted_at: str
    closed_at: str
    complex: bool
    due: str  # ISO date the running limit ends on ("" when closed)
    overdue: bool


def _weekday(day: date) -> bool:
    return day.weekday() < 5


def clean(value: object) -> str:
    """NFC, trimmed, without control characters other than line breaks and tabs."""
    text = unicodedata.normalize("NFC", str(value or "")).replace("\r\n", "\n")
    return "".join(c for c in text if c in "\n\t" or unicodedata.category(c)[0] != "C").strip()


def check_length(field: str, value: str, limit: int) -> str:
    if len(value) > limit:
        raise ComplaintError(TOO_LONG, field, f"at most {limit} characters")
    return value


def resolve_target(s: Session, target_type: str, target: str) -> tuple[str, str, str]:
    """(agency, normalised target, dossier_id) of what the complaint is about."""
    if target_type == "dossier":
        dossier = dossier_by_code(s, target)
        if dossier is None:
            raise ComplaintError(UNKNOWN_TARGET, "target")
        return dossier.agency, dossier.public_code, dossier.dossier_id
    if target_type == "copy":
        copy_id = target.strip().lower()
        found = copy_row(s, copy_id) if COPY_ID.match(copy_id) else None
        agency = found.agency if found is not None else ""
        if not AGENCY.match(agency):
            raise ComplaintError(UNKNOWN_TARGET, "target")
        # a copy certified by a commune since merged into another: that one answers now
        return successor_of(s, agency), copy_id, ""
    raise ComplaintError(BAD_VALUE, "target_type")


def _checked_contact(values: dict[str, str]) -> None:
    if not values["name"]:
        raise ComplaintError(MISSING, "name")
    if values["filer"] == "agency" and not values["organisation"]:
        raise ComplaintError(MISSING, "organisation")
    if not (values["phone"] or values["email"] or values["address"]):
        raise ComplaintError(MISSING, "phone")
    if values["phone"] and not re.fullmatch(r"\+?[0-9][0-9 .-]{5,}", values["phone"]):
        raise ComplaintError(BAD_VALUE, "phone")
    if values["email"] and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", values["email"]):
        raise ComplaintError(BAD_VALUE, "email")
    if not values["text"]:
        raise ComplaintError(MISSING, "text")


def file_complaint(s: Session, *, kind: str, target_type: str, target: str,
                   filer: str, name: str, text: str, organisation: str = "", phone: str = "",
                   email: str = "", address: str = "", now: datetime | None = None,
                   working_day: Callable[[date], bool] = _weekday) -> Complaint:
    """Check, route and store a new complaint; ComplaintError says what is wrong."""
    given = {"name": name, "organisation": organisation, "phone": phone, "email": email,
             "address": address, "text": text, "target": target}
    values = {"kind": clean(kind), "target_type": clean(target_type), "filer": clean(filer)}
    for field, limit in FIELD_LIMITS.items():
        values[field] = check_length(field, clean(given[field]), limit)
    for field, allowed in (("kind", KINDS), ("target_type", TARGETS), ("filer", FILERS)):
        if values[field] not in allowed:
            raise ComplaintError(BAD_VALUE, field)
    _checked_contact(values)
    agency, target_norm, dossier_id = resolve_target(s, values["target_type"],
                                                     values["target"])
    created = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    while True:
        complaint = Complaint(
            secrets.token_hex(16), "".join(secrets.choice(CODE_ALPHABET) for _ in range(12)),
            agency, values["kind"], values["target_type"], target_norm, values["filer"],
            values["name"], values["organisation"], values["phone"], values["email"],
            values["address"], values["text"], created.isoformat(timespec="seconds"),
            dossier_id)
        due = state_of(complaint, [], working_day=working_day).due
        if rows.insert_complaint(s, {**asdict(complaint), "created_at": created,
                                     "closed": False, "due": due}):
            return complaint  # else the id or the code is taken: draw again


def complaint_digest(complaint: Complaint) -> str:
    """The sha256 the audit log records for a filed complaint (its canonical JSON)."""
    raw = json.dumps(asdict(complaint), ensure_ascii=False, sort_keys=True).encode("utf-8")
    return hashlib.sha256(raw).hexdigest()


def _complaint(row: object) -> Complaint:
    values = {f.name: getattr(row, f.name) for f in fields(Complaint)}
    values["created_at"] = row.created_at.isoformat(timespec="seconds")  # type: ignore[attr-defined]
    return Complaint(**values)


def load_complaint(s: Session, agency: str, complaint_id: str) -> Complaint | None:
    if not AGENCY.match(agency or "") or not COMPLAINT_ID.match(complaint_id or ""):
        return None
    row = rows.complaint_row(s, agency, complaint_id)
    return _complaint(row) if row is not None else None


def complaint_by_code(s: Session, code: str) -> Complaint | None:
    """The complaint a follow-up code names (case-insensitive for complainants)."""
    code = code.strip().upper()
    if not FOLLOW_CODE.match(code):
        return None
    row = rows.complaint_by_code(s, code)
    return _complaint(row) if row is not None else None


def list_complaints(s: Session, agency: str | None = None, *, cursor: str = "",
                    limit: int | None = None) -> Page[Complaint]:
    """The complaints of one commune (all communes when None), oldest first."""
    if agency is not None and not AGENCY.match(agency):
        return Page([])
    page = rows.complaint_page(s, agency, cursor=cursor, limit=limit)
    return Page([_complaint(r) for r in page.items], page.next_cursor)


def events_of(s: Session, complaint: Complaint) -> list[Event]:
    return [Event(r.seq, r.action, r.at.isoformat(timespec="seconds"), r.by, r.text,
                  r.complex) for r in rows.event_rows(s, complaint.complaint_id)]


def _allowed_step(action: str, status: str) -> bool:
    if action == "accept":
        return status == "received"
    if action in ("answer", "close"):
        return status != "closed"
    return action == "reopen" and status == "closed"


def add_event(s: Session, complaint: Complaint, action: str, *, by: str,
              text: str = "", complex_case: bool = False, now: datetime | None = None,
              working_day: Callable[[date], bool] = _weekday) -> tuple[Event, str]:
    """Append the next step; ComplaintError(BAD_STEP) when it does not apply to the complaint
    as it now stands. Returns the event and the sha256 the audit log records for it."""
    text = check_length("text", clean(text), MAX_ANSWER)
    if action not in ACTIONS:
        raise ComplaintError(BAD_VALUE, "action")
    if action == "answer" and not text:
        raise ComplaintError(MISSING, "text")
    while True:
        events = events_of(s, complaint)
        if len(events) >= MAX_EVENTS:
            raise ComplaintError(BAD_STEP, "action", "too many events")
        status = state_of(complaint, events, working_day=working_day).status
        if not _allowed_step(action, status):
            raise ComplaintError(BAD_STEP, "action", f"{action} after {status}")
        at = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
        event = Event(len(events) + 1, action, at.isoformat(timespec="seconds"), by, text,
                      complex_case and action == "accept")
        after = state_of(complaint, [*events, event], working_day=working_day)
        if rows.append_event(s, complaint.complaint_id, len(events), {
                "action": action, "at": at, "by": by, "text": text,
                "complex": event.complex}, closed=after.status == "closed", due=after.due):
            raw = json.dumps(asdict(event), ensure_ascii=False, sort_keys=True).encode()
            return event, hashlib.sha256(raw).hexdigest()


def due_date(start_iso: str, limit: TimeLimit,
             working_day: Callable[[date], bool] = _weekday) -> date:
    """The last day of a time limit that starts on the day of `start_iso` (Vietnam time).

    ``working_day`` is the shell's calendar with public holidays and make-up Saturdays
    (pipeline.casework.procedures.calendar); Monday to Friday when none is given, which can
    only make
    a complaint due earlier, never later."""
    day = datetime.fromisoformat(start_iso).astimezone(VN).date()
    left = limit.days
    while left > 0:
        day += timedelta(days=1)
        if not limit.working_days or working_day(day):
            left -= 1
    return day


def state_of(complaint: Complaint, events: list[Event], now: datetime | None = None,
             working_day: Callable[[date], bool] = _weekday) -> State:
    """Where a complaint stands now, and whether its running time limit has passed."""
    status, accepted_at, closed_at, complex_case = "received", "", "", False
    for event in events:
        if event.action == "accept":
            status, accepted_at, complex_case = "accepted", event.at, event.complex
        elif event.action == "answer":
            accepted_at = accepted_at or event.at  # answering accepts the case too
            status = "answered"
        elif event.action == "close":
            status, closed_at = "closed", event.at
        elif event.action == "reopen":
            status, closed_at = ("answered" if accepted_at else "received"), ""
    if status == "closed":
        return State(status, accepted_at, closed_at, complex_case, "", False)
    limits = TIME_LIMITS[complaint.kind]
    if accepted_at:
        due = due_date(accepted_at, limits.resolve_complex if complex_case else limits.resolve,
                       working_day)
    else:
        due = due_date(complaint.created_at, limits.accept, working_day)
    today = (now or datetime.now(UTC)).astimezone(VN)
    overdue = today > datetime.combine(due, time.max, tzinfo=VN)
    return State(status, accepted_at, closed_at, complex_case, due.isoformat(), overdue)


def public_view(complaint: Complaint, events: list[Event], now: datetime | None = None,
                working_day: Callable[[date], bool] = _weekday) -> dict[str, object]:
    """What the follow-up code shows: the complaint as filed minus every contact detail, its
    status, and the staff answers with their dates (never who wrote them)."""
    state = state_of(complaint, events, now, working_day)
    return {
        "code": complaint.public_code, "kind": complaint.kind,
        "target_type": complaint.target_type, "target": complaint.target,
        "text": complaint.text, "created_at": complaint.created_at,
        "status": state.status, "due": state.due,
        "answers": [{"action": e.action, "at": e.at, "text": e.text} for e in events
                    if e.text or e.action in ("close", "reopen")],
    }
