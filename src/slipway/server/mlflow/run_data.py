"""What MLflow logs to a run: metrics, params, tags, batches, dataset inputs, metric history.

Everything goes through :meth:`TrackingBackend.log_batch` (one audited transaction), with
MLflow's batch limits. Dataset inputs are recorded as run tags ``mlflow.dataset.<name>`` (the
dataset's digest, source type and context) because an MLflow dataset has no Slipway dataset version
to point a lineage edge at.
"""

from __future__ import annotations

from typing import Any

import orjson

from slipway.core.errors import NotFound
from slipway.server.mlflow.convert import number
from slipway.server.mlflow.protocol import MlflowCall, MlflowError, Routes, invalid
from slipway.server.mlflow.runs import RUN_NAME, key_values, mlflow_run_errors, run_id
from slipway.tracking.history import decode_position, encode_position

MAX_METRICS, MAX_PARAMS, MAX_TAGS, MAX_ENTRIES = 1000, 100, 100, 1000
INF = float("inf")


def _point(item: Any) -> tuple[str, Any, int, int]:
    if not isinstance(item, dict) or not isinstance(item.get("key"), str):
        raise MlflowError(f"Invalid metric {item!r}: expected {{'key', 'value', 'timestamp', 'step'}}"[:300])
    value = item.get("value")
    if isinstance(value, str) and value in ("NaN", "Infinity", "-Infinity"):
        value = float(value.replace("Infinity", "inf"))
    if value is None:
        raise MlflowError(f"Missing value for required parameter 'value' of metric {item['key']!r}")
    try:
        step, ts = int(item.get("step") or 0), int(item.get("timestamp") or 0)
    except (TypeError, ValueError):
        raise MlflowError(f"Invalid step or timestamp in metric {item!r}"[:300]) from None
    return (item["key"], value, step, ts)


def _log(call: MlflowCall, metrics: list[Any], params: dict[str, str], tags: dict[str, str]) -> dict[str, Any]:
    rid = run_id(call)
    with mlflow_run_errors(call, rid):
        if RUN_NAME in tags:
            call.admin.rename_run(rid, tags.pop(RUN_NAME))
        call.tracking.log_batch(rid, [_point(m) for m in metrics], params, tags)
    return {}


def _whole(value: Any) -> bool:
    """An int64 as protobuf's JSON has it: a number, or a string of digits."""
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, str) and value.lstrip("-").isdigit())


def log_metric(call: MlflowCall) -> dict[str, Any]:
    # Checked field by field first, so a bad one is named in MLflow's words.
    run_id(call), call.text("key")
    if call.fields.get("value") is None:
        raise MlflowError("Missing value for required parameter 'value'")
    for name in ("timestamp", "step"):
        if call.fields.get(name) is not None and not _whole(call.fields[name]):
            raise invalid(name, call.fields[name])
    return _log(call, [dict(call.fields)], {}, {})


def log_param(call: MlflowCall) -> dict[str, Any]:
    run_id(call)  # named first when it is wrong, as MLflow does
    return _log(call, [], {call.text("key"): call.text("value", "")}, {})


def set_tag(call: MlflowCall) -> dict[str, Any]:
    run_id(call)
    return _log(call, [], {}, {call.text("key"): call.text("value", "")})


def delete_tag(call: MlflowCall) -> dict[str, Any]:
    rid, key = run_id(call), call.text("key")
    with mlflow_run_errors(call, rid):
        try:
            call.admin.delete_tag(rid, key)
        except NotFound:
            call.tracking.get_run(rid)  # a missing or deleted run is answered as such first
            raise NotFound(f"No tag with name: {key} in run with id {rid}") from None
    return {}


def log_batch(call: MlflowCall) -> dict[str, Any]:
    metrics, params, tags = call.items("metrics"), key_values(call, "params"), key_values(call, "tags")
    if not all(isinstance(m, dict) and isinstance(m.get("key"), str) and m.get("value") is not None
               and _whole(m.get("timestamp")) and (m.get("step") is None or _whole(m["step"])) for m in metrics):
        raise invalid("metrics", metrics)  # as MLflow: a metric needs key, value and timestamp
    for what, count, limit in (("metrics", len(metrics), MAX_METRICS), ("params", len(params), MAX_PARAMS),
                               ("tags", len(tags), MAX_TAGS)):
        if count > limit:
            raise MlflowError(f"A batch logging request can contain at most {limit} {what}. Got {count} {what}.")
    if len(metrics) + len(params) + len(tags) > MAX_ENTRIES:
        raise MlflowError(f"A batch logging request can contain at most {MAX_ENTRIES} metrics, params and tags "
                          f"in total. Got {len(metrics) + len(params) + len(tags)}.")
    return _log(call, metrics, params, tags)


def log_inputs(call: MlflowCall) -> dict[str, Any]:
    run_id(call)  # checked first, then the datasets, as MLflow does
    if call.fields.get("datasets") is None:
        raise MlflowError("Missing value for required parameter 'datasets'")
    tags: dict[str, str] = {}
    for item in call.items("datasets"):
        dataset = item.get("dataset") if isinstance(item, dict) else None
        if not isinstance(dataset, dict) or not isinstance(dataset.get("name"), str):
            raise MlflowError(f"Invalid dataset input {item!r}"[:300])
        context = {t.get("key"): t.get("value") for t in item.get("tags") or [] if isinstance(t, dict)}
        tags[f"mlflow.dataset.{dataset['name']}"] = orjson.dumps({
            "digest": dataset.get("digest"), "source_type": dataset.get("source_type"),
            "context": context.get("mlflow.data.context")}).decode()
    return _log(call, [], {}, tags) if tags else {}


def get_history(call: MlflowCall) -> bytes:
    # One page is read from the store per call, by keyset: the token is the last point's position
    # (tracking/history.py), so a page deep in a long series costs what the first costs. A token
    # of digits is an offset from before keyset tokens; it still works (at an offset's cost) and
    # its page's token is a keyset one. Points go from tuples straight into the JSON body.
    token = call.fields.get("page_token") or None
    size = call.integer("max_results") if call.fields.get("max_results") else None
    offset, after = 0, None
    if isinstance(token, int | str) and str(token).lstrip("-").isdigit():
        offset = int(token)
    elif token is not None:
        after = decode_position(str(token))
    if offset < 0 or (size is not None and size < 1):
        raise MlflowError(f"Invalid page_token {token!r} or max_results {size}")
    key = call.text("metric_key")
    rows, last = call.tracking.metric_history_rows(run_id(call), key, size, after, offset=offset)
    result: dict[str, Any] = {"metrics": [{"key": key, "value": v if -INF < v < INF else number(v), "timestamp": ts,
                                           "step": step} for v, step, ts in rows]}
    if last is not None:
        result["next_page_token"] = encode_position(last)
    return orjson.dumps(result)


ROUTES: Routes = [
    ("POST", "/runs/log-metric", log_metric),
    ("POST", "/runs/log-parameter", log_param),
    ("POST", "/runs/set-tag", set_tag),
    ("POST", "/runs/delete-tag", delete_tag),
    ("POST", "/runs/log-batch", log_batch),
    ("POST", "/runs/log-inputs", log_inputs),
    ("GET", "/metrics/get-history", get_history),
]
