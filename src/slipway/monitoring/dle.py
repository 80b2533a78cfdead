"""DLE: direct loss estimation of a regression model's performance without labels.

NannyML's method: on the reference (where the labels are known), a gradient-boosted model learns
each row's loss from the model's inputs and its prediction; on unlabelled data it predicts the
losses, and a chunk's estimate is their mean (``mae``, ``mape``) or the root of the mean of the
predicted squared errors (``rmse``). Bands are NannyML's (the reference's per-row loss standard
deviation over ``sqrt(rows)``, ± 3), thresholds are ``mean ± 3 std`` of the realised metric over
the reference chunks, floored at 0.

Slipway fits scikit-learn's ``HistGradientBoostingRegressor`` (NannyML fits LightGBM; both are
histogram gradient boosting, so estimates are close but not equal). Categorical inputs are coded
by their reference categories (unseen values become missing, which the model handles).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from slipway.monitoring.cbpe import SIGMAS, Estimates
from slipway.monitoring.chunks import Chunks
from slipway.monitoring.realised import realised

METRICS = ("mae", "rmse", "mape")
_EPS = float(np.finfo(np.float64).eps)


def _loss(metric: str, y: np.ndarray, yhat: np.ndarray) -> np.ndarray:
    if metric == "mae":
        return np.abs(yhat - y)
    if metric == "rmse":
        return (yhat - y) ** 2
    return np.abs(yhat - y) / np.maximum(np.abs(y), _EPS)


@dataclass
class FeatureCoder:
    """Numeric inputs as they are; categorical ones as codes of the reference's categories."""

    columns: list[str]
    categories: dict[str, pa.Array] = field(default_factory=dict)

    @classmethod
    def fit(cls, table: pa.Table, columns: list[str]) -> FeatureCoder:
        categories = {c: pc.unique(table.column(c).cast(pa.string())).drop_null() for c in columns
                      if not (pa.types.is_integer(table.schema.field(c).type) or
                              pa.types.is_floating(table.schema.field(c).type) or
                              pa.types.is_boolean(table.schema.field(c).type))}
        return cls(columns, categories)

    def matrix(self, table: pa.Table, prediction: np.ndarray) -> np.ndarray:
        parts = []
        for c in self.columns:
            column = table.column(c)
            if c in self.categories:
                codes = pc.index_in(column.cast(pa.string()), value_set=self.categories[c])
                parts.append(codes.to_numpy(zero_copy_only=False).astype(np.float64))
            else:
                parts.append(column.cast(pa.float64()).to_numpy(zero_copy_only=False))
        return np.column_stack([*parts, prediction]) if parts else prediction[:, None]

    @property
    def categorical_mask(self) -> list[bool]:
        return [c in self.categories for c in self.columns] + [False]


@dataclass
class DLE:
    """A DLE estimator fitted on a labelled reference (see :meth:`fit`)."""

    metrics: tuple[str, ...]
    coder: FeatureCoder
    models: dict[str, Any]
    stds: dict[str, float]
    thresholds: dict[str, tuple[float | None, float | None]]

    @classmethod
    def fit(cls, table: pa.Table, features: list[str], y: np.ndarray, yhat: np.ndarray, chunks: Chunks,
            metrics: tuple[str, ...] = METRICS, seed: int = 0) -> DLE:
        from sklearn.ensemble import HistGradientBoostingRegressor

        coder = FeatureCoder.fit(table, features)
        x = coder.matrix(table, yhat)
        models: dict[str, Any] = {}
        stds: dict[str, float] = {}
        thresholds: dict[str, tuple[float | None, float | None]] = {}
        for m in metrics:
            loss = _loss(m, y, yhat)
            models[m] = HistGradientBoostingRegressor(categorical_features=coder.categorical_mask or None,
                                                      random_state=seed).fit(x, loss)
            stds[m] = float(np.std(loss))
            values = np.array([realised([m], y[s:e], yhat[s:e], None, replicates=0)[m].value
                               for s, e in zip(chunks.starts, chunks.ends, strict=True)])
            mean, std = float(np.nanmean(values)), float(np.nanstd(values))
            thresholds[m] = (max(0.0, mean - SIGMAS * std), mean + SIGMAS * std)
        return cls(tuple(metrics), coder, models, stds, thresholds)

    def estimate(self, table: pa.Table, yhat: np.ndarray, chunks: Chunks) -> dict[str, Estimates]:
        x = self.coder.matrix(table, yhat)
        sizes = chunks.sizes.astype(np.float64)
        out = {}
        for m in self.metrics:
            predicted = np.maximum(self.models[m].predict(x), 0.0)
            mean = np.add.reduceat(predicted, chunks.starts) / sizes if len(sizes) else np.zeros(0)
            value = np.sqrt(mean) if m == "rmse" else mean
            std = np.full(len(sizes), self.stds[m])
            if m == "rmse":  # the error of a root of a mean, by the delta method
                std = std / (2.0 * np.sqrt(np.maximum(mean, _EPS)))
            error = std / np.sqrt(sizes)
            lower, upper = self.thresholds[m]
            out[m] = Estimates(value, np.asarray(error, np.float64), np.maximum(0.0, value - SIGMAS * error),
                               value + SIGMAS * error, lower, upper)
        return out
