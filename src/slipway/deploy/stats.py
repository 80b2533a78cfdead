"""Per-variant serving counters that servers accumulate and a canary controller merges.

Latency goes into fixed log-spaced buckets (each 20% wider than the last, from 0.05 ms), so
counters from many workers add up exactly and a quantile is read with at most 20% error.
Predictions keep a count, sum and sum of squares (for the drift bound); shadow variants also keep
how many rows were compared with the primary and how many agreed. Feedback posted to the server
(``/feedback``) is counted against the variant that answered: how many scalar labels arrived and
how many were positive (a click), which gives the click-through rate the canary rule compares.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

_BASE_MS = 0.05
_GROWTH = 1.2
N_BUCKETS = 90
_SMALL = 8  # predictions up to which observe sums in Python


def bucket_of(latency_ms: float) -> int:
    if latency_ms <= _BASE_MS:
        return 0
    return min(N_BUCKETS - 1, int(math.log(latency_ms / _BASE_MS, _GROWTH)) + 1)


def bucket_upper_ms(index: int) -> float:
    return float(_BASE_MS * _GROWTH ** index)


@dataclasses.dataclass
class VariantCounters:
    """Cumulative counts for one variant over one deployment revision."""

    requests: int = 0
    errors: int = 0
    latency_buckets: list[int] = dataclasses.field(default_factory=lambda: [0] * N_BUCKETS)
    pred_count: int = 0
    pred_sum: float = 0.0
    pred_sumsq: float = 0.0
    compared: int = 0
    agreed: int = 0
    abs_diff_sum: float = 0.0
    feedback: int = 0
    positive: int = 0

    def observe(self, latency_ms: float, error: bool, predictions: np.ndarray | None = None) -> None:
        self.requests += 1
        self.errors += int(error)
        self.latency_buckets[bucket_of(latency_ms)] += 1
        if predictions is not None and predictions.size and predictions.dtype.kind in "biuf":
            if predictions.ndim == 1 and predictions.size <= _SMALL:
                # A few rows (most requests): Python floats cost less than five NumPy calls.
                small = [float(v) for v in predictions.tolist()]
                self.pred_count += len(small)
                self.pred_sum += sum(small)
                self.pred_sumsq += sum(v * v for v in small)
                return
            values = predictions.reshape(predictions.shape[0], -1)[:, -1].astype(np.float64)
            self.pred_count += int(values.size)
            self.pred_sum += float(values.sum())
            self.pred_sumsq += float(np.dot(values, values))

    def compare(self, shadow: np.ndarray, primary: np.ndarray) -> None:
        """Record how a shadow's outputs differ from the primary's for the same rows."""
        if shadow.shape != primary.shape:
            self.compared += int(primary.shape[0])
            return
        self.compared += int(primary.shape[0])
        same = shadow == primary
        self.agreed += int(same.reshape(same.shape[0], -1).all(axis=1).sum())
        if shadow.dtype.kind in "biuf" and primary.dtype.kind in "biuf":
            self.abs_diff_sum += float(np.abs(shadow.astype(np.float64) - primary.astype(np.float64)).sum())

    def label(self, value: Any) -> bool:
        """Count one feedback label: a number or a boolean (positive when above 0, e.g. a click);
        anything else (a class name, a list) is not a click signal and is not counted. Returns
        whether it was counted."""
        if not isinstance(value, bool | int | float) or (isinstance(value, float) and math.isnan(value)):
            return False
        self.feedback += 1
        self.positive += int(value > 0)
        return True

    @property
    def click_through(self) -> float | None:
        """Positive labels per label (clicks per recommendation with feedback); None without feedback."""
        return self.positive / self.feedback if self.feedback else None

    def merge(self, other: VariantCounters) -> VariantCounters:
        return VariantCounters(
            self.requests + other.requests, self.errors + other.errors,
            [a + b for a, b in zip(self.latency_buckets, other.latency_buckets, strict=True)],
            self.pred_count + other.pred_count, self.pred_sum + other.pred_sum, self.pred_sumsq + other.pred_sumsq,
            self.compared + other.compared, self.agreed + other.agreed, self.abs_diff_sum + other.abs_diff_sum,
            self.feedback + other.feedback, self.positive + other.positive,
        )

    def latency_quantile_ms(self, q: float) -> float | None:
        """The q-quantile of latency (upper bucket edge); None without requests."""
        total = sum(self.latency_buckets)
        if total == 0:
            return None
        rank = q * total
        running = 0
        for index, count in enumerate(self.latency_buckets):
            running += count
            if running >= rank:
                return bucket_upper_ms(index)
        return bucket_upper_ms(N_BUCKETS - 1)

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0

    @property
    def prediction_mean(self) -> float | None:
        return self.pred_sum / self.pred_count if self.pred_count else None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> VariantCounters:
        fields = {f.name for f in dataclasses.fields(cls)}
        counters = cls(**{k: v for k, v in data.items() if k in fields})
        if len(counters.latency_buckets) != N_BUCKETS:
            counters.latency_buckets = (list(counters.latency_buckets) + [0] * N_BUCKETS)[:N_BUCKETS]
        return counters

    def summary(self, quantile: float = 0.99) -> dict[str, Any]:
        out: dict[str, Any] = {
            "requests": self.requests, "errors": self.errors, "error_rate": round(self.error_rate, 6),
            "latency_p50_ms": self.latency_quantile_ms(0.5), f"latency_p{round(quantile * 100)}_ms":
            self.latency_quantile_ms(quantile), "prediction_mean": self.prediction_mean,
        }
        if self.feedback:
            out.update(feedback=self.feedback, positive=self.positive, click_through=self.positive / self.feedback)
        if self.compared:
            out.update(compared_rows=self.compared, agreement_rate=self.agreed / self.compared,
                       mean_abs_diff=self.abs_diff_sum / self.compared)
        return out
