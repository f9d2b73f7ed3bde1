"""Province/commune merger migration: several former deployments' stores into one store.

Decision 19/2025/QĐ-TTg merged 63 provinces into 34 and the communes into 3,321 new ones;
each former unit ran its own ecopy store. `migrate` moves everything that is evidence into the
destination WITHOUT altering it: signed e-copies, originals, register entries (under the old
commune code the copy itself names, so `ecopy verify` still finds them), cancellations and
document records are copied byte for byte. Work in progress is re-homed to the new commune
so its staff carry on: dossiers and complaints move to the new code with `former_agency`, and
their public codes keep working. Each source's audit chain is archived whole under
audit-archive/<source>/ (still verifiable as its own chain); the destination's chain gets one
`migrate` event per source naming the report's sha256.

Every object is planned first (`plan`), then applied in phases so nothing ever points at an
object not copied yet (a PDF before its metadata, a dossier's links before dossier.json, an
outbox item before its queue marker). There is no journal: a destination key holding the same
bytes is skipped, one holding other bytes is a conflict that is reported and never
overwritten. Running again resumes an interrupted run and changes nothing after a complete one.
Policies per key prefix are listed in docs/migration.md; an unknown prefix is reported as
`unhandled` (not copied) so nothing is lost silently.
"""

from __future__ import annotations

import hashlib
import json
import re
import tempfile
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from storage.backends import ObjectStore
from storage.backends.prefixed import PrefixedStore
from storage.db import Database
from storage.db.dossiers import Dossier
from storage.db.rebuild import sync_catalogue
from storage.db.rollups import rebuild as rebuild_month_rows
from storage.db.successions import add_predecessor
from storage.evidence.audit import append_event, verify_audit
from storage.evidence.register import check_chain
from storage.migration.rows import migrate_rows
from storage.migration.succession import (
    merged_succession,
    read_succession,
    succession_bytes,
    succession_key,
)

_ID = r"\d{8}-[0-9a-f]{8}"
DOSSIER = re.compile(rf"^dossiers/(\d{{5}})/({_ID})/(.+)$")
DOC_LINK = re.compile(rf"^documents/([0-9a-f]{{64}})/dossiers/(\d{{5}})-({_ID})$")
COMPLAINT = re.compile(r"^complaints/(\d{5})/([0-9a-f]{32})/(.+)$")
AGENCY_KEY = re.compile(r"^(?:register|register-notes|refusals)/(\d{5})/")
REGISTER_ENTRY = re.compile(r"^register/(\d{5})/(\d{4})/\d+\.json$")
REGISTER_HEAD = re.compile(r"^register/\d{5}/\d{4}/HEAD\.json$")
SUCCESSION = re.compile(r"^agencies/(\d{5})\.json$")
LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
OUTBOX_CURSOR = "outbox/cursor.json"
# byte-identical copies under the same key, with the phase they are applied in
COPY_RANKS = {"originals": 0, "documents": 0, "refusals": 0, "batches": 0, "migrations": 0,
              "audit-archive": 0, "models-archive": 0, "copies": 2, "register": 3,
              "register-notes": 3, "cancellations": 3}
EXCLUDED = ("web/", "health/", "storage/")  # sessions, per-deployment secrets, probes,
# the source bucket's own object-lock policy (the destination has its own)
LARGE_SUFFIXES = (".pdf", ".npz")  # streamed through a temporary file, never held in memory
ACTIONS = ("copied", "re-homed", "archived", "merged", "skipped-same", "kept-destination",
           "conflict", "excluded", "unhandled")


@dataclass(frozen=True)
class Source:
    label: str  # names the source in the report and its audit archive
    store: ObjectStore
    db: Database | None = None  # its working state (storage.migration.rows), when it has one


@dataclass(frozen=True)
class Step:
    source: str
    key: str
    dest_key: str
    kind: str  # copy | rehome | archive | advisory | cursor | excluded | unhandled
    rank: int
    new_agency: str = ""  # rehome: the successor commune
    old_agency: str = ""


@dataclass(frozen=True)
class Outcome:
    source: str
    key: str
    dest_key: str
    source_sha256: str
    sha256: str  # of the bytes the destination holds (or would hold) under dest_key
    action: str
    detail: str = ""


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _file_sha(path: Path) -> str:
    with open(path, "rb") as fh:  # streamed: a copy can be hundreds of MB
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _mapped(mapping: dict[str, str], old: str) -> str:
    return mapping.get(old, old)


def route(label: str, key: str, mapping: dict[str, str]) -> Step:
    """Where one source key goes and how (the per-prefix policy of docs/migration.md)."""
    top = key.split("/", 1)[0]

    def step(dest: str, kind: str, rank: int, old: str = "") -> Step:
        new = _mapped(mapping, old) if old else ""
        if kind == "rehome" and new == old:
            kind = "copy"  # the commune kept its code: nothing to re-home
        return Step(label, key, dest, kind, rank, new, old)

    if key.startswith(EXCLUDED) or key.startswith("agencies/"):
        return step(key, "excluded", 9)  # agencies/: merged by record_succession
    if m := DOC_LINK.match(key):
        sha, old, did = m.groups()
        return step(f"documents/{sha}/dossiers/{_mapped(mapping, old)}-{did}", "rehome", 4, old)
    if m := DOSSIER.match(key):
        old, did, rest = m.groups()
        rank = 5 if rest == "dossier.json" else 4
        return step(f"dossiers/{_mapped(mapping, old)}/{did}/{rest}", "rehome", rank, old)
    if m := COMPLAINT.match(key):
        old, cid, rest = m.groups()
        rank = 5 if rest == "complaint.json" else 4
        return step(f"complaints/{_mapped(mapping, old)}/{cid}/{rest}", "rehome", rank, old)
    if top in ("public-status", "complaint-codes") and key.endswith(".json"):
        return Step(label, key, key, "pointer", 6)
    if top == "accounts" and key.endswith(".json"):
        return Step(label, key, key, "account", 7)
    if top == "audit":
        return step(f"audit-archive/{label}/{key}", "archive", 0)
    if top == "models":
        return step(f"models-archive/{label}/{key}", "archive", 0)
    if REGISTER_HEAD.match(key):
        return step(key, "advisory", 3)
    if key == OUTBOX_CURSOR:
        return step(key, "cursor", 9)
    if top == "outbox":
        return step(key, "copy", 8 if key.startswith(("outbox/queue/", "outbox/done/")) else 7)
    if top == "warehouse":
        return step(key, "copy", 1 if key.endswith(".pdf") else 2)
    if top in COPY_RANKS:
        return step(key, "copy", COPY_RANKS[top])
    return step(key, "unhandled", 9)


def agencies_in(store: ObjectStore) -> dict[str, set[str]]:
    """Commune code -> where it occurs (register, dossiers, accounts …): what the mapping must
    cover before anything is written."""
    found: dict[str, set[str]] = {}
    for key in store.list(""):
        m = AGENCY_KEY.match(key) or DOSSIER.match(key) or COMPLAINT.match(key)
        if m:
            found.setdefault(m.group(1), set()).add(key.split("/", 1)[0])
        elif key.startswith("accounts/") and key.endswith(".json"):
            agency = str(json.loads(store.get(key)).get("agency", ""))
            found.setdefault(agency, set()).add("accounts")
    return found


def plan(sources: Iterable[Source], mapping: dict[str, str]) -> list[Step]:
    """Every object of every source, in the order it is applied."""
    steps = [route(s.label, key, mapping) for s in sources for key in s.store.list("")]
    return sorted(steps, key=lambda s: (s.rank, s.dest_key, s.source))


def _transform(step: Step, data: bytes, mapping: dict[str, str]) -> tuple[bytes, str, str]:
    """The bytes the destination gets for a rewritten object, the action word, and the old
    commune code the object belonged to ("" when it names none)."""
    if step.kind == "rehome" and step.key.endswith("/dossier.json"):
        dossier = Dossier(**json.loads(data))
        moved = replace(dossier, agency=step.new_agency,
                        former_agency=dossier.former_agency or dossier.agency)
        return (json.dumps(asdict(moved), ensure_ascii=False, indent=2).encode("utf-8"),
                "re-homed", step.old_agency)
    if step.kind == "rehome" and step.key.endswith("/complaint.json"):
        complaint = json.loads(data)
        complaint.setdefault("former_agency", complaint.get("agency", ""))
        complaint["agency"] = step.new_agency
        return (json.dumps(complaint, ensure_ascii=False, indent=2).encode("utf-8"),
                "re-homed", step.old_agency)
    if step.kind in ("pointer", "account"):
        obj = json.loads(data)
        old = str(obj.get("agency", ""))
        if _mapped(mapping, old) == old:
            return data, "copied", old
        obj["agency"] = mapping[old]
        if step.kind == "account":  # as ecopy.accounts writes it
            return json.dumps(obj, ensure_ascii=False, indent=2).encode("utf-8"), "re-homed", old
        return json.dumps(obj).encode("utf-8"), "re-homed", old  # as dossiers.py writes it
    old = step.old_agency or ((m := AGENCY_KEY.match(step.key)) and m.group(1)) or ""
    return data, {"rehome": "re-homed", "archive": "archived"}.get(step.kind, "copied"), old


class _Applier:
    def __init__(self, sources: dict[str, ObjectStore], dest: ObjectStore,
                 mapping: dict[str, str], dry_run: bool, workdir: Path) -> None:
        self.sources, self.dest, self.mapping = sources, dest, mapping
        self.dry_run, self.workdir = dry_run, workdir
        self.seen: set[tuple[str, str]] = set()  # (source, old commune code) met on the way

    def __call__(self, step: Step) -> Outcome:
        def out(src_sha: str, sha: str, action: str, detail: str = "") -> Outcome:
            return Outcome(step.source, step.key, step.dest_key, src_sha, sha, action, detail)

        if step.kind in ("excluded", "unhandled"):
            return out("", "", step.kind, "not migrated" if step.kind == "excluded"
                       else "no migration policy for this prefix")
        src = self.sources[step.source]
        if step.key.endswith(LARGE_SUFFIXES) and step.kind in ("copy", "archive"):
            return self._large(step, src, out)
        raw = src.get(step.key)
        data, action, old = _transform(step, raw, self.mapping)
        if old:
            self.seen.add((step.source, old))
        sha, src_sha = _sha(data), _sha(raw)
        try:
            held = self.dest.get(step.dest_key)
        except KeyError:
            held = None
        if held is None:
            if self.dry_run or self.dest.put_if_absent(step.dest_key, data):
                return out(src_sha, sha, action)
            held = self.dest.get(step.dest_key)  # created meanwhile: compare as below
        if _sha(held) == sha:
            return out(src_sha, sha, "skipped-same")
        if step.kind == "advisory":
            return out(src_sha, _sha(held), "kept-destination", "advisory hint")
        if step.kind == "cursor":
            return self._cursor(held, data, src_sha, out)
        return out(src_sha, _sha(held), "conflict", "the destination holds other bytes")

    def _large(self, step: Step, src: ObjectStore, out: Callable[..., Outcome]) -> Outcome:
        with tempfile.TemporaryDirectory(dir=self.workdir) as tmp:
            mine, theirs = Path(tmp, "source"), Path(tmp, "destination")
            src.get_to_file(step.key, mine)
            sha = _file_sha(mine)
            action = "archived" if step.kind == "archive" else "copied"
            if self.dest.exists(step.dest_key):
                self.dest.get_to_file(step.dest_key, theirs)
                held = _file_sha(theirs)
                if held == sha:
                    return out(sha, sha, "skipped-same")
                return out(sha, held, "conflict", "the destination holds other bytes")
            if not self.dry_run:
                self.dest.put_file(step.dest_key, mine)
            return out(sha, sha, action)

    def _cursor(self, held: bytes, data: bytes, src_sha: str,
                out: Callable[..., Outcome]) -> Outcome:
        """The outbox cursor is the first day that may hold pending items: the earlier wins."""
        try:
            mine, theirs = json.loads(data)["bucket"], json.loads(held)["bucket"]
        except (ValueError, KeyError, TypeError):
            return out(src_sha, _sha(held), "kept-destination", "unreadable cursor")
        if mine >= theirs:
            return out(src_sha, _sha(held), "kept-destination", "outbox cursor")
        if not self.dry_run:
            self.dest.put(OUTBOX_CURSOR, data, durable=False)
        return out(src_sha, _sha(data), "merged", "outbox cursor moved back")


def record_succession(dest: ObjectStore, sources: list[Source], mapping: dict[str, str],
                      used: set[tuple[str, str]], run_id: str, names: dict[str, str],
                      dry_run: bool, dest_db: Database | None = None) -> list[Outcome]:
    """agencies/<new>.json gains every old commune migrated into it (and the predecessors a
    source itself had recorded), so the new commune's staff can see their books and copies;
    the destination database gets the same rows (storage.db.successions)."""
    now = datetime.now(UTC).isoformat(timespec="seconds")
    additions: dict[str, list[dict[str, Any]]] = {}
    for source in sources:
        for old in sorted(code for label, code in used if label == source.label):
            new = _mapped(mapping, old)
            if new != old:
                additions.setdefault(new, []).append(
                    {"code": old, "name": names.get(old, ""), "source": source.label,
                     "run_id": run_id, "migrated_at": now})
        for key in source.store.list("agencies/"):
            if m := SUCCESSION.match(key):
                record = read_succession(source.store, m.group(1))
                additions.setdefault(_mapped(mapping, m.group(1)), []).extend(
                    p for p in record["predecessors"] if isinstance(p, dict))
    outcomes = []
    for new, entries in sorted(additions.items()):
        key = succession_key(new)
        current = read_succession(dest, new)
        merged = merged_succession(current, new, _first_per_code(entries))
        action = "skipped-same"
        if merged != current:
            action = "merged"
            if not dry_run:
                dest.put(key, succession_bytes(merged))
        if dest_db is not None and not dry_run:
            with dest_db.write() as s:
                for p in merged["predecessors"]:
                    add_predecessor(s, new, str(p.get("code")), p)
        outcomes.append(Outcome("", "", key, "", _sha(succession_bytes(merged)), action,
                                "predecessors: " + ", ".join(
                                    p["code"] for p in merged["predecessors"])))
    return outcomes


def _first_per_code(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: dict[str, dict[str, Any]] = {}
    for entry in entries:
        seen.setdefault(str(entry.get("code")), entry)
    return list(seen.values())


@dataclass
class MigrationResult:
    run_id: str
    dry_run: bool
    outcomes: list[Outcome]
    checks: dict[str, list[str]]
    complete: bool  # False when --limit stopped it early
    report_key: str = ""
    report_sha256: str = ""

    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(ACTIONS, 0)
        for o in self.outcomes:
            out[o.action] = out.get(o.action, 0) + 1
        return {k: v for k, v in out.items() if v}

    @property
    def conflicts(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.action in ("conflict", "unhandled")]


def new_run_id() -> str:
    import secrets

    return f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def migrate(sources: list[Source], dest: ObjectStore, mapping: dict[str, str], *,
            dry_run: bool = False, actor: str = "ecopy", names: dict[str, str] | None = None,
            limit: int | None = None, jobs: int = 4,
            progress: Callable[[int, int], None] | None = None,
            dest_db: Database | None = None) -> MigrationResult:
    """Plan and apply the migration; see the module docstring. `limit` stops after that many
    objects (a staged migration; the next run resumes), `jobs` objects in flight at once.
    With ``dest_db``, each source's database rows follow (storage.migration.rows) and the
    destination's catalogue is brought in line with its evidence."""
    labels = [s.label for s in sources]
    if len(set(labels)) != len(labels) or not all(LABEL.match(x) for x in labels):
        raise ValueError("source labels must be unique: letters, digits, . _ -")
    run_id = new_run_id()
    steps = plan(sources, mapping)
    complete = limit is None or limit >= len(steps)
    steps = steps if complete else steps[:limit]
    outcomes: list[Outcome] = []
    with tempfile.TemporaryDirectory(prefix="ecopy-migrate-") as tmp:
        apply = _Applier({s.label: s.store for s in sources}, dest, mapping, dry_run, Path(tmp))
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            for rank in sorted({s.rank for s in steps}):  # a phase completes before the next
                for outcome in pool.map(apply, [s for s in steps if s.rank == rank]):
                    outcomes.append(outcome)
                    if progress:
                        progress(len(outcomes), len(steps))
        used = apply.seen | {(s.source, s.old_agency) for s in steps if s.old_agency}
    if complete and dest_db is not None:
        for source in sources:
            if source.db is not None:
                moved, olds = migrate_rows(source.label, source.db, dest_db, mapping,
                                           dry_run=dry_run, outcome=Outcome)
                outcomes += moved
                used |= {(source.label, old) for old in olds}
    if complete:
        outcomes += record_succession(dest, sources, mapping, used, run_id, names or {},
                                      dry_run, dest_db)
    result = MigrationResult(run_id, dry_run, outcomes, {}, complete)
    if not dry_run:
        if complete:  # a partial copy is checked when the run that completes it ends
            result.checks = run_checks(dest, labels, outcomes)
            if dest_db is not None:
                catalogue = sync_catalogue(dest, dest_db, repair=True)
                result.checks["catalogue"] = catalogue.problems
                with dest_db.write() as s:  # rows came in as they were: count them again
                    rebuild_month_rows(s, repair=True)
        _write_report(dest, result, sources, mapping, actor)
    return result


def run_checks(dest: ObjectStore, labels: list[str], outcomes: list[Outcome],
               ) -> dict[str, list[str]]:
    """After copying: each archived audit chain and each migrated register year, as an
    auditor would check them. [] = intact."""
    checks = {f"audit-archive/{label}": verify_audit(PrefixedStore(dest, f"audit-archive/{label}"))
              for label in labels
              if any(o.dest_key.startswith(f"audit-archive/{label}/") for o in outcomes)}
    years = sorted({m.groups() for o in outcomes if (m := REGISTER_ENTRY.match(o.dest_key))})
    for agency, year in years:
        checks[f"register/{agency}/{year}"] = check_chain(dest, agency, int(year))
    return checks


def report_data(result: MigrationResult, sources: list[Source],
                mapping: dict[str, str]) -> dict[str, Any]:
    return {"schema": "ecopy.migration/1", "run_id": result.run_id, "dry_run": result.dry_run,
            "complete": result.complete,
            "sources": [{"label": s.label, "store": s.store.describe()} for s in sources],
            "mapping": dict(sorted(mapping.items())), "counts": result.counts(),
            "checks": result.checks, "objects": [asdict(o) for o in result.outcomes]}


def _write_report(dest: ObjectStore, result: MigrationResult, sources: list[Source],
                  mapping: dict[str, str], actor: str) -> None:
    """migrations/<run>/report.json, then one audit event per source naming its hash."""
    with tempfile.TemporaryDirectory(prefix="ecopy-report-") as tmp:
        path = Path(tmp, "report.json")
        path.write_text(json.dumps(report_data(result, sources, mapping), ensure_ascii=False,
                                   indent=1), encoding="utf-8")
        result.report_key = f"migrations/{result.run_id}/report.json"
        result.report_sha256 = _file_sha(path)
        dest.put_file(result.report_key, path)
    for source in sources:
        mine = [o for o in result.outcomes if o.source == source.label]
        counts: dict[str, int] = {}
        for o in mine:
            counts[o.action] = counts.get(o.action, 0) + 1
        append_event(dest, actor=actor, action="migrate", object=result.report_key,
                     object_sha256=result.report_sha256,
                     details={"source": source.label, "store": source.store.describe(),
                              "run_id": result.run_id, "complete": result.complete, **counts})
