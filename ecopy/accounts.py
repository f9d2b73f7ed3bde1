"""Local user accounts of the web app: a role, an agency (commune), an Argon2id password hash.

Accounts are rows of the working-state database (storage.db.accounts), so every web process
of a deployment sees the same ones. Passwords are hashed with Argon2id (argon2-cffi's
defaults: the RFC 9106 low-memory profile); a hash made with older parameters is re-hashed
at the next successful login. A new password, a new role or commune, or a disabled account
ends the user's sessions. `ecopy user add|list|disable|password` manages them.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from storage.db import Database
from storage.db import accounts as rows

ROLES = ("clerk", "certifier", "auditor", "admin")
USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{2,31}$")
MIN_PASSWORD = 10
_HASHER = PasswordHasher()
# Verifying against this keeps a login for an unknown user as slow as one for a known user.
_DUMMY_HASH = _HASHER.hash("ecopy-no-such-user")


@dataclass(frozen=True)
class Account:
    username: str
    full_name: str
    role: str
    agency: str  # commune code (5 digits) the user works for
    password_hash: str
    active: bool = True
    created_at: str = ""
    title: str = ""  # e.g. "Phó Chủ tịch Ủy ban nhân dân xã" (certifiers)

    @property
    def may_write(self) -> bool:
        return self.role in ("clerk", "certifier", "admin")


def check_new(username: str, role: str, agency: str, password: str) -> None:
    if not USERNAME.match(username):
        raise ValueError("user name: 3-32 characters a-z 0-9 . _ -, starting with a letter "
                         "or digit")
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    if not (len(agency) == 5 and agency.isdigit()):
        raise ValueError("agency: the 5-digit commune code")
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"password: at least {MIN_PASSWORD} characters")


def create(db: Database, username: str, full_name: str, role: str, agency: str,
           password: str, title: str = "") -> Account:
    check_new(username, role, agency, password)
    account = Account(username, full_name, role, agency, _HASHER.hash(password), True,
                      datetime.now(UTC).isoformat(timespec="seconds"), title)
    with db.write() as s:
        if not rows.insert_account(s, _values(account)):
            raise FileExistsError(f"user {username!r} exists")
    return account


def _values(account: Account) -> dict:
    values = asdict(account)
    values["created_at"] = datetime.fromisoformat(account.created_at)
    return values


def account_of(row: object) -> Account:
    """An Account from a row holding the account's columns."""
    values = {name: getattr(row, name) for name in rows.ACCOUNT_FIELDS}
    values["created_at"] = values["created_at"].isoformat(timespec="seconds")
    return Account(**values)


def load(db: Database, username: str) -> Account | None:
    if not USERNAME.match(username or ""):
        return None
    with db.read() as s:
        row = rows.account_row(s, username)
    return account_of(row) if row is not None else None


def save(db: Database, account: Account) -> None:
    """Write the account's role, names, password and state. The user's sessions end when the
    account is disabled or its role, commune or password changes: a session opened with the
    old rights must not keep them."""
    values = _values(account)
    del values["username"], values["created_at"]
    with db.write() as s:
        before = rows.account_row(s, account.username)
        rows.update_account(s, account.username, **values)
        changed = before is None or (before.role, before.agency, before.password_hash) != (
            account.role, account.agency, account.password_hash)
        if not account.active or changed:
            rows.end_sessions_of(s, account.username)


def all_accounts(db: Database) -> list[Account]:
    out, cursor = [], ""
    with db.read() as s:
        while True:
            page = rows.account_page(s, cursor=cursor, limit=200)
            out += [account_of(r) for r in page.items]
            if not page.next_cursor:
                return out
            cursor = page.next_cursor


def set_password(db: Database, account: Account, password: str) -> Account:
    """A new password; every open session of the user ends (a stolen session dies with the
    old password)."""
    check_new(account.username, account.role, account.agency, password)
    updated = replace(account, password_hash=_HASHER.hash(password))
    with db.write() as s:
        rows.update_account(s, account.username, password_hash=updated.password_hash)
        rows.end_sessions_of(s, account.username)
    return updated


def authenticate(db: Database, username: str, password: str) -> Account | None:
    """The account when the password is right and the account active; else None."""
    account = load(db, username)
    try:
        _HASHER.verify(account.password_hash if account else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    if account is None or not account.active:
        return None
    if _HASHER.check_needs_rehash(account.password_hash):
        account = replace(account, password_hash=_HASHER.hash(password))
        with db.write() as s:
            rows.update_account(s, account.username, password_hash=account.password_hash)
    return account
