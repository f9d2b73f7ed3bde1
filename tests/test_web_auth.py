"""Web app foundations: accounts, sign-in, sessions, CSRF, throttling, headers, language."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from ecopy import accounts
from ecopy.settings import load_settings
from ecopy.web.app import create_app, safe_next
from storage.backends import LocalStore
from storage.db.schema import sessions
from storage.state import State
from tests.conftest import open_state, run_cli, sign_in

PASSWORD = "mật khẩu đủ dài 2026"


@pytest.fixture
def web(tmp_path: Path, env: dict[str, str]) -> tuple[TestClient, State]:
    state = open_state(LocalStore(tmp_path / "store"))
    accounts.create(state.db, "lan", "Trần Thị Lan", "clerk", "99999", PASSWORD)
    accounts.create(state.db, "kiem.tra", "Lê Văn Kiểm", "auditor", "99999", PASSWORD)
    settings = replace(load_settings(env), web_secure_cookies=False, web_login_failures=3)
    return TestClient(create_app(settings, state), follow_redirects=False), state


def login(client: TestClient, user: str = "lan", password: str = PASSWORD):
    return sign_in(client, user, password)


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def test_sign_in_and_out(web: tuple[TestClient, State]) -> None:
    client, state = web
    store = state.store
    assert client.get("/").headers["location"] == "/login"
    page = client.get("/login")
    assert page.status_code == 200 and 'lang="vi"' in page.text and "Đăng nhập" in page.text
    wrong = login(client, password="sai mật khẩu rồi")
    assert wrong.status_code == 401 and "không đúng" in wrong.text
    ok = login(client)
    assert ok.status_code == 303 and ok.headers["location"] == "/dossiers"
    cookie = ok.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    token = client.cookies.get("ecopy_session")
    with state.db.read() as s:
        kept = [tuple(r) for r in s.execute(select(sessions))]
    assert len(kept) == 1 and token and token not in repr(kept)  # only its sha256 is kept

    home = client.get("/lang/vi?next=/login")  # any signed-in page carries the CSRF token
    assert home.status_code == 303
    signed_in = client.get("/login")
    assert "Trần Thị Lan" in signed_in.text
    no_token = client.post("/logout")
    assert no_token.status_code == 403  # CSRF
    out = client.post("/logout", data={"csrf": csrf_of(signed_in.text)})
    assert out.status_code == 303
    assert "Trần Thị Lan" not in client.get("/login").text
    # the old token is dead even if replayed, and the session is gone, not kept expired
    client.cookies.set("ecopy_session", token)
    assert "Trần Thị Lan" not in client.get("/login").text
    with state.db.read() as s:
        assert s.execute(select(sessions)).first() is None

    events = [json.loads(p.read_text()) for p in sorted((store.root / "audit").rglob("0*.json"))]
    acts = [(e["actor"], e["details"]["act"]) for e in events if e["action"] == "web"]
    assert acts == [("lan", "login_failed"), ("lan", "login"), ("lan", "logout")]


def test_secure_cookies_by_default(tmp_path: Path, env: dict[str, str]) -> None:
    state = open_state(LocalStore(tmp_path / "store"))
    accounts.create(state.db, "lan", "Trần Thị Lan", "clerk", "99999", PASSWORD)
    client = TestClient(create_app(load_settings(env), state), follow_redirects=False,
                        base_url="https://testserver")
    assert "Secure" in login(client).headers["set-cookie"]


def test_failed_logins_are_throttled(web: tuple[TestClient, State]) -> None:
    client, _store = web
    for _ in range(3):
        assert login(client, password="không phải mật khẩu").status_code == 401
    blocked = login(client)  # even the right password waits now
    assert blocked.status_code == 429 and "thử lại sau 15 phút" in blocked.text
    assert login(client, "kiem.tra").status_code == 303  # other users are not locked out


def test_disabled_account_cannot_sign_in(web: tuple[TestClient, State]) -> None:
    client, state = web
    account = accounts.load(state.db, "lan")
    accounts.save(state.db, replace(account, active=False))
    assert login(client).status_code == 401


def test_a_new_password_ends_open_sessions(web: tuple[TestClient, State]) -> None:
    client, state = web
    assert login(client).status_code == 303
    assert "Trần Thị Lan" in client.get("/login").text
    accounts.set_password(state.db, accounts.load(state.db, "lan"), PASSWORD + " mới")
    assert "Trần Thị Lan" not in client.get("/login").text  # signed out everywhere
    assert login(client, password=PASSWORD + " mới").status_code == 303


def test_headers_and_language(web: tuple[TestClient, State]) -> None:
    client, _store = web
    page = client.get("/login")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["x-content-type-options"] == "nosniff"
    english = client.get("/lang/en?next=/login")
    assert english.headers["location"] == "/login"
    assert "Sign in" in client.get("/login").text
    assert client.get("/lang/en?next=https://evil.example/").headers["location"] == "/"
    assert client.get("/lang/xx").status_code == 404


@pytest.mark.parametrize(("target", "safe"), [
    ("/dossiers/1", "/dossiers/1"), ("https://evil.example", "/"), ("//evil.example", "/"),
    ("/\\evil.example", "/"), ("", "/"), ("dossiers", "/")])
def test_redirects_stay_on_the_site(target: str, safe: str) -> None:
    assert safe_next(target) == safe


def test_user_cli(tmp_path: Path, env: dict[str, str]) -> None:
    store = tmp_path / "store"
    pw = tmp_path / "pw"
    pw.write_text("ngắn\n")
    short = run_cli(["user", "add", "lan", "--role", "clerk", "--agency", "99999",
                     "--full-name", "Trần Thị Lan", "--password-file", str(pw),
                     "--store", str(store)], env)
    assert short.returncode == 2 and "at least" in short.stderr
    pw.write_text(PASSWORD + "\n")
    for bad in (["--role", "boss", "--agency", "99999"], ["--role", "clerk", "--agency", "9"]):
        refused = run_cli(["user", "add", "lan", *bad, "--full-name", "X", "--password-file",
                           str(pw), "--store", str(store)], env)
        assert refused.returncode == 2
    made = run_cli(["user", "add", "lan", "--role", "clerk", "--agency", "99999",
                    "--full-name", "Trần Thị Lan", "--password-file", str(pw),
                    "--store", str(store)], env)
    assert made.returncode == 0, made.stderr
    db = open_state(LocalStore(store)).db
    saved = accounts.load(db, "lan")
    assert saved.password_hash.startswith("$argon2id$") and PASSWORD not in repr(saved)
    assert not (store / "accounts").exists()  # working state: not in the evidence store
    again = run_cli(["user", "add", "lan", "--role", "clerk", "--agency", "99999",
                     "--full-name", "X", "--password-file", str(pw), "--store", str(store)], env)
    assert again.returncode == 1
    assert accounts.authenticate(db, "lan", PASSWORD) is not None
    off = run_cli(["user", "disable", "lan", "--store", str(store)], env)
    assert off.returncode == 0
    assert accounts.authenticate(db, "lan", PASSWORD) is None
