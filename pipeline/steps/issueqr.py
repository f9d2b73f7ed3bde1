"""What the QR code on an issued e-copy says (Circular 01/2023/TT-VPCP; ISO/IEC 18004).

The circular asks issued results to carry a QR code with the dossier code, the procedure
code, the applicant's ID, the document's name, the issuing system and the time. The symbol
holds the copy's verification link, so a phone camera opens the report directly; the link's
fragment carries those issue data in short, ASCII-only parameters (a Vietnamese document name
would triple the symbol's size once percent-encoded, so the document type code stands for it):

    <verify_base_url>/<copy_id>#hs=<dossier code>&tthc=<procedure>&cd=<applicant ID>
                               &gt=<document type>&ht=<system>&tg=<yyyymmddThhmmss+0700>

After ``#``, not ``?``: a browser never sends the fragment, so the applicant's ID reaches no
server and no proxy's access log; the QR symbol still holds every datum the circular asks for.
``hs`` is the public status code the citizen already holds (storage/db/dossiers.py); it is
absent when the copy was made outside a dossier (``ecopy process``). The verify page reads
only ``hs`` from the fragment, in the browser (static/verify.js), for a link to the status
page; the report shows only what the signed copy carries. Links made before this change
(issue data in the query) still parse.
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import parse_qsl, urlencode, urlsplit

SYSTEM = "ecopy"
PARAMS = ("hs", "tthc", "cd", "gt", "ht", "tg")


def issue_qr_text(verify_base_url: str, copy_id: str, *, dossier_code: str, procedure: str,
                  person_id: str, doc_type: str, issued_at: datetime) -> str:
    values = {"hs": dossier_code, "tthc": procedure, "cd": person_id, "gt": doc_type,
              "ht": SYSTEM, "tg": issued_at.strftime("%Y%m%dT%H%M%S%z")}
    query = urlencode({k: v for k, v in values.items() if v}, safe=".")
    return f"{verify_base_url.rstrip('/')}/{copy_id}#{query}"


def parse_issue_qr(text: str) -> dict[str, str]:
    """The issue data of a QR text, plus ``copy_id`` (the link's last path segment)."""
    parts = urlsplit(text)
    data = {k: v for k, v in parse_qsl(parts.fragment or parts.query) if k in PARAMS}
    data["copy_id"] = parts.path.rstrip("/").rsplit("/", 1)[-1]
    return data
