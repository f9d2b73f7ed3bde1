"""Page images of a case's original, and the access check every document page shares.

GET /documents/{case_id}/pages/{n}.png renders page n (1-based) of the original upright (the
rotation OCR found) and at most MAX_SIDE pixels on its long side. Rendering is deterministic,
so images are cached per process in a private temporary directory, never in the store.

A case is reached through the signed-in user's commune only: the same original brought to
another commune is another case, invisible here (404 like one that does not exist).
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse
from PIL import Image

from ecopy.accounts import Account
from ecopy.web.access import record_read
from ecopy.web.security import require
from pipeline.reasons import EcopyError
from storage.db.cases import get_case

router = APIRouter()

READERS = ("clerk", "certifier", "auditor", "admin")
MAX_SIDE = 1600
MAX_PAGE = 10_000


CASE_ID = re.compile(r"^[0-9a-f]{32}$")


def visible_record(request: Request, account: Account, case_id: str) -> dict:
    """The case (with its history) if it belongs to the user's commune, else 404 (another
    commune's cases do not even exist for this user)."""
    if not CASE_ID.match(case_id):
        raise HTTPException(404)
    with request.app.state.db.read() as s:
        record = get_case(s, case_id, agency=account.agency, with_history=True)
    if record is None:
        raise HTTPException(404)
    return record


def page_url(case_id: str, n: int) -> str:
    return f"/documents/{case_id}/pages/{n}.png"


def _cache_dir(request: Request) -> Path:
    cache = getattr(request.app.state, "page_cache", None)
    if cache is None:
        cache = Path(tempfile.mkdtemp(prefix="ecopy-pages-"))  # mode 0700
        request.app.state.page_cache = cache
    return cache


def render_page(store: object, record: dict, n: int, out: Path, limits: object) -> None:
    """Page n (1-based) of the stored original as an upright PNG at ``out``."""
    from pipeline.flow import fetch_original, load_ocr
    from pipeline.steps.intake import inspect
    from pipeline.steps.rasterize import rasterize_page

    sha = record["sha256"]
    ocr = {p.index: p for p in load_ocr(store, sha) or []}
    with tempfile.TemporaryDirectory(prefix="ecopy-page-") as tmp:
        work = Path(tmp)
        original = fetch_original(store, sha, work, record.get("name", ""))
        inspection = inspect(original, record["kind"], limits, accept_signed=True)
        if not 1 <= n <= len(inspection.pages):
            raise HTTPException(404)
        plan = inspection.pages[n - 1]
        scan = rasterize_page(original, record["kind"], plan, work, limits)
        page = ocr.get(plan.index)
        rotation = page.rotation if page is not None else scan.rotation
        with Image.open(scan.image_path) as img:
            img.load()
            picture = img.convert("L") if img.mode in ("1", "I;16", "I") else img
            if picture.mode not in ("L", "RGB", "RGBA"):
                picture = picture.convert("RGB")
            if rotation % 360:
                picture = picture.rotate(-rotation, expand=True)
            picture.thumbnail((MAX_SIDE, MAX_SIDE))
            tmp_out = out.with_suffix(f".{os.getpid()}.tmp")
            picture.save(tmp_out, format="PNG")
        os.replace(tmp_out, out)


@router.get("/documents/{case_id}/pages/{n}.png")
def page_image(request: Request, case_id: str, n: str) -> FileResponse:
    account, _ = require(request, *READERS)
    if not n.isdigit() or not 1 <= int(n) <= MAX_PAGE:
        raise HTTPException(404)
    record = visible_record(request, account, case_id)
    page = int(n)
    if page > int(record.get("pages") or MAX_PAGE) or not record.get("kind"):
        raise HTTPException(404)
    record_read(request, account, "page_image", record.get("person_id", ""), case_id)
    target = _cache_dir(request) / f"{record['sha256']}-{page}.png"  # the same bytes' pages
    if not target.is_file():
        try:
            render_page(request.app.state.store, record, page, target,
                        request.app.state.settings.limits)
        except (KeyError, EcopyError) as exc:  # original missing, or no longer renders
            raise HTTPException(404) from exc
    return FileResponse(target, media_type="image/png")  # no-store: citizens' papers
