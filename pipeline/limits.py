"""Every limit the pipeline enforces, in one frozen value the shell builds from settings."""

from __future__ import annotations

from dataclasses import dataclass


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

    def describe_bytes(self) -> str:
        return f"{self.max_bytes // (1024 * 1024)} MB"
