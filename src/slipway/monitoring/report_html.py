"""Self-contained HTML reports of drift and quality results.

One page, no scripts and nothing fetched: the styles are inline, every plot is an inline SVG
(reference shares as grey bars, the current data's as an orange outline for numeric columns;
paired horizontal bars per category), and everything that comes from the data — column names,
categories, details — is HTML-escaped. Each column's plot is a few kilobytes (its distribution
is at most :data:`~slipway.monitoring.distributions.BINS` bins or
:data:`~slipway.monitoring.distributions.TOP` categories), so 50 columns stay far below 2 MB.
"""

from __future__ import annotations

import html
import math
from pathlib import Path
from typing import TYPE_CHECKING

from slipway.core.errors import InvalidInput
from slipway.core.files import write_atomically
from slipway.monitoring.distributions import Distribution

if TYPE_CHECKING:
    from slipway.monitoring.quality import QualityReport
    from slipway.monitoring.records import ColumnDrift, DriftReport

WIDTH, HEIGHT, BAR = 360, 110, 14
REFERENCE, CURRENT = "#9aa5b1", "#e8710a"
STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#1f2933;background:#fff}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}
table{border-collapse:collapse;margin:8px 0}td,th{padding:3px 10px;border-bottom:1px solid #e4e7eb;text-align:left}
th{background:#f5f7fa}.num{text-align:right;font-variant-numeric:tabular-nums}
.bad{color:#b42318;font-weight:600}.good{color:#067647}.muted{color:#616e7c}
.cards{display:flex;flex-wrap:wrap;gap:12px}.card{border:1px solid #e4e7eb;border-radius:6px;padding:8px 10px;width:380px}
.card h3{font-size:14px;margin:0 0 2px;overflow-wrap:anywhere}.swatch{display:inline-block;width:10px;height:10px;margin:0 4px 0 10px}
svg text{font:10px system-ui,sans-serif;fill:#52606d}
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _num(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "-"
    return f"{value:.4g}"


def _numeric_svg(d: Distribution) -> str:
    assert d.edges is not None
    top = max(max(d.reference, default=0.0), max(d.current, default=0.0)) or 1.0
    n, plot = len(d.reference), HEIGHT - 16
    width = WIDTH / n
    bars = "".join(f'<rect x="{i * width:.1f}" y="{plot - r / top * plot:.1f}" width="{width:.1f}" '
                   f'height="{r / top * plot:.1f}"/>' for i, r in enumerate(d.reference) if r > 0)
    points = []
    for i, c in enumerate(d.current):
        y = plot - c / top * plot
        points += [f"{i * width:.1f},{y:.1f}", f"{(i + 1) * width:.1f},{y:.1f}"]
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" role="img">'
            f'<g fill="{REFERENCE}" fill-opacity="0.75">{bars}</g>'
            f'<polyline fill="none" stroke="{CURRENT}" stroke-width="1.5" points="{" ".join(points)}"/>'
            f'<line x1="0" y1="{plot}" x2="{WIDTH}" y2="{plot}" stroke="#cbd2d9"/>'
            f'<text x="0" y="{HEIGHT - 3}">{_e(_num(d.edges[0]))}</text>'
            f'<text x="{WIDTH}" y="{HEIGHT - 3}" text-anchor="end">{_e(_num(d.edges[-1]))}</text></svg>')


def _categorical_svg(d: Distribution) -> str:
    assert d.categories is not None
    top = max(max(d.reference, default=0.0), max(d.current, default=0.0)) or 1.0
    label, span = 110, WIDTH - 110 - 40
    rows = []
    for i, (name, r, c) in enumerate(zip(d.categories, d.reference, d.current, strict=True)):
        y = i * BAR
        short = name if len(name) <= 16 else name[:15] + "…"
        rows.append(f'<g><title>{_e(name)}: reference {r:.1%}, current {c:.1%}</title>'
                    f'<text x="{label - 4}" y="{y + 10}" text-anchor="end">{_e(short)}</text>'
                    f'<rect x="{label}" y="{y + 1}" width="{r / top * span:.1f}" height="5" fill="{REFERENCE}"/>'
                    f'<rect x="{label}" y="{y + 7}" width="{c / top * span:.1f}" height="5" fill="{CURRENT}"/>'
                    f'<text x="{label + max(r, c) / top * span + 3:.1f}" y="{y + 10}">{c:.0%}</text></g>')
    height = max(len(rows), 1) * BAR + 2
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" role="img">'
            f'{"".join(rows)}</svg>')


def _card(c: ColumnDrift) -> str:
    verdict = '<span class="bad">drift</span>' if c.drifted else '<span class="good">no drift</span>'
    plot = ""
    if c.distribution is not None:
        plot = _numeric_svg(c.distribution) if c.distribution.kind == "numeric" else _categorical_svg(c.distribution)
    p_value = "" if c.p_value is None else f", p = {_num(c.p_value_adjusted if c.p_value_adjusted is not None else c.p_value)}"
    return (f'<div class="card"><h3>{_e(c.column)}</h3><div>{verdict} · {_e(c.method)} {_num(c.score)} '
            f'(threshold {_num(c.threshold)}{p_value})</div><div class="muted">{_e(c.kind)}, {c.reference_rows:,} '
            f'reference / {c.current_rows:,} current rows; {_e(c.reason)}</div>{plot}</div>')


def _drift_section(report: DriftReport) -> str:
    verdict = "yes" if report.dataset_drift else "no"
    rows = "".join(
        f'<tr><td>{_e(c.column)}</td><td>{_e(c.kind)}</td><td>{_e(c.method)}</td><td class="num">{_num(c.score)}</td>'
        f'<td class="num">{_num(c.threshold)}</td>'
        f'<td class="{"bad" if c.drifted else "good"}">{"drift" if c.drifted else "ok"}</td></tr>'
        for c in report.columns)
    ordered = sorted(report.columns, key=lambda c: not c.drifted)
    skipped = "".join(f"<li>{_e(name)}: {_e(why)}</li>" for name, why in report.skipped.items())
    return (f'<h2>Drift</h2><p><b class="{"bad" if report.dataset_drift else "good"}">dataset drift: {verdict}</b> — '
            f'{len(report.drifted_columns)} of {len(report.columns)} columns drifted ({report.share_drifted:.0%}; '
            f'the dataset drifts at {report.drift_share:.0%})'
            f'{"; correction " + _e(report.correction) if report.correction else ""}.</p>'
            f'<table><tr><th>column</th><th>kind</th><th>method</th><th>score</th><th>threshold</th>'
            f'<th>verdict</th></tr>{rows}</table>'
            f'<p><span class="swatch" style="background:{REFERENCE}"></span>reference'
            f'<span class="swatch" style="background:{CURRENT}"></span>current</p>'
            f'<div class="cards">{"".join(_card(c) for c in ordered)}</div>'
            f'{"<h2>Not tested</h2><ul>" + skipped + "</ul>" if skipped else ""}')


def _share_bar(share: float | None) -> str:
    if share is None or not math.isfinite(share):
        return ""
    width = max(0.0, min(1.0, share)) * 120
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="160" height="12"><rect width="120" height="10" '
            f'fill="#e4e7eb"/><rect width="{width:.1f}" height="10" fill="{CURRENT}"/>'
            f'<text x="124" y="9">{share:.1%}</text></svg>')


def _quality_section(report: QualityReport) -> str:
    rows = "".join(
        f'<tr><td>{_e(f.kind)}</td><td>{_e(f.column or "")}</td>'
        f'<td class="{"bad" if f.severity == "error" else "muted"}">{_e(f.severity)}</td>'
        f'<td>{_share_bar(f.share)}</td><td>{_e(f.detail)}</td></tr>' for f in report.findings)
    errors = sum(f.severity == "error" for f in report.findings)
    head = (f'<b class="{"good" if report.ok else "bad"}">{"ok" if report.ok else "errors found"}</b>: '
            f'{errors} errors, {len(report.findings) - errors} warnings')
    table = (f'<table><tr><th>finding</th><th>column</th><th>severity</th><th>share of rows</th><th>detail</th></tr>'
             f'{rows}</table>' if rows else "")
    return f"<h2>Data quality</h2><p>{head}</p>{table}"


def render(title: str, drift: DriftReport | None = None, quality: QualityReport | None = None) -> str:
    """The whole page for a drift result, a quality result, or both."""
    body = (_drift_section(drift) if drift is not None else "") + (_quality_section(quality) if quality is not None else "")
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{_e(title)}</title>'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><style>{STYLE}</style></head>'
            f'<body><h1>{_e(title)}</h1><p class="muted">Slipway monitoring report</p>{body}</body></html>\n')


def save(path: str | Path, page: str) -> Path:
    """Write ``page`` to ``path`` whole or not at all (a temporary file renamed into place).

    Raises:
        InvalidInput: the folder does not exist or ``path`` is a folder.
    """
    target = Path(path)
    if target.is_dir() or not target.parent.is_dir():
        raise InvalidInput(f"cannot write the report to {target}: {'it is a folder' if target.is_dir() else 'no such folder'}")
    return write_atomically(target, page, mode=0o644)
