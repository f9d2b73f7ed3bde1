"""What the chain keeps of an original between runs: its OCR, one JSON object per original
(documents/<sha256>/ocr.json), shared by every case of the same bytes."""

from __future__ import annotations

import json
from collections.abc import Sequence

from pipeline.types import OcrPage, OcrWord
from storage.backends import ObjectStore
from storage.evidence import dump, to_jsonable
from storage.evidence.originals import ocr_key


def save_ocr(store: ObjectStore, sha: str, ocr_pages: Sequence[OcrPage]) -> None:
    store.put(ocr_key(sha), dump(to_jsonable(list(ocr_pages))))


def load_ocr(store: ObjectStore, sha: str) -> list[OcrPage] | None:
    try:
        raw = json.loads(store.get(ocr_key(sha)))
    except KeyError:
        return None
    return ocr_pages_from_json(raw)


def ocr_pages_from_json(raw: Sequence[dict]) -> list[OcrPage]:
    """Rebuild OCR pages from their JSON form (`to_jsonable` of a list of OcrPage)."""
    return [
        OcrPage(**{**p, "words": tuple(OcrWord(**w) for w in p["words"])}) for p in raw
    ]
