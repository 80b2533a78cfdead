"""Runs side by side: every param and metric key of any run, one value (or None) per run."""

from __future__ import annotations

from collections.abc import Sequence

from slipway.tracking.records import Run, RunComparison


def compare(loaded: Sequence[Run]) -> RunComparison:
    """Align the params and latest metrics of ``loaded`` by key (keys sorted).

    ``differing_params`` lists the params whose values are not the same in every run (a run
    without the param counts as different), which is usually what one wants to see first.
    """
    param_keys = sorted({k for run in loaded for k in run.params})
    metric_keys = sorted({k for run in loaded for k in run.metrics})
    params = {k: [run.params.get(k) for run in loaded] for k in param_keys}
    metrics = {k: [run.metrics.get(k) for run in loaded] for k in metric_keys}
    differing = [k for k, values in params.items() if len(set(values)) > 1]
    return RunComparison([run.id for run in loaded], params, metrics, differing)

