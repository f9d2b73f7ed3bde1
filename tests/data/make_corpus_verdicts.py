"""Regenerate tests/data/corpus_verdicts.json; review the diff before checking it in.

.venv/bin/python tests/data/make_corpus_verdicts.py
"""

from __future__ import annotations

import json
import sys
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.test_corpus_verdicts import TABLE, compute_verdicts  # noqa: E402


def main() -> None:
    verdicts = compute_verdicts()
    table = {
        "generated_with": f"pyHanko {metadata.version('pyHanko')}",
        "validation_time": "2026-11-22T12:00:00+07:00 (fixed: see FIXED_MOMENT)",
        "verdicts": verdicts,
    }
    TABLE.write_text(json.dumps(table, indent=1, ensure_ascii=False, sort_keys=True) + "\n")
    print(f"{len(verdicts)} files -> {TABLE}")


if __name__ == "__main__":
    main()
