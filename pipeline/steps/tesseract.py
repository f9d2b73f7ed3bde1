"""Tesseract behind one seam, two ways to run it.

- ``cli``: the tesseract program, one process per call (pytesseract). Each call loads the
  `vie`/`eng` models again (~0.15 s) and reads the image from a file.
- ``api``: the tesseract library loaded once per worker process and kept (the ``tesserocr``
  wheel, which bundles tesseract 5.5.4 and reads Debian's traineddata files): no process, no
  model load per page (issue 17 point 7; ECOPY_OCR_ENGINE=tesserocr).

Both give what the pipeline reads: pytesseract's ``image_to_data`` dictionary for words, and
the CLI's OSD text for orientation. The API's failures are raised as the CLI's are
(``pytesseract.TesseractError``, RuntimeError on a timeout), so callers handle one set.
"""

from __future__ import annotations

import os
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytesseract
from PIL import Image

BACKENDS = ("cli", "api")
_TESSDATA = ("/usr/share/tesseract-ocr/5/tessdata", "/usr/share/tesseract-ocr/4.00/tessdata")
_FIELDS = ("level", "page_num", "block_num", "par_num", "line_num", "word_num", "left", "top",
           "width", "height", "conf", "text")


def tessdata_dir() -> str:
    """Where the traineddata files are: TESSDATA_PREFIX, else Debian's folder."""
    found = os.environ.get("TESSDATA_PREFIX", "")
    if found:
        return found
    for folder in _TESSDATA:
        if Path(folder, "eng.traineddata").is_file():
            return folder
    raise pytesseract.TesseractNotFoundError()


@cache
def _api(lang: str, psm: int) -> Any:
    """One loaded engine per language set and page mode, for the life of the process."""
    from tesserocr import PyTessBaseAPI

    return PyTessBaseAPI(path=tessdata_dir(), lang=lang, psm=psm)


def _set_image(api: Any, image: str | Image.Image) -> None:
    if isinstance(image, Image.Image):
        api.SetImage(image)
        return
    try:
        api.SetImageFile(str(image))
    except (RuntimeError, OSError, ValueError) as exc:  # leptonica (then tesserocr's Pillow)
        # cannot read it: the caller retries on the image Pillow decoded, as for the CLI
        raise pytesseract.TesseractError(1, f"pixRead failed: {exc}") from exc


def image_to_data(image: str | Image.Image, *, lang: str, psm: int, timeout: int,
                  backend: str = "cli") -> dict[str, list]:
    """Words with their boxes, confidences and block/paragraph/line numbers."""
    if backend == "cli":
        return pytesseract.image_to_data(image, lang=lang, config=f"--psm {psm}",
                                         output_type=pytesseract.Output.DICT, timeout=timeout)
    from tesserocr import RIL, iterate_level

    api = _api(lang, psm)
    _set_image(api, image)
    if not api.Recognize(timeout=max(1, timeout) * 1000):
        raise RuntimeError("Tesseract process timeout")  # as pytesseract says it
    out: dict[str, list] = {name: [] for name in _FIELDS}
    block = par = line = word = 0
    for it in iterate_level(api.GetIterator(), RIL.WORD):
        if it.IsAtBeginningOf(RIL.BLOCK):
            block, par, line = block + 1, 0, 0
        if it.IsAtBeginningOf(RIL.PARA):
            par, line = par + 1, 0
        if it.IsAtBeginningOf(RIL.TEXTLINE):
            line, word = line + 1, 0
        word += 1
        box = it.BoundingBox(RIL.WORD)
        if box is None:
            continue
        x1, y1, x2, y2 = box
        for name, value in zip(_FIELDS, (5, 1, block, par, line, word, x1, y1, x2 - x1, y2 - y1,
                                         it.Confidence(RIL.WORD),
                                         it.GetUTF8Text(RIL.WORD) or ""), strict=True):
            out[name].append(value)
    return out


def image_to_osd(image: str, *, timeout: int, backend: str = "cli") -> str:
    """Orientation as the CLI prints it ("Rotate: 270", "Orientation confidence: 1.85")."""
    if backend == "cli":
        return pytesseract.image_to_osd(image, config="--psm 0 -c min_characters_to_try=10",
                                        timeout=timeout)
    from tesserocr import PSM

    api = _api("osd", PSM.OSD_ONLY)
    api.SetVariable("min_characters_to_try", "10")
    _set_image(api, image)
    found = api.DetectOrientationScript()
    if not found:
        raise pytesseract.TesseractError(1, "Too few characters. Skipping this page")
    rotate = (360 - int(found["orient_deg"])) % 360
    return f"Rotate: {rotate}\nOrientation confidence: {float(found['orient_conf']):.2f}\n"


@dataclass(frozen=True)
class ReadWord:
    """One word of ``image_to_data``'s answer: NFC text, confidence, box in the image read,
    and the block, paragraph and line it stands in."""

    text: str
    conf: float
    left: int
    top: int
    width: int
    height: int
    block: int
    par: int
    line: int


def read_words(data: dict[str, list]) -> Iterator[ReadWord]:
    """The words tesseract recognised (empty boxes and non-word levels left out)."""
    for i, raw in enumerate(data["text"]):
        text = unicodedata.normalize("NFC", (raw or "").strip())
        conf = float(data["conf"][i])
        if not text or conf < 0:
            continue
        yield ReadWord(text, conf, data["left"][i], data["top"][i], data["width"][i],
                       data["height"][i], data["block_num"][i], data["par_num"][i],
                       data["line_num"][i])
