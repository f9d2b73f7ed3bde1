"""The QR code on chip ID cards: find it in a scan, decode it, check what it says.

The code holds `ID12|CMND9|Full Name|ddmmyyyy|Nam or Nữ|Address|ddmmyyyy` (old ID may be
empty; newer cards append fields). It is read with Reed-Solomon error correction, so a decoded
payload is more trustworthy than OCR of the printed text; it is still checked against the
personal-ID rules, and contradictions come back as `problems` for a clerk, never as exceptions.

Card scans are small: at 200 dpi a module is about two pixels. OpenCV's detectors miss such
codes on the full page, so when a direct read fails the code is located, cut out with a margin
and enlarged before decoding again.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from pipeline.types import Field
from pipeline.vn.dates import parse_ddmmyyyy
from pipeline.vn.idnumber import parse_personal_id
from pipeline.vn.text import fold, nfc, title_name

Box = tuple[int, int, int, int]  # left, top, width, height in pixels of the given image

_MAX_WORK_PIXELS = 16_000_000  # no enlarged copy of a page grows beyond this
_SMALL_PAGE_PIXELS = 1_500_000  # a card photo rather than a page: worth enlarging whole
_CROP_SIDES = (800, 500)  # a located code is enlarged to these sides before decoding
_SEX = {"NAM": "M", "NU": "F", "MALE": "M", "FEMALE": "F"}


@dataclass(frozen=True)
class CardQr:
    id_number: str
    old_id_number: str | None
    full_name: str
    date_of_birth: str | None  # ISO 8601
    sex: str | None  # "M" | "F"
    place_of_residence: str
    issue_date: str | None  # ISO 8601
    problems: tuple[str, ...] = ()
    extra: tuple[str, ...] = ()  # fields after the seventh, as printed
    raw: str = ""
    box: Box | None = None  # where the code was found, when read from an image

    @property
    def valid(self) -> bool:
        return not self.problems

    def field_values(self) -> dict[str, str]:
        """The domain's field names (see domain.md) mapped to the values the code holds."""
        values = {
            "id_number": self.id_number,
            "old_id_number": self.old_id_number,
            "full_name": self.full_name,
            "date_of_birth": self.date_of_birth,
            "sex": self.sex,
            "place_of_residence": self.place_of_residence,
            "issue_date": self.issue_date,
        }
        return {k: v for k, v in values.items() if v}

    def as_fields(self, page: int, confidence: float = 1.0) -> tuple[Field, ...]:
        return tuple(
            Field(name, value, confidence, page, self.box)
            for name, value in self.field_values().items()
        )


# --- payload ----------------------------------------------------------------------------------


def parse_card_payload(payload: str) -> CardQr | None:
    """Fields of a chip-card QR payload; None when the text is not shaped like one."""
    parts = [nfc(p).strip() for p in payload.strip().split("|")]
    if len(parts) < 7:
        return None
    id_raw, old_raw, name_raw, dob_raw, sex_raw, address, issue_raw = parts[:7]
    id_number = re.sub(r"\s+", "", id_raw)
    if not (id_number.isdigit() or re.fullmatch(r"\d{8}", dob_raw)):
        return None  # some other pipe-separated code
    problems: list[str] = []
    old_id = re.sub(r"\s+", "", old_raw) or None
    if old_id is not None and not re.fullmatch(r"\d{9}|\d{12}", old_id):
        problems.append(f"old_id_number {old_id!r} is not 9 or 12 digits")
    full_name = title_name(name_raw)
    if not full_name:
        problems.append("full_name is empty")
    dob = parse_ddmmyyyy(dob_raw)
    if dob is None:
        problems.append(f"date_of_birth {dob_raw!r} is not a ddmmyyyy date")
    sex = _SEX.get(fold(sex_raw))
    if sex is None:
        problems.append(f"sex {sex_raw!r} is neither Nam nor Nữ")
    issue = parse_ddmmyyyy(issue_raw)
    if issue is None:
        problems.append(f"issue_date {issue_raw!r} is not a ddmmyyyy date")
    elif dob is not None and issue < dob:
        problems.append("issue_date is before date_of_birth")
    problems.extend(_id_problems(id_number, dob, sex))
    return CardQr(
        id_number=id_number,
        old_id_number=old_id,
        full_name=full_name,
        date_of_birth=dob.isoformat() if dob else None,
        sex=sex,
        place_of_residence=" ".join(address.split()),
        issue_date=issue.isoformat() if issue else None,
        problems=tuple(problems),
        extra=tuple(parts[7:]),
        raw=payload,
    )


def _id_problems(id_number: str, dob: date | None, sex: str | None) -> list[str]:
    try:
        pid = parse_personal_id(id_number)
    except ValueError as exc:
        return [f"id_number {id_number!r}: {exc}"]
    out = []
    if dob is not None and not pid.matches_birth(dob.year):
        first = pid.birth_year_low + pid.birth_year_suffix
        out.append(f"id_number says born in {first}, date_of_birth is {dob.isoformat()}")
    if sex is not None and sex != pid.sex:
        out.append(f"id_number says sex {pid.sex}, the code says {sex}")
    return out


# --- image ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _View:
    """An image derived from the page: page coordinates = view coordinates / scale."""

    pixels: np.ndarray
    scale: float = 1.0
    box: Box | None = None  # a cut-out names the box of the code it was cut around

    def page_box(self, points: np.ndarray) -> Box:
        if self.box is not None:
            return self.box
        pts = points.reshape(-1, 2) / self.scale
        left, top = np.floor(pts.min(axis=0)).astype(int)
        right, bottom = np.ceil(pts.max(axis=0)).astype(int)
        return int(left), int(top), int(right - left), int(bottom - top)


def _grey(image: np.ndarray | Image.Image | str | Path) -> np.ndarray:
    if isinstance(image, str | Path):
        with Image.open(image) as im:
            return np.asarray(im.convert("L"))
    if isinstance(image, Image.Image):
        return np.asarray(image.convert("L"))
    arr = np.asarray(image)
    if arr.ndim == 3:
        code = cv2.COLOR_BGRA2GRAY if arr.shape[2] == 4 else cv2.COLOR_BGR2GRAY
        arr = cv2.cvtColor(arr, code)
    if arr.dtype != np.uint8:
        arr = cv2.normalize(arr, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
    return np.ascontiguousarray(arr)


def _detectors() -> list[cv2.GraphicalCodeDetector]:
    found = [cv2.QRCodeDetector()]
    if hasattr(cv2, "QRCodeDetectorAruco"):  # OpenCV >= 4.8: finds small, tilted codes better
        found.append(cv2.QRCodeDetectorAruco())
    return found


def _text(data: bytes | str) -> str:
    """Card codes carry UTF-8 without an ECI header; older OpenCV hands it back as Latin-1."""
    if isinstance(data, str):
        try:
            data = data.encode("latin-1")
        except UnicodeEncodeError:
            return data
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _decode(detector: cv2.GraphicalCodeDetector, view: _View) -> list[tuple[str, Box]]:
    try:
        if hasattr(detector, "detectAndDecodeBytesMulti"):
            ok, texts, points, _ = detector.detectAndDecodeBytesMulti(view.pixels)
        else:
            ok, texts, points, _ = detector.detectAndDecodeMulti(view.pixels)
    except cv2.error:
        return []
    if not ok or points is None:
        return []
    return [(_text(t), view.page_box(p)) for t, p in zip(texts, points, strict=False) if t]


def _binarised(grey: np.ndarray, sigma: float) -> np.ndarray:
    smooth = cv2.GaussianBlur(grey, (0, 0), sigma) if sigma > 0 else grey
    _, out = cv2.threshold(smooth, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    return out


def _enlarged(grey: np.ndarray, factor: float) -> _View | None:
    if grey.size * factor * factor > _MAX_WORK_PIXELS:
        return None
    big = cv2.resize(grey, None, fx=factor, fy=factor, interpolation=cv2.INTER_CUBIC)
    return _View(big, factor)


def _located(grey: np.ndarray, detectors: list[cv2.GraphicalCodeDetector]) -> list[np.ndarray]:
    """Corner sets of codes the detectors can place but not read, in page coordinates."""
    views = [_View(grey)]
    if max(grey.shape) < 1600 and (big := _enlarged(grey, 2.0)) is not None:
        views.append(big)
    for view in views:
        for det in reversed(detectors):
            try:
                ok, points = det.detectMulti(view.pixels)
            except cv2.error:
                continue
            if ok and points is not None:
                return [p.reshape(-1, 2) / view.scale for p in points]
    return []


def _tilt(corners: np.ndarray) -> float:
    """Degrees the located code is turned from upright, in (-45, 45]."""
    angle = float(cv2.minAreaRect(corners.astype(np.float32))[2]) % 90
    return angle - 90 if angle > 45 else angle


def _cut_outs(grey: np.ndarray, corners: np.ndarray) -> Iterator[np.ndarray]:
    """The located code with a quarter-size margin: turned upright if tilted, then as is.

    Small tilted codes decode far more often once the sampling grid is axis-aligned.
    """
    (x0, y0), (x1, y1) = corners.min(axis=0), corners.max(axis=0)
    size = max(x1 - x0, y1 - y0, 8)
    h, w = grey.shape
    (cx, cy), sides, _ = cv2.minAreaRect(corners.astype(np.float32))
    angle = _tilt(corners)
    if abs(angle) > 3:
        reach = 1.5 * size  # enough around the centre that turning loses no corner
        left, top = int(max(0, cx - reach)), int(max(0, cy - reach))
        region = grey[top : int(min(h, cy + reach)), left : int(min(w, cx + reach))]
        turn = cv2.getRotationMatrix2D((cx - left, cy - top), angle, 1.0)
        upright = cv2.warpAffine(region, turn, region.shape[::-1], flags=cv2.INTER_CUBIC,
                                 borderMode=cv2.BORDER_REPLICATE)
        half = 0.75 * max(sides)
        ux, uy = cx - left, cy - top
        rows = slice(int(max(0, uy - half)), int(uy + half))
        cut = upright[rows, int(max(0, ux - half)) : int(ux + half)]
        if cut.size:
            yield cut
    margin = 0.25 * size
    crop = grey[int(max(0, y0 - margin)) : int(min(h, y1 + margin)),
                int(max(0, x0 - margin)) : int(min(w, x1 + margin))]
    if crop.size:
        yield crop


def _crops(grey: np.ndarray, corners: np.ndarray) -> Iterator[_View]:
    """Cut-outs of a located code enlarged, plain and binarised; boxes name the located code."""
    (x0, y0), (x1, y1) = corners.min(axis=0), corners.max(axis=0)
    box = (int(x0), int(y0), int(np.ceil(x1 - x0)), int(np.ceil(y1 - y0)))
    for cut in _cut_outs(grey, corners):
        for side in _CROP_SIDES:
            factor = side / max(cut.shape)
            big = cv2.resize(cut, None, fx=factor, fy=factor, interpolation=cv2.INTER_CUBIC)
            yield _View(big, box=box)
            yield _View(_binarised(big, 0.3 * factor), box=box)


def _views(grey: np.ndarray, detectors: list[cv2.GraphicalCodeDetector]) -> Iterator[_View]:
    """Ever more work: the page, enlarged cut-outs of located codes, the binarised page."""
    yield _View(grey)
    for corners in _located(grey, detectors):
        yield from _crops(grey, corners)
    yield _View(_binarised(grey, 1.0))
    if grey.size <= _SMALL_PAGE_PIXELS and (big := _enlarged(grey, 2.0)) is not None:
        yield big  # a photo of just the card: enlarging all of it is cheap


def _scan(grey: np.ndarray, wanted: Callable[[str], bool]) -> list[tuple[str, Box]]:
    """Every distinct code read, stopping at the first view that yields a wanted one."""
    detectors = _detectors()
    seen: dict[str, Box] = {}
    for view in _views(grey, detectors):
        for det in detectors:
            for text, box in _decode(det, view):
                seen.setdefault(text, box)
        if any(wanted(t) for t in seen):
            break
    return list(seen.items())


def read_qr_codes(image: np.ndarray | Image.Image | str | Path) -> list[tuple[str, Box]]:
    """QR code texts in an image with where each lies, from the first reading that finds any.

    [] when there is none.
    """
    return _scan(_grey(image), lambda _text: True)


def decode_card_qr(image: np.ndarray | Image.Image | str | Path) -> CardQr | None:
    """The chip-card QR code in a scan (BGR/grey array, PIL image or file), parsed; or None."""
    for text, box in _scan(_grey(image), lambda t: parse_card_payload(t) is not None):
        card = parse_card_payload(text)
        if card is not None:
            return replace(card, box=box)
    return None
