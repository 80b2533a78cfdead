"""The result of a performance run: each metric on each chunk, realised and estimated side by side."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from slipway.monitoring.records import _finite


@dataclass
class MetricChunk:
    """One metric on one chunk.

    ``realised`` (with its bootstrap interval ``realised_lower``/``realised_upper``) is computed on
    the chunk's labelled rows (``labelled`` of ``rows``); ``estimated`` (CBPE or DLE, over all its
    rows) carries its sampling error and band ``lower_band``/``upper_band`` (± 3 sampling errors).
    The thresholds come from the reference's chunks (mean ± 3 std); ``alert`` is set when the
    estimate or the realised value falls outside them.
    """

    metric: str
    chunk: str
    start: int
    end: int
    rows: int
    labelled: int
    realised: float | None = None
    realised_lower: float | None = None
    realised_upper: float | None = None
    estimated: float | None = None
    sampling_error: float | None = None
    lower_band: float | None = None
    upper_band: float | None = None
    lower_threshold: float | None = None
    upper_threshold: float | None = None

    def _outside(self, value: float | None) -> bool:
        if value is None:
            return False
        return bool((self.lower_threshold is not None and value < self.lower_threshold)
                    or (self.upper_threshold is not None and value > self.upper_threshold))

    @property
    def alert_estimated(self) -> bool:
        return self._outside(self.estimated)

    @property
    def alert_realised(self) -> bool:
        return self._outside(self.realised)

    @property
    def alert(self) -> bool:
        return self.alert_estimated or self.alert_realised

    @property
    def within_band(self) -> bool | None:
        """Whether the realised value lies in the estimate's band (None unless both exist)."""
        if self.realised is None or self.lower_band is None or self.upper_band is None:
            return None
        return self.lower_band <= self.realised <= self.upper_band

    def to_json(self) -> dict[str, Any]:
        body = {k: (_finite(v) if isinstance(v, float) else v) for k, v in asdict(self).items()}
        body.update(alert=self.alert, alert_estimated=self.alert_estimated, alert_realised=self.alert_realised,
                    within_band=self.within_band)
        return body


@dataclass
class PerformanceReport:
    """Realised and estimated performance per chunk (see :func:`slipway.monitoring.performance.performance`)."""

    problem: str  # "classification" (binary) or "regression"
    estimator: str | None  # "cbpe", "dle" or None (realised only)
    metrics: list[str]
    chunks: list[MetricChunk]
    rows: int
    labelled_rows: int
    reference_rows: int
    chunking: dict[str, Any]
    interval: str
    calibrated: bool | None = None
    notes: list[str] = field(default_factory=list)

    def metric(self, name: str) -> list[MetricChunk]:
        """The chunks of one metric, in order."""
        return [c for c in self.chunks if c.metric == name]

    @property
    def alerts(self) -> list[MetricChunk]:
        """The metric chunks outside their thresholds."""
        return [c for c in self.chunks if c.alert]

    def to_json(self) -> dict[str, Any]:
        return {"problem": self.problem, "estimator": self.estimator, "metrics": self.metrics, "rows": self.rows,
                "labelled_rows": self.labelled_rows, "reference_rows": self.reference_rows,
                "chunking": self.chunking, "interval": self.interval, "calibrated": self.calibrated,
                "alerts": len(self.alerts), "notes": self.notes, "chunks": [c.to_json() for c in self.chunks]}
