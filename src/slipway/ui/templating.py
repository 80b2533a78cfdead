"""The Jinja2 environment of the UI: autoescaping on for every template, a few filters, and the
security headers every page is sent with.

Untrusted text (run names, tags, model card fields, column names) reaches a page only through
``{{ … }}`` (escaped) or ``|tojson`` inside ``<script type="application/json">`` (which escapes
``<``, ``>`` and ``&``), and the Content-Security-Policy allows scripts from this server only, so a
payload that slipped through would still not run.
"""

from __future__ import annotations

import datetime
import functools
import math
from pathlib import Path
from typing import Any

import jinja2
from fastapi.responses import HTMLResponse

TEMPLATES = Path(__file__).parent / "templates"

SECURITY_HEADERS = {
    "Content-Security-Policy": ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                                "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def when(ms: int | None) -> str:
    """Milliseconds since the epoch as UTC time (``2026-12-07 08:00:01``)."""
    if ms is None:
        return ""
    return datetime.datetime.fromtimestamp(ms / 1000, datetime.UTC).strftime("%Y-%m-%d %H:%M:%S")


def number(value: Any) -> str:
    """A metric value, short: 4 significant digits, NaN and infinities by name."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "" if value is None else str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return f"{value:.4g}"


def duration(ms: int | None) -> str:
    if ms is None:
        return ""
    seconds = ms / 1000
    return f"{seconds:.1f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def duration_s(seconds: int | None) -> str:
    """A TTL in seconds, in the largest whole unit (``2 d``, ``36 h``, ``90 s``)."""
    if seconds is None:
        return ""
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("min", 60)):
        if seconds % size == 0:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"


@functools.cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters.update(when=when, number=number, duration=duration, duration_s=duration_s)
    return env


def render_page(template: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
    html = environment().get_template(template).render(context)
    return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)
