"""A secret stamp on a real scan is refused (Decree 23/2015 Art 22; issue 16 point 2): the
bundled birth certificate with a red "MẬT" stamp added, read by tesseract itself through
`ecopy process`. Tesseract reads such a stamp without its tone marks ("MAT"), which let the
copy be filed before; the test of this refusal used to feed perfect OCR text."""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from tests.conftest import CACHED_OCR, CERTIFY_AS, PERSON, ROOT, run_cli

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


def test_red_secret_stamps_on_a_real_scan_are_refused(tmp_path: Path,
                                                      env: dict[str, str]) -> None:
    """A boxed "MẬT" tilted 4° (page OCR drops it: found on the image) and a "TỐI MẬT"
    tilted -3°, in one batch (one process, both cores)."""
    scans = [_stamped(tmp_path / f"khai-sinh-{n}.jpg", mark, angle)
             for n, (mark, angle) in enumerate((("MẬT", 4.0), ("TỐI MẬT", -3.0)))]
    done = run_cli(["process", *CERTIFY_AS, *map(str, scans), "--person-id", PERSON, "--out",
                    str(tmp_path / "store"), "--json", "--no-progress"],
                   {k: v for k, v in env.items() if k not in CACHED_OCR})  # tesseract itself
    docs = json.loads(done.stdout)["documents"]
    assert [(d["status"], d["reason"]) for d in docs] == [("rejected", "classified")] * 2, docs
    assert not list((tmp_path / "store").glob("warehouse/**/*.pdf"))


def test_a_stamp_turned_any_way_is_read(tmp_path: Path) -> None:
    """Stamps are struck at any angle: turned more than 45 degrees, upside down or on end, a
    boxed "MẬT" is still read (issue 16 point 2); the boxes of its words lie on the stamp."""
    from pipeline.steps.stamps import stamp_regions, stamp_words
    from pipeline.vn.text import fold

    for angle in (0, 30, 60, 90, 135, 180, 250):
        with Image.open(_stamped(tmp_path / f"mat-{angle}.jpg", "MẬT", angle)) as page:
            (left, top, width, height), = stamp_regions(page)
            words = stamp_words(page, lang="vie+eng", timeout=60)
        read = [w for w in words if "MAT" in fold(w.text)]
        assert read, (angle, [w.text for w in words])
        for w in read:  # mapped back onto the page, inside the stamp's region
            assert left - 40 <= w.left <= left + width and top - 40 <= w.top <= top + height, \
                (angle, w, (left, top, width, height))
