"""CSV cells that a spreadsheet will not run (OWASP "CSV injection").

A register row holds what a requester or a clerk typed: a name such as ``=HYPERLINK(…)``
would be a live formula once the exported book is opened in Excel or LibreOffice. A text cell
that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a leading
apostrophe, which spreadsheets show as text and hide; nothing else is changed, so the file
still says exactly what the register says. Numbers (int, float) are left alone.
"""

from __future__ import annotations

from collections.abc import Iterable

TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> object:
    if isinstance(value, str) and value.startswith(TRIGGERS):
        return "'" + value
    return value


def safe_row(values: Iterable[object]) -> list[object]:
    return [safe_cell(v) for v in values]
