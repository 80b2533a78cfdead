"""``ws.monitoring.performance``: realised and estimated performance of a model on monitored data.

The sources are those of ``ws.monitoring.drift`` (tables, files, dataset versions) plus a
deployment: ``"deployment:NAME"`` (or ``"deployment:NAME/VARIANT"``) is the payload log joined
with the labels posted to the inference server's feedback endpoint (see
:mod:`slipway.monitoring.labelled`), ordered by time. Where a table lacks the model's prediction
or score, the model computes them: ``model="name/3"`` or ``"name@champion"``, or, for a payload
log, the model versions that served it.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from slipway.monitoring.labelled import (
    TIMESTAMP,
    add_model_outputs,
    join_labels,
    probability_columns,
    served_versions,
)
from slipway.monitoring.performance import performance
from slipway.monitoring.performance_records import PerformanceReport

DEPLOYMENT = "deployment:"


class PerformanceMixin:
    """``performance``: see the module docstring."""

    _ws: Any

    def labelled(self, deployment: str, *, target: str = "target", prediction: str = "prediction",
                 score: str | None = "score", variant: str | None = None) -> pa.Table:
        """A deployment's logged rows with their labels (null where none was posted yet)."""
        log = self._ws.serving.payload_log(deployment)
        return join_labels(log, self._ws.serving.feedback(deployment), target=target, prediction=prediction,
                           score=score, variant=variant)

    def _performance_table(self, source: Any, model: str | None, *, target: str, prediction: str,
                           score: str | None, problem: str | None) -> pa.Table:
        if isinstance(source, str) and source.startswith(DEPLOYMENT):
            name, _, variant = source[len(DEPLOYMENT):].partition("/")
            table = self.labelled(name, target=target, prediction=prediction, score=score, variant=variant or None)
            refs = [model] if model else served_versions(table)
            missing = prediction not in table.column_names or (score and score not in table.column_names
                                                                and problem != "regression")
            if not missing:
                return table
            parts = []
            for ref in refs:  # one model call per served version, on all of its rows
                rows = table if model else table.filter(pc.equal(pc.binary_join_element_wise(
                    table.column("model"), table.column("version"), "/"), ref))
                parts.append(add_model_outputs(rows, self._ws.registry.load(ref), prediction=prediction,
                                               score=score, problem=problem))
            joined = pa.concat_tables(parts, promote_options="permissive")
            return joined.take(pc.sort_indices(joined, [(TIMESTAMP, "ascending")]))
        service: Any = self
        table = service.table(source)
        if model and (prediction not in table.column_names or (score and score not in table.column_names)):
            table = add_model_outputs(table, self._ws.registry.load(model), prediction=prediction, score=score,
                                      problem=problem)
        return table

    def performance(self, reference: Any, current: Any, *, model: str | None = None, target: str = "target",
                    prediction: str = "prediction", score: str | None = "score", problem: str | None = None,
                    features: list[str] | None = None, timestamp: str | None = None,
                    chunk_size: int | None = None, chunk_number: int | None = None, chunk_period: str | None = None,
                    metrics: list[str] | None = None, estimate: bool = True, replicates: int = 200,
                    confidence: float = 0.95, probabilities: dict[str, str] | None = None) -> PerformanceReport:
        """Realised performance where labels have arrived, estimated (CBPE, DLE) everywhere, per chunk.

        Args:
            reference: labelled data the estimator and thresholds are fitted on (None: realised
                only); any source ``drift`` takes.
            current: the monitored data, e.g. ``"deployment:failures"``.
            model: computes missing predictions/scores (a payload log defaults to its served versions).
            probabilities: a multiclass classifier's probability columns by class (multiclass CBPE);
                by default the ``score.<class>`` columns ``model`` added (a multiclass model).
            Other arguments: see :func:`slipway.monitoring.performance.performance`.

        Raises:
            InvalidInput: a missing column, a bad chunking or metric, labels that are not binary.

        Example:
            >>> ws.monitoring.performance("ai4i-validation@1", "deployment:failures", model="failures@champion",
            ...                           target="Machine failure", chunk_size=500)
        """
        is_log = isinstance(current, str) and current.startswith(DEPLOYMENT)
        current_table = self._performance_table(current, model, target=target, prediction=prediction, score=score,
                                                problem=problem)
        reference_table = None if reference is None else self._performance_table(
            reference, model, target=target, prediction=prediction, score=score, problem=problem)
        if probabilities is None and problem != "regression":  # a multiclass model's outputs, added above
            probabilities = probability_columns(current_table, score) or None
        if problem is None and score and score not in current_table.column_names:
            problem = "regression"
        if is_log and features is None and reference_table is not None:
            features = [c for c in reference_table.column_names
                        if c in current_table.column_names and c not in {target, prediction, score, TIMESTAMP}]
        return performance(reference_table, current_table, target=target, prediction=prediction, score=score,
                           problem=problem, features=features, timestamp=timestamp or (TIMESTAMP if is_log else None),
                           chunk_size=chunk_size, chunk_number=chunk_number, chunk_period=chunk_period,
                           metrics=metrics, estimate=estimate, replicates=replicates, confidence=confidence,
                           probabilities=probabilities)
