"""Every limit the pipeline enforces, in one frozen value the shell builds from settings."""

from __future__ import annotations

from dataclasses import dataclass

LEGAL_MIN_DPI = 200  # Decree 30/2020 Annex I: no copy of a scan below it, whatever the settings


@dataclass(frozen=True)
class Limits:
    max_bytes: int = 200 * 1024 * 1024  # one uploaded file
    max_pages: int = 300  # one document
    max_image_pixels: int = 80_000_000  # one embedded or uploaded image (≈ A3 at 600 dpi)
    max_page_pixels: int = 60_000_000  # one rendered page; higher dpi is reduced to fit
    min_render_dpi: int = 100  # low-resolution pages are rendered at least this fine
    min_fit_dpi: int = 36  # a page so large it only fits the pixel limit below this: rejected
    max_render_dpi: int = 600  # scans above are rendered at this resolution
    default_vector_dpi: int = 300  # PDF pages with no image
    page_timeout_s: int = 180  # render + OSD + OCR of one page
    doc_timeout_s: int = 1800  # one document, all stages
    inspect_timeout_s: int = 60  # parsing one file's structure
    # quality gate (pipeline/steps/quality.py): below refuse_* the scan is rejected ("scan again"),
    # below review_* the document goes to a clerk
    # Decree 30/2020 Annex I: scans at 200 dpi or more. Refused below it at intake; lowering
    # refuse_below_dpi lets a low scan be read (evaluation, a clerk's look) but it is never
    # certified (LEGAL_MIN_DPI, checked again when signing)
    refuse_below_dpi: int = 200
    review_below_dpi: int = 200
    refuse_sharpness: float = 10.0  # Laplacian variance at 150 dpi in content tiles;
    review_sharpness: float = 100.0  # sharp scans measure 1000–20000
    refuse_dark_paper: int = 60  # the paper (95th grey percentile) darker than this
    review_dark_paper: int = 110
    refuse_contrast: int = 30  # paper minus ink (0.2th grey percentile)
    review_contrast: int = 80
    review_skew_deg: float = 3.0

    def describe_bytes(self) -> str:
        return f"{self.max_bytes // (1024 * 1024)} MB"
