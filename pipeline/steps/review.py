"""Why a clerk must look before a paper is certified, and what the clerk is told.

`review_reasons` lists the reason codes (pipeline.reasons) a case waits for a clerk with;
empty means the machine is sure enough. `review_message` fills each reason's message with the
facts measured on the paper (the worst page's resolution, the conflicting fields, the split
the machine proposes …).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from pipeline.reasons import Reason, message
from pipeline.steps.classify import describe_split, outdated_proof, papers_in
from pipeline.steps.extract import CONFLICT_PREFIX, ID_CONTRADICTS_BIRTH
from pipeline.types import MIN_READABLE, Classification, Extraction, OcrPage

if TYPE_CHECKING:
    from pipeline.flow import StageOptions

# pipeline.vn.names gives 0.6 to a name whose surname it restored and 0.5 to one left without any
# tone mark; on the seed-2025 evaluation set 8 of 9 names at 0.5 were wrong, 3 of 17 at 0.6.
NAME_REVIEW_CONF = 0.55


def review_reasons(
    pages: Sequence[OcrPage], classification: Classification, extraction: Extraction,
    person_id: str,
) -> list[str]:
    """Why a clerk must look before certifying; empty means the machine is sure enough."""
    reasons = []
    if classification.abstains or unsure_names(extraction):
        reasons.append(Reason.LOW_CONFIDENCE.value)
    found_id = extraction.get("id_number")
    all_digits = "".join(c for p in pages for c in p.text if c.isdigit() or c == "\n")
    if found_id and found_id != person_id and person_id not in all_digits:
        reasons.append(Reason.ID_MISMATCH.value)
    if any(p.blank for p in pages):
        reasons.append(Reason.BLANK_PAGE.value)
    for page in pages:  # borderline scans flagged by the quality gate
        reasons.extend(r for r in page.quality if r not in reasons)
    if conflicts(extraction):  # MRZ vs printed text, ID vs birth date and sex
        reasons.append(Reason.FIELD_CONFLICT.value)
    if outdated_proof(pages):  # a household book, a 9-digit CMND: the clerk tells the citizen
        reasons.append(Reason.OUTDATED_PROOF.value)
    if len(papers_in(pages)) > 1:  # one number per original paper (Decree 23/2015 Art 13)
        reasons.append(Reason.MIXED_DOCUMENTS.value)
    return reasons


def unsure_names(extraction: Extraction) -> list[str]:
    """Name fields the extractor was not sure of (e.g. tone marks lost in OCR, pipeline.vn.names):
    a wrong diacritic in a citizen's name is a wrong name."""
    return [f.name for f in extraction.fields
            if f.name.endswith("full_name") and f.confidence < NAME_REVIEW_CONF]


def unsure_detail(classification: Classification, extraction: Extraction) -> str:
    """What the machine is unsure of, for the low_confidence message."""
    parts = []
    if classification.readable < MIN_READABLE:
        parts.append(f"OCR: {classification.readable:.0%} Vietnamese words")
    elif classification.abstains:
        parts.append(f"{classification.doc_type} {classification.confidence:.2f} "
                     f"< {classification.threshold:.2f}")
    parts += [f"{name} {extraction.get(name)!r}" for name in unsure_names(extraction)]
    return "; ".join(parts)


def conflicts(extraction: Extraction) -> list[str]:
    return [w for w in extraction.warnings
            if w.startswith(CONFLICT_PREFIX) or w == ID_CONTRADICTS_BIRTH]


def review_message(reason: str, pages: Sequence[OcrPage], extraction: Extraction,
                   opt: StageOptions, classification: Classification | None = None) -> str:
    """The clerk's message for one review reason, with the measured facts filled in."""
    worst = {}  # the worst page's measurement for each quality check
    for page in pages:
        m = page.quality_metrics
        for key, pick in (("dpi", min), ("sharpness", min), ("grey_paper", min),
                          ("skew_deg", lambda a, b: max(a, b, key=abs))):
            if key in m:
                worst[key] = pick(worst[key], m[key]) if key in worst else m[key]
        if "grey_paper" in m and "grey_ink" in m:
            contrast = m["grey_paper"] - m["grey_ink"]
            worst["contrast"] = min(worst.get("contrast", contrast), contrast)
    limits = opt.limits
    facts = {  # each a function: only the reason asked for is measured
        Reason.LOW_RESOLUTION: lambda: {"dpi": worst.get("dpi", "?"),
                                        "limit": limits.review_below_dpi},
        Reason.BLURRY: lambda: {"sharpness": worst.get("sharpness", "?"),
                                "limit": limits.review_sharpness},
        Reason.TOO_DARK: lambda: {"level": worst.get("grey_paper", "?")},
        Reason.TOO_LIGHT: lambda: {"contrast": worst.get("contrast", "?")},
        Reason.SKEWED: lambda: {"angle": worst.get("skew_deg", "?")},
        Reason.FIELD_CONFLICT: lambda: {"detail": "; ".join(conflicts(extraction))},
        Reason.LOW_CONFIDENCE: lambda: {"detail": unsure_detail(classification, extraction)
                                        if classification else reason},
        Reason.OUTDATED_PROOF: lambda: _outdated_params(pages),
        Reason.MIXED_DOCUMENTS: lambda: _split_params(pages),
    }
    params = facts[Reason(reason)]() if Reason(reason) in facts else {
        "detail": reason, "found": extraction.get("id_number") or "?",
        "expected": opt.person_id}
    return message(Reason(reason), opt.lang_messages, **params)


_PAPER_EN = {"sổ hộ khẩu": "household registration book",
             "chứng minh nhân dân 9 số": "9-digit identity card (CMND)"}


def _split_params(pages: Sequence[OcrPage]) -> dict[str, object]:
    papers = papers_in(pages)
    return {"count": len(papers), "split": describe_split(papers, len(pages))}


def _outdated_params(pages: Sequence[OcrPage]) -> dict[str, str]:
    paper, since = outdated_proof(pages) or ("?", "?")
    return {"paper": paper, "paper_en": _PAPER_EN.get(paper, paper), "since": since}
