"""Connectors to the authoritative registers a clerk must ask before asking the citizen.

Directive 27/CT-TTg and Dispatch 159/TTg-CDS: a paper the state already holds in digital form
(national population database, VNeID, civil-status database) is looked up, not requested
again. Each register is reached through one small protocol, so a province plugs in the
connector its data-sharing platform provides; ecopy ships one implementation, `FileSource`,
a JSON file standing in for a register in tests and demos.

A real connector:
- MUST answer only for the person asked about, and raise `SourceUnavailable` with a reason
  code (``source_down``, ``timeout``, ``not_authorised``) instead of returning an empty list
  when it could not ask: "none held" and "could not ask" are logged differently.
- MUST bound every exchange in time (the clerk is waiting at the desk).
- SHOULD go through the province's data-sharing platform, whose exchanges are signed,
  timestamped and logged on both sides; the data owner keeps control of what it releases.
- SHOULD return only the facts needed to accept the paper (type, number, dates, issuer), not
  the whole record.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol, runtime_checkable

MAX_SOURCE_FILE_BYTES = 16 * 1024 * 1024


class SourceUnavailable(RuntimeError):
    """The source could not be asked; ``reason`` is a stable code for the log."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class ExternalPaper:
    """A paper an authoritative register holds for a person."""

    source: str  # the connector's name
    doc_type: str  # ecopy document-type code (pipeline/steps/classify.py)
    reference: str  # the register's number for it (ID number, register entry …)
    issued_on: str = ""  # ISO date
    valid_until: str = ""  # ISO date; "" when it does not expire
    issuer: str = ""
    summary: dict[str, str] = field(default_factory=dict)
    retrieved_at: str = ""


@runtime_checkable
class ExternalSource(Protocol):
    name: str  # stable, ASCII: goes into logs and dossier records
    title_vi: str
    title_en: str

    def lookup(self, person_id: str, doc_type: str) -> list[ExternalPaper]:
        """The papers of that type the register holds for the person ([] when none).

        Raises SourceUnavailable when it could not ask."""


class FileSource:
    """A register kept in a JSON file (tests, demos, training):

        {"name": "csdl-dan-cu", "title_vi": "…", "title_en": "…", "available": true,
         "persons": {"<12-digit ID>": [{"doc_type": "citizen_id", "reference": "…",
                                         "issued_on": "…", "valid_until": "…", "issuer": "…",
                                         "summary": {…}}]}}

    ``"available": false`` makes every lookup raise SourceUnavailable("source_down"), to
    rehearse an outage. The file is re-read on each lookup, so an operator can edit it.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        try:
            data = self._read()
        except SourceUnavailable:
            data = {}  # named after the file; every lookup reports it unavailable
        self.name = str(data.get("name") or self.path.stem)
        self.title_vi = str(data.get("title_vi") or self.name)
        self.title_en = str(data.get("title_en") or self.title_vi)

    def _read(self) -> dict:
        try:
            if self.path.stat().st_size > MAX_SOURCE_FILE_BYTES:
                raise SourceUnavailable("source_too_large", str(self.path))
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise SourceUnavailable("source_down", f"{self.path}: {exc.strerror}") from exc
        except ValueError as exc:
            raise SourceUnavailable("source_unreadable", f"{self.path}: {exc}") from exc
        if not isinstance(data, dict):
            raise SourceUnavailable("source_unreadable", str(self.path))
        return data

    def lookup(self, person_id: str, doc_type: str) -> list[ExternalPaper]:
        data = self._read()
        if data.get("available") is False:
            raise SourceUnavailable("source_down", self.name)
        now = datetime.now(UTC).isoformat(timespec="seconds")
        papers = (data.get("persons") or {}).get(person_id) or []
        return [ExternalPaper(source=self.name, doc_type=doc_type,
                              reference=str(p.get("reference", "")),
                              issued_on=str(p.get("issued_on", "")),
                              valid_until=str(p.get("valid_until", "")),
                              issuer=str(p.get("issuer", "")),
                              summary={str(k): str(v) for k, v in
                                       (p.get("summary") or {}).items()},
                              retrieved_at=now)
                for p in papers if isinstance(p, dict) and p.get("doc_type") == doc_type]
