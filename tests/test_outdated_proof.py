"""Papers that no longer prove anything are flagged (legal brief requirement 26): a household
book since 1 Jan 2023, a 9-digit CMND since 1 Jan 2025. Real OCR of rendered papers, through
`ecopy process`: the case waits for a clerk with `outdated_proof` and a message naming the
paper and the date, instead of being certified as if it still proved identity or residence."""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from tests.conftest import CACHED_OCR, PERSON, run_cli

FONT = Path("/usr/share/fonts/truetype/liberation2/LiberationSerif-Regular.ttf")
BOLD = Path("/usr/share/fonts/truetype/liberation2/LiberationSerif-Bold.ttf")


def _paper(path: Path, title: str, lines: list[str]) -> Path:
    """An A5 page at 300 dpi: the national motto, a bold title, a few filled-in lines."""
    img = Image.new("RGB", (1748, 2480), "white")
    draw = ImageDraw.Draw(img)
    regular, bold = ImageFont.truetype(str(FONT), 44), ImageFont.truetype(str(BOLD), 64)
    y = 140
    for text, font in (("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", regular),
                       ("Độc lập - Tự do - Hạnh phúc", regular), (title, bold)):
        width = draw.textlength(text, font=font)
        draw.text(((1748 - width) / 2, y), text, font=font, fill="black")
        y += 130
    for text in lines:
        draw.text((160, y), text, font=regular, fill="black")
        y += 90
    img.save(path, dpi=(300, 300))
    return path


PAPERS = (("SỔ HỘ KHẨU", "01/01/2023", "sổ hộ khẩu"),
          ("GIẤY CHỨNG MINH NHÂN DÂN", "01/01/2025", "chứng minh nhân dân 9 số"))


def test_an_outdated_paper_waits_for_a_clerk_who_is_told_why(
        tmp_path: Path, env: dict[str, str]) -> None:
    env = {k: v for k, v in env.items() if k not in CACHED_OCR}  # about OCR: tesseract itself
    scans = [_paper(tmp_path / f"giay-{n}.png", title, [
        "Họ và tên: Nguyễn Văn Bình", "Sinh ngày: 15/03/1985",
        "Số: 012345678", "Nơi thường trú: xã Hòa Vang, thành phố Đà Nẵng"])
        for n, (title, _since, _what) in enumerate(PAPERS)]  # one batch: both cores
    done = run_cli(["process", *map(str, scans), "--person-id", PERSON, "--out",
                    str(tmp_path / "store"), "--json", "--no-progress"], env)
    docs = json.loads(done.stdout)["documents"]
    for doc, (_title, since, paper) in zip(docs, PAPERS, strict=True):
        assert doc["status"] == "needs_review", doc
        assert "outdated_proof" in doc["review_reasons"], doc
        shown = run_cli(["review", "show", doc["case_id"], "--store",
                         str(tmp_path / "store")], env)  # what the clerk reads
        assert shown.returncode == 0, shown.stderr
        line = next(x for x in shown.stdout.splitlines() if "outdated_proof" in x)
        assert paper in line and since in line, line
