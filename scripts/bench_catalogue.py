"""Benchmark: the working-state database at province scale (issue 14).

Fills a PostgreSQL server started here (initdb/pg_ctl on a unix socket, as the tests do) with
``--cases`` case documents (default 1,000,000) and their dossiers across ``--communes``
communes (default 100) of one province, a year of work: about two cases per dossier, every
filed case with its e-copy in the catalogue and its register entry, a few cancellations.
Names, personal IDs, statuses and dates are drawn from a fixed seed; the bulk fill uses COPY
and is not part of the figures. Then it times, p50 and p95 over ``--runs`` runs (each run
another commune, person or name), the queries the web pages and commands make:

  review queue       a commune's documents waiting for a clerk, page 1, and their number
  certifier queue    both certifier lists (ready, not yet checked), page 1, and their numbers
  dossier list       a commune's dossiers, newest first, page 1
  name search        a requester's full name typed without tone marks ("nguyen van hung")
  ID search          a 12-digit personal ID
  warehouse          one person's e-copies
  register month     one commune's register entries of one month, page 1
  commune figures    one commune's figures of one month, now (its month row)
  province figures   every commune's figures of one month, now (one month row per commune)
  province, past as_of  the same figures as of a past time: every dossier of the month read
                     (shown for its cost; no growth goal)

The same queries on a 10,000-case database filled the same way, timed in turn with the
larger ones run by run (so a busy second weighs on every scale alike), give the growth ratio
(goal: ≤ 2× from 10,000 to 1,000,000). At 10,000 a commune's queue or register month holds
a handful of rows, at 1,000,000 a full page of 50, so part of that growth is the longer
answer, not the larger database: a third database (``--mid``, 100,000 cases, where pages are
already full) gives the growth from there to 1,000,000, which only a query that reads more
history as it grows shows; on SQLite (the embedded default) at ``--sqlite``
cases (default 100,000) the page queries are timed too (goal p95 ≤ 50 ms).

For the ratio with the design this replaces, the code released before the database (git
commit LEGACY, run from a checkout of it) builds a store of ``--legacy`` documents (10,000)
in one commune with its own storage functions and times its object-store listings: the review
and certifier queues, the dossier list and a month's figures.

Last, a load run: `ecopy serve --workers N` (``--serve-workers``, default one per core) on the
1,000,000-case database, ``--sessions`` clerks of different communes (50), each signed in,
browsing their queues and searching for ``--seconds`` (60) from an asyncio client on
127.0.0.1; requests/s and latency percentiles. Two runs: the clerks' pace, each session a
request every 1/``--rate`` s (2.5 a second: 50 sessions offer 125 requests/s, above the goal;
goal: those served, p95 ≤ 300 ms), then back to back without pause, which measures what the
server can take (requests/s; its latency is the queue of 50 waiting clients: Little's law).

    .venv/bin/python scripts/bench_catalogue.py [--cases 1000000] [--skip-load] [--skip-legacy]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import math
import os
import random
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ecopy.cli import quiet_libraries  # noqa: E402

quiet_libraries()  # pyHanko's import warning is not part of the figures

from sqlalchemy import insert  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from pipeline.casework.figures import Period, compute_figures  # noqa: E402
from pipeline.types import DocStatus  # noqa: E402
from pipeline.vn import adminunits  # noqa: E402
from storage.db import Database, rollups  # noqa: E402
from storage.db.cases import count_in, counts_by_status, queue  # noqa: E402
from storage.db.catalogue import copies_of_person, register_period  # noqa: E402
from storage.db.dossiers import CODE_ALPHABET, fold, folded_name, list_dossiers  # noqa: E402
from storage.db.migrate import upgrade  # noqa: E402
from storage.db.schema import cancellations, cases, copies, dossiers, register_entries  # noqa: E402
from storage.db.search import SearchQuery, search  # noqa: E402
from tests.support.pgserver import PostgresServer  # noqa: E402

LEGACY = "6a74481"  # the last commit whose working state was objects in the store
YEAR, MONTH = 2026, 11
SEED = 20261207
VN = 7 * 3600

FAMILY = [("Nguyễn", 38), ("Trần", 11), ("Lê", 9), ("Phạm", 7), ("Hoàng", 5), ("Huỳnh", 4),
          ("Phan", 4), ("Vũ", 4), ("Võ", 3), ("Đặng", 2), ("Bùi", 2), ("Đỗ", 2), ("Hồ", 2),
          ("Ngô", 2), ("Dương", 1), ("Lý", 1), ("Đinh", 1), ("Lò", 1), ("Hà", 1)]
MIDDLE_M = ["Văn", "Đức", "Minh", "Quang", "Hữu", "Xuân", "Thanh", "Công", "Quốc", "Ngọc"]
MIDDLE_F = ["Thị", "Thị", "Thị", "Ngọc", "Thu", "Thanh", "Hồng", "Minh", "Kim", "Phương"]
GIVEN_M = ["Hùng", "Dũng", "Tuấn", "Nam", "Long", "Hải", "Sơn", "Quân", "Khoa", "Bình",
           "Cường", "Đức", "Hiếu", "Phúc", "Thắng", "Trung", "Việt", "Vinh", "Hoàng", "Tùng",
           "Anh", "Huy", "Kiên", "Lâm", "Mạnh", "Nghĩa", "Phong", "Quyết", "Thành", "Toàn"]
GIVEN_F = ["Hương", "Linh", "Lan", "Mai", "Hà", "Hoa", "Thảo", "Trang", "Huyền", "Phương",
           "Anh", "Ngọc", "Yến", "Nhung", "Hằng", "Loan", "Thủy", "Vân", "Tuyết", "Dung",
           "Giang", "Hạnh", "Khánh", "Liên", "My", "Nga", "Oanh", "Quỳnh", "Thơ", "Xuân"]
DOC_TYPES = [("citizen_id", "Căn cước công dân", 30), ("birth_cert", "Giấy khai sinh", 25),
             ("household_book", "Sổ hộ khẩu", 10), ("marriage_cert", "Giấy chứng nhận kết hôn", 8),
             ("diploma_highschool", "Bằng tốt nghiệp trung học phổ thông", 8),
             ("university_diploma", "Bằng tốt nghiệp đại học", 7),
             ("driver_license", "Giấy phép lái xe", 7),
             ("land_use_cert", "Giấy chứng nhận quyền sử dụng đất", 5)]
REJECT_REASONS = [("low_quality", ""), ("refused_by_clerk", "altered"),
                  ("not_a_document", ""), ("classified", "classified"), ("timeout", "")]


def _weighted(rng: random.Random, pairs: list[tuple[Any, int]]) -> Any:
    return rng.choices([p[0] for p in pairs], weights=[p[1] for p in pairs])[0]


def _hex(*parts: object, n: int = 32) -> str:
    return hashlib.blake2b(":".join(map(str, parts)).encode(), digest_size=n // 2).hexdigest()


# ---------------------------------------------------------------------- the province's year


@dataclass
class Plan:
    """Who came to which commune when, and what became of each paper: the fill writes every
    table from it, the queries draw their parameters from it."""

    communes: list[str]
    people: list[tuple[str, str, str]]  # (person_id, name, date of birth)
    # per dossier, in opening order: commune index, opened (epoch s), person index, channel
    # online?, and one status letter per case: F filed, R ready, N needs review, X rejected
    dossiers: list[tuple[int, int, int, bool, str]]
    samples: dict[str, list[Any]] = field(default_factory=dict)

    @property
    def total_cases(self) -> int:
        return sum(len(d[4]) for d in self.dossiers)


def communes_of_a_province(count: int) -> list[str]:
    """``count`` real commune codes (pipeline/adminunits), in code order."""
    found = []
    for n in range(1, 40_000):
        code = f"{n:05d}"
        if adminunits.commune(code) is not None:
            found.append(code)
            if len(found) == count:
                return found
    raise RuntimeError("not enough communes in the admin-unit data")


def make_plan(total_cases: int, communes: list[str], seed: int = SEED) -> Plan:
    rng = random.Random(seed)
    start = datetime(YEAR, 1, 1, tzinfo=UTC).timestamp() - VN
    end = datetime(YEAR, 12, 6, tzinfo=UTC).timestamp() - VN
    people_count = max(10, int(total_cases * 0.35))
    people = []
    for i in range(people_count):
        male = rng.random() < 0.5
        name = " ".join((_weighted(rng, FAMILY), rng.choice(MIDDLE_M if male else MIDDLE_F),
                         rng.choice(GIVEN_M if male else GIVEN_F)))
        born = date(1950, 1, 1) + timedelta(days=rng.randrange(0, 365 * 55))
        century = (0 if born.year < 2000 else 2) + (0 if male else 1)
        person_id = f"0{rng.randrange(1, 97):02d}{century}{born.year % 100:02d}{i % 10**6:06d}"
        people.append((person_id, name, born.isoformat()))
    home = [rng.randrange(len(communes)) for _ in range(people_count)]
    plan_rows = []
    made = 0
    while made < total_cases:
        person = rng.randrange(people_count)
        commune = home[person] if rng.random() < 0.95 else rng.randrange(len(communes))
        opened = int(rng.uniform(start, end))
        n = min(total_cases - made, rng.choice((1, 1, 2, 2, 2, 3, 3, 4)))
        recent = end - opened < 20 * 86400
        letters = []
        for _ in range(n):
            roll = rng.random()
            if recent and roll < 0.25:
                letters.append("N" if roll < 0.15 else "R")
            elif roll < 0.02:
                letters.append("N")  # a backlog nobody cleared
            elif roll < 0.07:
                letters.append("X")
            else:
                letters.append("F")
        plan_rows.append((commune, opened, person, rng.random() < 0.2, "".join(letters)))
        made += n
    plan_rows.sort(key=lambda d: d[1])
    return Plan(communes, people, plan_rows)


@dataclass(frozen=True)
class CaseFacts:
    dossier_index: int
    k: int
    case_id: str
    status: str
    status_at: datetime
    doc_type: str
    document_name: str
    copy_id: str | None
    number: int | None
    reason: str
    ground: str


STATUS = {"F": DocStatus.FILED, "R": DocStatus.READY, "N": DocStatus.NEEDS_REVIEW,
          "X": DocStatus.REJECTED}


def walk(plan: Plan) -> Iterator[tuple[int, tuple, list[CaseFacts]]]:
    """Every dossier with its cases, derived deterministically (each table's pass sees the
    same ids, register numbers and times)."""
    numbers = [0] * len(plan.communes)
    for i, row in enumerate(plan.dossiers):
        commune, opened, _person, _online, letters = row
        rng = random.Random(SEED * 7 + i)
        facts = []
        for k, letter in enumerate(letters):
            status = STATUS[letter]
            delay = rng.uniform(600, 3 * 86400) if letter in "FX" else rng.uniform(60, 3600)
            doc_type, name, _w = rng.choices(DOC_TYPES, weights=[d[2] for d in DOC_TYPES])[0]
            copy_id = number = None
            reason = ground = ""
            if letter == "F":
                numbers[commune] += 1
                number = numbers[commune]
                copy_id = _hex("copy", i, k)
            elif letter == "X":
                reason, ground = rng.choice(REJECT_REASONS)
            facts.append(CaseFacts(i, k, _hex("case", i, k), status,
                                   datetime.fromtimestamp(opened + delay, UTC), doc_type, name,
                                   copy_id, number, reason, ground))
        yield i, row, facts


def dossier_id(i: int, opened: datetime) -> str:
    return f"{opened:%Y%m%d}-{_hex('dossier', i, n=8)}"


def public_code(i: int) -> str:
    digest = hashlib.blake2b(f"code:{i}".encode(), digest_size=16).digest()
    return "".join(CODE_ALPHABET[b % len(CODE_ALPHABET)] for b in digest[:10])


def rows_of(plan: Plan) -> Iterator[tuple[str, dict[str, Any]]]:
    """(table name, row) for every row of the fill, a dossier before its cases."""
    for i, (commune, opened_s, person, online, _letters), facts in walk(plan):
        agency = plan.communes[commune]
        person_id, name, born = plan.people[person]
        opened = datetime.fromtimestamp(opened_s, UTC)
        did = dossier_id(i, opened)
        terminal = all(f.status in (DocStatus.FILED, DocStatus.REJECTED) for f in facts)
        finished = max(f.status_at for f in facts) if terminal else None
        yield "dossiers", {
            "dossier_id": did, "agency": agency, "person_id": person_id, "person_name": name,
            "name_folded": folded_name(name), "date_of_birth": born, "opened_by": "clerk",
            "opened_at": opened, "note": "", "public_code": public_code(i), "procedure": "",
            "channel": "online" if online else "counter", "former_agency": "",
            "documents": len(facts), "pages": len(facts), "open_documents": 0 if terminal
            else sum(f.status not in (DocStatus.FILED, DocStatus.REJECTED) for f in facts),
            "due_at": opened + timedelta(days=2),
            "finished_at": finished,
            "working_hours": int((finished - opened).total_seconds() / 3600 * 400)
            if finished else None,
            "rejected_documents": sum(f.status == DocStatus.REJECTED for f in facts),
            "refusals": dict(Counter(f"{f.reason}:{f.ground}" for f in facts
                                     if f.status == DocStatus.REJECTED))}
        for f in facts:
            data = {"classification": {"doc_type": f.doc_type, "confidence": 0.93},
                    "fields": {"full_name": {"value": name, "confidence": 0.91},
                               "date_of_birth": {"value": born, "confidence": 0.88},
                               "id_number": {"value": person_id, "confidence": 0.95}},
                    "review_reasons": ["low_confidence_field"] if f.status == "needs_review"
                    else []}
            yield "cases", {
                "case_id": f.case_id, "dossier_id": did, "agency": agency,
                "sha256": _hex("scan", i, f.k, n=64), "name": f"scan-{f.k + 1:02d}.jpg",
                "kind": "image", "size": 480_000 + f.k, "person_id": person_id,
                "status": str(f.status), "version": 3, "created_at": opened,
                "status_at": f.status_at, "pages": 1, "doc_type": f.doc_type,
                "document_name": f.document_name, "reason": f.reason, "ground_code": f.ground,
                "copy_id": f.copy_id, "register_year": YEAR if f.number else None,
                "register_number": f.number, "owner": "", "batch_id": "", "data": data}
            if f.copy_id is None:
                continue
            when = f.status_at
            day = datetime.fromtimestamp(when.timestamp() + VN, UTC).date().isoformat()
            entry = {"agency_code": agency, "agency_name": "Ủy ban nhân dân xã", "year": YEAR,
                     "book": f"01/{YEAR}", "number": f.number, "date": day,
                     "requester_name": name, "document_name": f.document_name,
                     "signer": "Nguyễn Văn Thử, Phó Chủ tịch", "copies": 1, "fee_vnd": 2000,
                     "electronic": True, "notes": "", "copy_id": f.copy_id,
                     "prev_hash": _hex("entry", agency, f.number - 1, n=64)}
            yield "copies", {
                "copy_id": f.copy_id, "person_id": person_id, "doc_type": f.doc_type,
                "document_name": f.document_name, "agency": agency, "register_year": YEAR,
                "register_number": f.number, "register_book": f"01/{YEAR}",
                "certified_at": when,
                "pdf_key": f"warehouse/{person_id}/{f.doc_type}/{f.copy_id}.pdf",
                "pdf_sha256": _hex("pdf", f.copy_id, n=64),
                "original_sha256": _hex("scan", i, f.k, n=64), "case_id": f.case_id,
                "test_mode": False, "expiry_date": "", "cancelled": f.number % 997 == 0,
                "pages": 1}
            yield "register_entries", {
                "agency": agency, "year": YEAR, "number": f.number, "date": day,
                "book": f"01/{YEAR}", "copy_id": f.copy_id,
                "entry_sha256": _hex("entry", agency, f.number, n=64),
                "prev_hash": entry["prev_hash"], "void_reason": None, "entry": entry}
            if f.number % 997 == 0:
                yield "cancellations", {
                    "copy_id": f.copy_id, "agency": agency, "decision_ref": f"{f.number}/QĐ-UBND",
                    "decision_date": day, "recorded_at": when + timedelta(days=3),
                    "decision": {"copy_id": f.copy_id, "reason": "bản chính bị tẩy xóa"}}


TABLES = {"dossiers": dossiers, "cases": cases, "copies": copies,
          "register_entries": register_entries, "cancellations": cancellations}


def fill_postgres(server: PostgresServer, url: str, plan: Plan) -> float:
    """COPY every table (a dossier's table before its cases); seconds taken."""
    from psycopg.types.json import Jsonb

    start = time.perf_counter()
    name = make_url(url).database
    order = list(TABLES)
    conns = {t: server.connect(name) for t in order}
    try:
        # dossiers first, committed, so the cases' foreign key finds them
        for pass_tables in (["dossiers"], order[1:]):
            copies_open = {}
            for t in pass_tables:
                cols = [c.name for c in TABLES[t].columns]
                cursor = conns[t].cursor()
                copy = cursor.copy(f"COPY {t} ({', '.join(cols)}) FROM STDIN")
                copies_open[t] = (cursor, copy.__enter__(), copy, cols)
            for table, row in rows_of(plan):
                if table not in copies_open:
                    continue
                _cursor, writer, _copy, cols = copies_open[table]
                writer.write_row([Jsonb(row[c]) if isinstance(row[c], dict) else row[c]
                                  for c in cols])
            for _cursor, _writer, copy, _cols in copies_open.values():
                copy.__exit__(None, None, None)
        with server.connect(name) as conn:
            conn.execute("VACUUM ANALYZE")
    finally:
        for conn in conns.values():
            conn.close()
    db = Database(url, password=server.password)
    try:
        build_month_rows(db)
    finally:
        db.close()
    return time.perf_counter() - start


def build_month_rows(db: Database) -> None:
    """The figures' month rows of the bulk-filled dossiers, as `ecopy db check --repair`
    builds them (a deployment keeps them current with every change)."""
    with db.write() as s:
        rollups.rebuild(s, repair=True)


def fill_sqlite(db: Database, plan: Plan) -> float:
    start = time.perf_counter()
    batch: dict[str, list[dict]] = {t: [] for t in TABLES}

    def flush() -> None:
        with db.write() as s:
            for t in TABLES:  # in order: dossiers before their cases
                if batch[t]:
                    s.execute(insert(TABLES[t]), batch[t])
                    batch[t].clear()

    for n, (table, row) in enumerate(rows_of(plan)):
        batch[table].append(row)
        if n % 20_000 == 19_999:
            flush()
    flush()
    build_month_rows(db)
    with db.engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
    return time.perf_counter() - start


def samples(plan: Plan, runs: int) -> list[dict[str, Any]]:
    """Per run: a commune, a person with e-copies there, the name and ID to search, and a
    dossier to open (the load run's detail page)."""
    rng = random.Random(SEED + 1)
    by_commune: dict[int, list[int]] = {}
    for i, (commune, _opened, _person, _online, letters) in enumerate(plan.dossiers):
        if "F" in letters:
            by_commune.setdefault(commune, []).append(i)
    out = []
    communes = sorted(by_commune)
    for run in range(runs):
        commune = communes[run % len(communes)]
        i = rng.choice(by_commune[commune])
        _c, opened, person, _online, _letters = plan.dossiers[i]
        person_id, name, _born = plan.people[person]
        out.append({"agency": plan.communes[commune], "person_id": person_id,
                    "name": fold(name), "dossier_id": dossier_id(
                        i, datetime.fromtimestamp(opened, UTC))})
    return out


# ---------------------------------------------------------------------- timing the queries


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


QUERIES: dict[str, Callable[[Database, dict[str, Any]], Any]] = {}


def query(name: str):
    def add(fn):
        QUERIES[name] = fn
        return fn
    return add


@query("review queue")
def _review(db: Database, p: dict) -> Any:
    with db.read() as s:
        page = queue(s, p["agency"], (DocStatus.NEEDS_REVIEW,))
        return len(page.items), count_in(s, p["agency"], (DocStatus.NEEDS_REVIEW,))


@query("certifier queue")
def _certifier(db: Database, p: dict) -> Any:
    with db.read() as s:  # as the /certify page: both lists and both lengths
        statuses = (DocStatus.READY, DocStatus.NEEDS_REVIEW)
        totals = counts_by_status(s, p["agency"], statuses)
        return [(len(queue(s, p["agency"], (status,)).items), totals[status])
                for status in statuses]


@query("dossier list")
def _dossiers(db: Database, p: dict) -> Any:
    with db.read() as s:
        return len(list_dossiers(s, p["agency"]).items)


@query("name search")
def _name(db: Database, p: dict) -> Any:
    with db.read() as s:
        hits = search(s, SearchQuery(text=p["name"]), agencies=[p["agency"]]).items
        assert hits, p  # the person is there: a search that finds nothing is no figure
        return len(hits)


@query("ID search")
def _id(db: Database, p: dict) -> Any:
    with db.read() as s:
        hits = search(s, SearchQuery(text=p["person_id"]), agencies=[p["agency"]]).items
        assert hits, p
        return len(hits)


@query("warehouse")
def _warehouse(db: Database, p: dict) -> Any:
    with db.read() as s:
        found = copies_of_person(s, p["person_id"], agencies=[p["agency"]]).items
        assert found, p
        return len(found)


@query("register month")
def _register(db: Database, p: dict) -> Any:
    with db.read() as s:
        return len(register_period(s, (p["agency"],), YEAR, MONTH).items)


@query("commune figures")
def _commune(db: Database, p: dict) -> Any:
    return compute_figures(db, Period.month(f"{YEAR}-{MONTH:02d}"), agency=p["agency"]).total


@query("province figures")
def _province(db: Database, p: dict) -> Any:
    return compute_figures(db, Period.month(f"{YEAR}-{MONTH:02d}")).total


@query("province, past as_of")
def _province_exact(db: Database, p: dict) -> Any:
    """What a figure as of a past time costs: every dossier of the month read."""
    return compute_figures(db, Period.month(f"{YEAR}-{MONTH:02d}"), exact=True).total


PAGE_QUERIES = [q for q in QUERIES if "figures" not in q and "province" not in q]
# shown for what it costs, with no goal: a figure as of a past time reads the month's dossiers
NO_GOAL = {"province, past as_of"}


def time_queries(dbs: dict[str, tuple[Database, list[dict]]], names: list[str]
                 ) -> dict[str, dict[str, tuple[float, float]]]:
    """(p50, p95) in seconds per database and query, after one untimed pass over the same runs
    (a deployment's pages are asked all day: its data and plans are warm). The databases
    take turns run by run, the first of each turn rotating, so that what else the machine
    does in those seconds weighs on every scale alike: the growth ratios compare like with
    like even on a busy machine."""
    out: dict[str, dict[str, tuple[float, float]]] = {label: {} for label in dbs}
    labels = list(dbs)
    for name in names:
        fn = QUERIES[name]
        for db, params in dbs.values():
            for p in params:
                fn(db, p)
        taken: dict[str, list[float]] = {label: [] for label in labels}
        runs = min(len(params) for _db, params in dbs.values())
        for run in range(runs):
            for k in range(len(labels)):
                label = labels[(run + k) % len(labels)]
                db, params = dbs[label]
                t0 = time.perf_counter()
                fn(db, params[run])
                taken[label].append(time.perf_counter() - t0)
        for label, values in taken.items():
            out[label][name] = (statistics.median(values), _pct(values, 0.95))
    return out


# ---------------------------------------------------------------------- the old design


OLD_SCRIPT = textwrap.dedent(r"""
    import json, random, sys, time, statistics
    from dataclasses import asdict
    from datetime import UTC, datetime, timedelta
    from pathlib import Path
    from ecopy.actions import waiting_documents
    from pipeline.casework.figures import Period, compute_figures
    from pipeline.types import DocStatus
    from storage.dossiers import Dossier, link_document
    from storage.records import dump, record_key
    from storage.store import LocalStore

    store, count, budget = LocalStore(Path(sys.argv[1])), int(sys.argv[2]), float(sys.argv[3])
    rng = random.Random(7)
    agency, made, i = "99999", 0, 0
    start = datetime(2026, 1, 1, tzinfo=UTC).timestamp()
    t0 = time.perf_counter()
    while made < count:
        opened = datetime.fromtimestamp(rng.uniform(start, start + 339 * 86400), UTC)
        dossier = Dossier(f"{opened:%Y%m%d}-{i:08x}", agency, f"0010900{i:05d}",
                          "Nguyễn Văn Hùng", "", "clerk", opened.isoformat(timespec="seconds"),
                          "", f"C{i:09d}", "", "counter")
        store.put(dossier.key, json.dumps(asdict(dossier), ensure_ascii=False).encode())
        for k in range(min(count - made, rng.choice((1, 2, 2, 3)))):
            sha = f"{i:032x}{k:032x}"
            roll = rng.random()
            status = ("needs_review" if roll < 0.04 else "ready" if roll < 0.06
                      else "rejected" if roll < 0.11 else "filed")
            at = (opened + timedelta(hours=rng.uniform(1, 60))).isoformat(timespec="seconds")
            store.put(record_key(sha), dump({
                "sha256": sha, "status": status, "pages": 1, "reason": "",
                "history": [{"status": "queued", "at": opened.isoformat(timespec="seconds")},
                            {"status": status, "at": at}]}))
            link_document(store, dossier, sha, f"scan-{k}.jpg", "clerk")
            made += 1
        i += 1
    print(json.dumps({"generated_s": time.perf_counter() - t0}), flush=True)
    from storage.dossiers import list_dossiers
    checks = {
        "review queue": lambda: waiting_documents(store),
        "certifier queue": lambda: waiting_documents(store, (DocStatus.READY,
                                                             DocStatus.NEEDS_REVIEW)),
        "dossier list": lambda: list_dossiers(store, agency),
        "commune figures": lambda: compute_figures(store, Period.month("2026-11"),
                                                   agency=agency),
    }
    out = {}
    for name, fn in checks.items():
        taken, spent = [], 0.0
        while len(taken) < 3 or (spent < budget and len(taken) < 50):
            t = time.perf_counter(); fn(); taken.append(time.perf_counter() - t)
            spent += taken[-1]
        out[name] = [statistics.median(taken), max(taken), len(taken)]
    print(json.dumps(out), flush=True)
""")


def legacy_figures(work: Path, documents: int, budget_s: float) -> dict[str, list[float]]:
    tree = work / "legacy"
    subprocess.run(["git", "clone", "-q", "--no-checkout", str(ROOT), str(tree)], check=True)
    subprocess.run(["git", "-C", str(tree), "checkout", "-q", LEGACY], check=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ECOPY_")}
    env["PYTHONPATH"] = str(tree)
    env["PYTHONWARNINGS"] = "ignore"
    done = subprocess.run([sys.executable, "-c", OLD_SCRIPT, str(work / "legacy-store"),
                           str(documents), str(budget_s)], cwd=tree, env=env,
                          capture_output=True, text=True, check=True)
    generated, timings = (json.loads(line) for line in done.stdout.splitlines()[-2:])
    print(f"  legacy store of {documents} documents made in {generated['generated_s']:.0f} s",
          flush=True)
    return timings


# ---------------------------------------------------------------------- the load run


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def sessions_for(db: Database, params: list[dict], count: int) -> list[dict]:
    """``count`` clerk accounts (one per commune of the samples) signed in: cookie + CSRF."""
    from ecopy.accounts import create
    from ecopy.web.security import open_session

    out = []
    password = secrets.token_urlsafe(16)
    for n in range(count):
        p = params[n % len(params)]
        user = f"clerk{n:03d}"
        with contextlib.suppress(FileExistsError):  # a second load run on the same database
            create(db, user, f"Công chức {n}", "clerk", p["agency"], password)
        token, session = open_session(db, user, 120)
        out.append({**p, "cookie": token, "csrf": session.csrf})
    return out


async def _clerk(base: str, who: dict, until: float, latencies: list[float],
                 errors: list[str], rng: random.Random, rate: float) -> None:
    """One clerk: a request every 1/``rate`` s (±20 %, from a random phase; at once when the
    last answer came later than that), or back to back when ``rate`` is 0."""
    import aiohttp

    headers = {"Cookie": f"ecopy_session={who['cookie']}"}
    next_at = time.perf_counter() + (rng.uniform(0, 1 / rate) if rate else 0)
    async with aiohttp.ClientSession(headers=headers) as http:
        while True:
            if rate:
                await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
                next_at = max(next_at, time.perf_counter()) + rng.uniform(0.8, 1.2) / rate
            if time.perf_counter() >= until:
                break
            roll = rng.random()
            if roll < 0.30:
                req = http.get(f"{base}/dossiers")
            elif roll < 0.55:
                req = http.get(f"{base}/review")
            elif roll < 0.70:
                req = http.get(f"{base}/dossiers/{who['dossier_id']}")
            else:
                q = who["name"] if roll < 0.85 else who["person_id"]
                req = http.post(f"{base}/dossiers/search", data={"csrf": who["csrf"], "q": q})
            t0 = time.perf_counter()
            try:
                async with req as resp:
                    await resp.read()
                    if resp.status != 200:
                        errors.append(f"{resp.method} {resp.url.path}: {resp.status}")
            except aiohttp.ClientError as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
            latencies.append(time.perf_counter() - t0)


async def _load(base: str, people: list[dict], seconds: float, rate: float = 0.0,
                ) -> tuple[list[float], list[str]]:
    latencies: list[float] = []
    errors: list[str] = []
    until = time.perf_counter() + seconds
    await asyncio.gather(*(_clerk(base, who, until, latencies, errors, random.Random(n), rate)
                           for n, who in enumerate(people)))
    return latencies, errors


def load_run(server: PostgresServer, url: str, db: Database, params: list[dict],
             sessions: int, seconds: float, work: Path, workers: int,
             extra_env: dict[str, str] | None = None, rate: float = 0.0) -> dict[str, Any]:
    people = sessions_for(db, params, sessions)
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ECOPY_")}
    env.update(ECOPY_DATABASE_URL=url, ECOPY_DATABASE_PASSWORD_FILE=str(server.password_file),
               ECOPY_STORE=str(work / "serve-store"), ECOPY_WEB_SECURE_COOKIES="0",
               ECOPY_PKI_DIR=str(work / "pki"), **(extra_env or {}))
    proc = subprocess.Popen([sys.executable, "-m", "ecopy.cli", "serve", "--port", str(port),
                             "--workers", str(workers)],
                            env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"ecopy serve did not start: {proc.stderr.read()}") from None
                time.sleep(0.2)
        asyncio.run(_load(base, people[:5], 3))  # warm-up: templates, pools
        latencies, errors = asyncio.run(_load(base, people, seconds, rate))
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
    return {"requests": len(latencies), "per_s": len(latencies) / seconds,
            "p50": statistics.median(latencies), "p95": _pct(latencies, 0.95),
            "p99": _pct(latencies, 0.99), "errors": errors}


# ---------------------------------------------------------------------- report


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:8.1f}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cases", type=int, default=1_000_000)
    ap.add_argument("--small", type=int, default=10_000, help="the scale the ratio compares to")
    ap.add_argument("--mid", type=int, default=100_000,
                    help="a second reference, where every page is already full (0 skips it)")
    ap.add_argument("--communes", type=int, default=100)
    ap.add_argument("--sqlite", type=int, default=100_000, help="0 skips the SQLite figures")
    ap.add_argument("--legacy", type=int, default=10_000,
                    help="documents in the old design's store (0 skips it)")
    ap.add_argument("--legacy-budget", type=float, default=60.0,
                    help="seconds per old query at most (at least 3 runs)")
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--sessions", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--rate", type=float, default=2.5,
                    help="requests per second each clerk session makes in the paced run")
    ap.add_argument("--serve-workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--skip-load", action="store_true")
    args = ap.parse_args()
    # a stopped run still stops the servers it started (the finally blocks below)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    communes = communes_of_a_province(args.communes)
    report: dict[str, dict[str, tuple[float, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="ecopy-bench-catalogue-") as tmp:
        work = Path(tmp)
        server = PostgresServer().start()
        try:
            filled = {}
            scales = [("pg small", args.small), ("pg mid", args.mid), ("pg big", args.cases)]
            for label, n in [(label, n) for label, n in scales if n]:
                plan = make_plan(n, communes)
                url = server.new_database()
                db = Database(url, password=server.password, pool_size=10)
                upgrade(db)
                secs = fill_postgres(server, url, plan)
                print(f"PostgreSQL {plan.total_cases:,} cases, {len(plan.dossiers):,} dossiers "
                      f"filled in {secs:.0f} s", flush=True)
                filled[label] = (url, db, samples(plan, args.runs))
            with server.connect("postgres") as conn:
                conn.execute("CHECKPOINT")  # the fill's writes are not part of the timings
            report.update(time_queries({label: (db, params) for label, (_url, db, params)
                                        in filled.items()}, list(QUERIES)))
            filled["pg small"][1].close()
            if "pg mid" in filled:
                filled["pg mid"][1].close()
            big = filled["pg big"]
            if args.sqlite:
                plan = make_plan(args.sqlite, communes)
                db = Database(f"sqlite:///{work / 'bench.sqlite3'}")
                upgrade(db)
                secs = fill_sqlite(db, plan)
                print(f"SQLite {plan.total_cases:,} cases filled in {secs:.0f} s", flush=True)
                report.update(time_queries({"sqlite": (db, samples(plan, args.runs))},
                                           list(QUERIES)))
                db.close()
            legacy = legacy_figures(work, args.legacy, args.legacy_budget) \
                if args.legacy else {}
            load = {}
            if not args.skip_load and big is not None:
                url, db, params = big
                for rate in (args.rate, 0.0):  # the clerks' pace (the goal), then flat out
                    load[rate] = load_run(server, url, db, params, args.sessions, args.seconds,
                                          work, args.serve_workers, rate=rate)
            if big is not None:
                big[1].close()
        finally:
            server.close()

    small, large = f"{args.small:,}", f"{args.cases:,}"
    print(f"\np50 / p95 in ms over {args.runs} runs (PostgreSQL at {small} and {large} "
          f"cases, {args.communes} communes; SQLite at {args.sqlite:,})")
    print(f"{'query':<22}{'pg ' + small:>20}{'pg ' + large:>20}{'growth':>8}"
          f"{'from ' + f'{args.mid:,}':>14}{'sqlite':>20}{'old ' + str(args.legacy):>14}"
          f"{'old/new':>9}")
    failures = []
    for name in QUERIES:
        s50, s95 = report["pg small"][name]
        b50, b95 = report["pg big"][name]
        growth = b50 / s50
        line = f"{name:<22}{_ms(s50)} /{_ms(s95)}{_ms(b50)} /{_ms(b95)}{growth:7.2f}×"
        line += (f"{b50 / report['pg mid'][name][0]:13.2f}×" if "pg mid" in report
                 else " " * 14)
        if "sqlite" in report:
            q50, q95 = report["sqlite"][name]
            line += f"{_ms(q50)} /{_ms(q95)}"
            if name in PAGE_QUERIES and q95 > 0.050:
                failures.append(f"SQLite {name} p95 {q95 * 1000:.0f} ms > 50 ms")
        else:
            line += " " * 20
        if name in legacy:
            old50 = legacy[name][0]
            line += f"{_ms(old50)}{old50 / b50:8.0f}×"
        print(line)
        if name in PAGE_QUERIES and b95 > 0.050:
            failures.append(f"{name} p95 {b95 * 1000:.0f} ms > 50 ms")
        if name == "province figures" and b95 > 1.0:
            failures.append(f"province figures p95 {b95:.2f} s > 1 s")
        if growth > 2.0 and name not in NO_GOAL:
            failures.append(f"{name} grows {growth:.1f}× from {small} to {large}")
    if legacy:
        print(f"(old: the code of {LEGACY} on a local directory store of {args.legacy:,} "
              "documents, one commune; p50; old/new = old at "
              f"{args.legacy:,} ÷ PostgreSQL at {large})")
    for rate, run in load.items():
        pace = (f"each a request every {1 / rate:.2g} s (±20 %)" if rate
                else "each back to back, no pause (what the server can take)")
        print(f"\nload: {args.sessions} clerk sessions, {pace}, for {args.seconds:.0f} s "
              f"against `ecopy serve --workers {args.serve_workers}` on the {large}-case "
              f"database: {run['requests']:,} requests, {run['per_s']:.0f} requests/s, "
              f"p50 {run['p50'] * 1000:.0f} ms, p95 {run['p95'] * 1000:.0f} ms, "
              f"p99 {run['p99'] * 1000:.0f} ms, {len(run['errors'])} errors")
        for error in sorted(set(run["errors"]))[:10]:
            print(f"  {error}")
        if run["errors"]:
            failures.append(f"load run with {len(run['errors'])} errors")
        if rate and (run["per_s"] < 100 or run["p95"] > 0.300):
            failures.append("paced load run below its goal (≥ 100 requests/s, p95 ≤ 300 ms)")
    print("\ngoals: " + ("all met" if not failures else "NOT MET: " + "; ".join(failures)))
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
