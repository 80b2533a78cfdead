"""``validate_data``: load a dataset version and stop the pipeline on error-level anomalies."""

from __future__ import annotations

from typing import Any

from slipway.core.errors import InvalidInput, NotFound
from slipway.pipelines.context import StepContext
from slipway.pipelines.dsl import step


def _dataset_state(context: StepContext, dataset: str, schema: Any = None, **_: Any) -> dict[str, Any]:
    """The version ``dataset`` resolves to now (``ai4i`` means the latest) and the schema revision,
    so a new version or a new schema invalidates the cached result."""
    data = context.workspace.data
    version = data.get_version(dataset)
    state: dict[str, Any] = {"version": version.ref, "digest": version.digest}
    if schema is None:
        try:
            state["schema_revision"] = data.schema(version.name).revision
        except NotFound:
            state["schema_revision"] = None
    return state


@step(local=True, cache_key_extra=_dataset_state)
def validate_data(dataset: str, schema: Any = None, context: StepContext = None) -> Any:  # type: ignore[assignment]
    """Load ``dataset`` (``name`` for the latest version, or ``name@3``) as a pyarrow Table after
    validating it against ``schema`` (default: the dataset's stored schema).

    Fails, blocking everything downstream, when validation finds an error-level anomaly; warnings
    are printed to the step's log. Records ``dataset_version --input_to--> pipeline_run``.
    """
    data = context.workspace.data
    version = data.get_version(dataset)
    context.touch("dataset_version", version.ref, "input_to")
    report = data.validate(version.ref, schema) if schema is not None or _has_schema(data, version.name) else None
    if report is not None:
        for anomaly in report.anomalies:
            print(f"{anomaly.severity}: {anomaly.kind} {anomaly.column or ''} {anomaly.detail}".rstrip())
        errors = [a for a in report.anomalies if a.severity == "error"]
        if errors:
            listed = "; ".join(f"{a.kind} on {a.column or 'table'}: {a.detail}" for a in errors[:5])
            raise InvalidInput(f"dataset {version.ref} failed validation with {len(errors)} error(s): {listed}")
        print(f"{version.ref}: {report.rows} rows valid ({len(report.anomalies)} warning(s))")
    else:
        print(f"{version.ref}: no schema stored for {version.name!r}; nothing to validate against")
    return data.load(version.ref)


def _has_schema(data: Any, name: str) -> bool:
    try:
        data.schema(name)
    except NotFound:
        return False
    return True
