"""Records: the frozen dataclasses that services return, and their JSON codec.

Records cross the HTTP boundary in remote mode, so each is registered by class name and encoded
with a ``"$r"`` tag; the client decodes them back into the same classes. A tag whose class was not
imported yet in this process (a fresh process reading a stored step output, say) is resolved by
importing the modules in :data:`RECORD_MODULES`, so decoding never depends on import order.
"""

from __future__ import annotations

import dataclasses
import importlib
import math
from typing import Any, TypeVar, dataclass_transform

import orjson

from slipway.core import fastpaths

T = TypeVar("T")
_REGISTRY: dict[str, type] = {}
# Every module of the package that defines records (tests/core/test_record_types.py keeps this
# complete). Imported lazily, the first time a tag is met whose class is not registered yet.
RECORD_MODULES = (
    "slipway.audit.records", "slipway.data.records", "slipway.deploy.records", "slipway.identity.users",
    "slipway.identity.backend_keys", "slipway.identity.projects",
    "slipway.governance.records", "slipway.webhooks.records", "slipway.lineage.records", "slipway.models.records",
    "slipway.features.records", "slipway.monitoring.monitor_records",
    "slipway.pipelines.gates", "slipway.pipelines.records", "slipway.registry.records",
    "slipway.store.leases", "slipway.store.ledger", "slipway.tracking.records",
)
_imported_all = False


@dataclass_transform(frozen_default=True)
def record(cls: type[T]) -> type[T]:
    """Make ``cls`` a frozen, slotted dataclass and register it for the wire codec.

    Raises:
        TypeError: another module already registered a record of the same name (the wire tag is
            the bare class name, so two would decode ambiguously).
    """
    data_cls = dataclasses.dataclass(frozen=True, slots=True)(cls)
    earlier = _REGISTRY.get(cls.__name__)
    if earlier is not None and earlier.__module__ != cls.__module__:
        raise TypeError(f"record {cls.__name__!r} of {cls.__module__} clashes with the one of {earlier.__module__}")
    _REGISTRY[cls.__name__] = data_cls
    return data_cls


def record_type(name: str) -> type | None:
    """The record class tagged ``name``, importing the record modules if it is not known yet."""
    global _imported_all
    found = _REGISTRY.get(name)
    if found is None and not _imported_all:
        for module in RECORD_MODULES:
            importlib.import_module(module)
        _imported_all = True
        found = _REGISTRY.get(name)
    return found


def to_wire(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        body = {f.name: to_wire(getattr(value, f.name)) for f in dataclasses.fields(value)}
        body["$r"] = type(value).__name__
        return body
    if isinstance(value, dict):
        return {str(k): to_wire(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_wire(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        # JSON has no NaN or infinity; orjson would send null.
        return {"$f": "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")}
    return value


def from_wire(value: Any) -> Any:
    if isinstance(value, dict):
        if len(value) == 1 and "$f" in value:
            return float(value["$f"].replace("Infinity", "inf"))
        name = value.get("$r")
        decoded = {k: from_wire(v) for k, v in value.items() if k != "$r"}
        cls = record_type(name) if isinstance(name, str) else None
        if cls is not None:
            fields = {f.name: f for f in dataclasses.fields(cls)}
            kwargs = {}
            for key, item in decoded.items():
                if key in fields:
                    kwargs[key] = tuple(item) if isinstance(item, list) and "tuple" in str(fields[key].type) else item
            return cls(**kwargs)
        return decoded
    if isinstance(value, list):
        return [from_wire(v) for v in value]
    return value


def dumps(value: Any) -> bytes:
    return orjson.dumps(to_wire(value), option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS)


def loads(data: bytes | str) -> Any:
    return from_wire(orjson.loads(data))


def _refuse(value: Any) -> Any:
    raise TypeError(type(value).__name__)


def _plain_json(value: Any) -> bytes | None:
    try:
        data = orjson.dumps(value, default=_refuse, option=orjson.OPT_PASSTHROUGH_DATACLASS)
    except TypeError:
        return None
    return None if b"null" in data else data


def dumps_fast(value: Any) -> bytes:
    """The same bytes as :func:`dumps`, without walking plain data in Python.

    Batches of metric points are lists of flat tuples; :func:`to_wire` visits every item of them.
    orjson encodes plain data (dicts with string keys, lists, tuples, str, int, float, bool, None)
    exactly as :func:`dumps` does, except non-finite floats, which it writes as ``null``. So each
    value of a top-level dict (a call's arguments) is tried with orjson alone, and falls back to
    :func:`dumps` when orjson meets anything else (a record, a set, a NumPy value) or writes a
    ``null`` (a nested None or a NaN: rare, and then decided safely by the full path). With the
    fast paths off (:mod:`slipway.core.fastpaths`) it is :func:`dumps`.
    """
    if not fastpaths.enabled():
        return dumps(value)
    fastpaths.took("records.dumps_fast")
    if isinstance(value, dict) and all(type(key) is str for key in value):
        parts = []
        for key, item in value.items():
            encoded = b"null" if item is None else (_plain_json(item) or dumps(item))
            parts.append(orjson.dumps(key) + b":" + encoded)
        return b"{" + b",".join(parts) + b"}"
    return _plain_json(value) or dumps(value)


def loads_fast(data: bytes | str) -> Any:
    """The same value as :func:`loads`; skips the :func:`from_wire` walk when nothing is tagged.

    Tags are the keys ``"$r"`` (a record) and ``"$f"`` (a non-finite float); a body without the
    text ``"$`` cannot hold one (a string value containing it just takes the full path). With the
    fast paths off (:mod:`slipway.core.fastpaths`) it is :func:`loads`.
    """
    if isinstance(data, str):
        data = data.encode()
    if b'"$' in data or not fastpaths.enabled():
        return from_wire(orjson.loads(data))
    fastpaths.took("records.loads_fast")
    return orjson.loads(data)


def as_plain(value: Any) -> Any:
    """A record (or a structure of them) as plain JSON-able data, for ``--json`` output."""
    plain = orjson.loads(orjson.dumps(to_wire(value), option=orjson.OPT_SERIALIZE_NUMPY))

    def strip(item: Any) -> Any:
        if isinstance(item, dict):
            return {k: strip(v) for k, v in item.items() if k != "$r"}
        if isinstance(item, list):
            return [strip(v) for v in item]
        return item

    return strip(plain)
