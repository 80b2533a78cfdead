"""A monitor's spec (YAML or a dict), checked and normalised before anything is stored::

    name: failures-inputs
    watch: deployment:failures        # or a dataset (name, name@3) or a Parquet/CSV file
    reference: ai4i@1                 # the training data (a deployment's default: see lineage_reference)
    window: {rows: 5000}              # the last rows of the watched data (optional), or a time window:
                                      # {last: 7d}, {since: 2026-01-01, until: 2026-01-08}, with rows too;
                                      # a dataset or file names its time column: {last: 7d, timestamp: ts}
    schedule: "*/10 * * * *"          # run by `slipway scheduler` (optional)
    checks:
      - {name: drift, type: drift, max_share: 0.0, method: {numeric: wasserstein}, columns: [...]}
      - {name: quality, type: quality, columns: [...]}
      - {name: auc, type: performance, metric: roc_auc, target: failure, max_drop: 0.05}
    actions: [alert, webhook, {type: pipeline, when: [drift], unless: [quality]}]   # see actions.py

A drift check fails when the share of drifted columns exceeds ``max_share`` (default: the
dataset-drift rule, ``share >= drift_share``); a quality check fails on any error finding.

A performance check computes ``metric`` over the window (realised on the rows whose labels
arrived when at least ``min_labels`` did, else estimated by CBPE or DLE: ``source: auto``; or
``realised``/``estimated`` to insist) and fails when it is below ``minimum`` (metrics that fall
when a model decays: ``roc_auc``, ``f1``, ``precision``, ``recall``, ``accuracy``, ``r2``), above
``maximum`` (metrics that rise: ``mae``, ``rmse``, ``mape``, ``log_loss``), or worse by more than
``max_drop`` than the reference's value (``against: reference``) or the served version's recorded
evaluation (``against: evaluation``); with none of those, when it leaves the reference chunks'
band on the worse side. ``target`` names the label column; ``model`` the model that computes the
predictions a table lacks (a deployment's: the versions that served it).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Any

from slipway.core.clock import parse_time
from slipway.core.errors import InvalidInput
from slipway.core.names import check_name
from slipway.core.yaml_errors import yaml_problem
from slipway.monitoring.actions import parse_actions
from slipway.monitoring.performance_check import ESTIMABLE, LOWER_IS_BETTER, SOURCES, problem_of
from slipway.monitoring.realised import CLASSIFICATION, REGRESSION
from slipway.monitoring.spec import DriftSpec

CHECK_TYPES = ("drift", "quality", "performance")
LINEAGE = "lineage"  # the reference a deployment monitor gets by default
_TOP = {"name", "watch", "reference", "window", "checks", "actions", "kinds", "schedule"}
_CHECK = {"drift": {"name", "type", "method", "threshold", "columns", "correction", "drift_share", "max_share"},
          "quality": {"name", "type", "columns"},
          "performance": {"name", "type", "metric", "target", "minimum", "maximum", "max_drop", "source",
                          "min_labels", "model", "against", "columns"}}
AGAINST = ("reference", "evaluation")
WINDOW_KEYS = {"rows", "last", "since", "until", "timestamp"}
_DURATION = {"s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}


def parse_monitor(spec: Any) -> dict[str, Any]:
    """The normalised spec.

    Raises:
        InvalidInput: an unknown key, check type, method, action, or a value of the wrong kind,
            named with its value.
    """
    if isinstance(spec, str):
        import yaml

        try:
            spec = yaml.safe_load(spec)
        except yaml.YAMLError as err:
            raise InvalidInput(f"monitor spec is not valid YAML: {yaml_problem(err)}") from err
    if not isinstance(spec, dict):
        raise InvalidInput(f"a monitor spec is a mapping, not {type(spec).__name__}")
    unknown = set(spec) - _TOP
    if unknown:
        raise InvalidInput(f"unknown monitor key(s) {sorted(unknown)}; allowed: {sorted(_TOP)}")
    name = check_name(spec.get("name"), "monitor name")
    if isinstance(spec.get("watch"), str) and spec["watch"].startswith("deployment:"):
        spec = {"reference": LINEAGE, **spec}
    for key in ("watch", "reference"):
        if not isinstance(spec.get(key), str) or not spec[key]:
            raise InvalidInput(f"monitor {name!r} needs '{key}': a dataset, a file or deployment:NAME")
    if spec["reference"] == LINEAGE and not spec["watch"].startswith("deployment:"):
        raise InvalidInput(f"monitor {name!r}: only a deployment's monitor takes its reference from lineage; "
                           "name the reference data")
    window = parse_window(spec.get("window") or {}, spec["watch"])
    checks = spec.get("checks")
    if not isinstance(checks, list) or not checks:
        raise InvalidInput(f"monitor {name!r} needs a non-empty list of checks")
    parsed_checks = [_check(c) for c in checks]
    names = [c["name"] for c in parsed_checks]
    for c in parsed_checks:
        if (c["type"] == "performance" and c.get("against") == "evaluation" and "model" not in c
                and not spec["watch"].startswith("deployment:")):
            raise InvalidInput(f"performance check {c['name']!r}: 'against: evaluation' compares with a model "
                               "version's recorded metric; watch a deployment or name the 'model'")
    if len(set(names)) != len(names):
        raise InvalidInput(f"check names must differ: {names}")
    actions = parse_actions(spec.get("actions", ["alert"]), names, spec["watch"])
    schedule = spec.get("schedule")
    if schedule is not None:
        from slipway.pipelines.cron import check_cron

        check_cron(schedule)
    kinds = spec.get("kinds") or {}
    if not isinstance(kinds, dict):
        raise InvalidInput(f"kinds must map columns to numeric/categorical, not {kinds!r}")
    return {"name": name, "watch": spec["watch"], "reference": spec["reference"], "window": window,
            "checks": parsed_checks, "actions": actions, "kinds": kinds,
            **({"schedule": schedule} if schedule is not None else {})}


def parse_window(window: Any, watch: str) -> dict[str, Any]:
    """``{rows: N}``, ``{last: DURATION}`` or ``{since: TIME, until: TIME}`` (either bound may be
    left out; ISO 8601 or epoch milliseconds), time and rows together allowed; ``timestamp``
    names the time column of a watched dataset or file (a deployment's log has ``ts_ms``). Times
    are normalised to epoch milliseconds.

    Raises:
        InvalidInput: anything else, named.
    """
    shape = ("window must be {rows: N}, {last: 7d} or {since: TIME, until: TIME} (with rows too), "
             f"not {window!r}")
    if not isinstance(window, dict) or set(window) - WINDOW_KEYS:
        raise InvalidInput(shape)
    out: dict[str, Any] = {}
    if "rows" in window:
        if not _positive_int(window["rows"]):
            raise InvalidInput(f"window rows must be a positive integer, not {window['rows']!r}")
        out["rows"] = window["rows"]
    if "last" in window:
        if "since" in window or "until" in window:
            raise InvalidInput("a window has 'last' or 'since'/'until', not both")
        duration_ms(window["last"])
        out["last"] = str(window["last"])
    for key in ("since", "until"):
        if key in window:
            out[key] = _time(window[key], key)
    if "since" in out and "until" in out and out["since"] >= out["until"]:
        raise InvalidInput(f"window since ({window['since']}) must be before until ({window['until']})")
    timed = {"last", "since", "until"} & set(out)
    if "timestamp" in window:
        if not isinstance(window["timestamp"], str) or not window["timestamp"]:
            raise InvalidInput(f"window timestamp must name a time column, not {window['timestamp']!r}")
        out["timestamp"] = window["timestamp"]
    elif timed and not watch.startswith("deployment:"):
        raise InvalidInput("a time window over a dataset or file needs 'timestamp': its time column")
    return out


def duration_ms(text: Any) -> int:
    """``30s``, ``15m``, ``24h``, ``7d``, ``2w`` in milliseconds.

    Raises:
        InvalidInput: anything else.
    """
    match = re.fullmatch(r"(\d+)([smhdw])", str(text).strip()) if isinstance(text, str | int) else None
    if match is None or int(match.group(1)) == 0:
        raise InvalidInput(f"window last must be a duration like 30m, 24h, 7d or 2w, not {text!r}")
    return int(match.group(1)) * _DURATION[match.group(2)]


def time_range(window: dict[str, Any], now: int) -> tuple[int | None, int | None]:
    """The window's ``[since, until)`` in epoch ms (None: unbounded) at time ``now`` (``last``
    ends at ``now``, included)."""
    if "last" in window:
        return now - duration_ms(window["last"]), now + 1
    return window.get("since"), window.get("until")


def _time(value: Any, key: str) -> int:
    if isinstance(value, dt.datetime):
        value = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        return int(value.timestamp() * 1000)
    if isinstance(value, dt.date):  # YAML reads 2026-01-01 as a date
        return int(dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC).timestamp() * 1000)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str):
        return parse_time(value)
    raise InvalidInput(f"window {key} must be a time (ISO 8601 or epoch milliseconds), not {value!r}")


def drift_spec(check: dict[str, Any]) -> DriftSpec:
    """The :class:`DriftSpec` of a drift check."""
    return DriftSpec.build(check.get("method"), check.get("threshold"), check.get("columns"),
                           check.get("correction"), check.get("drift_share", 0.5))


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _performance_check(check: dict[str, Any]) -> None:
    name, metric = check["name"], check.get("metric")
    if not isinstance(metric, str):
        raise InvalidInput(f"performance check {name!r} needs 'metric' (one of "
                           f"{', '.join(CLASSIFICATION + REGRESSION)})")
    problem_of(metric)  # an unknown metric, named
    if not isinstance(check.get("target"), str) or not check["target"]:
        raise InvalidInput(f"performance check {name!r} needs 'target': the label column")
    for key in ("minimum", "maximum", "max_drop"):
        if key in check and not _number(check[key]):
            raise InvalidInput(f"{key} of performance check {name!r} must be a number, not {check[key]!r}")
    if "max_drop" in check and check["max_drop"] < 0:
        raise InvalidInput(f"max_drop of performance check {name!r} must be >= 0, not {check['max_drop']!r}")
    lower_better = metric in LOWER_IS_BETTER
    if "minimum" in check and lower_better:
        raise InvalidInput(f"performance check {name!r}: {metric} rises when a model gets worse; give it a "
                           "'maximum', not a 'minimum'")
    if "maximum" in check and not lower_better:
        raise InvalidInput(f"performance check {name!r}: {metric} falls when a model gets worse; give it a "
                           "'minimum', not a 'maximum'")
    if check.get("source", "auto") not in SOURCES:
        raise InvalidInput(f"source of performance check {name!r} must be one of {', '.join(SOURCES)}, "
                           f"not {check['source']!r}")
    if check.get("source") == "estimated" and metric not in ESTIMABLE[problem_of(metric)]:
        raise InvalidInput(f"performance check {name!r}: {metric} cannot be estimated without labels "
                           f"(estimable: {', '.join(ESTIMABLE[problem_of(metric)])})")
    if not _positive_int(check.get("min_labels", 1)):
        raise InvalidInput(f"min_labels of performance check {name!r} must be a positive integer, "
                           f"not {check['min_labels']!r}")
    if check.get("against", "reference") not in AGAINST:
        raise InvalidInput(f"against of performance check {name!r} must be one of {', '.join(AGAINST)}, "
                           f"not {check['against']!r}")
    if "model" in check and (not isinstance(check["model"], str) or not check["model"]):
        raise InvalidInput(f"model of performance check {name!r} must be a model reference (name/3, "
                           f"name@alias), not {check['model']!r}")


def _check(check: Any) -> dict[str, Any]:
    if not isinstance(check, dict) or check.get("type") not in CHECK_TYPES:
        raise InvalidInput(f"a check needs 'type' (one of {', '.join(CHECK_TYPES)}); got {check!r}")
    unknown = set(check) - _CHECK[check["type"]]
    if unknown:
        raise InvalidInput(f"unknown key(s) {sorted(unknown)} in {check['type']} check; allowed: "
                           f"{sorted(_CHECK[check['type']])}")
    out = {"name": check_name(check.get("name", check["type"]), "check name"), **check}
    if check["type"] == "drift":
        if "max_share" in check and (not isinstance(check["max_share"], int | float) or isinstance(check["max_share"], bool)
                                     or not 0 <= check["max_share"] < 1):
            raise InvalidInput(f"max_share must be a number in [0, 1), not {check['max_share']!r}")
        drift_spec(out)  # the method names, thresholds and correction are checked when the data is known
    if check["type"] == "performance":
        _performance_check(out)
    columns = check.get("columns")
    if columns is not None and (not isinstance(columns, list) or not all(isinstance(c, str) for c in columns)):
        raise InvalidInput(f"columns must be a list of column names, not {columns!r}")
    return out
