"""Keyset paging: every list is one indexed range scan, however deep the page.

A page carries an opaque cursor naming the last row's sort key; the next page asks for the
rows after it (``(a, b) > (x, y)`` as a row-value comparison, which both engines evaluate and
PostgreSQL answers from the index whose columns are the sort key). Offsets are never used: an
offset makes page 1,000 cost a thousand pages.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, Select, and_, or_

T = TypeVar("T")
DEFAULT_PAGE = 50
MAX_PAGE = 200


class BadCursor(ValueError):
    """A cursor this code did not make (edited, truncated, from another list)."""


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str = ""  # "" when this is the last page
    extra: dict[str, Any] = field(default_factory=dict)


def page_size(requested: int | None) -> int:
    if not requested or requested < 1:
        return DEFAULT_PAGE
    return min(requested, MAX_PAGE)


def encode_cursor(values: Sequence[Any]) -> str:
    plain = [v.isoformat() if isinstance(v, datetime) else v for v in values]
    raw = json.dumps(plain, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, types: Sequence[type]) -> list[Any]:
    """The sort key of a cursor, each value checked against the list's own key types."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
    except (ValueError, TypeError) as exc:
        raise BadCursor("unreadable cursor") from exc
    if not isinstance(values, list) or len(values) != len(types):
        raise BadCursor("cursor of another list")
    out: list[Any] = []
    for value, kind in zip(values, types, strict=True):
        try:
            out.append(datetime.fromisoformat(value) if kind is datetime else kind(value))
        except (TypeError, ValueError) as exc:
            raise BadCursor("cursor of another list") from exc
    return out


def after(columns: Sequence[ColumnElement], values: Sequence[Any], *, descending: bool
          ) -> ColumnElement[bool]:
    """Rows strictly after ``values`` in the order of ``columns``.

    Spelled out as (a > x) OR (a = x AND b > y) ... rather than a row-value comparison:
    SQLite compares row values too, but only this form lets it use the index on every
    column, and PostgreSQL's planner reads both the same."""
    terms = []
    for i, column in enumerate(columns):
        equal = [c == v for c, v in zip(columns[:i], values[:i], strict=True)]
        beyond = column < values[i] if descending else column > values[i]
        terms.append(and_(*equal, beyond))
    return or_(*terms)


def keyset(query: Select, columns: Sequence[ColumnElement], cursor: str, types: Sequence[type],
           limit: int, *, descending: bool = False) -> Select:
    """``query`` ordered by ``columns``, after ``cursor``, one row more than the page (so the
    caller knows whether there is a next page)."""
    if cursor:
        query = query.where(after(columns, decode_cursor(cursor, types),
                                  descending=descending))
    order = [c.desc() for c in columns] if descending else list(columns)
    return query.order_by(*order).limit(limit + 1)


def page_of(rows: Sequence[Any], limit: int, key: Any) -> tuple[list[Any], str]:
    """(the page's rows, the cursor of the next page or "") from ``limit + 1`` rows; ``key``
    gives a row's sort key values."""
    rows = list(rows)
    if len(rows) <= limit:
        return rows, ""
    rows = rows[:limit]
    return rows, encode_cursor(key(rows[-1]))


__all__ = ["DEFAULT_PAGE", "MAX_PAGE", "BadCursor", "Page", "after", "decode_cursor",
           "encode_cursor", "keyset", "page_of", "page_size"]
