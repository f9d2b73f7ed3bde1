#!/usr/bin/env python3
"""Write the labelled synthetic evaluation set: scan-like Vietnamese papers of every type.

Every person and number is invented (scripts/synthdocs.py); the set is deterministic for a seed.
Measure the pipeline on it with scripts/eval_understanding.py --set DIR.

    .venv/bin/python scripts/gen_eval_set.py --out DIR [--per-type 12] [--seed 2025] [--clean]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the scripts package (synthdocs) sits at the repository root

from scripts.synthdocs import generate  # noqa: E402


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Generate the labelled synthetic evaluation set.")
    ap.add_argument("--out", type=Path, required=True, help="output folder")
    ap.add_argument("--per-type", type=int, default=12, help="documents per type")
    ap.add_argument("--seed", type=int, default=2025, help="random seed")
    ap.add_argument("--clean", action="store_true",
                    help="no scan damage and no documents drawn to be refused")
    args = ap.parse_args(argv)
    if args.per_type < 1:
        ap.error("--per-type must be at least 1")
    started = time.monotonic()
    labels = generate(args.out, per_type=args.per_type, seed=args.seed, degrade=not args.clean)
    expected = Counter(label["expected"] for label in labels)
    print(f"{len(labels)} documents in {args.out} ({time.monotonic() - started:.1f} s): "
          + ", ".join(f"{k} {v}" for k, v in sorted(expected.items())))
    print(f"labels: {args.out / 'labels.jsonl'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
