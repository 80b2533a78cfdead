"""``/metrics/get-history-bulk-interval``: one metric of up to 100 runs, sampled to at most
``max_results`` steps the way MLflow's own store samples (evenly over the steps that exist, always
keeping each run's first and last step); ``/metrics/get-history-bulk``: the same metric unsampled."""

from __future__ import annotations

import bisect
from typing import Any

from slipway.server.mlflow.convert import number
from slipway.server.mlflow.protocol import MlflowCall, MlflowError, Routes
from slipway.tracking.history import HistoryRow

MAX_RUNS, MAX_RESULTS, BULK_RESULTS = 100, 2500, 25000


def _sampled_steps(histories: list[list[HistoryRow]], max_results: int, start: int | None, end: int | None) -> set[int]:
    all_steps = sorted({step for points in histories for _, step, _ in points})
    if start is None or end is None:
        start, end = 0, (all_steps[-1] if all_steps else 0)
    edges = {s for points in histories if points for s in (points[0][1], points[-1][1]) if start <= s <= end}
    lo, hi = bisect.bisect_left(all_steps, start), bisect.bisect_right(all_steps, end)
    if hi - lo <= max_results:
        return set(all_steps[lo:hi]) | edges
    interval = (hi - lo) / max_results
    sampled = {all_steps[lo + int(i * interval)] for i in range(max_results) if lo + int(i * interval) < hi}
    return sampled | {all_steps[hi - 1]} | edges


def bulk_interval(call: MlflowCall) -> dict[str, Any]:
    run_ids = [str(r) for r in call.items("run_ids")]
    if not run_ids:
        raise MlflowError("Missing value for required parameter 'run_ids'.")
    if len(run_ids) > MAX_RUNS:
        raise MlflowError(f"GetMetricHistoryBulkInterval request must specify at most {MAX_RUNS} run_ids. "
                          f"Received {len(run_ids)} run_ids.")
    key = _metric_key(call)
    max_results = call.integer("max_results", MAX_RESULTS)
    if not 1 <= max_results <= MAX_RESULTS:
        raise MlflowError(f"max_results must be between 1 and {MAX_RESULTS}.")
    has_start, has_end = call.fields.get("start_step") is not None, call.fields.get("end_step") is not None
    if has_start != has_end:
        raise MlflowError("If either start step or end step are specified, both must be specified.")
    start = call.integer("start_step") if has_start else None
    end = call.integer("end_step") if has_end else None
    if start is not None and end is not None and start > end:
        raise MlflowError(f"end_step must be greater than start_step. Found start_step={start} and end_step={end}.")
    tracking = call.tracking
    # Tuples straight from the store (already in (step, ts) order), no record per point.
    histories = [tracking.metric_history_rows(r, key, None)[0] for r in run_ids]
    steps = _sampled_steps(histories, max_results, start, end)
    # Every point at a sampled step, as MLflow answers; only a run with more than MAX_RESULTS of
    # them (thousands of values at a few steps: points logged without a step are all step 0) is
    # thinned, so one answer stays bounded.
    per_run = max(MAX_RESULTS, len(steps))
    out = []
    for run_id, points in zip(run_ids, histories, strict=True):
        kept = [p for p in points if p[1] in steps]
        if len(kept) > per_run:  # many values at one step: sample evenly, keep the last
            kept = [kept[int(i * len(kept) / per_run)] for i in range(per_run - 1)] + [kept[-1]]
        out += [{"key": key, "value": number(v), "timestamp": ts, "step": step, "run_id": run_id} for v, step, ts in kept]
    return {"metrics": out}


def _metric_key(call: MlflowCall) -> str:
    if not call.fields.get("metric_key"):  # absent or empty, as MLflow's server says
        raise MlflowError("Missing value for required parameter 'metric_key'.")
    return call.text("metric_key")


def bulk(call: MlflowCall) -> dict[str, Any]:
    """``/metrics/get-history-bulk`` (MLflow's UI endpoint): every point of one metric of up to
    100 runs, the runs in id order, each run's points by step and time, at most ``max_results``."""
    value = call.fields.get("run_id")
    run_ids = sorted({str(r) for r in (value if isinstance(value, list) else [value] if value else [])})
    if not run_ids:
        raise MlflowError("GetMetricHistoryBulk request must specify at least one run_id.")
    if len(run_ids) > MAX_RUNS:
        raise MlflowError(f"GetMetricHistoryBulk request cannot specify more than {MAX_RUNS} run_ids. "
                          f"Received {len(run_ids)} run_ids.")
    if not call.fields.get("metric_key"):
        raise MlflowError("GetMetricHistoryBulk request must specify a metric_key.")
    key, limit = call.text("metric_key"), call.integer("max_results", BULK_RESULTS)
    if not 1 <= limit <= BULK_RESULTS:
        raise MlflowError(f"max_results must be between 1 and {BULK_RESULTS}.")
    tracking = call.tracking
    out: list[dict[str, Any]] = []
    for run_id in run_ids:
        if len(out) >= limit:
            break
        rows = tracking.metric_history_rows(run_id, key, limit - len(out))[0]
        out += [{"key": key, "value": number(v), "timestamp": ts, "step": step, "run_id": run_id} for v, step, ts in rows]
    return {"metrics": out}


ROUTES: Routes = [("GET", "/metrics/get-history-bulk-interval", bulk_interval),
                  ("GET", "/metrics/get-history-bulk", bulk)]
