"""`ecopy db import`: the database of a store made before it had one.

Until ecopy 0.1 kept its working state as objects beside the evidence: records keyed by the
original's sha256 (documents/<sha>/record.json), dossiers and their links, papers, accounts,
complaints, the outbox's items and their state, batches, the active model and successions.
This reads them (one listing of each prefix: an operator's command) and writes the rows the
current code keeps instead, then indexes the evidence (storage.db.rebuild). The objects stay
where they are: nothing in the store is changed or removed.

The old records were shared by every dossier that held the same original; each link of a
dossier to an original becomes one case with the record's status, findings and history. A
record no dossier links (a batch of `ecopy process` or `ecopy submit`) goes into the person's
desk dossier at the commune that certified or refused it (else ``default_agency``), as
`ecopy process` files papers today.

Every insert is "if absent", so a second run adds nothing and an interrupted run resumes.
Objects that cannot be placed (unreadable, or naming what does not exist) are reported by key.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from storage.backends import ObjectStore
from storage.db import insert_once, instant
from storage.db.cases import new_case_id
from storage.db.dossiers import (
    DOSSIER_ID,
    Dossier,
    desk_dossier,
    folded_name,
    refresh_progress,
)
from storage.db.pointers import get_pointer, set_pointer
from storage.db.rebuild import Findings, sync_catalogue
from storage.db.schema import (
    accounts,
    batches,
    case_events,
    cases,
    complaint_events,
    complaints,
    corrections,
    dossiers,
    outbox,
    papers,
)
from storage.db.successions import add_predecessor
from storage.state import State

COLUMNS = ("pages", "doc_type", "document_name", "reason", "ground_code")
# (closed, due) of a complaint after its events: pipeline.casework.complaints.state_of
ComplaintState = Callable[[dict[str, Any], list[dict[str, Any]]], tuple[bool, str]]


def _load(store: ObjectStore, key: str) -> dict[str, Any] | None:
    try:
        data = json.loads(store.get(key))
    except (KeyError, ValueError):
        return None
    return data if isinstance(data, dict) else None


class LegacyImport:
    def __init__(self, state: State, *, default_agency: str,
                 complaint_state: ComplaintState) -> None:
        self.state, self.store = state, state.store
        self.default_agency = default_agency
        self.complaint_state = complaint_state
        self.found = Findings()
        self.records: dict[str, dict[str, Any]] = {}
        self.linked: set[str] = set()

    def _keys(self, prefix: str) -> Iterator[str]:
        yield from self.store.list(prefix)

    def _unplaced(self, key: str, why: str) -> None:
        self.found.add("unplaced")
        self.found.problems.append(f"{key}: {why}")

    # ------------------------------------------------------------------ run

    def run(self) -> Findings:
        self._records()
        self._dossiers()
        self._unlinked_records()
        self._accounts()
        self._complaints()
        self._outbox()
        self._pointers_batches_successions()
        catalogue = sync_catalogue(self.store, self.state.db, repair=True)
        for kind, n in catalogue.counts.items():
            self.found.add(f"catalogue.{kind}", n)
        self.found.problems += catalogue.problems
        return self.found

    def _records(self) -> None:
        for key in self._keys("documents/"):
            parts = key.split("/")
            if len(parts) == 3 and parts[2] == "record.json":
                record = _load(self.store, key)
                if record is None:
                    self._unplaced(key, "unreadable record")
                else:
                    self.records[parts[1]] = record

    # ------------------------------------------------------------------ dossiers + cases

    def _dossiers(self) -> None:
        found: dict[str, Dossier] = {}
        links: list[tuple[str, str]] = []
        paper_keys: list[tuple[str, str]] = []
        for key in self._keys("dossiers/"):
            parts = key.split("/")
            if len(parts) < 4 or not DOSSIER_ID.match(parts[2]):
                self._unplaced(key, "not a dossier object")
            elif parts[3] == "dossier.json" and len(parts) == 4:
                data = _load(self.store, key)
                try:
                    found[parts[2]] = Dossier(**data)  # type: ignore[arg-type]
                except TypeError:
                    self._unplaced(key, "unreadable dossier")
            elif parts[3] == "documents" and len(parts) == 5:
                links.append((parts[2], key))
            elif parts[3] == "papers" and len(parts) == 5:
                paper_keys.append((parts[2], key))
            else:
                self._unplaced(key, "not a dossier object")
        with self.state.db.write() as s:
            for dossier in found.values():
                self._dossier_row(s, dossier)
        for dossier_id, key in links:
            link = _load(self.store, key)
            dossier = found.get(dossier_id)
            if link is None or dossier is None:
                self._unplaced(key, "a link without its dossier")
                continue
            sha = str(link.get("sha256", ""))
            record = self.records.get(sha)
            if record is None:
                self._unplaced(key, "links an original without a record")
                continue
            self.linked.add(sha)
            with self.state.db.write() as s:
                self._case(s, dossier, sha, record, name=str(link.get("name") or ""),
                           at=instant(link.get("at")))
        with self.state.db.write() as s:
            for dossier_id, key in paper_keys:
                data = _load(self.store, key)
                if data is None or dossier_id not in found or not data.get("doc_type"):
                    self._unplaced(key, "unreadable paper answer")
                    continue
                if insert_once(s, papers, {"dossier_id": dossier_id, "doc_type": data["doc_type"],
                                       "status": data.get("status", "requested"),
                                       "at": instant(data.get("at")), "data": data}):
                    self.found.add("papers")

    def _dossier_row(self, s: Session, dossier: Dossier) -> None:
        if insert_once(s, dossiers, {
                "dossier_id": dossier.dossier_id, "agency": dossier.agency,
                "person_id": dossier.person_id, "person_name": dossier.person_name,
                "name_folded": folded_name(dossier.person_name),
                "date_of_birth": dossier.date_of_birth, "opened_by": dossier.opened_by,
                "opened_at": instant(dossier.opened_at), "note": dossier.note,
                "public_code": dossier.public_code or None, "procedure": dossier.procedure,
                "channel": dossier.channel, "former_agency": dossier.former_agency,
                "documents": 0, "pages": 0, "open_documents": 0}):
            self.found.add("dossiers")
            refresh_progress(s, dossier.dossier_id, self.state.deadlines)

    def _case(self, s: Session, dossier: Dossier, sha: str, record: dict[str, Any], *,
              name: str, at: datetime) -> None:
        if s.execute(select(cases.c.case_id).where(cases.c.dossier_id == dossier.dossier_id,
                                                   cases.c.sha256 == sha)).first():
            return  # imported by an earlier run
        history = [h for h in record.get("history") or [] if isinstance(h, dict)]
        created = instant(history[0].get("at"), at) if history else at
        status_at = instant(history[-1].get("at"), created) if history else created
        entry = record.get("register_entry") if isinstance(record.get("register_entry"),
                                                            dict) else None
        data = {k: v for k, v in record.items()
                if k not in (*COLUMNS, "history", "status", "sha256", "name", "kind", "size",
                             "person_id", "owner", "copy_id", "batch_id")}
        case_id = new_case_id()
        values = {"case_id": case_id, "dossier_id": dossier.dossier_id,
                  "agency": dossier.agency, "sha256": sha,
                  "name": str(record.get("name") or name)[:255],
                  "kind": str(record.get("kind") or ""), "size": int(record.get("size") or 0),
                  "person_id": str(record.get("person_id") or dossier.person_id),
                  "status": str(record.get("status") or "received"), "version": 1,
                  "created_at": created, "status_at": status_at, "owner": "",
                  "copy_id": record.get("copy_id") or None,
                  "register_year": entry.get("year") if entry else None,
                  "register_number": entry.get("number") if entry else None,
                  "batch_id": str(record.get("batch_id") or ""), "data": data,
                  **{k: (int(record.get(k) or 0) if k == "pages" else str(record.get(k) or ""))
                     for k in COLUMNS}}
        if not insert_once(s, cases, values):
            values["copy_id"] = None  # the same copy in two dossiers: the first keeps it
            values["data"] = {**data, "copy_also_in_case": True}
            if not insert_once(s, cases, values):
                return
        for seq, event in enumerate(history, 1):
            s.execute(insert(case_events).values(
                case_id=case_id, seq=seq, status=str(event.get("status", "")),
                at=instant(event.get("at"), created), reason=str(event.get("reason", ""))[:64],
                actor=""))
        for ckey in self.store.list(f"documents/{sha}/corrections/"):
            made = _load(self.store, ckey)
            if made is not None:
                s.execute(insert(corrections).values(
                    case_id=case_id, at=instant(made.get("at")), actor=str(made.get("actor")),
                    doc_type=made.get("doc_type"), fields=made.get("fields") or {},
                    machine=made.get("machine") or {}))
        refresh_progress(s, dossier.dossier_id, self.state.deadlines)
        self.found.add("cases")

    def _unlinked_records(self) -> None:
        """Records of batch runs (no dossier): into the person's desk dossier."""
        for sha, record in sorted(self.records.items()):
            if sha in self.linked:
                continue
            entry = record.get("register_entry") or {}
            agency = str(entry.get("agency_code") or self.default_agency)
            person = str(record.get("person_id") or "")
            with self.state.db.write() as s:
                dossier = self._desk(s, agency, person)
                self._case(s, dossier, sha, record, name=str(record.get("name") or ""),
                           at=instant((record.get("history") or [{}])[0].get("at")))

    def _desk(self, s: Session, agency: str, person: str) -> Dossier:
        return desk_dossier(s, agency=agency, person_id=person, opened_by="ecopy db import",
                            deadlines=self.state.deadlines)

    # ------------------------------------------------------------------ people

    def _accounts(self) -> None:
        with self.state.db.write() as s:
            for key in self._keys("accounts/"):
                data = _load(self.store, key)
                if data is None or not data.get("username"):
                    self._unplaced(key, "unreadable account")
                    continue
                if insert_once(s, accounts, {**{k: data.get(k) for k in (
                        "username", "full_name", "role", "agency", "password_hash", "title")},
                        "title": data.get("title") or "", "full_name": data.get("full_name") or "",
                        "active": bool(data.get("active", True)),
                        "created_at": instant(data.get("created_at"))}):
                    self.found.add("accounts")

    def _complaints(self) -> None:
        filed: dict[str, str] = {}
        event_keys: dict[str, list[str]] = {}
        for key in self._keys("complaints/"):
            parts = key.split("/")
            if len(parts) == 4 and parts[3] == "complaint.json":
                filed[parts[2]] = key
            elif len(parts) == 5 and parts[3] == "events":
                event_keys.setdefault(parts[2], []).append(key)
        for complaint_id in sorted(set(filed) | set(event_keys)):
            key = filed.get(complaint_id, "")
            data = _load(self.store, key) if key else None
            if data is None:
                self._unplaced(key or f"complaints/?/{complaint_id}", "unreadable complaint")
                continue
            events = [e for k in sorted(event_keys.get(complaint_id, []))
                      if (e := _load(self.store, k))]
            closed, due = self.complaint_state(data, events)
            fields = ("complaint_id", "public_code", "agency", "kind", "target_type", "target",
                      "filer", "name", "organisation", "phone", "email", "address", "text",
                      "dossier_id")
            with self.state.db.write() as s:
                if not insert_once(s, complaints, {
                        **{f: str(data.get(f) or "") for f in fields},
                        "created_at": instant(data.get("created_at")), "events": len(events),
                        "closed": closed, "due": due}):
                    continue
                for event in events:
                    s.execute(insert(complaint_events).values(
                        complaint_id=complaint_id, seq=int(event.get("seq", 0)),
                        action=str(event.get("action", "")), at=instant(event.get("at")),
                        by=str(event.get("by", "")), text=str(event.get("text", "")),
                        complex=bool(event.get("complex"))))
                self.found.add("complaints")

    # ------------------------------------------------------------------ outbox, pointers

    def _outbox(self) -> None:
        items = []
        for key in self._keys("outbox/items/"):
            item = _load(self.store, key)
            if item is None or not item.get("key"):
                self._unplaced(key, "unreadable outbox item")
            else:
                items.append(item)
        items.sort(key=lambda i: (int(i.get("seq") or 0), i["key"]))
        with self.state.db.write() as s:
            for item in items:
                key = item["key"]
                receipt = _load(self.store, f"outbox/receipts/{key}.json")
                st = _load(self.store, f"outbox/state/{key}.json") or {}
                status = "delivered" if receipt else str(st.get("status") or "pending")
                nxt = st.get("next_attempt_at")
                if insert_once(s, outbox, {
                        "key": key, "kind": item.get("kind", ""), "ref": item.get("ref", ""),
                        "version": item.get("version", ""), "agency": item.get("agency", ""),
                        "enqueued_at": instant(item.get("enqueued_at")),
                        "payload": item.get("payload") or {}, "status": status,
                        "attempts": int((receipt or st).get("attempts") or 0),
                        "next_attempt_at": instant(nxt) if nxt else None,
                        "last_error": str(st.get("last_error") or "")[:500],
                        "last_http_status": st.get("last_http_status"),
                        "delivered_at": instant(receipt["delivered_at"]) if receipt else None,
                        "receipt": receipt}):
                    self.found.add("outbox_items")

    def _pointers_batches_successions(self) -> None:
        active = _load(self.store, "models/doctype/active.json")
        with self.state.db.write() as s:
            if active and get_pointer(s, "doctype_model") is None:
                set_pointer(s, "doctype_model", active, by=str(active.get("by", "")))
                self.found.add("pointers")
            cases_by_sha: dict[str, str] = {}
            for key in self._keys("batches/"):
                batch = _load(self.store, key)
                if batch is None or not batch.get("batch_id"):
                    self._unplaced(key, "unreadable batch")
                    continue
                documents = []
                for doc in batch.get("documents") or []:
                    sha = str(doc.get("sha256", ""))
                    if sha not in cases_by_sha:
                        cases_by_sha[sha] = s.execute(select(cases.c.case_id).where(
                            cases.c.sha256 == sha).limit(1)).scalar() or ""
                    documents.append({**doc, "case_id": cases_by_sha[sha]})
                try:
                    created = datetime.strptime(batch["batch_id"][:16], "%Y%m%dT%H%M%SZ")
                except ValueError:
                    created = datetime.now(UTC)
                if insert_once(s, batches, {"batch_id": batch["batch_id"],
                                        "created_at": created.replace(tzinfo=UTC),
                                        "data": {**batch, "documents": documents}}):
                    self.found.add("batches")
            for key in self._keys("agencies/"):
                data = _load(self.store, key)
                for p in (data or {}).get("predecessors") or []:
                    if isinstance(p, dict) and add_predecessor(s, str(data["agency"]),
                                                               str(p.get("code")), p):
                        self.found.add("successions")


def import_store(state: State, *, default_agency: str,
                 complaint_state: ComplaintState) -> Findings:
    return LegacyImport(state, default_agency=default_agency,
                        complaint_state=complaint_state).run()
