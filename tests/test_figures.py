"""Per-commune performance figures and legal time limits (Res. 131/NQ-CP; Decree 23/2015 Arts 7
and 21; issue 8 point 4). Dossiers and records are written into a real LocalStore with chosen
times, so every expected figure below is worked out by hand from those times."""

from __future__ import annotations

import csv
import io
import json
import re
import secrets
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ecopy.settings import load_settings
from ecopy.web.app import create_app
from pipeline.casework.figures import (
    Period,
    PeriodError,
    compute_figures,
    figures_csv,
    parse_period,
)
from pipeline.casework.procedures import VN_TZ, calendar, due_at, procedure
from pipeline.casework.status import claim, save_status
from storage.backends import LocalStore
from storage.db.dossiers import open_dossier
from storage.state import State
from tests.conftest import open_state, run_cli

BA_DINH, UNNAMED = "00004", "99999"
NAME, PERSON_ID, FILE = "Nguyễn Thị Mai Anh", "001301012345", "khai-sinh-Mai-Anh.jpg"


def vn(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=VN_TZ)


def due(received: datetime, documents: int = 1, pages: int = 1) -> datetime:
    return due_at(procedure(""), received, documents, pages)


# ------------------------------------------------------------------ time limits, pure dates


def test_same_day_and_the_15_00_cutoff() -> None:
    assert due(vn(2026, 3, 2, 9)) == vn(2026, 3, 2, 17)  # Monday morning: the same day
    assert due(vn(2026, 3, 2, 15)) == vn(2026, 3, 2, 17)  # at 15:00 sharp: not "after 15:00"
    assert due(vn(2026, 3, 2, 15, 1)) == vn(2026, 3, 3, 17)  # after 15:00: next working day
    assert due(vn(2026, 3, 6, 16)) == vn(2026, 3, 9, 17)  # Friday 16:00 → Monday
    assert due(vn(2026, 3, 7, 10)) == vn(2026, 3, 9, 17)  # an online request on Saturday
    # stored times are UTC: 08:30Z is 15:30 in Vietnam; naive times are taken as UTC
    assert due(datetime(2026, 3, 2, 8, 30, tzinfo=UTC)) == vn(2026, 3, 3, 17)
    assert due(datetime(2026, 3, 2, 2, 0)) == vn(2026, 3, 2, 17)


def test_holidays_tet_and_swapped_days() -> None:
    assert due(vn(2026, 2, 13, 10)) == vn(2026, 2, 13, 17)  # last working day before Tết
    assert due(vn(2026, 2, 13, 16)) == vn(2026, 2, 23, 17)  # Tết Bính Ngọ 16-20/2 skipped
    assert due(vn(2026, 2, 17, 9)) == vn(2026, 2, 23, 17)  # received (online) during Tết
    assert due(vn(2025, 1, 24, 16)) == vn(2025, 2, 3, 17)  # Tết Ất Tỵ 27-31/1/2025
    assert due(vn(2026, 4, 24, 16)) == vn(2026, 4, 28, 17)  # Hùng Kings' day off Mon 27/4
    assert due(vn(2026, 4, 29, 16)) == vn(2026, 5, 4, 17)  # the day before 30/4 and 1/5
    assert due(vn(2026, 8, 21, 16)) == vn(2026, 8, 22, 17)  # a make-up Saturday is worked
    assert due(vn(2026, 8, 28, 16)) == vn(2026, 9, 3, 17)  # 31/8 (swapped), 1/9, 2/9
    assert due(vn(2026, 11, 23, 16)) == vn(2026, 11, 25, 17)  # Vietnamese Culture Day 24/11


def test_bulk_requests_get_two_more_working_days() -> None:
    limit = procedure("").time_limit
    assert (limit.bulk_extra_working_days, limit.bulk_min_documents, limit.bulk_min_pages) == \
        (2, 10, 30)
    assert due(vn(2026, 3, 2, 9), documents=10) == vn(2026, 3, 4, 17)
    assert due(vn(2026, 3, 2, 9), documents=9, pages=29) == vn(2026, 3, 2, 17)
    assert due(vn(2026, 3, 2, 9), documents=1, pages=30) == vn(2026, 3, 4, 17)
    assert due(vn(2026, 2, 13, 16), documents=12) == vn(2026, 2, 25, 17)  # Tết, then +2


def test_procedure_and_calendar_data() -> None:
    proc = procedure("")
    assert proc.code == "2.000815.000.00.00.H" and procedure(proc.code) is proc
    assert "Chứng thực bản sao" in proc.name("vi") and "Certifying copies" in proc.name("en")
    with pytest.raises(KeyError):
        procedure("9.999999.000.00.00.H")
    cal = calendar()
    for year in (2025, 2026, 2027):
        assert not cal.is_working_day(date(year, 1, 1))
        assert not cal.is_working_day(date(year, 9, 2))
    assert all(d.weekday() < 5 for d in cal.days_off)
    assert all(d.weekday() == 5 for d in cal.extra_working_days)
    assert cal.covers(date(2025, 1, 1), date(2027, 12, 31))
    assert not cal.covers(date(2027, 12, 1), date(2028, 1, 31))
    # office time: Friday 16:00 → Monday 09:00 is 1 h + 1.5 h; a weekend adds nothing
    assert cal.working_hours_between(vn(2026, 3, 6, 16), vn(2026, 3, 9, 9)) == 2.5
    assert cal.working_hours_between(vn(2026, 3, 7, 8), vn(2026, 3, 8, 20)) == 0.0


def test_periods() -> None:
    assert Period.month("2026-02") == Period(date(2026, 2, 1), date(2026, 3, 1), "2026-02",
                                             "month")
    assert Period.year(2026).end == date(2027, 1, 1)
    assert Period.between("2026-03-01", "2026-03-31") == Period(
        date(2026, 3, 1), date(2026, 4, 1), "2026-03-01..2026-03-31")
    assert parse_period(today=date(2026, 11, 23)).label == "2026-11"
    assert parse_period(year="2025").kind == "year"
    for bad in ({"month": "2026-13"}, {"year": "99"},
                {"first": "2026-03-02", "last": "2026-03-01"}):
        with pytest.raises(PeriodError):
            parse_period(**bad)
    assert Period.month("2026-03").contains(datetime(2026, 2, 28, 17, 30, tzinfo=UTC))  # 00:30


# ------------------------------------------------------------------ figures from a real store


def add_dossier(state: State, agency: str, received: datetime,
                documents: list[tuple[str, datetime | None, str, int]] | None = None,
                channel: str = "counter", ground: str = "") -> None:
    """A dossier received at `received` with documents (final status, its time, reason,
    pages), written by the system's own functions at those times."""
    with state.db.write() as s:
        dossier = open_dossier(s, agency=agency, person_id=PERSON_ID, person_name=NAME,
                               date_of_birth="2001-02-05", opened_by="can.bo.lan",
                               channel=channel, deadlines=state.deadlines, now=received)
    for status, at, reason, pages in documents or []:
        case, _ = claim(state, dossier, secrets.token_hex(32), name=FILE, size=1,
                        person_id=PERSON_ID, actor="can.bo.lan", at=received)
        changes = {"pages": pages, "fields": [{"name": "full_name", "value": NAME}]}
        if at is None:
            save_status(state, case["case_id"], status, actor="ecopy", at=received, **changes)
        else:
            save_status(state, case["case_id"], status, actor="ecopy", at=at, reason=reason,
                        **({"ground_code": ground} if ground and reason == "refused_by_clerk"
                           else {}), **changes)


def filed(at: datetime, pages: int = 1) -> tuple[str, datetime, str, int]:
    return ("filed", at, "", pages)


@pytest.fixture
def state(tmp_path: Path) -> State:
    s = open_state(LocalStore(tmp_path / "store"))
    a = BA_DINH
    add_dossier(s, a, vn(2026, 3, 2, 9), [filed(vn(2026, 3, 2, 11, 30))])  # same day: on time
    add_dossier(s, a, vn(2026, 3, 3, 16), [filed(vn(2026, 3, 4, 9))])  # after 15:00: next day
    add_dossier(s, a, vn(2026, 3, 3, 16), [filed(vn(2026, 3, 6, 9))])  # two days later: late
    add_dossier(s, a, vn(2026, 3, 6, 16), [filed(vn(2026, 3, 9, 16, 59))])  # Friday → Monday
    add_dossier(s, a, vn(2026, 3, 9, 10), [filed(vn(2026, 3, 11, 15))] * 10,  # bulk: +2 days
                channel="online")
    add_dossier(s, a, vn(2026, 3, 16, 10), [("ready", None, "", 1)], channel="online")  # open
    add_dossier(s, a, vn(2026, 3, 17, 8), [("rejected", vn(2026, 3, 17, 9), "illegible", 1),
                                           ("rejected", vn(2026, 3, 17, 9, 30), "classified", 1)])
    add_dossier(s, a, vn(2026, 3, 18, 8), [("rejected", vn(2026, 3, 18, 9), "illegible", 1),
                                           filed(vn(2026, 3, 18, 10))])
    add_dossier(s, a, vn(2026, 3, 20, 8))  # no documents: never finished
    add_dossier(s, UNNAMED, vn(2026, 3, 2, 9), [filed(vn(2026, 3, 2, 9, 5))])
    add_dossier(s, UNNAMED, vn(2026, 4, 1, 9), [filed(vn(2026, 4, 1, 10))])  # another month
    return s


EXPECTED = {
    BA_DINH: {"received": 9, "finished_on_time": 6, "finished_late": 1, "on_time_pct": 85.7,
              "open": 2, "open_overdue": 2,
              # hours 1.5, 2, 2.5, 17, 53, 72.98, 89; office hours 1.5, 2, 2.5, 2.5, 10.48, …
              "median_hours": 17.0, "median_working_hours": 2.5, "online": 2,
              "online_share_pct": 22.2, "refused_documents": 3,
              "refusals_by_reason": "illegible=2;classified=1",
              "commune_name": "Phường Ba Đình"},
    UNNAMED: {"received": 1, "finished_on_time": 1, "finished_late": 0, "on_time_pct": 100.0,
              "open": 0, "open_overdue": 0, "median_hours": 0.08,
              "median_working_hours": 0.08, "online": 0, "online_share_pct": 0.0,
              "refused_documents": 0, "refusals_by_reason": "", "commune_name": ""},
    "all": {"received": 10, "finished_on_time": 7, "finished_late": 1, "on_time_pct": 87.5,
            "open": 2, "open_overdue": 2, "median_hours": 9.75, "median_working_hours": 2.5,
            "online": 2, "online_share_pct": 20.0, "refused_documents": 3,
            "refusals_by_reason": "illegible=2;classified=1", "commune_name": ""},
}


def test_figures_per_commune(state: State) -> None:
    figures = compute_figures(state.db, Period.month("2026-03"))
    rows = {row["agency"]: row for row in figures.rows()}
    assert list(rows) == [BA_DINH, UNNAMED, "all"]
    for agency, expected in EXPECTED.items():
        assert {k: rows[agency][k] for k in expected} == expected, agency
    assert figures.calendar_complete
    empty = compute_figures(state.db, Period.month("2026-05")).rows()
    assert [(r["agency"], r["received"], r["median_hours"]) for r in empty] == \
        [(BA_DINH, 0, None), (UNNAMED, 0, None), ("all", 0, None)]


def test_figures_as_they_stood_earlier(state: State) -> None:
    march = Period.month("2026-03")
    db = state.db
    # 16 March noon: the dossier of that morning is open but not yet due; later ones not in
    noon = compute_figures(db, march, agency=BA_DINH, as_of=vn(2026, 3, 16, 12)).communes[0]
    assert (noon.received, noon.open, noon.open_overdue) == (6, 1, 0)
    evening = compute_figures(db, march, agency=BA_DINH, as_of=vn(2026, 3, 16, 18))
    assert evening.communes[0].open_overdue == 1
    # 10 March: the bulk dossier (finished on the 11th) was still open, and not yet due
    tenth = compute_figures(db, march, agency=BA_DINH, as_of=vn(2026, 3, 10, 12)).communes[0]
    assert (tenth.received, tenth.finished_on_time, tenth.finished_late, tenth.open,
            tenth.open_overdue) == (5, 3, 1, 1, 0)


# ------------------------------------------------------------------ the public page and CSV


def client_for(state: State, env: dict[str, str]) -> TestClient:
    settings = replace(load_settings(env), web_secure_cookies=False)
    return TestClient(create_app(settings, state), follow_redirects=False)


def cells(html: str, agency: str) -> dict[str, str]:
    return dict(re.findall(rf'data-testid="fig-{agency}-(\w+)">([^<]*)<', html))


def test_public_page_csv_and_detail(state: State, env: dict[str, str]) -> None:
    client = client_for(state, env)
    page = client.get("/figures?month=2026-03")  # anonymous
    assert page.status_code == 200
    assert "Phường Ba Đình" in page.text and 'href="/figures.csv?month=2026-03"' in page.text
    got = cells(page.text, BA_DINH)
    assert (got["received"], got["finished_on_time"], got["finished_late"], got["open_overdue"],
            got["median_hours"], got["online_share_pct"]) == ("9", "6", "1", "2", "17.0", "22.2")
    for private in (NAME, PERSON_ID, "khai-sinh", "2001-02-05", "can.bo.lan"):
        assert private not in page.text, private

    data = client.get("/figures.csv?month=2026-03")
    assert data.status_code == 200 and data.content.startswith(b"\xef\xbb\xbf")
    assert data.headers["content-type"].startswith("text/csv")
    assert data.content == figures_csv(compute_figures(state.db, Period.month("2026-03")))
    rows = list(csv.DictReader(io.StringIO(data.content.decode("utf-8-sig"))))
    assert [r["agency"] for r in rows] == [BA_DINH, UNNAMED, "all"]
    assert rows[0]["commune_name"] == "Phường Ba Đình" and rows[0]["period"] == "2026-03"
    for row in rows:  # the CSV says what the page says, cell by cell
        shown = cells(page.text, row["agency"])
        assert shown and all(row[col] == ("" if text == "—" else text)
                             for col, text in shown.items()), row["agency"]
    for private in (NAME, PERSON_ID, "khai-sinh", "can.bo.lan"):
        assert private not in data.content.decode("utf-8-sig")

    detail = client.get(f"/figures/{BA_DINH}?month=2026-03")
    assert detail.status_code == 200
    assert re.search(r'data-testid="refusal-illegible">2<', detail.text)
    assert re.search(r'data-testid="refusal-classified">1<', detail.text)
    assert "Không đọc được nội dung" in detail.text and NAME not in detail.text
    assert cells(detail.text, BA_DINH) == cells(page.text, BA_DINH)
    assert client.get(f"/figures/{UNNAMED}?month=2026-03").status_code == 200
    assert client.get("/figures/12345").status_code == 404  # no such commune here
    assert client.get("/figures/..%2Fsecrets").status_code == 404
    assert client.get("/figures?month=2026-13").status_code == 400
    year = client.get("/figures?by=year&month=2026-03&year=2026")  # the selector form
    assert 'data-testid="figures-period">Kỳ: 2026<' in year.text
    assert cells(year.text, UNNAMED)["received"] == "2"

    client.get("/lang/en")
    english = client.get("/figures?month=2026-03")
    assert "Processing figures per commune" in english.text and "Finished late" in english.text
    assert "Illegible" in client.get(f"/figures/{BA_DINH}?month=2026-03").text


def test_figures_are_rate_limited(tmp_path: Path, env: dict[str, str]) -> None:
    client = client_for(open_state(LocalStore(tmp_path / "store")), env)
    codes = [client.get("/figures").status_code for _ in range(30)]
    assert codes == [200] * 30
    assert client.get("/figures").status_code == 429
    assert client.get("/figures.csv").status_code == 429
    assert client.get(f"/figures/{BA_DINH}").status_code == 429


def test_cli_gives_the_same_numbers(state: State, env: dict[str, str],
                                    tmp_path: Path) -> None:
    out = tmp_path / "figures.csv"
    root = state.store.root
    done = run_cli(["figures", "--month", "2026-03", "--store", str(root), "--json",
                    "--csv", str(out)], env, timeout=120)
    assert done.returncode == 0, done.stderr
    figures = compute_figures(state.db, Period.month("2026-03"))
    assert json.loads(done.stdout)["rows"] == figures.to_json()["rows"]
    assert out.read_bytes() == figures_csv(figures)
    text = run_cli(["figures", "--month", "2026-03", "--agency", BA_DINH, "--store",
                    str(root)], env, timeout=120)
    assert text.returncode == 0 and "illegible=2;classified=1" in text.stdout
    assert "Phường Ba Đình" in text.stdout and NAME not in text.stdout
    bad = run_cli(["figures", "--month", "2026-13", "--store", str(root)], env)
    assert bad.returncode == 2


def test_refusals_are_counted_per_art22_ground(tmp_path: Path) -> None:
    state = open_state(LocalStore(tmp_path))
    received = vn(2026, 3, 2, 9)
    add_dossier(state, BA_DINH, received,  # one with its ground, as the certify page records
                [("rejected", vn(2026, 3, 2, 10), "refused_by_clerk", 1)], ground="secret")
    add_dossier(state, BA_DINH, received,
                [("rejected", vn(2026, 3, 2, 10), "refused_by_clerk", 1),
                 ("rejected", vn(2026, 3, 2, 11), "illegible", 1)])
    (row, _total) = compute_figures(state.db, Period.month("2026-03")).rows()
    assert sorted(row["refusals_by_reason"].split(";")) == [
        "illegible=1", "refused_by_clerk:secret=1", "refused_by_clerk=1"]
    from pipeline.reasons import label

    assert label("refused_by_clerk:secret") == ("Từ chối theo Điều 22 NĐ 23/2015: Bản chính đóng "
                                                "dấu mật hoặc ghi rõ không được sao chụp")
    assert label("refused_by_clerk:secret", "en").endswith("marked not to be copied")
    assert label("refused_by_clerk:nonsense") == "refused_by_clerk:nonsense"
