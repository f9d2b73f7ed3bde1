"""Evidence: write-once objects in the store (originals and their OCR, register, audit log,
cancellations, warehouse). Data only; rendering lives in the shell (ecopy.reports).

`dump` is how evidence objects are serialised (UTF-8 JSON, sorted keys), `to_jsonable` turns
the frozen dataclasses the pipeline produces into plain JSON values for it.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any


def dump(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True).encode()


def to_jsonable(value: Any) -> Any:
    """Dataclasses (nested) to plain JSON values; tuples become lists."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    return value
