"""Batches of the distributed mode, written once by `ecopy submit` (and web uploads).

A batch lists its cases and the options they are processed with. Progress is not kept here:
each case's status says where it stands, so the batch never changes and Redis never holds the
only copy of anything.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from storage.db.schema import batches


def new_batch_id() -> str:
    """Sortable by submission time, unique without coordination."""
    return f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(4)}"


def create_batch(s: Session, batch_id: str, data: dict[str, Any]) -> None:
    s.execute(insert(batches).values(batch_id=batch_id, created_at=datetime.now(UTC),
                                     data={**data, "batch_id": batch_id}))


def read_batch(s: Session, batch_id: str) -> dict[str, Any]:
    """Raise KeyError when there is no such batch."""
    data = s.execute(select(batches.c.data).where(batches.c.batch_id == batch_id)
                     ).scalar_one_or_none()
    if data is None:
        raise KeyError(batch_id)
    return dict(data)


def list_batches(s: Session, *, since: datetime | None = None) -> list[str]:
    query = select(batches.c.batch_id).order_by(batches.c.created_at)
    if since is not None:
        query = query.where(batches.c.created_at >= since)
    return list(s.execute(query).scalars())
