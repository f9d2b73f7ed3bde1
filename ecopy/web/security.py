"""Sessions, CSRF, login throttling, role checks and security headers of the web app.

Sessions are rows of the working-state database, found by the sha256 of their token: the
cookie holds only a random token (HttpOnly, SameSite=Strict, Secure unless configured off for
plain-http tests), so logging out, a new password or disabling an account ends the session
everywhere, and an ended session is deleted (working data, not evidence). Each
session has its own CSRF token; every state-changing request must carry it (form field
`csrf` or header `X-CSRF-Token`), compared in constant time. Failed logins are counted per user
name and per client address in a sliding window and answered with HTTP 429 past the limit.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from fastapi import HTTPException, Request
from starlette.datastructures import FormData

from ecopy.accounts import Account, account_of
from storage.db import Database
from storage.db import accounts as rows

COOKIE = "ecopy_session"
LANG_COOKIE = "ecopy_lang"
IP_FACTOR = 4  # an address may fail this many times more than one user name

CSP = ("default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; "
       "object-src 'none'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


@dataclass(frozen=True)
class Session:
    key: str  # sha256 of the cookie's token: the row's key
    username: str
    csrf: str
    expires: datetime


def _token_sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(db: Database, username: str, minutes: int) -> tuple[str, Session]:
    """A new session (and expired sessions of anyone swept away with it)."""
    token = secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    session = Session(_token_sha256(token), username, secrets.token_urlsafe(32),
                      now + timedelta(minutes=minutes))
    with db.write() as s:
        rows.purge_expired_sessions(s, now)
        rows.insert_session(s, session.key, username, session.csrf, now, session.expires)
    return token, session


def read_session(db: Database, token: str | None) -> Session | None:
    if not token or len(token) > 100:
        return None
    with db.read() as s:
        row = rows.session_row(s, _token_sha256(token), datetime.now(UTC))
    if row is None:
        return None
    return Session(row.token_sha256, row.username, row.csrf, row.expires_at)


def close_session(db: Database, session: Session) -> None:
    with db.write() as s:
        rows.end_session(s, session.key)


def csrf_ok(session: Session, presented: str | None) -> bool:
    return bool(presented) and hmac.compare_digest(session.csrf, presented or "")


class LoginThrottle:
    """Failed logins per user name and per client address within a sliding window."""

    def __init__(self, max_failures: int, window_s: int) -> None:
        self.max, self.window = max_failures, window_s
        self._fails: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        q = self._fails.setdefault(key, deque())
        while q and q[0] <= now - self.window:
            q.popleft()
        return q

    def blocked(self, username: str, address: str) -> bool:
        now = time.monotonic()
        with self._lock:
            return (len(self._recent(f"u:{username}", now)) >= self.max
                    or len(self._recent(f"a:{address}", now)) >= self.max * IP_FACTOR)

    def failed(self, username: str, address: str) -> None:
        now = time.monotonic()
        with self._lock:
            self._recent(f"u:{username}", now).append(now)
            self._recent(f"a:{address}", now).append(now)

    def succeeded(self, username: str) -> None:
        with self._lock:
            self._fails.pop(f"u:{username}", None)


def client_address(request: Request) -> str:
    return request.client.host if request.client else "?"


class AddressLimiter:
    """At most `limit` requests per client address in a sliding window of `window_s`."""

    def __init__(self, limit: int, window_s: float) -> None:
        self.limit, self.window = limit, window_s
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def allow(self, address: str) -> bool:
        now = time.monotonic()
        with self._lock:
            if len(self._seen) > 10_000:  # forget idle addresses so the table stays bounded
                recent = now - self.window
                self._seen = {a: q for a, q in self._seen.items() if q and q[-1] > recent}
            q = self._seen.setdefault(address, deque())
            while q and q[0] <= now - self.window:
                q.popleft()
            if len(q) >= self.limit:
                return False
            q.append(now)
            return True


def allowed(request: Request, name: str, limit: int, window_s: float) -> bool:
    """One more `name` request from this client address within its limit? The app keeps one
    limiter per name (`app.state.<name>_limiter`, which tests may replace)."""
    state = request.app.state
    limiter = getattr(state, f"{name}_limiter", None)
    if limiter is None:
        limiter = AddressLimiter(limit, window_s)
        setattr(state, f"{name}_limiter", limiter)
    return limiter.allow(client_address(request))


class LoginRequired(Exception):
    """Raised by `current_user` for anonymous requests to a page that needs a login."""


def current(request: Request) -> tuple[Account, Session] | None:
    """The signed-in account and its session: one query, asked once per request (the page
    and its template share the answer)."""
    if "signed_in" in request.state._state:
        return request.state.signed_in
    found = None
    token = request.cookies.get(COOKIE)
    if token and len(token) <= 100:
        with request.app.state.db.read() as s:
            row = rows.signed_in(s, _token_sha256(token), datetime.now(UTC))
        if row is not None and row.active:
            found = (account_of(row),
                     Session(row.token_sha256, row.username, row.csrf, row.expires_at))
    request.state.signed_in = found
    return found


def require(request: Request, *roles: str) -> tuple[Account, Session]:
    """The signed-in account, if it has one of `roles` (any role when none are given)."""
    found = current(request)
    if found is None:
        raise LoginRequired()
    if roles and found[0].role not in roles:
        raise HTTPException(status_code=403)
    return found


async def check_csrf(request: Request, session: Session) -> FormData:
    """The submitted form, after checking its CSRF token (HTTP 403 when wrong)."""
    form = await request.form()
    presented = request.headers.get("X-CSRF-Token") or form.get("csrf")
    if not csrf_ok(session, presented if isinstance(presented, str) else None):
        raise HTTPException(status_code=403, detail="csrf")
    return form
