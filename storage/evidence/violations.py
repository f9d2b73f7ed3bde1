"""Violation records: a paper the certifier finds forged (Circular 01/2020/TT-BTP Art 11).

When the original presented for certification appears forged, the certifier refuses, makes a
violation record (biên bản vi phạm), keeps the paper and hands the matter to the competent
authority. ecopy keeps the record beside the refusal, write-once, under
``violations/<commune>/<year>/<case id>.json``; the original's bytes stay as evidence (an
Art 22 refusal retains them), and the audit log gets a ``violation`` event.
"""

from __future__ import annotations

import json
from typing import Any

from storage.backends import ObjectStore

LEGAL_BASIS = "Thông tư 01/2020/TT-BTP, Điều 11"


def violation_key(agency_code: str, year: int, case_id: str) -> str:
    return f"violations/{agency_code}/{year:04d}/{case_id}.json"


def record_violation(store: ObjectStore, *, agency_code: str, year: int, case_id: str,
                     sha256: str, document_name: str, found_at: str, certifier: str,
                     detail: str, requester: dict[str, str]) -> tuple[str, dict[str, Any]]:
    """(key, record) of the violation record of this case; a second call keeps the first."""
    record = {
        "violation_record": True,
        "legal_basis": LEGAL_BASIS,
        "agency_code": agency_code,
        "case_id": case_id,
        "original_sha256": sha256,
        "document_name": document_name,
        "found_at": found_at,
        "certifier": certifier,
        "detail": detail,
        "requester": requester,  # who presented the paper
        "paper_retained": True,  # the certifier keeps the paper (Art 11)
    }
    key = violation_key(agency_code, year, case_id)
    data = json.dumps(record, ensure_ascii=False, indent=1, sort_keys=True).encode()
    if not store.put_if_absent(key, data):
        record = json.loads(store.get(key))
    return key, record
