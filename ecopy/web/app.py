"""`ecopy serve`: the web app for clerks, certifiers, auditors and the public verify page.

Server-rendered (FastAPI + Jinja2 templates with autoescaping); the little JavaScript there is
(upload progress, status refresh, field highlighting) lives in static files, so the Content
Security Policy forbids inline scripts. Pages live one module per area in ecopy/web/views/,
each exposing `router`; they get the store, the database, settings and helpers from
`request.app.state` (``work`` is the State the pipeline and casework functions take).
"""

from __future__ import annotations

import importlib
import pkgutil
import re
import secrets
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ecopy.access import AccessLogUnavailable, PendingReads
from ecopy.accounts import Account, authenticate
from ecopy.settings import Settings
from ecopy.web import i18n
from ecopy.web.processing import Processor
from ecopy.web.security import (
    COOKIE,
    HEADERS,
    LANG_COOKIE,
    LoginRequired,
    LoginThrottle,
    Session,
    check_csrf,
    client_address,
    close_session,
    current,
    open_session,
    same_token,
    trusted_networks,
)
from storage.evidence.audit import append_event
from storage.state import State

HERE = Path(__file__).parent
LOGIN_COOKIE = "ecopy_login"  # the login form's own CSRF token (double submit)
USERNAME = re.compile(r"^[a-z0-9._-]{1,32}$")  # as ecopy.accounts.check_new allows
HOME_OF_ROLE = {"clerk": "/dossiers", "certifier": "/certify", "auditor": "/register",
                "admin": "/dossiers"}


def local_time(iso: str) -> str:
    """A stored UTC time as staff read it: dd/mm/yyyy HH:MM, Vietnam time ("" if unreadable)."""
    from pipeline.vn.tz import VN_TZ

    try:
        return datetime.fromisoformat(iso).astimezone(VN_TZ).strftime("%d/%m/%Y %H:%M")
    except (TypeError, ValueError):
        return ""


class SecurityHeaders:
    """The security headers on every response, and ``Cache-Control: no-store`` on all but
    the static files (a page that sets its own keeps it). Plain ASGI: it only touches the
    response's start message."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cacheable = scope["path"].startswith("/static/")

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in HEADERS.items():
                    headers.setdefault(name, value)
                if not cacheable:
                    headers.setdefault("Cache-Control", "no-store")
            await send(message)

        await self.app(scope, receive, with_headers)


class BodyLimit:
    """No request body over `cap` bytes, on any route: a declared Content-Length over it is
    answered 413 before a byte is read, and a body that grows past it (chunked) is cut off
    with 413 where it crosses. Routes keep their own, lower limits."""

    def __init__(self, app: ASGIApp, cap: int) -> None:
        self.app, self.cap = app, cap

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.cap:
            await _too_large(send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.cap:
                    raise HTTPException(413)
            return message

        await self.app(scope, counted, send)


async def _too_large(send: Send) -> None:
    body = b"413 Request Entity Too Large"
    await send({"type": "http.response.start", "status": 413, "headers": [
        (b"content-type", b"text/plain; charset=utf-8"), (b"content-length",
                                                          str(len(body)).encode()),
        (b"connection", b"close"), *[(k.lower().encode(), v.encode()) for k, v in
                                     HEADERS.items()]]})
    await send({"type": "http.response.body", "body": body})


def login_page(request: Request, target: str, error: str, status: int = 200) -> Response:
    """The sign-in form with a fresh login token in a cookie and a field (double submit:
    another site cannot sign a visitor in to an account of its choosing)."""
    token = secrets.token_urlsafe(32)
    settings: Settings = request.app.state.settings
    response = render(request, "login.html", {"next": target, "error": error,
                                              "ltoken": token}, status=status)
    response.set_cookie(LOGIN_COOKIE, token, httponly=True, samesite="strict",
                        secure=settings.web_secure_cookies, path="/login")
    return response


def app_from_environment() -> FastAPI:
    """The app of one `ecopy serve --workers N` process, from the settings it inherits."""
    from ecopy.cli import quiet_libraries
    from ecopy.commands.web import SERVE_POOL
    from ecopy.settings import load_settings
    from ecopy.wiring import open_state

    quiet_libraries()  # a server process of its own: started by uvicorn, not by `ecopy`
    settings = load_settings()
    return create_app(settings, open_state(None, settings, connections=SERVE_POOL))


def create_app(settings: Settings, state: State) -> FastAPI:
    app = FastAPI(title="ecopy", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.settings = settings
    app.state.work = state
    app.state.store = state.store
    app.state.db = state.db
    app.state.throttle = LoginThrottle(state.db, settings.web_login_failures,
                                       settings.web_login_window_s)
    app.state.trusted_proxies = trusted_networks(settings.web_trusted_proxies)
    app.state.processor = Processor(settings, state)  # uploads: embedded or distributed
    app.router.on_shutdown.append(app.state.processor.close)
    app.state.access_log = PendingReads(state.db, state.store,
                                        settings.access_alert_persons_per_hour)
    app.router.on_shutdown.append(app.state.access_log.flush)
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.auto_reload = False  # installed templates do not change: no stat per page
    app.state.templates = templates
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    app.add_middleware(SecurityHeaders)
    app.add_middleware(BodyLimit, cap=settings.web_max_request_bytes)

    @app.exception_handler(LoginRequired)
    async def to_login(request: Request, _exc: LoginRequired) -> Response:
        return RedirectResponse(f"/login?next={quote(safe_next(request.url.path))}", 303)

    @app.exception_handler(AccessLogUnavailable)
    async def access_log_down(request: Request, _exc: AccessLogUnavailable) -> Response:
        return render(request, "error.html", {"status": 503}, status=503)

    @app.exception_handler(StarletteHTTPException)
    async def error_page(request: Request, exc: StarletteHTTPException) -> Response:
        status = exc.status_code if exc.status_code in (400, 403, 404, 413, 429) else 400
        if request.headers.get("accept", "").startswith("application/json"):
            return Response(f'{{"error": {status}}}', status, media_type="application/json")
        return render(request, "error.html", {"status": status}, status=status)

    @app.get("/", response_class=HTMLResponse)
    async def home(request: Request) -> Response:
        found = current(request)
        if found is None:
            return RedirectResponse("/login", 303)
        return RedirectResponse(HOME_OF_ROLE.get(found[0].role, "/verify"), 303)

    @app.get("/healthz")
    async def healthz() -> dict:
        return {"ok": True}

    @app.get("/lang/{code}")
    async def set_lang(request: Request, code: str, next: str = "/") -> Response:
        if code not in i18n.LANGS:
            raise HTTPException(404)
        response = RedirectResponse(safe_next(next), 303)
        response.set_cookie(LANG_COOKIE, code, max_age=365 * 86400, httponly=True,
                            samesite="lax", secure=settings.web_secure_cookies)
        return response

    @app.get("/login", response_class=HTMLResponse)
    async def login_form(request: Request, next: str = "/") -> Response:
        return login_page(request, safe_next(next), "")

    @app.post("/login")
    async def login(request: Request, username: str = Form("", max_length=1000),
                    password: str = Form("", max_length=1000), next: str = Form("/"),
                    ltoken: str = Form("", max_length=100)) -> Response:
        throttle: LoginThrottle = app.state.throttle
        address = client_address(request)
        target = safe_next(next)
        cookie = request.cookies.get(LOGIN_COOKIE, "")
        if not same_token(cookie, ltoken):  # login CSRF
            return login_page(request, target, t(request, "auth.expired"), status=403)
        username = username.strip().lower()
        if not USERNAME.match(username):  # no account has such a name: nothing to record
            username = ""
        if throttle.blocked(username, address):
            # not audited: the throttle's own count is the record, and an anonymous client
            # must not be able to write to the permanent audit log at will
            return login_page(request, target, t(
                request, "auth.throttled", minutes=settings.web_login_window_s // 60),
                status=429)
        account = authenticate(state.db, username, password) if username else None
        if account is None:
            throttle.failed(username, address)
            audit_event(request, username or "?", "login_failed",
                        f"accounts/{username or '?'}")
            return login_page(request, target, t(request, "auth.failed"), status=401)
        throttle.succeeded(username, address)
        token, _session = open_session(state.db, account.username,
                                       settings.web_session_minutes)
        audit_event(request, account.username, "login", f"accounts/{account.username}")
        response = RedirectResponse(HOME_OF_ROLE[account.role] if target == "/" else target, 303)
        response.set_cookie(COOKIE, token, max_age=settings.web_session_minutes * 60,
                            httponly=True, samesite="strict",
                            secure=settings.web_secure_cookies, path="/")
        response.delete_cookie(LOGIN_COOKIE, path="/login")
        return response

    @app.post("/logout")
    async def logout(request: Request) -> Response:
        found = current(request)
        if found is not None:
            await check_csrf(request, found[1])
            close_session(state.db, found[1])
            audit_event(request, found[0].username, "logout", f"accounts/{found[0].username}")
        response = RedirectResponse("/login", 303)
        response.delete_cookie(COOKIE, path="/")
        return response

    for module in _view_modules():
        app.include_router(module.router)
    return app


def _view_modules() -> list:
    from ecopy.web import views

    return [importlib.import_module(f"ecopy.web.views.{m.name}")
            for m in sorted(pkgutil.iter_modules(views.__path__), key=lambda m: m.name)]


# ------------------------------------------------------------------ helpers for the views


def safe_next(target: str | None) -> str:
    """Only a path on this site (no scheme, no host, no backslash tricks) may be returned to."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def lang_of(request: Request) -> str:
    lang = request.cookies.get(LANG_COOKIE, "")
    return lang if lang in i18n.LANGS else request.app.state.settings.lang


def t(request: Request, key: str, **params: object) -> str:
    return i18n.text(key, lang_of(request), **params)


def render(request: Request, template: str, context: dict | None = None,
           status: int = 200) -> Response:
    found = current(request)
    account: Account | None = found[0] if found else None
    session: Session | None = found[1] if found else None
    lang = lang_of(request)
    settings: Settings = request.app.state.settings
    ctx = {"request": request, "user": account, "csrf": session.csrf if session else "",
           "lang": lang, "t": lambda key, **p: i18n.text(key, lang, **p),
           "settings": settings, "test_mode": settings.key_source == "dev",
           "path": request.url.path, **(context or {})}
    return request.app.state.templates.TemplateResponse(request, template, ctx,
                                                        status_code=status)


def audit_event(request: Request, actor: str, act: str, obj: str, sha: str = "",
                with_address: bool = True, **details: Any) -> None:
    """Every web action goes into the hash-chained audit log, with the client address unless
    the actor is an anonymous citizen (``with_address=False``: data minimisation)."""
    if with_address:
        details = {"address": client_address(request), **details}
    append_event(request.app.state.store, actor=actor, action="web", object=obj,
                 object_sha256=sha, details={"act": act, **details})
