"""Local user accounts of the web app: a role, an agency (commune), an Argon2id password hash.

Accounts are objects in the store (`accounts/<username>.json`), so every web process of a
deployment sees the same ones. Passwords are hashed with Argon2id (argon2-cffi's defaults:
the RFC 9106 low-memory profile); a hash made with older parameters is re-hashed at the next
successful login. `ecopy user add|list|disable|password` manages them.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from storage.backends import ObjectStore

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


def account_key(username: str) -> str:
    return f"accounts/{username}.json"


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


def create(store: ObjectStore, username: str, full_name: str, role: str, agency: str,
           password: str, title: str = "") -> Account:
    check_new(username, role, agency, password)
    account = Account(username, full_name, role, agency, _HASHER.hash(password), True,
                      datetime.now(UTC).isoformat(timespec="seconds"), title)
    if not store.put_if_absent(account_key(username), _dump(account)):
        raise FileExistsError(f"user {username!r} exists")
    return account


def load(store: ObjectStore, username: str) -> Account | None:
    if not USERNAME.match(username or ""):
        return None
    try:
        return Account(**json.loads(store.get(account_key(username))))
    except KeyError:
        return None


def save(store: ObjectStore, account: Account) -> None:
    store.put(account_key(account.username), _dump(account))


def all_accounts(store: ObjectStore) -> list[Account]:
    return [Account(**json.loads(store.get(key))) for key in store.list("accounts/")
            if key.endswith(".json")]


def set_password(store: ObjectStore, account: Account, password: str) -> Account:
    check_new(account.username, account.role, account.agency, password)
    updated = replace(account, password_hash=_HASHER.hash(password))
    save(store, updated)
    return updated


def authenticate(store: ObjectStore, username: str, password: str) -> Account | None:
    """The account when the password is right and the account active; else None."""
    account = load(store, username)
    try:
        _HASHER.verify(account.password_hash if account else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    if account is None or not account.active:
        return None
    if _HASHER.check_needs_rehash(account.password_hash):
        account = replace(account, password_hash=_HASHER.hash(password))
        save(store, account)
    return account


def _dump(account: Account) -> bytes:
    return json.dumps(asdict(account), ensure_ascii=False, indent=2).encode("utf-8")
