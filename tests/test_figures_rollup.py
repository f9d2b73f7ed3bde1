"""The figures of now come from month rows (storage.db.rollups); they must be the numbers the
full aggregate over the dossiers gives, on both engines, after any sequence of changes, and
when several processes change one commune month at once.
"""

from __future__ import annotations

import random
import secrets
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from pipeline.casework.figures import Period, compute_figures, parse_period
from pipeline.casework.status import claim, save_status
from storage.backends import LocalStore
from storage.db import rollups
from storage.db.dossiers import Dossier, open_dossier
from storage.db.schema import month_figures
from storage.state import State
from tests.conftest import open_state

COMMUNES = ("00004", "00007", "11111")


@pytest.fixture
def state(engine_url: tuple[str, str | None], tmp_path: Path) -> State:
    url, password = engine_url
    return open_state(LocalStore(tmp_path / "store"), url, password)


def _dossier(state: State, agency: str, at: datetime, note: str = "",
             channel: str = "counter") -> Dossier:
    with state.db.write() as s:
        return open_dossier(s, agency=agency, person_id="001301012345", person_name="Lê Thu",
                            date_of_birth="", opened_by="lan", note=note, channel=channel,
                            deadlines=state.deadlines, now=at)


def _case(state: State, d: Dossier, at: datetime) -> str:
    record, claimed = claim(state, d, secrets.token_hex(32), name="scan.jpg", size=10,
                            person_id=d.person_id, actor="lan", at=at)
    assert claimed
    return record["case_id"]


def _both(state: State, period: Period) -> tuple[list[dict], list[dict]]:
    now = compute_figures(state.db, period)
    exact = compute_figures(state.db, period, as_of=now.as_of, exact=True)
    return now.rows(), exact.rows()


def test_month_rows_give_the_exact_figures_after_random_changes(state: State) -> None:
    rng = random.Random(7)
    # Vietnam month edges on purpose: 16:59 and 17:00 UTC on the last day are two months
    starts = [datetime(2026, 10, 31, 16, 59, 59, tzinfo=UTC),
              datetime(2026, 10, 31, 17, 0, tzinfo=UTC),
              datetime(2026, 11, 3, 2, tzinfo=UTC), datetime(2026, 11, 20, 9, tzinfo=UTC)]
    cases = []
    for n in range(40):
        opened = rng.choice(starts) + timedelta(minutes=rng.randrange(0, 600))
        d = _dossier(state, rng.choice(COMMUNES), opened,
                     note="ecopy process" if n % 13 == 0 else "",
                     channel="online" if rng.random() < 0.3 else "counter")
        for _ in range(rng.randrange(0, 3)):
            cases.append((_case(state, d, opened), opened))
    for case_id, opened in cases:  # some finish on time, some late, some are refused
        roll = rng.random()
        at = opened + timedelta(hours=rng.choice([1, 5, 30, 200]), seconds=rng.random() * 999)
        if roll < 0.5:
            save_status(state, case_id, "filed", actor="x", at=at)
        elif roll < 0.7:
            save_status(state, case_id, "rejected", actor="x", at=at, reason="classified")
    # open papers of today: some not due yet, some (received a week ago) overdue
    today = datetime.now(UTC).replace(microsecond=0)
    for back in (0, 0, 7, 9):
        d = _dossier(state, COMMUNES[2], today - timedelta(days=back))
        _case(state, d, today - timedelta(days=back))
    current = parse_period()
    for period in (Period.month("2026-10"), Period.month("2026-11"), Period.year("2026"),
                   current, Period.year(f"{current.start.year}")):
        now, exact = _both(state, period)
        assert now == exact, period.label
    years = {f"{(today - timedelta(days=back)).year}" for back in (0, 9)}  # early January
    found = [{r["agency"]: r for r in compute_figures(state.db, Period.year(y)).rows()}
             [COMMUNES[2]] for y in years]
    n_open, overdue = (sum(r[k] for r in found) for k in ("open", "open_overdue"))
    assert n_open > overdue >= 2
    rows = {r["agency"]: r for r in compute_figures(state.db, Period.month("2026-11")).rows()}
    assert rows["all"]["received"] > 0 and rows["all"]["median_hours"] is not None
    assert rows["all"]["refused_documents"] > 0


def test_two_writers_of_one_commune_month_lose_nothing(state: State) -> None:
    """Eight threads (eight connections) finish papers of one commune month at once: the
    month row ends as the dossiers say (on PostgreSQL the row lock orders them)."""
    opened = datetime(2026, 11, 3, 2, tzinfo=UTC)
    work = []
    for _ in range(16):
        d = _dossier(state, COMMUNES[0], opened)
        work.append(_case(state, d, opened))
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: save_status(state, work[i], "filed", actor="x",
                                            at=opened + timedelta(hours=i + 1)),
                      range(len(work))))
    now, exact = _both(state, Period.month("2026-11"))
    assert now == exact
    row = {r["agency"]: r for r in now}[COMMUNES[0]]
    assert (row["received"], row["finished_on_time"] + row["finished_late"]) == (16, 16)
    assert row["median_hours"] == 8.5


def test_db_check_finds_and_repairs_a_stale_month_row(state: State) -> None:
    opened = datetime(2026, 11, 3, 2, tzinfo=UTC)
    d = _dossier(state, COMMUNES[1], opened)
    save_status(state, _case(state, d, opened), "filed", actor="x",
                at=opened + timedelta(hours=2))
    with state.db.write() as s:
        assert rollups.rebuild(s, repair=False) == []
        s.execute(update(month_figures).values(received=99, seconds=b""))
        s.execute(month_figures.insert().values(
            agency="22222", month="2026-11", received=1, finished_on_time=0, finished_late=0,
            online=0, seconds=b"", working=b"", open_due=b"", refusals={}))
    with state.db.write() as s:
        assert rollups.rebuild(s, repair=True) == [(COMMUNES[1], "2026-11"),
                                                    ("22222", "2026-11")]
    with state.db.read() as s:
        assert rollups.rebuild(s, repair=False) == []
        (row,) = s.execute(select(month_figures)).all()
    assert (row.agency, row.received, list(rollups.unpack(row.seconds))) == (
        COMMUNES[1], 1, [7200])


def test_migration_0004_builds_the_rows_of_dossiers_already_there(state: State) -> None:
    """A database at 0003 with a year of dossiers: upgrading to 0004 fills month_figures."""
    from alembic import command

    from storage.db.migrate import _config, current_revision, upgrade

    opened = datetime(2026, 11, 3, 2, tzinfo=UTC)
    for agency in COMMUNES:
        d = _dossier(state, agency, opened)
        save_status(state, _case(state, d, opened), "filed", actor="x",
                    at=opened + timedelta(hours=3))
    before = compute_figures(state.db, Period.month("2026-11")).rows()
    config = _config()
    with state.db.engine.execution_options(ecopy_write=True).begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0003")
    assert current_revision(state.db) == "0003"
    assert upgrade(state.db) == ("0003", "0004")
    with state.db.read() as s:
        assert len(s.execute(select(month_figures)).all()) == len(COMMUNES)
        assert rollups.rebuild(s, repair=False) == []
    assert compute_figures(state.db, Period.month("2026-11")).rows() == before
