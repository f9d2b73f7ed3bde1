"""The database of working state, one contract on both engines: SQLite (the embedded default)
and PostgreSQL (a real server started by the test session, tests.support.pgserver).

Every test takes ``state``: an empty database of one engine, migrated by Alembic, beside a
local evidence store. The same assertions hold on both; where the engines answer through
different SQL (medians, name search) the answer must still be the same.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import event, func, literal_column, select

from pipeline.casework.figures import Period, compute_figures
from pipeline.casework.status import claim, save_status
from pipeline.vn.tz import VN_TZ
from storage import outbox
from storage.backends import LocalStore
from storage.db import Database
from storage.db import accounts as account_rows
from storage.db import complaints as complaint_rows
from storage.db.cases import (
    Conflict,
    cases_of_dossier,
    count_in,
    find_cases,
    get_case,
    history,
    queue,
)
from storage.db.catalogue import (
    add_cancellation,
    add_copy,
    add_register_entry,
    chain_problems,
    copies_of_person,
    register_chain,
    register_month_counts,
    register_period,
)
from storage.db.dossiers import (
    Dossier,
    dossier_by_code,
    fold,
    list_dossiers,
    load_dossier,
    open_dossier,
)
from storage.db.migrate import current_revision, head_revision, upgrade
from storage.db.paging import BadCursor
from storage.db.pointers import pointer_once
from storage.db.schema import dossiers, metadata, name_words
from storage.db.search import SearchQuery, search
from storage.state import State
from tests.conftest import open_state

A, B = "00004", "11111"
PERSON = "001301012345"


@pytest.fixture
def state(engine_url: tuple[str, str | None], tmp_path: Path) -> State:
    url, password = engine_url
    return open_state(LocalStore(tmp_path / "store"), url, password)


def dossier(state: State, agency: str = A, name: str = "Nguyễn Văn Hùng",
            person: str = PERSON, at: datetime | None = None) -> Dossier:
    with state.db.write() as s:
        return open_dossier(s, agency=agency, person_id=person, person_name=name,
                            date_of_birth="1990-02-05", opened_by="lan",
                            deadlines=state.deadlines, now=at)


def case(state: State, d: Dossier, sha: str | None = None, **kw) -> dict:
    record, claimed = claim(state, d, sha or secrets.token_hex(32), name="scan.jpg", size=10,
                            person_id=d.person_id, actor="lan", **kw)
    assert claimed
    return record


# ------------------------------------------------------------------ schema


# SQLite cannot reflect the expression index on the register month; the next test checks it
@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index")
@pytest.mark.filterwarnings("ignore:autogenerate skipping metadata-specified expression-based")
def test_the_migrated_schema_is_the_code_schema(state: State) -> None:
    assert current_revision(state.db) == head_revision() == "0004"
    with state.db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    # the PostgreSQL-only search indexes are made by the migrations there, not in metadata
    assert [d for d in diff if not (d[0] == "remove_index" and d[1].name in (
        "ix_dossiers_name_trgm", "ix_dossiers_name_words"))] == []
    assert upgrade(state.db) == ("0004", "0004")  # again: nothing to do


def _plan(state: State, run) -> str:
    """The query plan of the last statement ``run`` sends (PostgreSQL with sequential scans
    off: small test tables would be scanned whole, and the question is whether the index's
    expression matches the query's at all)."""
    seen: list[tuple[str, object]] = []

    def grab(_conn, _cursor, statement, parameters, _context, _many) -> None:
        seen.append((statement, parameters))

    event.listen(state.db.read_engine, "before_cursor_execute", grab)
    try:
        run()
    finally:
        event.remove(state.db.read_engine, "before_cursor_execute", grab)
    statement, parameters = seen[-1]
    pg = state.db.dialect == "postgresql"
    with state.db.engine.connect() as conn:
        if pg:
            conn.exec_driver_sql("SET enable_seqscan = off")
        rows = conn.exec_driver_sql(("EXPLAIN " if pg else "EXPLAIN QUERY PLAN ") + statement,
                                    parameters).all()
    return "\n".join(str(r[0] if len(r) == 1 else r) for r in rows)


def test_month_and_name_queries_use_their_indexes(state: State) -> None:
    with state.db.write() as s:
        add_register_entry(s, _entry(1, "2026-11-05"), "h1")
    dossier(state, name="Nguyễn Văn Hùng")

    def month() -> None:
        with state.db.read() as s:
            assert len(register_period(s, (A,), 2026, 11).items) == 1

    def name() -> None:
        with state.db.read() as s:
            assert len(search(s, SearchQuery(text="nguyen hung"), agencies=[A]).items) == 1

    def words() -> None:  # the condition search adds, alone: the index must match it
        with state.db.read() as s:
            s.execute(select(dossiers.c.dossier_id).where(name_words().op("@@")(
                func.to_tsquery(literal_column("'simple'::regconfig"), f"c{A}hung:*"))))

    assert "ix_register_entries_month" in _plan(state, month)
    name()
    if state.db.dialect == "postgresql":  # SQLite filters the commune's rows in place
        assert "ix_dossiers_name_words" in _plan(state, words)


def test_a_password_in_the_url_is_refused_and_a_wrong_one_fails(engine_url) -> None:
    from ecopy.settings import load_settings

    with pytest.raises(ValueError, match="PASSWORD_FILE"):
        load_settings({"ECOPY_DATABASE_URL": "postgresql://ecopy:secret@db/ecopy"})
    url, password = engine_url
    if password is not None:
        from sqlalchemy.exc import OperationalError

        with pytest.raises(OperationalError):
            current_revision(Database(url, password="not the password"))


# ------------------------------------------------------------------ dossiers


def test_dossiers_are_found_within_their_commune_and_paged(state: State) -> None:
    start = datetime(2026, 3, 1, 2, tzinfo=UTC)
    made = [dossier(state, at=start + timedelta(hours=n)) for n in range(7)]
    other = dossier(state, B)
    with state.db.read() as s:
        assert load_dossier(s, A, made[0].dossier_id) == made[0]
        assert load_dossier(s, B, made[0].dossier_id) is None  # another commune: not there
        assert load_dossier(s, A, "../x") is None
        assert dossier_by_code(s, made[3].public_code.lower()) == made[3]
        seen, cursor = [], ""
        while True:
            page = list_dossiers(s, A, cursor=cursor, limit=3)
            seen += [d.dossier_id for d in page.items]
            if not page.next_cursor:
                break
            cursor = page.next_cursor
        assert seen == [d.dossier_id for d in reversed(made)]  # newest first, each once
        assert other.dossier_id not in seen
        with pytest.raises(BadCursor):
            list_dossiers(s, A, cursor="not-a-cursor")


# ------------------------------------------------------------------ cases


def test_the_same_original_in_two_dossiers_is_two_cases(state: State) -> None:
    sha = "ab" * 32
    first, second = case(state, dossier(state), sha), case(state, dossier(state, B), sha)
    assert first["case_id"] != second["case_id"]
    save_status(state, first["case_id"], "needs_review", actor="x", fields=[{"name": "a"}])
    with state.db.read() as s:
        assert get_case(s, second["case_id"])["status"] == "received"  # untouched
        assert get_case(s, first["case_id"], agency=B) is None
        assert [c["case_id"] for c in find_cases(s, sha, agency=B)] == [second["case_id"]]
        assert len(find_cases(s, sha[:10], agency=None)) == 2


def test_claims_duplicates_and_retries(state: State) -> None:
    d = dossier(state)
    first = case(state, d, "cd" * 32)
    again, claimed = claim(state, d, "cd" * 32, name="lại.jpg", size=10, person_id=PERSON,
                           actor="lan")
    assert not claimed and again["case_id"] == first["case_id"]  # in work by this process
    save_status(state, first["case_id"], "rejected", actor="x", reason="illegible")
    retried, claimed = claim(state, d, "cd" * 32, name="lại.jpg", size=10, person_id=PERSON,
                             actor="lan")
    assert claimed and retried["case_id"] == first["case_id"] and retried["status"] == "received"
    save_status(state, first["case_id"], "needs_review", actor="x")
    assert not claim(state, d, "cd" * 32, name="x", size=1, person_id=PERSON, actor="lan")[1]


def test_status_changes_are_compare_and_set_with_history(state: State) -> None:
    c = case(state, dossier(state))
    ready = save_status(state, c["case_id"], "ready", actor="x", doc_type="birth_cert")
    assert ready["version"] == c["version"] + 1 and ready["doc_type"] == "birth_cert"
    with pytest.raises(Conflict) as stale:
        save_status(state, c["case_id"], "certifying", actor="y", expect_version=c["version"])
    assert stale.value.status == "ready"
    with pytest.raises(Conflict):
        save_status(state, c["case_id"], "filed", actor="y", expect_status={"certifying"})
    save_status(state, c["case_id"], "certifying", actor="y", expect_status={"ready"})
    with state.db.read() as s:
        events = history(s, c["case_id"])
    assert [(e.seq, e.status) for e in events] == [(1, "received"), (2, "ready"),
                                                    (3, "certifying")]
    with pytest.raises(ValueError):
        save_status(state, c["case_id"], "filed", actor="y", agency=B)  # never re-homed here


def test_queues_are_paged_longest_waiting_first(state: State) -> None:
    d = dossier(state)
    start = datetime(2026, 3, 2, 1, tzinfo=UTC)
    made = []
    for n in range(5):
        c = case(state, d, at=start)
        save_status(state, c["case_id"], "needs_review", actor="x",
                    at=start + timedelta(minutes=10 - n))
        made.append(c["case_id"])
    case(state, dossier(state, B))  # another commune's
    with state.db.read() as s:
        first = queue(s, A, ("needs_review",), limit=2)
        second = queue(s, A, ("needs_review",), cursor=first.next_cursor, limit=2)
        third = queue(s, A, ("needs_review",), cursor=second.next_cursor, limit=2)
        assert [r["case_id"] for r in first.items + second.items + third.items] == \
            list(reversed(made))
        assert third.next_cursor == "" and count_in(s, A, ("needs_review",)) == 5
        assert first.items[0]["person_name"] == "Nguyễn Văn Hùng"
        assert queue(s, B, ("needs_review",)).items == []


def test_many_writers_lose_nothing(state: State) -> None:
    """Threads of one process share the engine's pool; every change lands, in order."""
    import threading

    c = case(state, dossier(state))
    errors = []

    def write(n: int) -> None:
        try:
            for k in range(5):
                save_status(state, c["case_id"], "ocr", actor=f"w{n}", **{f"w{n}_{k}": True})
        except Exception as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with state.db.read() as s:
        final = get_case(s, c["case_id"])
        assert [e.seq for e in history(s, c["case_id"])] == list(range(1, 22))
    assert all(final[f"w{n}_{k}"] for n in range(4) for k in range(5))
    assert final["version"] == 21


# ------------------------------------------------------------------ search


def test_search_folds_tone_marks_and_respects_communes(state: State) -> None:
    hung = dossier(state, name="Nguyễn Văn Hùng")
    hung_case = case(state, hung)
    save_status(state, hung_case["case_id"], "filed", actor="x", doc_type="birth_cert",
                copy_id="f" * 32, register_entry={"year": 2026, "number": 17})
    dossier(state, name="Trần Thị Phụng", person="001301099999")
    dossier(state, B, name="Lê Văn Hưng", person="079201000001")
    dossier(state, name="Lê Thu Quỳnh", person="001301088888")
    assert fold("ĐẶNG Thị Ánh") == "dang thi anh"

    def names(query: SearchQuery, agencies=(A,)) -> set[str]:
        with state.db.read() as s:
            page = search(s, query, agencies=list(agencies) if agencies else None)
        return {h.person_name for h in page.items}

    assert names(SearchQuery(text="nguyen van hung")) == {"Nguyễn Văn Hùng"}
    # ten letters of the status code's alphabet once the spaces are gone: still a name
    assert names(SearchQuery(text="le thu quynh")) == {"Lê Thu Quỳnh"}
    assert names(SearchQuery(text="Hung")) == {"Nguyễn Văn Hùng"}  # not Phụng: word starts
    assert names(SearchQuery(text="hùng")) == {"Nguyễn Văn Hùng"}
    assert names(SearchQuery(text="hung"), agencies=None) == {"Nguyễn Văn Hùng", "Lê Văn Hưng"}
    assert names(SearchQuery(text="Van"), agencies=(A, B)) == {"Nguyễn Văn Hùng",
                                                              "Lê Văn Hưng"}
    assert names(SearchQuery(text="079201000001")) == set()  # another commune's citizen
    assert names(SearchQuery(text=hung.public_code)) == {"Nguyễn Văn Hùng"}
    assert names(SearchQuery(text="f" * 32)) == {"Nguyễn Văn Hùng"}
    assert names(SearchQuery(text="17")) == {"Nguyễn Văn Hùng"}
    assert names(SearchQuery(doc_type="birth_cert", status="filed")) == {"Nguyễn Văn Hùng"}
    assert names(SearchQuery(text="100% _")) == set()
    today = datetime.now(VN_TZ).date()  # search dates are Vietnam dates (UTC+7)
    assert names(SearchQuery(opened_from=today - timedelta(days=1), opened_to=today)) == {
        "Nguyễn Văn Hùng", "Trần Thị Phụng", "Lê Thu Quỳnh"}
    assert names(SearchQuery(opened_to=today - timedelta(days=2))) == set()


# ------------------------------------------------------------------ catalogue


def _entry(number: int, date: str, prev: str = "") -> dict:
    return {"agency_code": A, "agency_name": "Phường Ba Đình", "year": 2026, "book": "01/2026",
            "number": number, "date": date, "copy_id": f"{number:032x}", "prev_hash": prev}


def test_catalogue_register_copies_and_cancellations(state: State) -> None:
    with state.db.write() as s:
        for n, day in ((1, "2026-01-05"), (2, "2026-01-20"), (3, "2026-02-01")):
            assert add_register_entry(s, _entry(n, day, f"h{n - 1}" if n > 1 else ""), f"h{n}")
        assert not add_register_entry(s, _entry(1, "2026-01-05"), "h1")  # idempotent
        meta = {"copy_id": "c" * 32, "person_id": PERSON, "doc_type": "birth_cert",
                "certified_at": "2026-01-05T09:00:00+07:00",
                "register_entry": {"agency_code": A, "year": 2026, "number": 1, "book": "01"},
                "fields": {"expiry_date": {"value": "2030-01-01"}}, "pdf_sha256": "0" * 64}
        assert add_copy(s, meta, pdf_key="warehouse/x.pdf") and not add_copy(s, meta,
                                                                             pdf_key="x")
        add_cancellation(s, {"copy_id": "c" * 32, "agency_code": A, "decision_ref": "1/QĐ",
                             "decision_date": "2026-02-02",
                             "recorded_at": "2026-02-02T08:00:00+07:00"})
    with state.db.read() as s:
        january = register_period(s, (A,), 2026, 1)
        assert [r.number for r in january.items] == [1, 2]
        assert register_month_counts(s, A, 2026) == {1: 2, 2: 1}
        assert chain_problems(register_chain(s, A, 2026)) == []
        (copy,) = copies_of_person(s, PERSON).items
        assert copy.cancelled and copy.expiry_date == "2030-01-01" and copy.register_number == 1
        assert copies_of_person(s, PERSON, agencies=(B,)).items == []
    with state.db.write() as s:  # a hole in the chain is seen without reading the store
        add_register_entry(s, _entry(5, "2026-02-03", "h4"), "h5")
    with state.db.read() as s:
        assert chain_problems(register_chain(s, A, 2026)) == [
            "gap: expected number 4, found 5",
            "number 5: previous-entry hash does not match"]  # it names 4, which is missing


# ------------------------------------------------------------------ outbox, complaints, people


def test_outbox_dedupes_orders_and_counts(state: State) -> None:
    with state.db.write() as s:
        first = outbox.enqueue(s, "status", "CODE", {"n": 1}, version="1", agency=A)
        assert outbox.enqueue(s, "status", "CODE", {"n": 1}, version="1", agency=A) == first
        second = outbox.enqueue(s, "ecopy", "copy", {"n": 2}, version="2", agency=B)
    with state.db.read() as s:
        assert [p.state.key for p in outbox.pending_items(s)] == [first, second]
    (item, _other) = _pending(state)
    outbox.mark_retry(state.db, item, "HTTP 503", http_status=503)
    later = outbox.mark_failed(state.db, _pending(state)[0], "HTTP 400", http_status=400)
    assert later.status == "failed" and later.attempts == 2
    with state.db.read() as s:
        mine = outbox.summary(s, agency=A)
        everything = outbox.summary(s)
    assert (mine["pending"], len(mine["failed"])) == (0, 1)
    assert (everything["pending"], everything["pending_by_kind"]["ecopy"]) == (1, 1)
    assert outbox.retry(state.db, state.store, first, actor="admin")
    assert not outbox.retry(state.db, state.store, first, actor="admin")  # not failed now


def test_failed_deliveries_come_a_page_at_a_time(state: State) -> None:
    with state.db.write() as s:
        keys = [outbox.enqueue(s, "status", f"C{n:03d}", {}, version="1", agency=A)
                for n in range(53)]
    for pending in _pending(state):
        outbox.mark_failed(state.db, pending, "HTTP 401", http_status=401)
    with state.db.read() as s:
        info = outbox.summary(s, agency=A)
        assert info["failed_total"] == 53 and len(info["failed"]) == 50
        rest = outbox.summary(s, agency=A, failed_cursor=info["failed_next"])
        assert outbox.summary(s, agency=B)["failed_total"] == 0
    assert [i["key"] for i in info["failed"] + rest["failed"]] == keys
    assert rest["failed_next"] == ""


def _pending(state: State) -> list[outbox.Pending]:
    with state.db.read() as s:
        return outbox.pending_items(s)


def test_complaint_events_are_compare_and_set(state: State) -> None:
    now = datetime.now(UTC)
    values = {"complaint_id": "a" * 32, "public_code": "ABCDEFGHJKLM", "agency": A,
              "kind": "complaint", "target_type": "dossier", "target": "X", "filer": "citizen",
              "name": "N", "organisation": "", "phone": "", "email": "", "address": "",
              "text": "t", "created_at": now, "dossier_id": "", "closed": False,
              "due": "2026-01-01"}
    event = {"action": "close", "at": now, "by": "lan", "text": "", "complex": False}
    with state.db.write() as s:
        assert complaint_rows.insert_complaint(s, values)
        assert not complaint_rows.insert_complaint(s, values)  # the same id: draw again
        assert complaint_rows.append_event(s, "a" * 32, 0, event, closed=True, due="")
        assert not complaint_rows.append_event(s, "a" * 32, 0, event, closed=True, due="")
    with state.db.read() as s:
        assert [r.seq for r in complaint_rows.event_rows(s, "a" * 32)] == [1]
        (row,) = complaint_rows.complaint_page(s, A).items
        assert row.closed and row.events == 1


def test_sessions_expire_and_end_with_the_account(state: State) -> None:
    now = datetime.now(UTC)
    with state.db.write() as s:
        assert account_rows.insert_account(s, {
            "username": "lan", "full_name": "L", "role": "clerk", "agency": A,
            "password_hash": "x", "active": True, "created_at": now, "title": ""})
        account_rows.insert_session(s, "1" * 64, "lan", "c", now, now + timedelta(hours=1))
        account_rows.insert_session(s, "2" * 64, "lan", "c", now, now - timedelta(seconds=1))
    with state.db.read() as s:
        assert account_rows.session_row(s, "1" * 64, now) is not None
        assert account_rows.session_row(s, "2" * 64, now) is None  # expired
    with state.db.write() as s:
        assert account_rows.purge_expired_sessions(s, now) == 1
        assert account_rows.end_sessions_of(s, "lan") == 1


def test_a_pointer_is_set_once(state: State) -> None:
    with state.db.write() as s:
        assert pointer_once(s, "key", "first", by="a") == "first"
        assert pointer_once(s, "key", "second", by="b") == "first"


# ------------------------------------------------------------------ figures


def test_figures_are_the_same_aggregates_on_both_engines(state: State) -> None:
    """Medians take another road on each engine (percentile_cont / in Python)."""
    start = datetime(2026, 3, 2, 2, tzinfo=UTC)  # 09:00 in Vietnam, a Monday
    for hours, agency in ((1, A), (3, A), (30, A), (2, B)):
        d = dossier(state, agency, at=start)
        c = case(state, d, at=start)
        save_status(state, c["case_id"], "filed", actor="x",
                    at=start + timedelta(hours=hours))
    online = dossier(state, A, at=start + timedelta(days=1))
    with state.db.write() as s:  # an open dossier, received online
        from sqlalchemy import update

        from storage.db.schema import dossiers

        s.execute(update(dossiers).where(dossiers.c.dossier_id == online.dossier_id)
                  .values(channel="online"))
    case(state, online, at=start + timedelta(days=1))
    figures = compute_figures(state.db, Period.month("2026-03"),
                              as_of=start + timedelta(days=10))
    rows = {r["agency"]: r for r in figures.rows()}
    assert (rows[A]["received"], rows[A]["finished_on_time"], rows[A]["finished_late"],
            rows[A]["open"], rows[A]["open_overdue"], rows[A]["online"]) == (4, 2, 1, 1, 1, 1)
    assert rows[A]["median_hours"] == 3.0 and rows[B]["median_hours"] == 2.0
    assert rows["all"]["median_hours"] == 2.5 and rows["all"]["received"] == 5
    with state.db.read() as s:
        assert len(cases_of_dossier(s, online.dossier_id)) == 1


def test_access_rows_written_in_one_go_read_back_alike(state: State) -> None:
    """The access log's batch write (COPY on PostgreSQL, INSERT on SQLite) keeps every
    column, the time zone and the order of the rows, so a sealed day hashes the same."""
    from storage.db import access

    at = datetime(2026, 12, 7, 3, 4, 5, 678000, tzinfo=UTC)
    rows = [*access.rows_of(actor="lan", role="clerk", agency=A, what="dossier_list",
                            reads=[access.Read(PERSON, "d1"), access.Read("079301012346",
                                                                          "d2")],
                            address="192.0.2.7", at=at),
            *access.rows_of(actor="hoa", role="clerk", agency=B, what="search",
                            reads=[access.Read(PERSON, "")], address="", at=at)]
    with state.db.write() as s:
        assert access.insert_rows(s, rows) == 3
    with state.db.read() as s:
        got = access.of_person(s, PERSON)
        digest = access.day_digest(s, at.date())
    assert [(r.actor, r.agency, r.what, r.ref, r.address) for r in got] == [
        ("hoa", B, "search", "", ""), ("lan", A, "dossier_list", "d1", "192.0.2.7")]
    assert all(r.at.astimezone(UTC) == at for r in got)
    assert digest[0] == 3
