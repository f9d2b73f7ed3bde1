"""Staff accounts and their sessions (working state: a session is deleted when it ends).

What an account may do is decided in the shell (ecopy.accounts, ecopy.web.security); this
module only keeps the rows. A session is found by the sha256 of its cookie token: the token
itself is never stored, so a copy of the database opens no session.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from storage.db import insert_once
from storage.db.paging import Page, keyset, page_of, page_size
from storage.db.schema import accounts, sessions

ACCOUNT_FIELDS = ("username", "full_name", "role", "agency", "password_hash", "active",
                  "created_at", "title")


def insert_account(s: Session, values: dict[str, Any]) -> bool:
    """False when the user name is taken."""
    return insert_once(s, accounts, values)


def account_row(s: Session, username: str) -> Any:
    return s.execute(select(accounts).where(accounts.c.username == username)).first()


def update_account(s: Session, username: str, **values: Any) -> None:
    s.execute(update(accounts).where(accounts.c.username == username).values(**values))


def account_page(s: Session, *, agency: str | None = None, cursor: str = "",
                 limit: int | None = None) -> Page[Any]:
    size = page_size(limit)
    query = select(accounts)
    if agency is not None:
        query = query.where(accounts.c.agency == agency)
    rows, nxt = page_of(s.execute(keyset(query, (accounts.c.username,), cursor, (str,),
                                         size)).all(), size, lambda r: (r.username,))
    return Page(rows, nxt)


def insert_session(s: Session, token_sha256: str, username: str, csrf: str,
                   created_at: datetime, expires_at: datetime) -> None:
    s.execute(insert(sessions).values(token_sha256=token_sha256, username=username,
                                      csrf=csrf, created_at=created_at,
                                      expires_at=expires_at))


def session_row(s: Session, token_sha256: str, now: datetime) -> Any:
    """The session if it exists and has not expired."""
    return s.execute(select(sessions).where(sessions.c.token_sha256 == token_sha256,
                                            sessions.c.expires_at > now)).first()


def signed_in(s: Session, token_sha256: str, now: datetime) -> Any:
    """The session (``token_sha256``, ``csrf``, ``expires_at``) with its account's columns,
    in one query: what every signed-in request asks first."""
    return s.execute(select(sessions.c.token_sha256, sessions.c.csrf, sessions.c.expires_at,
                            *(accounts.c[name] for name in ACCOUNT_FIELDS))
                     .join(accounts, accounts.c.username == sessions.c.username)
                     .where(sessions.c.token_sha256 == token_sha256,
                            sessions.c.expires_at > now)).first()


def end_session(s: Session, token_sha256: str) -> None:
    s.execute(delete(sessions).where(sessions.c.token_sha256 == token_sha256))


def end_sessions_of(s: Session, username: str) -> int:
    """Every session of a user (a disabled account, a changed password)."""
    return s.execute(delete(sessions).where(sessions.c.username == username)).rowcount


def purge_expired_sessions(s: Session, now: datetime) -> int:
    return s.execute(delete(sessions).where(sessions.c.expires_at <= now)).rowcount
