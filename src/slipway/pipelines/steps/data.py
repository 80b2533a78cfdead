"""``validate_data``: load a dataset version and stop the pipeline on error-level anomalies."""

from __future__ import annotations

from typing import Any

from slipway.core.errors import InvalidInput, NotFound
from slipway.pipelines.context import StepContext
from slipway.pipelines.dsl import step


def _schema_state(context: StepContext, dataset: str, schema: Any = None, **_: Any) -> dict[str, Any] | None:
    """The stored schema revision the version is validated against, so a new schema invalidates
    the cached result (the version itself is pinned by the platform and keyed already)."""
    if schema is not None:
        return None
    data = context.workspace.data
    try:
        return {"schema_revision": data.schema(data.get_version(dataset).name).revision}
    except NotFound:
        return {"schema_revision": None}


def record_verdict(context: StepContext, dataset: str, schema: Any = None) -> dict[str, Any] | None:
    """Validate ``dataset`` with the platform and record the verdict where governance policies
    read it (``data_validation: required``); None when there is no schema to validate against.

    Runs when the step runs and when its outputs come from the cache, so the verdict is on record
    for every version a pipeline validated."""
    governance, data = context.workspace.governance, context.workspace.data
    version = data.get_version(dataset)
    if schema is None and not _has_schema(data, version.name):
        return None
    verdict: dict[str, Any] = governance.validate_data(version.ref, schema)
    return verdict


@step(local=True, datasets=("dataset",), cache_key_extra=_schema_state, on_cache_hit=record_verdict)
def validate_data(dataset: str, schema: Any = None, context: StepContext = None) -> Any:  # type: ignore[assignment]
    """Load ``dataset`` (``name`` for the latest version, or ``name@3``) as a pyarrow Table after
    validating it against ``schema`` (default: the dataset's stored schema).

    Fails, blocking everything downstream, when validation finds an error-level anomaly; warnings
    are printed to the step's log. The platform pins the version before the step runs and records
    it as read by this pipeline run and by every run and model made downstream of this step; the
    verdict is recorded for governance, on a cache hit too.
    """
    data = context.workspace.data
    version = data.get_version(dataset)
    verdict = record_verdict(context, version.ref, schema)
    if verdict is not None:
        anomalies = verdict.get("anomalies", [])
        for anomaly in anomalies:
            print(f"{anomaly['severity']}: {anomaly['kind']} {anomaly.get('column') or ''} {anomaly['detail']}".rstrip())
        errors = [a for a in anomalies if a["severity"] == "error"]
        if errors or not verdict.get("passed"):
            listed = "; ".join(f"{a['kind']} on {a.get('column') or 'table'}: {a['detail']}" for a in errors[:5])
            count = verdict.get("errors", len(errors))
            raise InvalidInput(f"dataset {version.ref} failed validation with {count} error(s): {listed}")
        print(f"{version.ref}: {verdict.get('rows')} rows valid ({len(anomalies)} warning(s))")
    else:
        print(f"{version.ref}: no schema stored for {version.name!r}; nothing to validate against")
    return data.load(version.ref)


def _has_schema(data: Any, name: str) -> bool:
    try:
        data.schema(name)
    except NotFound:
        return False
    return True
