"""A deployment monitor's default reference: the training data lineage names for the served version.

The served version is the deployment's stable variant (or the variant the watch names,
``deployment:NAME/canary``); its training data is the dataset version its training run read (the
registry's snapshot of the run's lineage inputs, other than those logged as a ``reference``), and
its training schema is its signature's inputs: the columns the checks look at unless they name
their own.
"""

from __future__ import annotations

from typing import Any

from slipway.core.errors import NotFound

DEPLOYMENT = "deployment:"
_NOT_TRAINING = {"reference", "evaluation", "validation", "test"}


def served_version(ws: Any, watch: str) -> Any:
    """The model version a ``deployment:NAME[/VARIANT]`` watch serves (its stable variant by default)."""
    name, _, variant = watch[len(DEPLOYMENT):].partition("/")
    variants = ws.serving.get(name).variants
    chosen = [v for v in variants if v.name == variant] if variant else (
        sorted((v for v in variants if v.role == "stable"), key=lambda v: -v.weight)
        or [v for v in variants if v.role == "canary"])
    if not chosen:
        raise NotFound(f"deployment {name!r} has no variant {variant or 'stable'!r}")
    return ws.registry.get_version(chosen[0].model, chosen[0].version)


def training_data(version: Any) -> str:
    """The dataset version (``name@N``) that trained ``version``.

    Raises:
        NotFound: its run recorded no training input.
    """
    inputs = [d for d in version.datasets if d.get("context") not in _NOT_TRAINING]
    if not inputs:
        raise NotFound(f"lineage names no training data for {version.name}/{version.version}: its run logged no "
                       "dataset input; give the monitor a 'reference'")
    return f"{inputs[-1]['dataset']}@{inputs[-1]['version']}"


def input_columns(version: Any) -> list[str]:
    """The training schema's columns: the version's signature inputs (named ones only)."""
    return [str(i["name"]) for i in version.signature.get("inputs", []) if i.get("name")]


def resolve(ws: Any, spec: dict[str, Any]) -> dict[str, Any]:
    """``spec`` with a ``lineage`` reference made concrete (the served version's training data)
    and, for a deployment, the checks that name no columns limited to the training schema's
    inputs; any other spec unchanged. ``served`` names the version whose training data it is.

    The limit applies to a deployment watched against an explicit reference too: its payload log
    holds only the model's inputs (and predictions), so a reference such as ``ai4i@1`` with ids
    and labels would otherwise fail every run on the columns the requests never carry."""
    if not spec["watch"].startswith(DEPLOYMENT):
        return spec
    if spec["reference"] != "lineage":
        return _inputs_of_reference(ws, spec)
    version = served_version(ws, spec["watch"])
    columns = input_columns(version)
    checks = [c if c.get("columns") or not columns else {**c, "columns": columns} for c in spec["checks"]]
    return {**spec, "reference": training_data(version), "checks": checks,
            "served": f"{version.name}/{version.version}"}


def _inputs_of_reference(ws: Any, spec: dict[str, Any]) -> dict[str, Any]:
    """A deployment watched against an explicit reference: the checks that name no columns look at
    the served version's inputs the reference holds (unchanged when no deployment or signature
    says what those are, or the reference holds none of them)."""
    try:
        inputs = input_columns(served_version(ws, spec["watch"]))
    except NotFound:  # payload recorded for a deployment since removed, or never declared
        return spec
    held = set(ws.monitoring.reference(spec["reference"], spec["kinds"] or None).kinds)
    columns = [c for c in inputs if c in held]
    if not columns:
        return spec
    return {**spec, "checks": [c if c.get("columns") else {**c, "columns": columns} for c in spec["checks"]]}
