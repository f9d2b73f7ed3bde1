"""A secret stamp on a real scan is refused (Decree 23/2015 Art 22; issue 16 point 2): the
bundled birth certificate with a red "MẬT" stamp added, read by tesseract itself through
`ecopy process`. Tesseract reads such a stamp without its tone marks ("MAT"), which let the
copy be filed before; the test of this refusal used to feed perfect OCR text."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

from tests.conftest import CACHED_OCR, PERSON, ROOT, run_cli

BOLD = Path("/usr/share/fonts/truetype/liberation2/LiberationSans-Bold.ttf")


def _stamped(out: Path, mark: str, angle: float) -> Path:
    page = Image.open(ROOT / "samples" / "birth_cert.jpg").convert("RGB")
    font = ImageFont.truetype(str(BOLD), 110)
    width = int(ImageDraw.Draw(page).textlength(mark, font=font))
    stamp = Image.new("RGBA", (width + 80, 190), (0, 0, 0, 0))
    draw = ImageDraw.Draw(stamp)
    red = (200, 20, 30, 255)
    draw.rectangle((4, 4, width + 75, 185), outline=red, width=10)
    draw.text((40, 30), mark, font=font, fill=red)
    stamp = stamp.rotate(angle, expand=True, resample=Image.BICUBIC)
    page.paste(stamp, (page.width - stamp.width - 180, 620), stamp)
    page.save(out, dpi=(300, 300), quality=92)
    return out


@pytest.mark.parametrize(("mark", "angle"), [("MẬT", 4.0), ("TỐI MẬT", -3.0)])
def test_a_red_secret_stamp_on_a_real_scan_is_refused(tmp_path: Path, env: dict[str, str],
                                                       mark: str, angle: float) -> None:
    scan = _stamped(tmp_path / "khai-sinh-mat.jpg", mark, angle)
    done = run_cli(["process", str(scan), "--person-id", PERSON, "--out",
                    str(tmp_path / "store"), "--json", "--no-progress"],
                   {k: v for k, v in env.items() if k not in CACHED_OCR})  # tesseract itself
    (doc,) = json.loads(done.stdout)["documents"]
    assert (doc["status"], doc["reason"]) == ("rejected", "classified"), doc
    assert not list((tmp_path / "store").glob("warehouse/**/*.pdf"))
