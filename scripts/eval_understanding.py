#!/usr/bin/env python3
"""Measure document understanding on the labelled synthetic set (scripts/synthdocs.py).

Runs OUR pipeline on every document exactly as a run does (sniff, then inspect + rasterise +
OCR with `pipeline.flow.read_pages` in a pool of single-threaded tesseract processes, then
`check_refusal`, `classify`, `extract`, `review_reasons`) and prints, each next to the goal of
the understanding issue:

  * doc-type accuracy on good scans, and at which abstention (low_confidence review) rate
    (goal: >= 98 % at <= 5 % abstention), per-class precision / recall, macro-F1;
  * field exact match (NFC strings, ISO dates) per field and overall (goal: >= 95 %);
  * rejections: bad scans refused with the right reason code (goal: >= 95 %), and precision.

The set is generated into a temporary folder unless --set names one. Nothing is cached unless
--ocr-cache names a folder: then each document's OCR result (or the reason it was refused before
OCR finished) is kept there under the file's SHA-256 and the language, so that work on
classification and extraction can be re-measured in seconds. The report says when OCR came from
the cache; figures for the issue note are measured without it.

    .venv/bin/python scripts/eval_understanding.py [--per-type 12] [--seed 2025] [--set DIR]
                            [--workers 2] [--json] [--save report.json] [--examples 8]
                            [--ocr-cache DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
import time
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the scripts package (synthdocs) sits at the repository root

from pipeline.flow import (  # noqa: E402
    REVIEW_CONF,
    StageOptions,
    card_qr_in_images,
    check_refusal,
    ocr_pages_from_json,
    read_pages,
)
from pipeline.flow import review_reasons as review_reasons_of  # noqa: E402
from pipeline.reasons import Rejected  # noqa: E402
from pipeline.run.pagework import TaskFailure, init_worker  # noqa: E402
from pipeline.steps.classify import classify  # noqa: E402
from pipeline.steps.extract import extract  # noqa: E402
from pipeline.steps.intake import sniff  # noqa: E402
from pipeline.steps.ocr import DEFAULT_STEPS, READING_VERSION  # noqa: E402
from pipeline.types import OcrPage, to_jsonable  # noqa: E402
from scripts.synthdocs import DOC_TYPES, generate, read_labels  # noqa: E402

GOAL_DOC_TYPE_ACCURACY = 0.98
GOAL_MAX_ABSTENTION = 0.05
GOAL_FIELD_EXACT = 0.95
GOAL_REJECT_RIGHT = 0.95
DEFAULT_SEED = 2025


@dataclass
class Outcome:
    """What the pipeline made of one labelled document."""

    file: str
    doc_type: str  # ground truth
    expected: str  # "ok" | "rejected:<reason>"
    degradations: list[str]
    layout: str = ""
    font: str = ""
    rejected: str = ""  # the pipeline's reason code when it refused the document
    predicted: str = ""
    confidence: float = 0.0
    review: list[str] = field(default_factory=list)
    fields: dict[str, str] = field(default_factory=dict)
    truth: dict[str, str] = field(default_factory=dict)
    ocr_head: str = ""
    mean_conf: float = 0.0

    @property
    def good(self) -> bool:
        return self.expected == "ok"

    type_abstained: bool = False  # the classifier did not answer (Classification.abstains)

    @property
    def abstained(self) -> bool:
        return self.type_abstained


def _nfc(value: str | None) -> str | None:
    return None if value is None else unicodedata.normalize("NFC", value.strip())


def understand(label: dict, pages: Sequence[OcrPage] | None, failure: str = "",
               document: Path | None = None) -> Outcome:
    """The main-process half: refusal checks, classification, extraction, review."""
    out = Outcome(label["file"], label["doc_type"], label["expected"], label["degradations"],
                  label.get("layout", ""), label.get("font", ""), truth=label["fields"])
    if failure:
        out.rejected = failure
        return out
    assert pages is not None
    words = [w.conf for p in pages for w in p.words]
    out.mean_conf = round(sum(words) / len(words), 1) if words else 0.0
    out.ocr_head = "\n".join(pages[0].text.splitlines()[:8])[:500] if pages else ""
    try:
        check_refusal(pages)
    except Rejected as exc:
        out.rejected = str(exc.reason)
        return out
    classification = classify(pages)
    card = card_qr_in_images([(document, p.rotation, p.index) for p in pages[:1]]) \
        if document is not None and classification.doc_type == "citizen_id" else None
    extraction = extract(pages, classification.doc_type, *(card or ()))
    out.predicted = classification.doc_type
    out.confidence = classification.confidence
    out.type_abstained = classification.abstains
    out.fields = {f.name: f.value for f in extraction.fields}
    person = label["fields"].get("id_number", "")
    out.review = review_reasons_of(pages, classification, extraction, person)
    return out


class OcrCache:
    """Per-document OCR results kept between runs (development only, see --ocr-cache)."""

    def __init__(self, folder: Path | None, lang: str):
        self.folder, self.lang, self.hits = folder, lang, 0
        if folder:
            folder.mkdir(parents=True, exist_ok=True)

    def _path(self, document: Path) -> Path:
        digest = hashlib.sha256(document.read_bytes()).hexdigest()
        assert self.folder is not None
        steps = "+".join(DEFAULT_STEPS) or "none"
        return self.folder / f"{digest}.{self.lang}.{READING_VERSION}.{steps}.json"

    def get(self, document: Path) -> dict | None:
        if not self.folder or not self._path(document).exists():
            return None
        self.hits += 1
        return json.loads(self._path(document).read_text(encoding="utf-8"))

    def put(self, document: Path, entry: dict) -> None:
        if self.folder:
            self._path(document).write_text(json.dumps(entry, ensure_ascii=False),
                                            encoding="utf-8")


def _read_only(label: dict, entry: dict, document: Path | None = None) -> Outcome:
    return Outcome(label["file"], label["doc_type"], label["expected"], [])


def _from_cache(label: dict, entry: dict, document: Path | None = None) -> Outcome:
    if "failure" in entry:
        return understand(label, None, entry["failure"])
    return understand(label, ocr_pages_from_json(entry["pages"]), document=document)


def run_pipeline(set_dir: Path, labels: Sequence[dict], workers: int, lang: str,
                 progress: bool, cache: OcrCache | None = None,
                 understand_them: bool = True) -> list[Outcome]:
    """OCR page-parallel in `workers` processes (one tesseract thread each), as a run does.

    With understand_them=False only the OCR is done (into the cache; outcomes stay empty):
    scripts/train_doctype_model.py reads pages before any model exists."""
    outcome_of = _from_cache if understand_them else _read_only
    os.environ["OMP_THREAD_LIMIT"] = "1"
    opt = StageOptions(person_id="000000000000", lang=lang)
    cache = cache or OcrCache(None, lang)
    outcomes: dict[str, Outcome] = {}
    with tempfile.TemporaryDirectory(prefix="ecopy-eval-work-") as work, \
            ProcessPoolExecutor(max_workers=workers, initializer=init_worker) as pool:
        pending: dict[Future, dict] = {}
        for n, label in enumerate(labels):
            path = set_dir / label["file"]
            cached = cache.get(path)
            if cached is not None:
                outcomes[label["file"]] = outcome_of(label, cached, path)
                continue
            try:
                kind = sniff(path)
            except Rejected as exc:
                outcomes[label["file"]] = understand(label, None, str(exc.reason))
                continue
            workdir = Path(work) / f"{n:05d}"
            workdir.mkdir()
            pending[pool.submit(read_pages, path, kind, workdir, opt)] = label
        total, done = len(pending), 0
        while pending:
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                label = pending.pop(future)
                result = future.result()
                if isinstance(result, TaskFailure):
                    entry: dict = {"failure": str(result.reason)}
                else:
                    entry = {"pages": to_jsonable([page for _scan, page in result[1]])}
                cache.put(set_dir / label["file"], entry)
                outcome = outcome_of(label, entry, set_dir / label["file"])
                outcomes[label["file"]] = outcome
                done += 1
                if progress:
                    print(f"\r  read {done}/{total}", end="", file=sys.stderr, flush=True)
        if progress:
            print(file=sys.stderr)
    return [outcomes[label["file"]] for label in labels]


# ------------------------------------------------------------------------------ metrics


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


def classification_metrics(outcomes: Sequence[Outcome]) -> dict:
    good = [o for o in outcomes if o.good]
    per_class = {}
    f1s = []
    for doc_type in DOC_TYPES:
        tp = sum(1 for o in good if o.doc_type == doc_type and o.predicted == doc_type)
        support = sum(1 for o in good if o.doc_type == doc_type)
        predicted = sum(1 for o in good if o.predicted == doc_type)
        if not support and not predicted:
            continue
        precision, recall = _ratio(tp, predicted), _ratio(tp, support)
        f1 = (2 * precision * recall / (precision + recall)
              if precision and recall else 0.0)
        f1s.append(f1)
        per_class[doc_type] = {"support": support, "predicted": predicted, "precision": precision,
                               "recall": recall, "f1": f1}
    answered = [o for o in good if not o.rejected and not o.abstained]
    abstained = [o for o in good if o.abstained]
    confusion = Counter((o.doc_type, o.predicted or f"rejected:{o.rejected}") for o in good
                        if o.predicted != o.doc_type)
    return {
        "good_documents": len(good),
        "accuracy_all": _ratio(sum(o.predicted == o.doc_type for o in good), len(good)),
        "accuracy_answered": _ratio(sum(o.predicted == o.doc_type for o in answered),
                                    len(answered)),
        "answered": len(answered),
        "abstention_rate": _ratio(len(abstained), len(good)),
        "abstained": len(abstained),
        "below_review_conf": sum(1 for o in good if not o.rejected
                                 and o.confidence < REVIEW_CONF),
        "falsely_rejected": sum(1 for o in good if o.rejected),
        "held_for_review": sum(1 for o in good if o.review and not o.rejected),
        "review_reasons": dict(Counter(r for o in good for r in o.review).most_common()),
        "macro_f1": sum(f1s) / len(f1s) if f1s else None,
        "per_class": per_class,
        "confusions": [{"truth": t, "predicted": p, "count": c}
                       for (t, p), c in confusion.most_common()],
    }


def field_metrics(outcomes: Sequence[Outcome]) -> dict:
    per_field: dict[str, Counter] = defaultdict(Counter)
    per_type: dict[str, Counter] = defaultdict(Counter)
    for o in outcomes:
        if not o.good:
            continue
        for name, truth in o.truth.items():
            got = _nfc(o.fields.get(name))
            verdict = "correct" if got == _nfc(truth) else ("missing" if got is None else "wrong")
            per_field[name][verdict] += 1
            per_type[o.doc_type][verdict] += 1
    total = sum(sum(c.values()) for c in per_field.values())
    correct = sum(c["correct"] for c in per_field.values())

    def table(counts: dict[str, Counter]) -> dict:
        return {k: {"n": sum(c.values()), "correct": c["correct"], "missing": c["missing"],
                    "wrong": c["wrong"], "accuracy": _ratio(c["correct"], sum(c.values()))}
                for k, c in sorted(counts.items())}

    return {"fields": total, "correct": correct, "exact_match": _ratio(correct, total),
            "per_field": table(per_field), "per_type": table(per_type)}


def rejection_metrics(outcomes: Sequence[Outcome]) -> dict:
    bad = [o for o in outcomes if not o.good]
    refused = [o for o in outcomes if o.rejected]
    right = [o for o in bad if o.expected == f"rejected:{o.rejected}"]
    by_reason: dict[str, dict] = {}
    for reason in sorted({o.expected for o in bad}):
        group = [o for o in bad if o.expected == reason]
        said = Counter(f"rejected:{o.rejected}" if o.rejected else f"accepted as {o.predicted}"
                       for o in group)
        by_reason[reason] = {"n": len(group),
                             "rejected": sum(1 for o in group if o.rejected),
                             "right_reason": sum(1 for o in group if o in right),
                             "pipeline_said": dict(said.most_common())}
    return {
        "bad_documents": len(bad), "pipeline_rejected": len(refused),
        "recall_any_reason": _ratio(sum(1 for o in bad if o.rejected), len(bad)),
        "recall_right_reason": _ratio(len(right), len(bad)),
        "precision_any_reason": _ratio(sum(1 for o in refused if not o.good), len(refused)),
        "precision_right_reason": _ratio(len(right), len(refused)),
        "by_expected_reason": by_reason,
        "good_rejected": dict(Counter(o.rejected for o in outcomes if o.good and o.rejected)),
    }


# ------------------------------------------------------------------------------ report


def _pct(value: float | None) -> str:
    return "   n/a" if value is None else f"{100 * value:5.1f}%"


def _goal(ok: bool | None) -> str:
    return "" if ok is None else ("  [goal met]" if ok else "  [goal NOT met]")


def print_report(report: dict, outcomes: Sequence[Outcome], examples: int) -> None:
    c, f, r = report["classification"], report["fields"], report["rejection"]
    print(f"\nDocuments: {report['documents']} ({c['good_documents']} good scans, "
          f"{r['bad_documents']} drawn to be refused), set {report['set']}")
    print("\n== Document type (good scans) ==")
    acc_ok = (c["accuracy_answered"] is not None and c["abstention_rate"] is not None
              and c["accuracy_answered"] >= GOAL_DOC_TYPE_ACCURACY
              and c["abstention_rate"] <= GOAL_MAX_ABSTENTION)
    print(f"accuracy on answered documents {_pct(c['accuracy_answered'])} "
          f"at abstention {_pct(c['abstention_rate'])} "
          f"(goal >= {GOAL_DOC_TYPE_ACCURACY:.0%} at <= {GOAL_MAX_ABSTENTION:.0%}){_goal(acc_ok)}")
    print(f"accuracy on all good scans     {_pct(c['accuracy_all'])}   "
          f"macro-F1 {_pct(c['macro_f1'])}   abstained {c['abstained']}, "
          f"confidence < {REVIEW_CONF} {c['below_review_conf']}, "
          f"good scans rejected {c['falsely_rejected']}")
    print(f"good scans held for a clerk (any reason) {c['held_for_review']}: "
          + ", ".join(f"{k} {v}" for k, v in c["review_reasons"].items()))
    print(f"{'class':24} {'support':>7} {'pred':>5} {'precision':>9} {'recall':>7} {'F1':>7}")
    for name, m in c["per_class"].items():
        print(f"{name:24} {m['support']:7d} {m['predicted']:5d} {_pct(m['precision']):>9} "
              f"{_pct(m['recall']):>7} {_pct(m['f1']):>7}")
    if c["confusions"]:
        print("confusions (truth -> predicted): " + ", ".join(
            f"{x['truth']}->{x['predicted']} x{x['count']}" for x in c["confusions"]))

    print("\n== Fields, exact match (good scans) ==")
    print(f"overall {_pct(f['exact_match'])} of {f['fields']} fields "
          f"(goal >= {GOAL_FIELD_EXACT:.0%}){_goal((f['exact_match'] or 0) >= GOAL_FIELD_EXACT)}")
    print(f"{'field':24} {'n':>4} {'correct':>7} {'missing':>7} {'wrong':>5} {'accuracy':>8}")
    for name, m in f["per_field"].items():
        print(f"{name:24} {m['n']:4d} {m['correct']:7d} {m['missing']:7d} {m['wrong']:5d} "
              f"{_pct(m['accuracy']):>8}")
    print("by type: " + ", ".join(f"{k} {_pct(m['accuracy']).strip()}"
                                  for k, m in f["per_type"].items()))

    print("\n== Rejections ==")
    right_ok = (r["recall_right_reason"] or 0) >= GOAL_REJECT_RIGHT
    print(f"bad scans rejected with the right reason {_pct(r['recall_right_reason'])} "
          f"(goal >= {GOAL_REJECT_RIGHT:.0%}){_goal(right_ok)}; with any reason "
          f"{_pct(r['recall_any_reason'])}")
    print(f"precision of rejections: right reason {_pct(r['precision_right_reason'])}, "
          f"any reason {_pct(r['precision_any_reason'])} ({r['pipeline_rejected']} rejected)")
    for reason, m in r["by_expected_reason"].items():
        print(f"  {reason:28} n={m['n']:3d} rejected={m['rejected']:3d} "
              f"right={m['right_reason']:3d}  pipeline said: {m['pipeline_said']}")
    if r["good_rejected"]:
        print(f"  good scans rejected: {r['good_rejected']}")

    if examples:
        _print_examples(outcomes, examples)
    print(f"\nElapsed {report['elapsed_s']:.1f} s (generate {report['generate_s']:.1f} s, "
          f"read + understand {report['pipeline_s']:.1f} s, {report['workers']} workers)")
    if report["ocr_from_cache"]:
        print(f"OCR of {report['ocr_from_cache']} documents came from the cache "
              "(development figure, not for the issue note)")


def _print_examples(outcomes: Sequence[Outcome], examples: int) -> None:
    wrong_type = [o for o in outcomes if o.good and o.predicted != o.doc_type][:examples]
    if wrong_type:
        print("\n-- misclassified / abstained examples --")
    for o in wrong_type:
        head = o.ocr_head.replace("\n", " | ")[:180]
        print(f"{o.file} {o.doc_type} ({o.layout}) -> {o.predicted or 'rejected:' + o.rejected}"
              f" ({o.confidence:.2f}) {o.degradations} OCR: {head}")
    misses: Counter = Counter()
    sample: dict[tuple[str, str], list[str]] = defaultdict(list)
    for o in outcomes:
        if not o.good or o.rejected:
            continue
        for name, truth in o.truth.items():
            got = _nfc(o.fields.get(name))
            if got != _nfc(truth):
                key = (o.doc_type, name)
                misses[key] += 1
                if len(sample[key]) < 2:
                    sample[key].append(f"{truth!r} got {got!r}")
    if misses:
        print("\n-- most missed fields (type, field: count, examples) --")
    for (doc_type, name), n in misses.most_common(examples * 2):
        print(f"{doc_type}.{name}: {n}  {'; '.join(sample[(doc_type, name)])}")


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Measure classification, extraction and "
                                             "refusals on the synthetic labelled set.")
    ap.add_argument("--set", type=Path, help="an existing set (labels.jsonl + images)")
    ap.add_argument("--per-type", type=int, default=12, help="documents per type to generate")
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
    ap.add_argument("--workers", type=int, default=2, help="OCR processes (one thread each)")
    ap.add_argument("--lang", default="vie+eng")
    ap.add_argument("--json", action="store_true", help="print the report as JSON")
    ap.add_argument("--save", type=Path, help="also write the JSON report, with every "
                                              "document's outcome, to this file")
    ap.add_argument("--examples", type=int, default=8, help="failure examples to print")
    ap.add_argument("--ocr-cache", type=Path, help="keep OCR results in this folder and reuse "
                                                   "them (development only)")
    args = ap.parse_args(argv)
    cache = OcrCache(args.ocr_cache, args.lang)

    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="ecopy-eval-set-") as tmp:
        set_dir = args.set or Path(tmp)
        if args.set:
            labels = read_labels(set_dir)
        else:
            labels = generate(set_dir, per_type=args.per_type, seed=args.seed)
        generated = time.monotonic()
        outcomes = run_pipeline(set_dir, labels, args.workers, args.lang,
                                progress=not args.json, cache=cache)
    finished = time.monotonic()
    report = {
        "set": str(args.set) if args.set else f"generated, per_type={args.per_type}, "
                                              f"seed={args.seed}",
        "documents": len(outcomes),
        "classification": classification_metrics(outcomes),
        "fields": field_metrics(outcomes),
        "rejection": rejection_metrics(outcomes),
        "goals": {"doc_type_accuracy": GOAL_DOC_TYPE_ACCURACY,
                  "max_abstention": GOAL_MAX_ABSTENTION, "field_exact_match": GOAL_FIELD_EXACT,
                  "rejected_right_reason": GOAL_REJECT_RIGHT},
        "review_conf": REVIEW_CONF,
        "workers": args.workers,
        "ocr_from_cache": cache.hits,
        "generate_s": round(generated - started, 2),
        "pipeline_s": round(finished - generated, 2),
        "elapsed_s": round(finished - started, 2),
    }
    detailed = {**report, "documents_detail": [asdict(o) for o in outcomes]}
    if args.save:
        args.save.write_text(json.dumps(detailed, ensure_ascii=False, indent=2) + "\n",
                             encoding="utf-8")
    if args.json:
        print(json.dumps(detailed, ensure_ascii=False, indent=2))
    else:
        print_report(report, outcomes, args.examples)
    return 0


if __name__ == "__main__":
    sys.exit(main())
