"""Normalising and checking definitions: the one place that decides what a valid definition is.

A definition is a plain dict with a ``kind`` (``entity``, ``feature_view``, ``on_demand_view``,
``feature_service``) and a ``name``; :func:`normalise` checks one and returns its canonical form
(what is stored and compared); :func:`check_references` checks a set against each other and the
store. Every error is an :class:`InvalidInput` naming the definition and the offending value.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from slipway.core.errors import InvalidInput
from slipway.core.names import check_name

KINDS = ("entity", "feature_view", "on_demand_view", "feature_service")
DTYPES = ("int32", "int64", "float32", "float64", "string", "bool", "timestamp")
# What a compatible change may touch: anything else makes a new version.
METADATA = ("owner", "tags", "description", "schedule")
_TTL_RE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(w|d|h|m|s|ms)?\s*")
_UNITS = {"w": 604800.0, "d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001, None: 1.0}
SOURCE_TYPES = ("path", "dataset", "sql")


def parse_ttl(value: Any, where: str = "ttl") -> int | None:
    """A TTL in whole seconds (None: no TTL): ``"30d"``, ``"12h"``, ``"90m"``, ``"45s"``, ``"2w"``,
    a number of seconds or a :class:`datetime.timedelta`; 0 or None means no limit."""
    if value is None:
        return None
    if isinstance(value, dt.timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str) and (match := _TTL_RE.fullmatch(value)):
        seconds = float(match.group(1)) * _UNITS[match.group(2)]
    else:
        raise InvalidInput(f"{where} {value!r} is not a duration; write it like '30d', '12h', '90m' or '45s'")
    if seconds < 0:
        raise InvalidInput(f"{where} {value!r} is negative")
    return int(seconds) or None


def check_schedule(value: Any, where: str) -> str:
    """A five-field cron expression (when ``slipway scheduler`` materialises the view)."""
    from croniter import croniter

    if not isinstance(value, str) or len(value) > 100 or not croniter.is_valid(value):
        raise InvalidInput(f"{where}: schedule {str(value)[:100]!r} is not a cron expression "
                           "(e.g. '0 * * * *' for every hour)")
    return value


def _names(value: Any, what: str) -> list[str]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not all(isinstance(v, str) and v for v in items):
        raise InvalidInput(f"{what} must be a name or a list of names, got {value!r}")
    return list(items)


def _typed(value: Any, what: str) -> list[dict[str, str]]:
    """``{"name": "float64"}``, ``[{"name": ..., "dtype": ...}]`` or ``["name:float64"]`` as a list."""
    pairs: list[tuple[Any, Any]] = []
    if isinstance(value, Mapping):
        pairs = list(value.items())
    elif isinstance(value, list | tuple):
        for item in value:
            if isinstance(item, Mapping):
                pairs.append((item.get("name"), item.get("dtype", item.get("type"))))
            elif isinstance(item, str):
                name, _, dtype = item.partition(":")
                pairs.append((name.strip(), dtype.strip() or None))
            else:
                pairs.append((getattr(item, "name", item), getattr(item, "dtype", None)))
    else:
        raise InvalidInput(f"{what} must be a mapping of name to type or a list, got {value!r}")
    out = []
    for name, dtype in pairs:
        if not isinstance(name, str) or not name:
            raise InvalidInput(f"{what}: a feature has no name ({name!r})")
        if dtype is None or dtype == "":
            raise InvalidInput(f"{what}: feature {name!r} has no type; give one of {', '.join(DTYPES)}")
        if dtype not in DTYPES:
            raise InvalidInput(f"{what}: feature {name!r} has type {dtype!r}; use one of {', '.join(DTYPES)}")
        out.append({"name": name, "dtype": str(dtype)})
    if len({f["name"] for f in out}) != len(out):
        raise InvalidInput(f"{what}: a feature name is given twice")
    return out


def normalise_source(value: Any, where: str) -> dict[str, Any]:
    """``{"path": ...}``, ``{"dataset": "name@3"}`` (or ``"name"``: the latest), or
    ``{"sql": "SELECT ... FROM t", "inputs": {"t": <source>}}``."""
    if isinstance(value, str):
        value = {"path": value} if value.endswith((".parquet", ".csv")) or "/" in value else {"dataset": value}
    if not isinstance(value, Mapping):
        raise InvalidInput(f"{where}: source must be a path, a dataset or a SQL query, got {value!r}")
    if value.get("type") == "dataset" and value.get("ref"):  # already normalised
        value = {"dataset": value["ref"]}
    elif value.get("type") == "sql" and value.get("query"):
        value = {"sql": value["query"], "inputs": value.get("inputs")}
    if value.get("path"):
        return {"type": "path", "path": str(value["path"])}
    if value.get("dataset"):
        return {"type": "dataset", "ref": str(value["dataset"])}
    if value.get("sql"):
        inputs = value.get("inputs") or {}
        if not isinstance(inputs, Mapping) or not inputs:
            raise InvalidInput(f"{where}: a SQL source names its inputs, e.g. inputs: {{tx: {{path: tx.parquet}}}}")
        for alias in inputs:
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", str(alias)):
                raise InvalidInput(f"{where}: SQL input name {alias!r} must be an identifier")
        return {"type": "sql", "query": str(value["sql"]),
                "inputs": {str(k): normalise_source(v, f"{where} input {k}") for k, v in sorted(inputs.items())}}
    raise InvalidInput(f"{where}: missing source; give path:, dataset: or sql:")


def _common(spec: Mapping[str, Any], kind: str) -> dict[str, Any]:
    name = check_name(spec.get("name"), f"{kind.replace('_', ' ')} name")
    tags = spec.get("tags") or {}
    if not isinstance(tags, Mapping):
        raise InvalidInput(f"{kind} {name}: tags must be a mapping, got {tags!r}")
    return {"kind": kind, "name": name, "description": str(spec.get("description") or ""),
            "owner": str(spec.get("owner") or ""), "tags": {str(k): str(v) for k, v in sorted(tags.items())}}


def normalise(spec: Mapping[str, Any]) -> dict[str, Any]:
    """The canonical form of one definition, or InvalidInput saying what is wrong with it."""
    if not isinstance(spec, Mapping):
        raise InvalidInput(f"a definition must be a mapping, got {type(spec).__name__}")
    kind = spec.get("kind")
    if kind not in KINDS:
        raise InvalidInput(f"definition {spec.get('name')!r} has kind {kind!r}; use one of {', '.join(KINDS)}")
    out = _common(spec, str(kind))
    where = f"{kind.replace('_', ' ')} {out['name']}"
    if kind == "entity":
        out["join_keys"] = _names(spec.get("join_keys") or [out["name"]], f"{where}: join_keys")
    elif kind == "feature_view":
        out["entities"] = _names(spec.get("entities") or [], f"{where}: entities")
        if not out["entities"]:
            raise InvalidInput(f"{where}: name at least one entity")
        if spec.get("source") is None:
            raise InvalidInput(f"{where}: missing source; give path:, dataset: or sql:")
        out["source"] = normalise_source(spec["source"], where)
        out["timestamp"] = str(spec.get("timestamp") or "event_timestamp")
        out["created_timestamp"] = str(spec["created_timestamp"]) if spec.get("created_timestamp") else None
        out["ttl_seconds"] = parse_ttl(spec["ttl"] if "ttl" in spec else spec.get("ttl_seconds"), f"{where}: ttl")
        out["features"] = _typed(spec.get("features") or [], f"{where}")
        if not out["features"]:
            raise InvalidInput(f"{where}: list at least one feature with its type")
        out["online"] = bool(spec.get("online", True))
        if spec.get("schedule"):  # only when given: a definition without one keeps its stored form
            out["schedule"] = check_schedule(spec["schedule"], where)
    elif kind == "on_demand_view":
        out["sources"] = _names(spec.get("sources") or [], f"{where}: sources")
        out["request"] = _typed(spec.get("request") or [], f"{where} request data")
        out["features"] = _typed(spec.get("features") or [], f"{where}")
        if not out["features"]:
            raise InvalidInput(f"{where}: list at least one feature with its type")
        code, function = spec.get("code"), spec.get("function")
        if not isinstance(code, str) or not isinstance(function, str) or not code or not function:
            raise InvalidInput(f"{where}: needs the function's code and name (define it with @on_demand_view)")
        out["code"], out["function"] = code, function
    else:
        out["features"] = _names(spec.get("features") or [], f"{where}: features")
        if not out["features"]:
            raise InvalidInput(f"{where}: list the features (VIEW or VIEW:FEATURE) it serves")
    return out


def schema_digest(spec: Mapping[str, Any]) -> str:
    """What a compatible change keeps the same: everything but owner, tags and description."""
    body = {k: v for k, v in spec.items() if k not in METADATA}
    return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()


def check_references(specs: Iterable[Mapping[str, Any]]) -> None:
    """Every name a definition refers to is defined in ``specs`` (the set as it will be stored)."""
    by_kind: dict[str, dict[str, Mapping[str, Any]]] = {k: {} for k in KINDS}
    for spec in specs:
        by_kind[spec["kind"]][spec["name"]] = spec
    for view in by_kind["feature_view"].values():
        for entity in view["entities"]:
            if entity not in by_kind["entity"]:
                raise InvalidInput(f"feature view {view['name']}: unknown entity {entity!r}; "
                                   f"known: {sorted(by_kind['entity']) or 'none'}")
    for odv in by_kind["on_demand_view"].values():
        for source in odv["sources"]:
            if source not in by_kind["feature_view"]:
                raise InvalidInput(f"on demand view {odv['name']}: unknown feature view {source!r}")
    views = {**by_kind["feature_view"], **by_kind["on_demand_view"]}
    for service in by_kind["feature_service"].values():
        for ref in service["features"]:
            view_name, _, feature = ref.partition(":")
            if view_name not in views:
                raise InvalidInput(f"feature service {service['name']}: unknown view {view_name!r} in {ref!r}")
            if feature and feature not in {f["name"] for f in views[view_name]["features"]}:
                raise InvalidInput(f"feature service {service['name']}: view {view_name} has no feature {feature!r}")
