"""The results of a drift run: one :class:`ColumnDrift` per column and the dataset verdict."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from slipway.monitoring.distributions import Distribution


def _finite(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


@dataclass
class ColumnDrift:
    """One column's verdict: the method, why it was chosen, the score, the threshold."""

    column: str
    kind: str
    method: str
    reason: str
    score: float
    p_value: float | None
    threshold: float
    drifted: bool
    reference_rows: int
    current_rows: int
    distinct: int
    p_value_adjusted: float | None = None
    # What the HTML report plots; left out of the compact JSON.
    distribution: Distribution | None = field(default=None, repr=False, compare=False)

    def to_json(self) -> dict[str, Any]:
        body = asdict(self)
        del body["distribution"]
        body.update(score=_finite(self.score), p_value=_finite(self.p_value),
                    p_value_adjusted=_finite(self.p_value_adjusted))
        return body


@dataclass
class DriftReport:
    """Every column's verdict; the dataset drifts when the drifted share reaches ``drift_share``."""

    columns: list[ColumnDrift]
    drift_share: float = 0.5
    correction: str | None = None
    skipped: dict[str, str] = field(default_factory=dict)

    @property
    def drifted_columns(self) -> list[str]:
        return [c.column for c in self.columns if c.drifted]

    @property
    def share_drifted(self) -> float:
        return len(self.drifted_columns) / len(self.columns) if self.columns else 0.0

    @property
    def dataset_drift(self) -> bool:
        return bool(self.columns) and self.share_drifted >= self.drift_share

    def column(self, name: str) -> ColumnDrift:
        return next(c for c in self.columns if c.column == name)

    def to_json(self) -> dict[str, Any]:
        return {"dataset_drift": self.dataset_drift, "share_drifted": self.share_drifted,
                "drift_share": self.drift_share, "drifted_columns": self.drifted_columns,
                "correction": self.correction, "columns": [c.to_json() for c in self.columns],
                "skipped": self.skipped}

    def to_html(self, title: str = "Data drift") -> str:
        """A self-contained HTML page: the verdicts and, per column, the reference's and the
        current data's distributions as inline SVG (no scripts, nothing fetched)."""
        from slipway.monitoring.report_html import render

        return render(title, drift=self)
