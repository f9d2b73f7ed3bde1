"""The verification report as a printable page: HTML for the browser, PDF for the auditor's file.

Both show the same content as ``render_text`` (labels from report_text._LABELS, Vietnamese by
default, English with ``lang="en"``). The HTML is self-contained: no script, no external
resources, every value HTML-escaped (signer names and field names come from the file being
verified, i.e. from a possible attacker). The PDF embeds Liberation Serif, which has every
Vietnamese glyph.
"""

from __future__ import annotations

import functools
import html
from pathlib import Path
from typing import Any

from signing.report_text import (
    _LABELS,
    INDETERMINATE,
    TOTAL_FAILED,
    TOTAL_PASSED,
    SignatureReport,
    VerificationReport,
    _register_line,
    cancellation_words,
    policy_words,
    signature_words,
)

__all__ = ["render_html", "render_pdf"]

FONT_DIR = Path("/usr/share/fonts/truetype/liberation2")
_COLOURS = {TOTAL_PASSED: "#1b7f3b", TOTAL_FAILED: "#b3261e", INDETERMINATE: "#b26a00"}
_EXTRA = {
    "vi": {
        "field": "Trường chữ ký",
        "indication": "Kết quả",
        "revision": "Phiên bản",
        "lang": "vi",
    },
    "en": {
        "field": "Signature field",
        "indication": "Result",
        "revision": "Revision",
        "lang": "en",
    },
}


def report_labels(lang: str) -> dict[str, str]:
    key = "en" if lang == "en" else "vi"
    return {**_LABELS[key], **_EXTRA[key]}


def _yn(t: dict[str, str], flag: bool | None) -> str:
    return t["none"] if flag is None else (t["yes"] if flag else t["no"])


def indication_text(t: dict[str, str], value: str, sub: str | None) -> str:
    return f"{t.get(value, value)} ({value}{' / ' + sub if sub else ''})"


def document_rows(report: VerificationReport, t: dict[str, str], lang: str, *,
                  with_cancellation: bool = True) -> list[tuple]:
    return [
        (t["sha256"], report.document_sha256),
        (t["size"], str(report.file_size)),
        (t["time"], report.validation_time),
        (t["policy"], policy_words(report, lang)),
        (t["validator"], f"{report.validator} ({report.validator_version})"),
        (t["register"], _register_line(report, lang)),
        (t["manifest"], _yn(t, report.manifest_consistent)),
        *([(t["cancelled"], cancellation_words(report, lang))]
          if report.cancellation and with_cancellation else []),
    ]


def signature_rows(sig: SignatureReport, t: dict[str, str], lang: str
                   ) -> list[tuple[str, str]]:
    words = signature_words(sig, lang)
    timestamp = sig.timestamp_time or t["none"]
    if sig.timestamp_time:
        timestamp += f" ({_yn(t, sig.timestamp_valid)})"
    certification = _yn(t, sig.is_certification)
    if words["docmdp"]:
        certification += f" ({words['docmdp']})"
    return [
        (t["indication"], indication_text(t, sig.indication, sig.sub_indication)),
        (t["signer"], sig.signer_cn),
        (t["org"], sig.organisation),
        (t["serial"], sig.certificate_serial),
        (t["issuer"], words["issuer"]),
        (t["chain"], " → ".join(sig.chain)),
        (t["trusted"], _yn(t, sig.trusted)),
        (t["signing_time"], sig.signing_time or t["none"]),
        (t["timestamp"], timestamp),
        (t["tsa"], sig.tsa_name or t["none"]),
        (t["coverage"], f"{words['coverage']} {list(sig.byte_range)}"),
        (t["revision"], str(sig.revision)),
        (t["certification"], certification),
        (t["modification"], words["modification"]),
        (t["level"], sig.pades_level),
        (t["revocation"], words["revocation"]),
    ]


def problem_messages(report: VerificationReport, lang: str) -> list[str]:
    key = "message_en" if lang == "en" else "message_vi"
    return [getattr(p, key) for p in report.problems]


def _extra_rows(report: VerificationReport) -> list[tuple[str, str]]:
    """Fields other helpers add to the report (e.g. cancellation) without a renderer change."""
    known = {
        "document_sha256",
        "file_size",
        "validator",
        "validator_version",
        "validation_time",
        "policy",
        "indication",
        "sub_indication",
        "problems",
        "is_test",
        "revisions",
        "signatures",
        "manifest_present",
        "manifest_consistent",
        "register_entry",
        "register_status",
        "cancellation",
    }
    data: dict[str, Any] = report.to_dict()
    return [(k, str(v)) for k, v in data.items() if k not in known and v not in (None, "", {})]


_CSS = """
body{font-family:"Liberation Serif","Times New Roman",serif;margin:2em;color:#111}
h1{font-size:1.4em} h2{font-size:1.15em;margin-top:1.5em}
.banner{border:3px solid #b3261e;color:#b3261e;font-weight:bold;padding:.5em;text-align:center}
.verdict{font-size:1.3em;font-weight:bold;padding:.4em .6em;color:#fff;display:inline-block}
table{border-collapse:collapse;width:100%;margin:.5em 0}
th,td{border:1px solid #999;padding:.25em .5em;text-align:left;vertical-align:top}
th{width:30%;background:#f2f2f2;font-weight:normal}
td{word-break:break-all}
@media print{.verdict{-webkit-print-color-adjust:exact;print-color-adjust:exact}}
"""


def render_html(report: VerificationReport, lang: str = "vi") -> str:
    """A self-contained printable page (no JavaScript, no external resources)."""
    t = report_labels(lang)
    esc = html.escape
    colour = _COLOURS.get(report.indication, "#555")

    def table(rows: list[tuple[str, str]]) -> str:
        body = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in rows)
        return f"<table>{body}</table>"

    parts = [
        "<!DOCTYPE html>",
        f'<html lang="{t["lang"]}"><head><meta charset="utf-8">',
        f"<title>{esc(t['title'])}</title><style>{_CSS}</style></head><body>",
    ]
    if report.is_test:
        parts.append(f'<p class="banner">{esc(t["banner"])}</p>')
    parts += [
        f"<h1>{esc(t['title'])}</h1>",
        f'<p>{esc(t["verdict"])}: <span class="verdict" style="background:{colour}">'
        f"{esc(indication_text(t, report.indication, report.sub_indication))}</span></p>",
        table(document_rows(report, t, lang) + _extra_rows(report)),
    ]
    for i, sig in enumerate(report.signatures, 1):
        sig_colour = _COLOURS.get(sig.indication, "#555")
        parts.append(
            f'<h2 style="border-left:6px solid {sig_colour};padding-left:.4em">'
            f"{esc(t['signature'])} {i}: {esc(sig.field_name)}</h2>"
        )
        parts.append(table(signature_rows(sig, t, lang)))
    problems = problem_messages(report, lang)
    if problems:
        items = "".join(f"<li>{esc(p)}</li>" for p in problems)
        parts.append(f"<h2>{esc(t['problems'])}</h2><ul>{items}</ul>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _register_fonts() -> tuple[str, str]:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    names = ("EcopySerif", "EcopySerif-Bold")
    if names[0] not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont(names[0], str(FONT_DIR / "LiberationSerif-Regular.ttf")))
        pdfmetrics.registerFont(TTFont(names[1], str(FONT_DIR / "LiberationSerif-Bold.ttf")))
    return names


def render_pdf(report: VerificationReport, out_path: str | Path, lang: str = "vi") -> Path:
    """The same content as an A4 PDF with embedded Liberation Serif (subset)."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.pdfgen.canvas import Canvas
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    regular, bold = _register_fonts()
    t = report_labels(lang)
    esc = html.escape  # Paragraph parses a small markup language: escape like HTML
    body = ParagraphStyle("body", fontName=regular, fontSize=9.5, leading=12)
    head = ParagraphStyle("head", fontName=bold, fontSize=15, leading=19, spaceAfter=6)
    sub = ParagraphStyle("sub", fontName=bold, fontSize=12, leading=15, spaceBefore=8)
    colour = colors.HexColor(_COLOURS.get(report.indication, "#555555"))
    verdict = ParagraphStyle(
        "verdict",
        parent=head,
        fontSize=13,
        textColor=colors.white,
        backColor=colour,
        borderPadding=4,
        spaceBefore=4,
        spaceAfter=8,
    )
    banner = ParagraphStyle(
        "banner",
        parent=head,
        textColor=colors.HexColor("#b3261e"),
        borderColor=colors.HexColor("#b3261e"),
        borderWidth=2,
        borderPadding=5,
        alignment=1,
    )

    def table(rows: list[tuple[str, str]]) -> Table:
        data = [[Paragraph(esc(k), body), Paragraph(esc(v), body)] for k, v in rows]
        tbl = Table(data, colWidths=(55 * mm, 115 * mm))
        tbl.setStyle(
            TableStyle(
                [
                    ("FONTNAME", (0, 0), (-1, -1), regular),  # else Table selects Helvetica
                    ("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
                    ("BACKGROUND", (0, 0), (0, -1), colors.HexColor("#f2f2f2")),
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ]
            )
        )
        return tbl

    story: list[Any] = []
    if report.is_test:
        story += [Paragraph(esc(t["banner"]), banner), Spacer(1, 6)]
    story += [
        Paragraph(esc(t["title"]), head),
        Paragraph(
            esc(f"{t['verdict']}: "
                f"{indication_text(t, report.indication, report.sub_indication)}"), verdict
        ),
        table(document_rows(report, t, lang) + _extra_rows(report)),
    ]
    for i, sig in enumerate(report.signatures, 1):
        story.append(Paragraph(esc(f"{t['signature']} {i}: {sig.field_name}"), sub))
        story.append(table(signature_rows(sig, t, lang)))
    problems = problem_messages(report, lang)
    if problems:
        story.append(Paragraph(esc(t["problems"]), sub))
        story += [Paragraph(esc(f"• {p}"), body) for p in problems]
    out = Path(out_path)
    doc = SimpleDocTemplate(
        str(out),
        pagesize=A4,
        title=t["title"],
        author=report.validator,
        leftMargin=20 * mm,
        rightMargin=20 * mm,
    )
    # reportlab still lists its base Helvetica in every page's /Resources (unused, not
    # embedded): all text is drawn in the embedded Liberation Serif.
    doc.build(story, canvasmaker=functools.partial(Canvas, initialFontName=regular))
    return out
