"""Chunks: how a window of rows is split for performance, with NannyML's semantics.

- ``chunk_size=N``: consecutive chunks of N rows; the last, shorter chunk is kept (NannyML's
  ``SizeBasedChunker(incomplete='keep')``).
- ``chunk_number=K``: chunks of ``rows // K`` rows, the remainder kept as one more chunk
  (NannyML's ``CountBasedChunker``); the default is ``K = 10``, as NannyML's default chunker.
- ``chunk_period="1h"``/``"30m"``/``"1d"``/``"7d"``: one chunk per period of the timestamp column
  (epoch milliseconds, seconds or an Arrow timestamp), periods aligned to the epoch; the rows are
  ordered by time first.

A chunk is a half-open row range ``[start, end)`` of the ordered table, so every metric reads
contiguous slices and nothing is copied.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from slipway.core.errors import InvalidInput

_UNITS_MS = {"s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}


@dataclass(frozen=True)
class Chunks:
    """Row ranges ``[starts[i], ends[i])`` and a key per chunk (``[0:999]`` or the period start)."""

    starts: np.ndarray
    ends: np.ndarray
    keys: list[str]

    def __len__(self) -> int:
        return len(self.keys)

    @property
    def sizes(self) -> np.ndarray:
        return self.ends - self.starts


@dataclass(frozen=True)
class Chunking:
    """How to chunk: exactly one of ``size``, ``number`` or ``period`` (see the module docstring)."""

    size: int | None = None
    number: int | None = None
    period: str | None = None

    @classmethod
    def build(cls, size: int | None = None, number: int | None = None, period: str | None = None) -> Chunking:
        given = [v for v in (size, number, period) if v is not None]
        if len(given) > 1:
            raise InvalidInput("give one of chunk_size, chunk_number or chunk_period, not several")
        for name, value in (("chunk_size", size), ("chunk_number", number)):
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
                raise InvalidInput(f"{name} must be a positive integer, not {value!r}")
        if period is not None:
            period_ms(period)
        return cls(size, number if given else 10, period)

    def split(self, rows: int, timestamps_ms: np.ndarray | None = None) -> Chunks:
        """The chunks of ``rows`` rows (time-ordered already when chunking by period)."""
        if self.period is not None:
            if timestamps_ms is None:
                raise InvalidInput(f"chunk_period={self.period!r} needs a timestamp column")
            return _by_period(timestamps_ms, period_ms(self.period))
        size = self.size if self.size is not None else max(1, rows // int(self.number or 10))
        starts = np.arange(0, rows, size, dtype=np.int64)
        ends = np.minimum(starts + size, rows)
        return Chunks(starts, ends, [f"[{s}:{e - 1}]" for s, e in zip(starts.tolist(), ends.tolist(), strict=True)])

    def for_reference(self, rows: int, analysis: Chunks, timestamps_ms: np.ndarray | None) -> Chunks:
        """The reference's chunks: the same chunker; by period without reference timestamps, chunks
        of the analysis's median chunk size."""
        if self.period is not None and timestamps_ms is None:
            size = int(np.median(analysis.sizes)) if len(analysis) else rows
            return Chunking(size=max(1, size)).split(rows)
        return self.split(rows, timestamps_ms)


def period_ms(period: str) -> int:
    """``"30m"`` -> 1,800,000. Raises InvalidInput on anything else than N plus s/m/h/d/w."""
    text = str(period).strip().lower()
    unit, number = text[-1:], text[:-1] or "1"
    if unit not in _UNITS_MS or not number.isdigit() or int(number) < 1:
        raise InvalidInput(f"chunk_period {period!r} is not a period: use N followed by s, m, h, d or w (e.g. 1d)")
    return int(number) * _UNITS_MS[unit]


def _by_period(timestamps_ms: np.ndarray, width: int) -> Chunks:
    if len(timestamps_ms) == 0:
        return Chunks(np.zeros(0, np.int64), np.zeros(0, np.int64), [])
    bucket = np.floor_divide(timestamps_ms.astype(np.int64), width)
    starts = np.flatnonzero(np.r_[True, bucket[1:] != bucket[:-1]])
    ends = np.r_[starts[1:], len(bucket)]
    keys = np.datetime_as_string((bucket[starts] * width).astype("datetime64[ms]"), unit="s").tolist()
    return Chunks(starts.astype(np.int64), ends.astype(np.int64), keys)
