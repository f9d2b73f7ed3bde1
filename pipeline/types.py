"""Frozen values passed between pipeline stages; each serialises to JSON without loss."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

# re-exported: stages see the register entry as a pipeline value
from storage.evidence import to_jsonable as to_jsonable
from storage.evidence.register import RegisterEntry as RegisterEntry


class DocStatus(StrEnum):
    """Where a case stands; every change is saved by pipeline.casework.status."""

    RECEIVED = "received"
    DUPLICATE = "duplicate"  # an outcome only: the file is already a case of the dossier
    OCR = "ocr"
    NEEDS_REVIEW = "needs_review"
    READY = "ready"  # understood, nothing to review, waiting for a certifier (web uploads)
    CERTIFYING = "certifying"  # a certifier approved it; the copy is being made and signed
    CERTIFIED = "certified"
    FILED = "filed"
    REJECTED = "rejected"


@dataclass(frozen=True)
class SourceFile:
    """An accepted upload: its bytes are stored under originals/<sha256>."""

    name: str
    sha256: str
    size: int
    kind: str  # "pdf" | "jpeg" | "png" | "tiff"
    page_count: int
    has_text: bool = False


@dataclass(frozen=True)
class PageScan:
    """One physical page as an image file ready to embed in the e-copy.

    `image_path` holds either the original JPEG bytes (format "jpeg", embedded untouched) or a
    lossless PNG (format "png"). `rotation` is the clockwise turn, in degrees, that makes the
    image upright; the e-copy applies it with the page matrix so JPEG bytes are never re-encoded.
    """

    index: int
    image_path: str
    image_format: str  # "jpeg" | "png"
    width_px: int
    height_px: int
    dpi: float
    rotation: int = 0

    @property
    def upright_size_px(self) -> tuple[int, int]:
        if self.rotation in (90, 270):
            return self.height_px, self.width_px
        return self.width_px, self.height_px


@dataclass(frozen=True)
class OcrWord:
    """A recognised word; the box is in pixels of the UPRIGHT page image, origin top-left."""

    text: str
    left: int
    top: int
    width: int
    height: int
    conf: float
    line_id: str  # "block.par.line": words sharing it form one text line


@dataclass(frozen=True)
class OcrPage:
    index: int
    width_px: int  # upright
    height_px: int
    rotation: int
    words: tuple[OcrWord, ...]
    mean_conf: float
    engine: str
    blank: bool = False
    quality: tuple[str, ...] = ()  # review reasons from the quality gate (pipeline.steps.quality)
    quality_metrics: dict = field(default_factory=dict)

    @property
    def text(self) -> str:
        lines: dict[str, list[str]] = {}
        for w in self.words:
            lines.setdefault(w.line_id, []).append(w.text)
        return "\n".join(" ".join(ws) for ws in lines.values())


# The field names of domain.md, used in manifests, records and corrections.
FIELD_NAMES = frozenset({
    "full_name", "date_of_birth", "sex", "id_number", "place_of_birth", "place_of_origin",
    "place_of_residence", "document_number", "register_number", "serial_number", "issue_date",
    "issuer", "expiry_date", "father_full_name", "mother_full_name", "husband_full_name",
    "husband_date_of_birth", "husband_id_number", "wife_full_name", "wife_date_of_birth",
    "wife_id_number", "date_of_death", "license_number", "license_class", "major", "grade",
    "enterprise_code", "company_name", "parcel_number", "map_sheet_number", "area_m2",
})


@dataclass(frozen=True)
class Field:
    name: str
    value: str
    confidence: float
    page: int
    box: tuple[int, int, int, int] | None = None  # left, top, width, height in upright pixels


# A page was read when at least MIN_READABLE of its words are Vietnamese syllables, or when
# tesseract's mean word confidence reaches CONFIDENT_OCR whatever the language (English pages).
# Pages read sideways or upside down score 0.0-0.3 and 45-65 on the synthetic and real scans.
MIN_READABLE = 0.4
CONFIDENT_OCR = 75.0


@dataclass(frozen=True)
class Classification:
    """A document type with calibrated confidence; below `threshold` the machine abstains."""

    doc_type: str
    confidence: float
    matched: str = ""  # the title phrase found, if any
    method: str = "rules-v1"  # "model" | "rules-v1" | "clerk"
    model: str = ""  # model version@digest (pipeline.doctypes.model), recorded in the manifest
    threshold: float = 0.8
    readable: float = 1.0  # share of Vietnamese syllables in the text (vntext.readable_ratio)

    @property
    def abstains(self) -> bool:
        """The machine does not answer: unsure, or the OCR text is not Vietnamese at all."""
        return self.confidence < self.threshold or self.readable < MIN_READABLE


@dataclass(frozen=True)
class Extraction:
    fields: tuple[Field, ...] = ()
    warnings: tuple[str, ...] = ()

    def get(self, name: str) -> str | None:
        for f in self.fields:
            if f.name == name:
                return f.value
        return None


@dataclass(frozen=True)
class Certifier:
    full_name: str
    title: str  # e.g. "Phó Chủ tịch Ủy ban nhân dân"
    # the lines above the signature: signing form and position (pipeline.casework.certifiers,
    # e.g. "KT. CHỦ TỊCH ỦY BAN NHÂN DÂN XÃ …", "PHÓ CHỦ TỊCH"); empty: the title in capitals
    form: tuple[str, ...] = ()


@dataclass(frozen=True)
class Certification:
    """What the statement (Mẫu số 01, Decree 280/2025) and the QR code on the last page show."""

    entry: RegisterEntry
    certifier: Certifier
    verify_ref: str  # text encoded in the QR code
    test_mode: bool


@dataclass(frozen=True)
class DocumentOutcome:
    source: str  # path or name as given
    sha256: str
    status: DocStatus
    reason: str = ""
    message: str = ""
    doc_type: str = ""
    copy_id: str = ""
    register_number: int | None = None
    pages: int = 0
    ecopy_path: str = ""
    review_reasons: tuple[str, ...] = field(default_factory=tuple)
    case_id: str = ""  # the case of this file in its dossier ("" when refused before one)
