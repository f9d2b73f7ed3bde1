"""Small named values of a deployment that change rarely, with who changed them last (the
active document-type model)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storage.db.schema import pointers


def get_pointer(s: Session, name: str) -> Any:
    return s.execute(select(pointers.c.value).where(pointers.c.name == name)
                     ).scalar_one_or_none()


def set_pointer(s: Session, name: str, value: Any, *, by: str) -> None:
    now = datetime.now(UTC)
    done = s.execute(update(pointers).where(pointers.c.name == name)
                     .values(value=value, updated_at=now, updated_by=by))
    if done.rowcount == 0:
        s.execute(insert(pointers).values(name=name, value=value, updated_at=now,
                                          updated_by=by))


def pointer_once(s: Session, name: str, value: Any, *, by: str) -> Any:
    """The pointer's value, set to ``value`` if it had none: the first writer wins, every
    process reads the same (a deployment-wide random key)."""
    try:
        with s.begin_nested():
            s.execute(insert(pointers).values(name=name, value=value,
                                              updated_at=datetime.now(UTC), updated_by=by))
    except IntegrityError:
        pass
    return get_pointer(s, name)
