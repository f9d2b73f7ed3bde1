"""The publishable list of cancelled certifications as a static page and a JSON file."""

from __future__ import annotations

import html
import json
from datetime import date
from pathlib import Path
from typing import Any

from storage.evidence.cancellations import public_list


def _vn_date(iso: Any) -> str:
    try:
        d = date.fromisoformat(str(iso))
    except ValueError:
        return str(iso or "")
    return f"{d.day:02d}/{d.month:02d}/{d.year}"


def render_html(listing: dict[str, Any]) -> str:
    """A static page (no script): every value escaped."""
    e = html.escape
    rows = []
    for i, c in enumerate(listing["cancellations"], 1):
        number = c.get("register_number")
        reg = ""
        if number is not None:
            reg = f"Số {number}, Quyển số {c.get('register_book', '')}-SCT/BS"
            if c.get("register_date"):
                reg += f", ngày {_vn_date(c['register_date'])}"
        rows.append(
            "<tr>"
            f"<td>{i}</td>"
            f"<td>{e(str(c.get('decision_ref') or ''))}</td>"
            f"<td>{e(_vn_date(c.get('decision_date')))}</td>"
            f"<td>{e(reg)}</td>"
            f"<td>{e(str(c.get('document_name') or ''))}</td>"
            f"<td>{e(str(c.get('agency_name') or ''))}</td>"
            f"<td><code>{e(str(c.get('copy_id') or ''))}</code></td>"
            f"<td>{e(str(c.get('reason') or ''))}</td>"
            "</tr>"
        )
    body = "\n".join(rows) or '<tr><td colspan="8">Chưa có bản sao nào bị hủy.</td></tr>'
    title = e(listing["title"])
    return f"""<!DOCTYPE html>
<html lang="vi">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body {{ font-family: "Times New Roman", "Liberation Serif", serif; margin: 2em; }}
table {{ border-collapse: collapse; width: 100%; }}
th, td {{ border: 1px solid #444; padding: 4px 6px; vertical-align: top; text-align: left; }}
th {{ background: #eee; }}
</style>
</head>
<body>
<h1>{title}</h1>
<p>Cập nhật lúc: {e(str(listing["generated_at"]))} — tổng số: {int(listing["count"])}</p>
<table>
<thead><tr><th>STT</th><th>Số quyết định hủy</th><th>Ngày quyết định</th>
<th>Số chứng thực</th><th>Tên bản chính giấy tờ, văn bản</th><th>Cơ quan chứng thực</th>
<th>Mã bản sao điện tử</th><th>Lý do hủy</th></tr></thead>
<tbody>
{body}
</tbody>
</table>
</body>
</html>
"""


def publish(decisions: list[dict[str, Any]], out_dir: Path) -> tuple[Path, Path]:
    """Write cancellations.json and cancellations.html (of the catalogue's ``decisions``)
    into ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    listing = public_list(decisions)
    json_path, html_path = out_dir / "cancellations.json", out_dir / "cancellations.html"
    json_path.write_text(json.dumps(listing, ensure_ascii=False, indent=2) + "\n",
                         encoding="utf-8")
    html_path.write_text(render_html(listing), encoding="utf-8")
    return json_path, html_path
