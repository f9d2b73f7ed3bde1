"""/admin/sync: operators see their commune's portal backlog and failed deliveries; an admin
re-queues a failed one, an auditor only looks, a clerk is refused, another commune gets 404."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from fastapi.testclient import TestClient

from ecopy import accounts
from ecopy.settings import load_settings
from ecopy.web.app import create_app
from storage import outbox
from storage.backends import LocalStore
from storage.state import State
from tests.conftest import open_state, sign_in
from tests.support.portalserver import PortalServer
from workers.sync import PortalClient, PortalConfig, deliver_due

PASSWORD = "mật khẩu đủ dài 2026"


def _csrf(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def _client(state: State, env: dict[str, str], user: str, **settings: str) -> TestClient:
    app = create_app(replace(load_settings(env), web_secure_cookies=False, **settings), state)
    client = TestClient(app, follow_redirects=False)
    sign_in(client, user, PASSWORD)
    return client


def test_sync_page_roles_and_retry(tmp_path: Path, env: dict[str, str]) -> None:
    state = open_state(LocalStore(tmp_path / "store"))
    for user, role, agency in (("quan.tri", "admin", "99999"), ("kiem.toan", "auditor", "99999"),
                               ("can.bo", "clerk", "99999"), ("xa.khac", "admin", "11111")):
        accounts.create(state.db, user, user, role, agency, PASSWORD)
    with state.db.write() as s:
        bad = outbox.enqueue(s, "status", "ABCDEFGHJK", {"status": "ready"}, version="1",
                             agency="99999")
        waiting = outbox.enqueue(s, "cancellation", "c0ffee", {"copy_id": "c0ffee"},
                                 version="2", agency="99999")
        other = outbox.enqueue(s, "status", "ZZZZZZZZZZ", {"status": "ready"}, version="1",
                               agency="11111")
    server = PortalServer().start()
    try:
        server.reject_next(400)  # the oldest item (ours) is refused for good
        server.fail_next(2)  # the next two wait for a retry
        report = deliver_due(state, PortalClient(PortalConfig(server.url + "/portal")),
                             datetime.now(UTC))
        assert (report.failed, report.retrying) == (1, 2)
    finally:
        server.stop()

    admin = _client(state, env, "quan.tri")
    page = admin.get("/admin/sync")
    assert page.status_code == 200 and "Đồng bộ cổng" in page.text
    assert 'data-testid="sync-not-configured"' in page.text  # no ECOPY_PORTAL_URL here
    assert f'data-testid="sync-failed-{bad}"' in page.text and "HTTP 400" in page.text
    assert f'data-testid="sync-pending-{waiting}"' in page.text
    assert other not in page.text and "ZZZZZZZZZZ" not in page.text  # another commune's

    auditor = _client(state, env, "kiem.toan", portal_url="https://portal.example/api")
    seen = auditor.get("/admin/sync")
    assert seen.status_code == 200 and bad in seen.text
    assert "https://portal.example/api" in seen.text
    assert "/admin/sync/retry/" not in seen.text  # no button for the read-only role
    assert auditor.post(f"/admin/sync/retry/{bad}",
                        data={"csrf": _csrf(seen.text)}).status_code == 403
    assert _client(state, env, "can.bo").get("/admin/sync").status_code == 403
    elsewhere = _client(state, env, "xa.khac")
    assert elsewhere.post(f"/admin/sync/retry/{bad}", data={
        "csrf": _csrf(elsewhere.get("/admin/sync").text)}).status_code == 404

    assert admin.post(f"/admin/sync/retry/{bad}", data={}).status_code == 403  # no CSRF token
    done = admin.post(f"/admin/sync/retry/{bad}", data={"csrf": _csrf(page.text)})
    assert done.status_code == 303
    with state.db.read() as s:
        assert outbox.item_state(s, bad).status == "pending"
    after = admin.get(done.headers["location"])
    assert 'data-testid="sync-retried"' in after.text
    assert 'data-testid="sync-none-failed"' in after.text
