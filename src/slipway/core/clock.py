"""Time, in integer milliseconds since the epoch (what MLflow users expect in timestamps)."""

from __future__ import annotations

import datetime as dt
import time


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def iso(ms: int | None) -> str:
    """Render a millisecond timestamp as ISO 8601 in UTC, or an empty string."""
    if ms is None:
        return ""
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC).isoformat(timespec="milliseconds")


def parse_time(text: str) -> int:
    """Parse ISO 8601 (a date, or a date and time; UTC unless an offset is given) or epoch ms."""
    from slipway.core.errors import InvalidInput

    text = text.strip()
    if text.isascii() and text.isdigit():  # not "²", which isdigit() accepts and int() refuses
        return int(text)
    try:
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as err:
        raise InvalidInput(f"not a time: {text!r}; use ISO 8601 like 2026-01-31T12:00:00Z") from err
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return int(value.timestamp() * 1000)
