"""Sessions, CSRF, login throttling, role checks and security headers of the web app.

Sessions are rows of the working-state database, found by the sha256 of their token: the
cookie holds only a random token (HttpOnly, SameSite=Strict, Secure unless configured off for
plain-http tests), so logging out, a new password or disabling an account ends the session
everywhere, and an ended session is deleted (working data, not evidence). Each
session has its own CSRF token; every state-changing request must carry it (form field
`csrf` or header `X-CSRF-Token`), compared in constant time; the login form has a token of
its own (a cookie and a field that must match: login CSRF). Failed logins are counted per
user name and client address, and per client address, in a sliding window kept in the
database, and answered with HTTP 429 past the limit.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from fastapi import HTTPException, Request
from starlette.datastructures import FormData

from ecopy.accounts import Account, account_of
from storage.db import Database
from storage.db import access as access_log
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


def same_token(expected: str, presented: object) -> bool:
    """Constant-time comparison of a token with what a client sent (any text: bytes are
    compared, so a non-ASCII value is simply wrong, not an error)."""
    return (isinstance(presented, str) and bool(presented) and bool(expected)
            and hmac.compare_digest(expected.encode(), presented.encode()))


def csrf_ok(session: Session, presented: str | None) -> bool:
    return same_token(session.csrf, presented)


class LoginThrottle:
    """Failed logins in a sliding window, counted in the database so that every web process
    (``ecopy serve --workers N``, several hosts) sees the same count. Two counts, never a
    global lock-out: one per user name *and* client address (someone guessing one account's
    password from one place), one per client address (someone trying many accounts). A
    stranger elsewhere can therefore not lock a clerk out, and behind a proxy each client is
    counted on its own address (ECOPY_TRUSTED_PROXIES, `client_address`)."""

    def __init__(self, db: Database, max_failures: int, window_s: int) -> None:
        self.db, self.max, self.window = db, max_failures, window_s

    @staticmethod
    def _keys(username: str, address: str) -> tuple[str, str]:
        return f"login:a:{address}|u:{username[:32]}", f"login:a:{address}"

    def blocked(self, username: str, address: str) -> bool:
        pair, place = self._keys(username, address)
        since = datetime.now(UTC) - timedelta(seconds=self.window)
        with self.db.read() as s:
            counts = access_log.hits_since(s, [pair, place], since)
        return counts[pair] >= self.max or counts[place] >= self.max * IP_FACTOR

    def failed(self, username: str, address: str) -> None:
        with self.db.write() as s:
            access_log.hit(s, self._keys(username, address))
            if secrets.randbelow(100) == 0:  # now and then, forget what no window needs
                access_log.purge_hits_before(s, datetime.now(UTC) - timedelta(days=1))

    def succeeded(self, username: str, address: str) -> None:
        with self.db.write() as s:
            access_log.clear_hits(s, self._keys(username, address)[0])


def trusted_networks(spec: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """ECOPY_TRUSTED_PROXIES: "127.0.0.1,10.0.0.0/8" (a bad entry stops the start-up)."""
    out = []
    for item in spec.replace(";", ",").split(","):
        if item.strip():
            out.append(ipaddress.ip_network(item.strip(), strict=False))
    return tuple(out)


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def client_address(request: Request) -> str:
    """The client's address: the peer's, unless the peer is a trusted proxy
    (ECOPY_TRUSTED_PROXIES); then the nearest address in X-Forwarded-For that is not itself
    a trusted proxy (addresses further left were written by the client and prove nothing)."""
    peer = request.client.host if request.client else "?"
    trusted = getattr(request.app.state, "trusted_proxies", ())
    if not trusted or not _in(peer, trusted):
        return peer
    chain = [p.strip() for p in ",".join(request.headers.getlist("x-forwarded-for")).split(",")]
    for hop in reversed([p for p in chain if p]):
        if not _is_ip(hop):
            return peer  # a forged or garbled header: count the proxy, not a made-up name
        if not _in(hop, trusted):
            return hop
    return peer


def _in(address: str, networks: tuple) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in networks)


class AddressLimiter:
    """At most `limit` requests per client address in a sliding window of `window_s`,
    counted in the database (shared by every web process)."""

    def __init__(self, limit: int, window_s: float, db: Database, name: str = "rate") -> None:
        self.limit, self.window, self.db, self.name = limit, window_s, db, name

    def allow(self, address: str) -> bool:
        key = f"{self.name}:a:{address}"
        now = datetime.now(UTC)
        with self.db.write() as s:
            seen = access_log.hits_since(s, [key], now - timedelta(seconds=self.window))[key]
            if seen >= self.limit:
                return False
            access_log.hit(s, [key], now)
            if secrets.randbelow(200) == 0:
                access_log.purge_hits_before(s, now - timedelta(days=1))
        return True


def allowed(request: Request, name: str, limit: int, window_s: float) -> bool:
    """One more `name` request from this client address within its limit? The app keeps one
    limiter per name (`app.state.<name>_limiter`, which tests may replace)."""
    state = request.app.state
    limiter = getattr(state, f"{name}_limiter", None)
    if limiter is None:
        limiter = AddressLimiter(limit, window_s, state.db, name)
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


def same_origin(request: Request) -> bool:
    """Did a page of this site send the request? Browsers say so on every POST: the Origin
    header (its host must be ours) or Sec-Fetch-Site. Checked before a large body is read
    when its CSRF token can only be read from the body (a plain multipart form)."""
    origin = request.headers.get("origin", "")
    if origin and origin != "null":
        return urlsplit(origin).netloc.lower() == request.headers.get("host", "").lower()
    return request.headers.get("sec-fetch-site", "") == "same-origin"


async def check_csrf(request: Request, session: Session) -> FormData:
    """The submitted form, after checking its CSRF token (HTTP 403 when wrong)."""
    form = await request.form()
    presented = request.headers.get("X-CSRF-Token") or form.get("csrf")
    if not csrf_ok(session, presented if isinstance(presented, str) else None):
        raise HTTPException(status_code=403, detail="csrf")
    return form
