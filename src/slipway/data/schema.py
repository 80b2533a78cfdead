"""Table schemas: inferred from a version's data, stored as YAML, edited by people.

A schema names each column's Arrow type, whether it is required, the share of nulls it may have,
a numeric range (the observed range widened by a margin) or a category domain, and for the table
a minimum row count and optionally a freshness rule::

    min_rows: 5000
    freshness: {column: event_time, max_age_days: 7}
    columns:
      Torque [Nm]: {type: double, required: true, max_null_share: 0.0, min: -3.5, max: 83.9}
      Type: {type: string, required: true, max_null_share: 0.0, categories: [H, L, M], max_unseen_share: 0.01}
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from slipway.core.clock import now_ms
from slipway.core.errors import InvalidInput
from slipway.core.yaml_errors import yaml_problem

if TYPE_CHECKING:  # the profile module pulls in Arrow and DataSketches; validation of YAML needs neither
    from slipway.data.profile import TableProfile

RANGE_MARGIN = 0.1  # widen the observed range by 10% of its width on each side
MAX_CATEGORIES = 50
DAY_MS = 86_400_000
# Arrow type names a schema may use: pyarrow's aliases plus the parameterised forms it prints.
_PARAMETERISED_TYPE = re.compile(
    r"(timestamp\[(s|ms|us|ns)(, tz=[^\]]+)?\]|date32\[day\]|date64\[ms\]|time32\[(s|ms)\]|time64\[(us|ns)\]"
    r"|duration\[(s|ms|us|ns)\]|decimal(32|64|128|256)\(\d+, ?-?\d+\)|(large_)?list<.+>|struct<.+>|dictionary<.+>"
    r"|fixed_size_binary\[\d+\])")
_COLUMN_KEYS = {"type", "required", "max_null_share", "min", "max", "categories", "max_unseen_share",
                "max_out_of_range_share"}


def infer_schema(profile: TableProfile, min_rows_share: float = 0.5,
                 open_ended: frozenset[str] | set[str] = frozenset()) -> dict[str, Any]:
    """A schema that the profiled table passes, with room for ordinary variation.

    Args:
        open_ended: columns that grow with every new batch (the dataset's key columns, increasing
            record ids, event times); they get a lower bound only, so next week's rows pass.
    """
    columns: dict[str, dict[str, Any]] = {}
    for name, sketch in profile.columns.items():
        spec: dict[str, Any] = {"type": sketch.arrow_type, "required": True}
        share = sketch.nulls / sketch.count if sketch.count else 0.0
        spec["max_null_share"] = 0.0 if share == 0 else round(min(1.0, share * 1.1 + 0.01), 4)
        summary = sketch.summary()
        if sketch.kind in ("numeric", "datetime") and sketch.min is not None and sketch.max is not None:
            margin = (sketch.max - sketch.min) * RANGE_MARGIN
            lo, hi = sketch.min - margin, sketch.max + margin
            if sketch.min >= 0 > lo:
                lo = 0.0  # a quantity never seen negative (counts, torque, ids) stays non-negative
            if sketch.kind == "numeric" and "int" in sketch.arrow_type:
                lo, hi = float(int(lo) - (lo < int(lo))), float(int(hi) + (hi > int(hi)))
            if name in open_ended:
                spec.update(min=round(max(lo, sketch.min if sketch.min < 0 else 0.0), 6), max_out_of_range_share=0.0)
            else:
                spec.update(min=round(lo, 6), max=round(hi, 6), max_out_of_range_share=0.0)
        elif sketch.kind == "categorical":
            items = [item for item, _ in summary.get("top", [])]
            distinct = summary["distinct"]
            if distinct <= MAX_CATEGORIES and distinct <= max(1, sketch.valid) * 0.5:
                # The top list is capped; the frequent-items sketch holds every value of a small domain.
                import datasketches as ds

                everything = sketch.freq.get_frequent_items(ds.frequent_items_error_type.NO_FALSE_POSITIVES)
                items = sorted(item[0] for item in everything)
                spec.update(categories=items, max_unseen_share=0.01)
        columns[name] = spec
    schema: dict[str, Any] = {"min_rows": int(profile.rows * min_rows_share), "columns": columns}
    for name, sketch in profile.columns.items():
        if sketch.kind == "datetime" and sketch.max is not None and now_ms() - sketch.max < 7 * DAY_MS:
            schema["freshness"] = {"column": name, "max_age_days": 7}
            break
    return schema


def dump_schema(schema: dict[str, Any]) -> str:
    import yaml  # on first use: PyYAML takes ~20 ms to import, which `data add` need not pay

    return yaml.safe_dump(schema, sort_keys=False, allow_unicode=True, width=120)


def load_schema(text: str) -> dict[str, Any]:
    """Parse and check a YAML schema.

    Raises:
        InvalidInput: it is not YAML, or a key or value is not one a schema has (named in the message).
    """
    import yaml

    try:
        body = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise InvalidInput(f"schema is not valid YAML: {yaml_problem(err)}") from err
    if not isinstance(body, dict) or not isinstance(body.get("columns"), dict):
        raise InvalidInput("a schema is a mapping with a 'columns' mapping of column name -> rules")
    unknown = set(body) - {"min_rows", "freshness", "columns"}
    if unknown:
        raise InvalidInput(f"unknown schema keys: {', '.join(sorted(unknown))}")
    if not isinstance(body.get("min_rows", 0), int) or body.get("min_rows", 0) < 0:
        raise InvalidInput(f"min_rows must be a non-negative integer, got {body.get('min_rows')!r}")
    freshness = body.get("freshness")
    if freshness is not None and (not isinstance(freshness, dict) or freshness.get("column") not in body["columns"]
                                  or not isinstance(freshness.get("max_age_days"), int | float)):
        raise InvalidInput("freshness must be {column: <a column of the schema>, max_age_days: <number>}")
    for name, spec in body["columns"].items():
        if not isinstance(spec, dict) or "type" not in spec:
            raise InvalidInput(f"column {name!r}: rules must be a mapping with at least 'type'")
        bad = set(spec) - _COLUMN_KEYS
        if bad:
            raise InvalidInput(f"column {name!r}: unknown rules {', '.join(sorted(bad))}")
        for key in ("min", "max", "max_null_share", "max_unseen_share", "max_out_of_range_share"):
            if key in spec and (isinstance(spec[key], bool) or not isinstance(spec[key], int | float)):
                raise InvalidInput(f"column {name!r}: {key} must be a number, got {spec[key]!r}")
        _check_type(name, spec["type"])
        if "min" in spec and "max" in spec and spec["min"] > spec["max"]:
            raise InvalidInput(f"column {name!r}: min {spec['min']!r} is above max {spec['max']!r}")
        for key in ("max_null_share", "max_unseen_share", "max_out_of_range_share"):
            if key in spec and not 0 <= spec[key] <= 1:
                raise InvalidInput(f"column {name!r}: {key} is a share between 0 and 1, got {spec[key]!r}")
        if "required" in spec and not isinstance(spec["required"], bool):
            raise InvalidInput(f"column {name!r}: required must be true or false, got {spec['required']!r}")
        if "categories" in spec and not isinstance(spec["categories"], list):
            raise InvalidInput(f"column {name!r}: categories must be a list, got {spec['categories']!r}")
    return body


def _check_type(column: str, type_name: Any) -> None:
    """Raise InvalidInput unless ``type_name`` is an Arrow type name (``int64``, ``timestamp[ms]``…)."""
    import pyarrow as pa

    if isinstance(type_name, str):
        try:
            pa.type_for_alias(type_name)
            return
        except (KeyError, ValueError):
            if _PARAMETERISED_TYPE.fullmatch(type_name):
                return
    raise InvalidInput(f"column {column!r}: type {type_name!r} is not an Arrow type name "
                       "(e.g. int64, double, string, bool, timestamp[ms], date32[day])")
