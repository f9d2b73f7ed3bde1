"""The learned document-type model: character n-grams + title rules -> calibrated probabilities.

Why a model and not only the title rules (pipeline.steps.classify): OCR damages titles (lost tone
marks, broken words, stray letters) and some papers have no title line at all (card backs,
contracts). A linear model over character n-grams of the diacritic-free text of the first page,
plus the title-rule hits as extra features, recognises a paper from everything printed on it.

How confidence is made honest:
  * the model is a multinomial logistic regression (scikit-learn) trained on OCR text;
  * its scores are calibrated by temperature scaling fitted on out-of-fold predictions
    (every training document is scored by a model that did not see it);
  * the abstention threshold is the lowest calibrated confidence at which the out-of-fold
    answers reach TARGET_PRECISION; below it the document goes to the review queue.

A model is one `.npz` file (numpy arrays only, read with allow_pickle=False: loading a model can
never run code) holding the vocabulary, idf weights, coefficients and a JSON metadata string:
version, training-data digest, counts, temperature, threshold and out-of-fold figures. The
version goes into each document's classification and so into its manifest.

Training needs scikit-learn; scoring uses its TfidfVectorizer rebuilt from the stored
vocabulary and idf, and a softmax written out here (one matrix product).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from pipeline.types import CONFIDENT_OCR, MIN_READABLE, Classification, OcrPage
from pipeline.vn.text import fold, readable_ratio, squash
from storage.db.cases import corrected_types
from storage.db.pointers import get_pointer, set_pointer

if TYPE_CHECKING:
    from storage.backends import ObjectStore
    from storage.db import Database

MODEL_FORMAT = 1
DATA_DIR = Path(__file__).resolve().parents[1] / "data"
BUNDLED_MODEL = DATA_DIR / "doctype-1.npz"
BASE_CORPUS = DATA_DIR / "doctype-train.jsonl.gz"

TEXT_CHARS = 2000  # characters of the first page the model reads
NGRAMS = (3, 5)
MAX_FEATURES = 40_000
TARGET_PRECISION = 0.99  # out-of-fold precision the abstention threshold is set for
MIN_THRESHOLD = 0.5
FOLDS = 5
CORRECTION_WEIGHT = 3.0  # a clerk's correction counts for three synthetic examples

_SPACES = re.compile(r"[^0-9A-Z]+")


def model_text(pages: Sequence[OcrPage]) -> str:
    """What the model reads: the first page with words, folded to an ASCII skeleton."""
    first = next((p for p in pages if p.words), None)
    if first is None:
        return ""
    return _SPACES.sub(" ", fold(first.text[:TEXT_CHARS])).strip()


def rule_names() -> list[str]:
    from pipeline.doctypes.titles import TITLE_PATTERNS

    return [f"{kind}:{doc_type}" for doc_type in TITLE_PATTERNS for kind in ("any", "title")]


def rules_digest() -> str:
    """The title rules as the registry holds them today (types and their phrases)."""
    from pipeline.doctypes.titles import TITLE_PATTERNS

    return hashlib.sha256(json.dumps(TITLE_PATTERNS, sort_keys=True).encode()).hexdigest()


class RegistryMismatch(ValueError):
    """A model trained with other document types or title rules than the registry's."""


def check_registry(meta: dict) -> None:
    """Refuse a model whose classes or rule features are not the registry's: its rule
    features would be read in another order, or a type it answers would not exist."""
    from pipeline.doctypes.titles import DOCUMENT_NAMES

    version = meta.get("version", "?")
    unknown = sorted(set(meta.get("classes", ())) - set(DOCUMENT_NAMES))
    trained = (meta.get("features") or {}).get("rules")
    digest = (meta.get("features") or {}).get("rules_sha256")
    problem = (f"it answers types the registry does not know ({', '.join(unknown)})" if unknown
               else "it was trained with other title-rule features" if trained != rule_names()
               else "it was trained with other title phrases" if digest and digest
               != rules_digest() else "")
    if problem:
        raise RegistryMismatch(
            f"Mô hình loại giấy tờ {version} không khớp danh mục loại giấy tờ hiện tại; hãy "
            f"huấn luyện lại (ecopy model retrain). / Document-type model {version} does not "
            f"match the document-type registry: {problem}; retrain it (ecopy model retrain) "
            "or activate a model trained with this registry.")


def rule_features(pages: Sequence[OcrPage]) -> np.ndarray:
    """Per doc type: a title phrase appears anywhere on page 1; it stands as an upper-case
    line near the top (the rule classifier's own two levels of evidence)."""
    from pipeline.doctypes.titles import MAX_TITLE_OFFSET, TITLE_PATTERNS

    first = next((p for p in pages if p.words), None)
    values: list[float] = []
    skeleton = squash(first.text) if first else ""
    lines = [(squash(line), line.isupper()) for line in first.text.splitlines()] if first else []
    for patterns in TITLE_PATTERNS.values():
        positions = [skeleton.find(p) for p in patterns if p in skeleton]
        anywhere = bool(positions)
        title = anywhere and min(positions) <= MAX_TITLE_OFFSET and any(
            upper and any(p in sq for p in patterns) for sq, upper in lines)
        values += [float(anywhere), float(title)]
    return np.array(values)


@dataclass(frozen=True)
class Example:
    """One labelled document: the model's inputs (not the OCR words) and its true type."""

    text: str
    rules: tuple[float, ...]
    doc_type: str
    source: str = ""  # "base:<file>" or "correction:<sha256>"

    @classmethod
    def of(cls, pages: Sequence[OcrPage], doc_type: str, source: str = "") -> Example:
        return cls(model_text(pages), tuple(rule_features(pages)), doc_type, source)

    def to_json(self) -> dict:
        return {"text": self.text, "rules": list(self.rules), "doc_type": self.doc_type,
                "source": self.source}


def read_corpus(path: Path = BASE_CORPUS) -> list[Example]:
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return [Example(d["text"], tuple(d["rules"]), d["doc_type"], d.get("source", ""))
                for d in map(json.loads, f)]


def write_corpus(examples: Iterable[Example], path: Path) -> None:
    # mtime=0: the same examples always give the same bytes
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz:
        for ex in examples:
            gz.write((json.dumps(ex.to_json(), ensure_ascii=False, sort_keys=True) + "\n")
                     .encode("utf-8"))


def corpus_digest(examples: Sequence[Example]) -> str:
    h = hashlib.sha256()
    for ex in examples:
        h.update(json.dumps(ex.to_json(), ensure_ascii=False, sort_keys=True).encode("utf-8"))
    return h.hexdigest()


def _softmax(scores: np.ndarray) -> np.ndarray:
    shifted = scores - scores.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=1, keepdims=True)


@dataclass
class DoctypeModel:
    version: str
    classes: tuple[str, ...]
    vocabulary: dict[str, int]
    idf: np.ndarray
    coef: np.ndarray  # (classes, n-gram features + rule features)
    intercept: np.ndarray
    temperature: float
    threshold: float
    meta: dict = field(default_factory=dict)
    sha256: str = ""

    @property
    def name(self) -> str:
        """Version and content digest, as recorded in classifications and manifests."""
        return f"{self.version}@{self.sha256[:12]}" if self.sha256 else self.version

    @property
    def _vectorizer(self) -> Any:
        cached = self.__dict__.get("_vec")
        if cached is None:
            cached = _vectorizer(self.vocabulary)
            cached.idf_ = self.idf
            self.__dict__["_vec"] = cached
        return cached

    def probabilities(self, texts: Sequence[str], rules: np.ndarray) -> np.ndarray:
        from scipy.sparse import csr_matrix, hstack

        x = hstack([self._vectorizer.transform(texts), csr_matrix(rules)]).tocsr()
        return _softmax((x @ self.coef.T + self.intercept) / self.temperature)

    def classify(self, pages: Sequence[OcrPage]) -> Classification:
        from pipeline.doctypes.titles import classify_by_title

        by_title = classify_by_title(pages)
        text = model_text(pages)
        if not text:
            return Classification("other", 0.0, method="model", model=self.name,
                                  threshold=self.threshold, readable=0.0)
        probs = self.probabilities([text], rule_features(pages)[None, :])[0]
        best = int(np.argmax(probs))
        doc_type = self.classes[best]
        readable = readable_ratio(text)
        first = next(p for p in pages if p.words)
        if first.mean_conf >= CONFIDENT_OCR:  # read confidently, whatever the language
            readable = max(readable, MIN_READABLE)
        return Classification(doc_type, round(float(probs[best]), 4),
                              matched=by_title.matched if by_title.doc_type == doc_type else "",
                              method="model", model=self.name, threshold=self.threshold,
                              readable=round(readable, 3))

    def to_bytes(self) -> bytes:
        buf = io.BytesIO()
        words = sorted(self.vocabulary, key=self.vocabulary.__getitem__)
        meta = {**self.meta, "format": MODEL_FORMAT, "version": self.version,
                "classes": list(self.classes), "temperature": self.temperature,
                "threshold": self.threshold}
        np.savez_compressed(buf, vocabulary=np.array(words, dtype=np.str_),
                            idf=self.idf.astype(np.float32), coef=self.coef.astype(np.float32),
                            intercept=self.intercept.astype(np.float32),
                            meta=np.array(json.dumps(meta, ensure_ascii=False, sort_keys=True)))
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> DoctypeModel:
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            if meta.get("format") != MODEL_FORMAT:
                raise ValueError(f"unknown document-type model format {meta.get('format')!r}")
            check_registry(meta)
            words = [str(w) for w in z["vocabulary"]]
            return cls(meta["version"], tuple(meta["classes"]),
                       {w: i for i, w in enumerate(words)}, z["idf"].astype(np.float64),
                       z["coef"].astype(np.float64), z["intercept"].astype(np.float64),
                       float(meta["temperature"]), float(meta["threshold"]), meta,
                       hashlib.sha256(data).hexdigest())


def _vectorizer(vocabulary: dict[str, int] | None = None) -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(analyzer="char_wb", ngram_range=NGRAMS, lowercase=False,
                           sublinear_tf=True, min_df=1 if vocabulary else 2,
                           max_features=None if vocabulary else MAX_FEATURES,
                           vocabulary=vocabulary, dtype=np.float64)


def _fit(texts: Sequence[str], rules: np.ndarray, labels: Sequence[str],
         classes: Sequence[str], c: float,
         weights: np.ndarray) -> tuple[Any, np.ndarray, np.ndarray]:
    from scipy.sparse import csr_matrix, hstack
    from sklearn.linear_model import LogisticRegression

    vec = _vectorizer()
    x = hstack([vec.fit_transform(texts), csr_matrix(rules)]).tocsr()
    lr = LogisticRegression(C=c, max_iter=3000)
    lr.fit(x, labels, sample_weight=weights)
    # rows for classes with no example in this fold stay at a very low score
    coef = np.zeros((len(classes), x.shape[1]))
    intercept = np.full(len(classes), -30.0)
    for i, cls in enumerate(lr.classes_):
        j = list(classes).index(cls)
        coef[j], intercept[j] = lr.coef_[i], lr.intercept_[i]
    return vec, coef, intercept


def _scores(vec: Any, coef: np.ndarray, intercept: np.ndarray, texts: Sequence[str],
            rules: np.ndarray) -> np.ndarray:
    from scipy.sparse import csr_matrix, hstack

    return hstack([vec.transform(texts), csr_matrix(rules)]).tocsr() @ coef.T + intercept


def _fit_temperature(scores: np.ndarray, truth: np.ndarray) -> float:
    from scipy.optimize import minimize_scalar

    def nll(log_t: float) -> float:
        p = _softmax(scores / np.exp(log_t))
        return float(-np.log(np.clip(p[np.arange(len(truth)), truth], 1e-12, None)).mean())

    return float(np.exp(minimize_scalar(nll, bounds=(-3.0, 3.0), method="bounded").x))


def _threshold(confidence: np.ndarray, right: np.ndarray, target: float) -> float:
    """The lowest threshold whose answered documents are right at least `target` of the time."""
    order = np.argsort(-confidence)
    hits = np.cumsum(right[order])
    precision = hits / np.arange(1, len(order) + 1)
    ok = np.nonzero(precision >= target)[0]
    if not len(ok):
        return 1.0
    # answer the longest prefix that keeps the precision, and every later one at or above it
    last = ok[-1]
    return float(max(MIN_THRESHOLD, confidence[order][last]))


def train(examples: Sequence[Example], version: str, *, c: float = 20.0,
          target_precision: float = TARGET_PRECISION, seed: int = 0,
          extra_meta: dict | None = None) -> DoctypeModel:
    """Fit, calibrate on out-of-fold scores, set the abstention threshold, and report.

    Examples whose text is unreadable (Classification.abstains on MIN_READABLE whatever the
    model says) are left out: they would only teach the model noise.
    """
    from sklearn.model_selection import StratifiedKFold

    from pipeline.doctypes.titles import DOCUMENT_NAMES

    classes = tuple(DOCUMENT_NAMES)
    digest = corpus_digest(examples)
    unreadable = sum(1 for ex in examples if readable_ratio(ex.text) < MIN_READABLE)
    examples = [ex for ex in examples if readable_ratio(ex.text) >= MIN_READABLE]
    texts = [ex.text for ex in examples]
    rules = np.array([ex.rules for ex in examples], dtype=np.float64)
    labels = [ex.doc_type for ex in examples]
    unknown = sorted(set(labels) - set(classes))
    if unknown:
        raise ValueError(f"unknown document types in training data: {unknown}")
    truth = np.array([classes.index(label) for label in labels])
    weights = np.array([CORRECTION_WEIGHT if ex.source.startswith("correction:") else 1.0
                        for ex in examples])
    counts = np.bincount(truth, minlength=len(classes))
    folds = max(2, min(FOLDS, int(counts[counts > 0].min())))
    oof = np.zeros((len(examples), len(classes)))
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for train_idx, test_idx in splitter.split(texts, labels):
        vec, coef, intercept = _fit([texts[i] for i in train_idx], rules[train_idx],
                                    [labels[i] for i in train_idx], classes, c,
                                    weights[train_idx])
        oof[test_idx] = _scores(vec, coef, intercept, [texts[i] for i in test_idx],
                                rules[test_idx])
    temperature = _fit_temperature(oof, truth)
    probs = _softmax(oof / temperature)
    confidence, predicted = probs.max(axis=1), probs.argmax(axis=1)
    right = (predicted == truth).astype(float)
    threshold = _threshold(confidence, right, target_precision)
    answered = confidence >= threshold
    vec, coef, intercept = _fit(texts, rules, labels, classes, c, weights)
    words = sorted(vec.vocabulary_, key=vec.vocabulary_.__getitem__)
    meta = {
        "trained_on": {"documents": len(examples), "left_out_unreadable": unreadable,
                       "digest": digest,
                       "per_class": {cls: int(n) for cls, n in zip(classes, counts, strict=True)},
                       "sources": _source_counts(examples)},
        "regularisation_c": c,
        "out_of_fold": {"folds": folds, "accuracy": round(float(right.mean()), 4),
                        "answered_accuracy": round(float(right[answered].mean()), 4)
                        if answered.any() else None,
                        "abstention": round(float(1 - answered.mean()), 4),
                        "target_precision": target_precision,
                        "corrections_accuracy": round(float(right[weights > 1].mean()), 4)
                        if (weights > 1).any() else None},
        "features": {"ngrams": list(NGRAMS), "analyzer": "char_wb", "text_chars": TEXT_CHARS,
                     "vocabulary": len(words), "rules": rule_names(),
                     "rules_sha256": rules_digest()},
        **(extra_meta or {}),
    }
    model = DoctypeModel(version, classes, {w: i for i, w in enumerate(words)},
                         np.asarray(vec.idf_, dtype=np.float64), coef, intercept, temperature,
                         threshold, meta)
    # what is stored is what is used: round-trip through the file format (float32)
    return DoctypeModel.from_bytes(model.to_bytes())


def _source_counts(examples: Sequence[Example]) -> dict[str, int]:
    out: dict[str, int] = {}
    for ex in examples:
        kind = ex.source.split(":", 1)[0] or "unknown"
        out[kind] = out.get(kind, 0) + 1
    return out


@cache
def bundled_model() -> DoctypeModel:
    return DoctypeModel.from_bytes(BUNDLED_MODEL.read_bytes())


# ------------------------------------------------------------------ models kept in the store

MODELS_PREFIX = "models/doctype/"
ACTIVE_POINTER = "doctype_model"  # storage.db.pointers: the model in use
_loaded: dict[str, DoctypeModel] = {}


def model_key(version: str) -> str:
    return f"{MODELS_PREFIX}{version}.npz"


def active_pointer(db: Database) -> dict | None:
    """{"version", "sha256", "by", "at"} of the model in use, or None for the bundled one."""
    with db.read() as s:
        return get_pointer(s, ACTIVE_POINTER)


def load_version(store: ObjectStore, version: str, sha256: str | None = None) -> DoctypeModel:
    """A stored model, checked against the digest the pointer names."""
    if version == bundled_model().version and not store.exists(model_key(version)):
        return bundled_model()
    cache_key = f"{version}@{sha256}"
    if sha256 and cache_key in _loaded:
        return _loaded[cache_key]
    data = store.get(model_key(version))
    model = DoctypeModel.from_bytes(data)
    if sha256 and model.sha256 != sha256:
        raise ValueError(f"model {version} in the store has digest {model.sha256[:12]}, "
                         f"the active pointer names {sha256[:12]}")
    _loaded[f"{version}@{model.sha256}"] = model
    return model


def active_model(store: ObjectStore, db: Database) -> DoctypeModel:
    """The model `ecopy model activate` chose for this deployment, else the bundled one.

    One small query per document, so every worker picks up a newly activated model at its
    next document without a restart; the model itself is read from the store once.
    """
    pointer = active_pointer(db)
    if pointer is None:
        return bundled_model()
    return load_version(store, pointer["version"], pointer.get("sha256"))


# ------------------------------------------------------------------ learning from corrections


class NothingToLearn(Exception):
    """No clerk has corrected a document type in this store yet."""


def correction_examples(store: ObjectStore, db: Database) -> list[Example]:
    """Each corrected original once, with the type a clerk set last, read from its OCR."""
    from pipeline.run.stored import load_ocr

    with db.read() as s:
        latest = dict(corrected_types(s))  # later corrections replace earlier ones
    examples = []
    for sha, doc_type in sorted(latest.items()):
        pages = load_ocr(store, sha)
        if pages:
            examples.append(Example.of(pages, doc_type, f"correction:{sha}"))
    return examples


def _number(version: str) -> int:
    tail = version.rsplit("-", 1)[-1]
    return int(tail) if tail.isdigit() else 0


def stored_versions(store: ObjectStore) -> list[str]:
    versions = [key[len(MODELS_PREFIX):-len(".npz")] for key in store.list(MODELS_PREFIX)
                if key.endswith(".npz")]
    return sorted(versions, key=_number)


def retrain(store: ObjectStore, db: Database, *, c: float = 20.0
            ) -> tuple[DoctypeModel, list[Example]]:
    """A new model from the base corpus plus every correction, stored under the next free
    version (never overwriting one). It is not used until `activate`."""
    corrections = correction_examples(store, db)
    if not corrections:
        raise NothingToLearn("no document type has been corrected in this store")
    base = read_corpus()
    number = max([_number(bundled_model().version), *map(_number, stored_versions(store))]) + 1
    model = train([*base, *corrections], f"doctype-{number}", c=c, extra_meta={
        "base_corpus_digest": corpus_digest(base), "corrections": len(corrections),
        "correction_documents": [ex.source.split(":", 1)[1] for ex in corrections]})
    while True:
        data = model.to_bytes()
        if store.put_if_absent(model_key(model.version), data):
            return DoctypeModel.from_bytes(data), corrections
        number += 1  # another retrain took this number meanwhile
        model.version = f"doctype-{number}"


def activate(store: ObjectStore, db: Database, version: str, actor: str) -> dict:
    """Point the deployment at a model; every worker uses it from its next document."""
    from datetime import UTC, datetime

    model = load_version(store, version)
    with db.write() as s:
        previous = get_pointer(s, ACTIVE_POINTER) or {}
        pointer = {"version": model.version, "sha256": model.sha256, "by": actor,
                   "at": datetime.now(UTC).isoformat(timespec="seconds"),
                   "previous": previous.get("version", bundled_model().version)}
        set_pointer(s, ACTIVE_POINTER, pointer, by=actor)
    return pointer
