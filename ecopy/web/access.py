"""Recording what staff pages show of a person (ecopy.access): one call per page, with every
person the page shows, after the page's data was read and before it is sent. The reads go to
the app's ``PendingReads``, which writes them a fraction of a second later with the other
pages' reads of this process."""

from __future__ import annotations

from collections.abc import Iterable

from fastapi import Request

from ecopy.accounts import Account
from ecopy.web.security import client_address
from storage.db.access import Read


def record_read(request: Request, account: Account, what: str, person_id: str,
                ref: str = "") -> None:
    record_many(request, account, what, [Read(person_id or "", ref)])


def record_many(request: Request, account: Account, what: str, reads: Iterable[Read]) -> None:
    request.app.state.access_log.add(actor=account.username, role=account.role,
                                     agency=account.agency, what=what, reads=reads,
                                     address=client_address(request))
