"""Schema inference and validation for the data service (kept apart to keep the facade small)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from slipway.core.errors import InvalidInput, NotFound
from slipway.data.access import manifest_of, table_entry
from slipway.data.records import SchemaRevision, ValidationReport
from slipway.data.refs import parse_ref
from slipway.data.schema import dump_schema, infer_schema, load_schema
from slipway.data.tables import as_arrow, read_table
from slipway.data.validate import validate_table

if TYPE_CHECKING:
    from slipway.data.service import DataService


def infer(service: DataService, ref: Any, table: str | None, save: bool) -> SchemaRevision:
    version = service.get_version(ref)
    path = table_entry(manifest_of(service._blobs, version), version, table).path
    profile = service.profile(version).get(path)
    loaded: pa.Table | None = None
    if profile is None:
        loaded = service.load(version, path)
        profile = _profile_of(loaded)
    candidates = [name for name, sketch in profile.columns.items() if _may_grow(sketch)]
    increasing: set[str] = set()
    if candidates:
        rows: pa.Table = loaded if loaded is not None else service.load(version, path)
        increasing = {name for name in candidates if name in rows.column_names and _increasing(rows[name])}
    body = dump_schema(infer_schema(profile, open_ended=set(version.key_columns) | increasing))
    if not save:
        return SchemaRevision(version.name, 0, body, version.version, 0, "")
    return service.save_schema(version.name, body, version.version)


def _may_grow(sketch: Any) -> bool:
    """Event times, and integer columns whose values look all distinct (record ids), may only grow."""
    if sketch.kind == "datetime":
        return True
    if sketch.kind != "numeric" or "int" not in sketch.arrow_type or not sketch.valid:
        return False
    return bool(sketch.summary()["distinct"] >= 0.95 * sketch.valid)


def _increasing(column: pa.ChunkedArray) -> bool:
    """Whether the column's non-null values never decrease in row order."""
    import numpy as np
    import pyarrow.compute as pc

    values = pc.drop_null(column).to_numpy() if column.null_count else column.to_numpy()
    if values.dtype.kind == "M":
        values = values.astype("int64")
    return bool(values.size > 1 and np.all(values[1:] >= values[:-1]))


def _profile_of(table: pa.Table) -> Any:
    from slipway.data.profile import TableProfile

    return TableProfile.of(table)


def _resolve_schema(service: DataService, schema: Any, default_dataset: str | None) -> dict[str, Any]:
    if isinstance(schema, dict):
        return load_schema(_dump(schema))
    if isinstance(schema, str | os.PathLike) and Path(schema).is_file():
        return load_schema(Path(schema).read_text())
    if isinstance(schema, str) and "\n" in schema:
        return load_schema(schema)
    name = schema if isinstance(schema, str) else default_dataset
    if name is None:
        raise InvalidInput("validating a file or table needs a schema: a YAML file, YAML text or a dataset name")
    try:
        return load_schema(service.schema(parse_ref(name)[0]).body)
    except NotFound as err:
        if schema is not None and not isinstance(schema, dict) and "@" not in str(schema):
            raise NotFound(f"schema {schema!r} is neither a YAML file nor a dataset with a schema: {err.message}") from err
        raise


def _dump(schema: dict[str, Any]) -> str:
    return dump_schema(schema)


def validate(service: DataService, target: Any, schema: Any, table: str | None, at_ms: int | None) -> ValidationReport:
    dataset: str | None = None
    if isinstance(target, str | os.PathLike) and Path(target).exists():
        path = Path(target)
        if path.is_dir():
            raise InvalidInput(f"{path} is a folder; validate one CSV or Parquet file")
        data, label = read_table(path, path.name), str(path)
    elif isinstance(target, os.PathLike) or (isinstance(target, str) and os.sep in target):
        raise NotFound(f"no file at {target}")  # a path (dataset names hold no '/'), so say that
    elif isinstance(target, str) or hasattr(target, "version"):
        version = service.get_version(target)
        data, label, dataset = service.load(version, table), version.ref, version.name
    else:
        data, label = as_arrow(target), "table"
    rules = _resolve_schema(service, schema, dataset)
    return ValidationReport(label, data.num_rows, validate_table(data, rules, at_ms))
