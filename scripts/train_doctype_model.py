#!/usr/bin/env python3
"""Build the bundled document-type model (pipeline/data/doctype-1.npz) and its base corpus.

The base corpus is the OCR text of a labelled synthetic set (scripts/synthdocs.py) generated with
a seed the evaluation never uses (TRAIN_SEED, while scripts/eval_understanding.py measures on
seed 2025), read by our own pipeline exactly as a run reads a scan. Only good scans are used:
what a bad scan is refused for is decided before classification.

    .venv/bin/python scripts/train_doctype_model.py [--per-type 16] [--seed 7] [--workers 2]
        [--set DIR] [--ocr-cache DIR] [--out pipeline/data]

Writes doctype-train.jsonl.gz (the examples `ecopy model retrain` starts from) and
doctype-1.npz, and prints the out-of-fold figures stored in the model. Re-running with the same
set and OCR gives the same corpus bytes; the model is refitted from it.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from eval_understanding import OcrCache, run_pipeline  # noqa: E402

from pipeline.doctypes.model import BASE_CORPUS, Example, train, write_corpus  # noqa: E402
from pipeline.flow import ocr_pages_from_json  # noqa: E402
from scripts.synthdocs import generate, read_labels  # noqa: E402

TRAIN_SEED = 7
VERSION = "doctype-1"


def examples_from_set(set_dir: Path, cache: OcrCache, workers: int, lang: str) -> list[Example]:
    labels = [label for label in read_labels(set_dir) if label["expected"] == "ok"]
    run_pipeline(set_dir, labels, workers, lang, progress=True, cache=cache,
                 understand_them=False)  # fills the cache
    examples = []
    for label in labels:
        entry = cache.get(set_dir / label["file"])
        if entry is None or "failure" in entry:
            print(f"  skipped {label['file']}: refused before classification", file=sys.stderr)
            continue
        pages = ocr_pages_from_json(entry["pages"])
        examples.append(Example.of(pages, label["doc_type"], f"base:synthdocs/{label['file']}"))
    return examples


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--set", type=Path, help="an existing labelled set (else one is generated)")
    ap.add_argument("--per-type", type=int, default=16)
    ap.add_argument("--seed", type=int, default=TRAIN_SEED)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--lang", default="vie+eng")
    ap.add_argument("--ocr-cache", type=Path, help="reuse OCR kept here (development)")
    ap.add_argument("--out", type=Path, default=BASE_CORPUS.parent)
    args = ap.parse_args(argv)
    if args.seed == 2025:
        ap.error("seed 2025 is the evaluation set's; train on another")

    with tempfile.TemporaryDirectory(prefix="ecopy-train-") as tmp:
        set_dir = args.set or Path(tmp) / "set"
        if not args.set:
            generate(set_dir, per_type=args.per_type, seed=args.seed)
        cache = OcrCache(args.ocr_cache or Path(tmp) / "ocr", args.lang)
        examples = examples_from_set(set_dir, cache, args.workers, args.lang)
    args.out.mkdir(parents=True, exist_ok=True)
    write_corpus(examples, args.out / BASE_CORPUS.name)
    model = train(examples, VERSION, extra_meta={
        "base_set": {"generator": "scripts/synthdocs.py", "seed": args.seed,
                     "per_type": args.per_type, "lang": args.lang}})
    (args.out / f"{VERSION}.npz").write_bytes(model.to_bytes())
    print(json.dumps({"model": model.name, "threshold": model.threshold,
                      "temperature": round(model.temperature, 3), **model.meta["out_of_fold"],
                      "documents": len(examples)}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
