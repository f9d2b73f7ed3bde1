"""Who read whose data: staff reads recorded, reported to the citizen, sealed day by day into
the audit chain, and unusual reading flagged."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from ecopy import accounts
from ecopy.access import PendingReads, flush_pending, seal_days, verify_days
from ecopy.settings import load_settings
from ecopy.web.app import create_app
from storage.backends import LocalStore
from storage.db import access as log
from storage.db.schema import access_events
from storage.evidence.audit import read_events, verify_audit
from tests.conftest import PERSON, open_state, run_cli, sign_in

PASSWORD = "mật khẩu đủ dài 2026"
OTHER = "079301012346"


@pytest.fixture
def site(tmp_path: Path, env: dict[str, str]) -> dict:
    store_dir = tmp_path / "store"
    state = open_state(LocalStore(store_dir))
    for user, role, agency in (("lan", "clerk", "11111"), ("hoa", "clerk", "22222"),
                               ("kiem.tra", "auditor", "11111")):
        accounts.create(state.db, user, f"Cán bộ {user}", role, agency, PASSWORD)
    return {"state": state, "dir": store_dir, "env": {**env, "ECOPY_STORE": str(store_dir),
                                                      "ECOPY_COMMUNE": "11111"}}


def staff(site: dict, user: str, **settings: object) -> TestClient:
    app = create_app(replace(load_settings(site["env"]), web_secure_cookies=False, **settings),
                     site["state"])
    c = TestClient(app, follow_redirects=False, client=("192.0.2.7", 4000))
    assert sign_in(c, user, PASSWORD).status_code == 303
    return c


def csrf(c: TestClient, path: str = "/dossiers") -> str:
    return re.search(r'name="csrf" value="([^"]+)"', c.get(path).text).group(1)


def open_dossier(c: TestClient, person_id: str, name: str) -> str:
    made = c.post("/dossiers", data={"csrf": csrf(c), "person_id": person_id,
                                     "person_name": name, "date_of_birth": "",
                                     "channel": "counter", "procedure": ""})
    assert made.status_code == 303, made.text
    return made.headers["location"].rsplit("/", 1)[1]


def test_staff_reads_are_reported_to_the_citizen(site: dict) -> None:
    lan = staff(site, "lan")
    dossier = open_dossier(lan, PERSON, "Trần Văn An")
    open_dossier(lan, OTHER, "Lê Thị Bình")
    assert lan.get(f"/dossiers/{dossier}").status_code == 200
    assert lan.get("/dossiers").status_code == 200  # the list shows both persons
    found = lan.post("/dossiers/search", data={"csrf": csrf(lan), "q": "tran van an"})
    assert found.status_code == 200 and dossier in found.text
    assert lan.post("/warehouse", data={"csrf": csrf(lan, "/warehouse"),
                                        "person_id": PERSON}).status_code == 200
    # another commune's clerk reads nothing of it, and so is not in the report
    hoa = staff(site, "hoa")
    assert hoa.get(f"/dossiers/{dossier}").status_code == 404

    flush_pending(site["state"].db)  # the web app writes its reads a moment later
    with site["state"].db.read() as s:
        rows = log.of_person(s, PERSON)
    what = {r.what for r in rows}
    assert {"dossier", "dossier_list", "search", "warehouse"} <= what
    assert {r.actor for r in rows} == {"lan"} and {r.address for r in rows} == {"192.0.2.7"}
    assert all(r.agency == "11111" and r.role == "clerk" for r in rows)

    # the printable report the commune hands to the citizen
    auditor = staff(site, "kiem.tra")
    page = auditor.post("/access", data={"csrf": csrf(auditor, "/access"),
                                         "person_id": PERSON})
    assert page.status_code == 200 and 'data-testid="access-report"' in page.text
    assert page.text.count("<td>lan</td>") == len(rows)
    assert "Lê Thị Bình" not in page.text and OTHER not in page.text
    assert PERSON not in "".join(re.findall(r'(?:href|action)="([^"]*)"', page.text))

    # and the same from the command line, which is itself recorded
    done = run_cli(["access", "report", "--person-id", PERSON, "--json"],
                   {**site["env"], "ECOPY_ACTOR": "operator"})
    assert done.returncode == 0, done.stderr
    reads = json.loads(done.stdout)["reads"]
    assert [r["actor"] for r in reads][:1] == ["kiem.tra"]  # newest first: the page above
    assert {"dossier", "warehouse", "access_report"} <= {r["what"] for r in reads}
    with site["state"].db.read() as s:
        assert log.of_person(s, PERSON)[0].actor == "operator"


def test_reading_many_persons_in_an_hour_raises_one_alert(site: dict, monkeypatch) -> None:
    import ecopy.access

    monkeypatch.setattr(ecopy.access, "LOOK_SOONEST_S", 0.0)  # no 10 s wait between counts
    lan = staff(site, "lan", access_alert_persons_per_hour=3)
    for i in range(5):
        open_dossier(lan, f"0013010123{i:02d}", f"Người thử {i}")
    assert lan.get("/dossiers").status_code == 200  # five persons in one page
    assert lan.get("/dossiers").status_code == 200
    flush_pending(site["state"].db)
    alerts = [e for e in read_events(site["state"].store) if e["action"] == "access_alert"]
    assert len(alerts) == 1  # once per hour, however long it goes on
    assert alerts[0]["object"] == "accounts/lan"
    assert alerts[0]["details"]["persons_in_hour"] > 3
    assert "0013010123" not in json.dumps(alerts[0])  # no person in the audit chain


def test_each_day_is_sealed_into_the_audit_chain(site: dict) -> None:
    state = site["state"]
    day = date.today() - timedelta(days=2)
    with state.db.write() as s:
        for hour in (8, 9, 15):
            log.record(s, actor="lan", role="clerk", agency="11111", what="dossier",
                       reads=[log.Read(PERSON, f"d{hour}")], address="192.0.2.7",
                       at=datetime(day.year, day.month, day.day, hour, tzinfo=UTC))
    sealed = seal_days(state.db, state.store, date.today())
    assert [s["day"] for s in sealed] == [day.isoformat(), (day + timedelta(1)).isoformat()]
    assert sealed[0]["rows"] == 3
    assert seal_days(state.db, state.store, date.today()) == []  # a day is sealed once
    assert verify_audit(state.store) == []
    assert {d["state"] for d in verify_days(state.db, state.store)} == {"ok"}
    seal_event = next(e for e in read_events(state.store) if e["action"] == "access_day")
    assert PERSON not in json.dumps(seal_event)

    # a row changed afterwards no longer matches its day's hash
    with state.db.write() as s:
        s.execute(update(access_events).where(access_events.c.ref == "d9")
                  .values(actor="someone"))
    checked = run_cli(["access", "verify", "--json"], site["env"])
    assert checked.returncode == 1
    states = {d["day"]: d["state"] for d in json.loads(checked.stdout)["days"]}
    assert states[day.isoformat()] == "changed"


def test_commands_that_show_a_person_record_it_too(site: dict) -> None:
    """A command showing a person (here `ecopy search`; `review list|show` and `register
    export` call the same recorder) is in the access log as the operator, from "cli"."""
    lan = staff(site, "lan")
    open_dossier(lan, PERSON, "Trần Văn An")
    env = {**site["env"], "ECOPY_ACTOR": "operator", "ECOPY_ROLE": "clerk"}
    found = run_cli(["search", "tran van an", "--json"], env)
    assert found.returncode == 0, found.stderr
    with site["state"].db.read() as s:
        rows = [r for r in log.of_person(s, PERSON) if r.actor == "operator"]
    assert [(r.what, r.role, r.agency, r.address) for r in rows] == [
        ("search", "clerk", "11111", "cli")]


def _rows_of(state, person_id: str) -> list:
    with state.db.read() as s:
        return log.of_person(s, person_id)


def test_a_page_is_in_the_log_within_a_second_without_anyone_flushing(site: dict) -> None:
    lan = staff(site, "lan")
    dossier = open_dossier(lan, PERSON, "Trần Văn An")
    assert lan.get(f"/dossiers/{dossier}").status_code == 200
    deadline = datetime.now(UTC) + timedelta(seconds=5)
    while not any(r.what == "dossier" for r in _rows_of(site["state"], PERSON)):
        assert datetime.now(UTC) < deadline, "the page's read was never written"
    row = next(r for r in _rows_of(site["state"], PERSON) if r.what == "dossier")
    # the time is the page's, not the write's
    assert datetime.now(UTC) - row.at.astimezone(UTC) < timedelta(seconds=5)


def test_a_stopping_app_writes_what_it_kept(site: dict) -> None:
    app = create_app(replace(load_settings(site["env"]), web_secure_cookies=False),
                     site["state"])
    app.state.access_log.every_s = 3600  # no timed write: only the stop can write it
    with TestClient(app, follow_redirects=False, client=("192.0.2.7", 4000)) as lan:
        assert sign_in(lan, "lan", PASSWORD).status_code == 303
        dossier = open_dossier(lan, PERSON, "Trần Văn An")
        assert lan.get(f"/dossiers/{dossier}").status_code == 200
    assert "dossier" in {r.what for r in _rows_of(site["state"], PERSON)}


def test_reads_wait_while_the_database_is_away_and_pages_stop_past_the_backlog(
        site: dict, tmp_path: Path) -> None:
    from storage.db import Database

    state = site["state"]
    away = Database(f"sqlite:///{tmp_path / 'gone' / 'no.sqlite3'}")  # its folder is absent
    pending = PendingReads(away, state.store, 0, every_s=3600, max_backlog=3)
    pending.add(actor="lan", role="clerk", agency="11111", what="dossier",
                reads=[log.Read(PERSON, "d1")], address="192.0.2.7")
    assert pending.flush() == 0  # the write failed: the read is kept, not dropped
    pending.add(actor="lan", role="clerk", agency="11111", what="dossier",
                reads=[log.Read(OTHER, "d2"), log.Read(PERSON, "d3")], address="192.0.2.7")
    with pytest.raises(Exception, match="wait to be written"):
        pending.add(actor="lan", role="clerk", agency="11111", what="dossier",
                    reads=[log.Read(PERSON, "d4")], address="192.0.2.7")
    pending.db = state.db  # the database answers again
    assert pending.flush() == 3
    assert [r.ref for r in _rows_of(state, PERSON)] == ["d3", "d1"]

    # a web page whose reads cannot be kept is refused, in the clerk's language
    lan = staff(site, "lan")
    dossier = open_dossier(lan, PERSON, "Trần Văn An")
    lan.app.state.access_log.max_backlog = 0
    refused = lan.get(f"/dossiers/{dossier}")
    assert refused.status_code == 503 and "Nhật ký truy cập" in refused.text
    assert "Trần Văn An" not in refused.text
