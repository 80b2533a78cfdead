"""A monitor's spec (YAML or a dict), checked and normalised before anything is stored::

    name: failures-inputs
    watch: deployment:failures        # or a dataset (name, name@3) or a Parquet/CSV file
    reference: ai4i@1                 # the training data (a deployment's default: see lineage_reference)
    window: {rows: 5000}              # the last rows of the watched data (optional)
    schedule: "*/10 * * * *"          # run by `slipway scheduler` (optional)
    checks:
      - {name: drift, type: drift, max_share: 0.0, method: {numeric: wasserstein}, columns: [...]}
      - {name: quality, type: quality, columns: [...]}
    actions: [alert, webhook, {type: pipeline, when: [drift], unless: [quality]}]   # see actions.py

A drift check fails when the share of drifted columns exceeds ``max_share`` (default: the
dataset-drift rule, ``share >= drift_share``); a quality check fails on any error finding.
"""

from __future__ import annotations

from typing import Any

from slipway.core.errors import InvalidInput
from slipway.core.names import check_name
from slipway.monitoring.actions import parse_actions
from slipway.monitoring.spec import DriftSpec

CHECK_TYPES = ("drift", "quality")
LINEAGE = "lineage"  # the reference a deployment monitor gets by default
_TOP = {"name", "watch", "reference", "window", "checks", "actions", "kinds", "schedule"}
_CHECK = {"drift": {"name", "type", "method", "threshold", "columns", "correction", "drift_share", "max_share"},
          "quality": {"name", "type", "columns"}}


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
            raise InvalidInput(f"monitor spec is not valid YAML: {err}") from err
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
    window = spec.get("window") or {}
    if not isinstance(window, dict) or set(window) - {"rows"} or not _positive_int(window.get("rows", 1)):
        raise InvalidInput(f"window must be {{rows: N}} with N a positive integer, not {window!r}")
    checks = spec.get("checks")
    if not isinstance(checks, list) or not checks:
        raise InvalidInput(f"monitor {name!r} needs a non-empty list of checks")
    parsed_checks = [_check(c) for c in checks]
    names = [c["name"] for c in parsed_checks]
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


def drift_spec(check: dict[str, Any]) -> DriftSpec:
    """The :class:`DriftSpec` of a drift check."""
    return DriftSpec.build(check.get("method"), check.get("threshold"), check.get("columns"),
                           check.get("correction"), check.get("drift_share", 0.5))


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


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
    columns = check.get("columns")
    if columns is not None and (not isinstance(columns, list) or not all(isinstance(c, str) for c in columns)):
        raise InvalidInput(f"columns must be a list of column names, not {columns!r}")
    return out
