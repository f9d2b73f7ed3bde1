"""Character and word error rates of OCR text against a ground-truth transcript.

Used by the OCR accuracy tests and ``scripts/bench_ocr.py``; both sides go through the same
``normalise`` so no engine is favoured. Edit distance comes from rapidfuzz (a dev dependency:
nothing on the production path imports this module).

Normalisation, applied identically to reference and hypothesis:

  * Unicode NFC (tesseract and transcripts may use decomposed Vietnamese diacritics);
  * list markers at the start of a line ("-", "–", "•", "+", "*") are dropped: the corpus
    transcripts leave out the dashes that start each bullet line on the scans;
  * every run of whitespace, line breaks included, becomes one space: transcripts join or
    split lines differently from the page layout.

Nothing else is changed: case, punctuation and diacritics all count.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from rapidfuzz.distance import Levenshtein

_LIST_MARKER = re.compile(r"^[ \t]*[-–•+*][ \t]+", re.MULTILINE)
_SPACES = re.compile(r"\s+")


def normalise(text: str) -> str:
    text = unicodedata.normalize("NFC", text)
    text = _LIST_MARKER.sub("", text)
    return _SPACES.sub(" ", text).strip()


@dataclass(frozen=True)
class ErrorRates:
    cer: float  # character edits / reference characters
    wer: float  # word edits / reference words
    ref_chars: int
    ref_words: int


def error_rates(reference: str, hypothesis: str) -> ErrorRates:
    """CER and WER of ``hypothesis`` against ``reference`` after ``normalise``."""
    ref, hyp = normalise(reference), normalise(hypothesis)
    ref_words, hyp_words = ref.split(" ") if ref else [], hyp.split(" ") if hyp else []
    chars = Levenshtein.distance(ref, hyp)
    words = Levenshtein.distance(ref_words, hyp_words)
    return ErrorRates(
        cer=chars / max(1, len(ref)),
        wer=words / max(1, len(ref_words)),
        ref_chars=len(ref),
        ref_words=len(ref_words),
    )


def cer(reference: str, hypothesis: str) -> float:
    return error_rates(reference, hypothesis).cer
