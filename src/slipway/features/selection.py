"""What a feature service (or a list of ``VIEW``/``VIEW:FEATURE``) selects, view by view."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

from slipway.core.errors import InvalidInput, NotFound
from slipway.features.records import FeatureDefinition

Get = Callable[[str, str], FeatureDefinition]


@dataclasses.dataclass(frozen=True)
class Selection:
    """The views to read (with the features taken from each), the on-demand views to run after,
    and the service it came from."""

    views: list[tuple[FeatureDefinition, list[str]]]
    on_demand: list[tuple[FeatureDefinition, list[str]]]
    service: FeatureDefinition | None

    @property
    def view_refs(self) -> list[str]:
        return [d.ref for d, _ in self.views]


def _add(chosen: dict[str, tuple[FeatureDefinition, list[str]]], definition: FeatureDefinition,
         names: Sequence[str]) -> None:
    _, taken = chosen.setdefault(definition.name, (definition, []))
    taken.extend(n for n in names if n not in taken)


def select_features(get: Get, features: str | Sequence[str]) -> Selection:
    """Resolve a feature service name, or ``VIEW`` / ``VIEW:FEATURE`` references (one or a list).

    Raises:
        NotFound: an unknown service or view. InvalidInput: a view has no such feature.
    """
    service = None
    refs: Sequence[str] = [features] if isinstance(features, str) else list(features)
    if isinstance(features, str) and ":" not in features:
        try:
            service = get("feature_service", features)
            refs = service.spec["features"]
        except NotFound:
            pass  # a view's name
    views: dict[str, tuple[FeatureDefinition, list[str]]] = {}
    on_demand: dict[str, tuple[FeatureDefinition, list[str]]] = {}
    for ref in refs:
        view_name, _, feature = str(ref).partition(":")
        try:
            definition, target = get("feature_view", view_name), views
        except NotFound:
            try:
                definition, target = get("on_demand_view", view_name), on_demand
            except NotFound:
                what = "feature service, feature view" if service is None and isinstance(features, str) else "feature view"
                raise NotFound(f"no {what} or on-demand view named {view_name!r}") from None
        known = [f["name"] for f in definition.spec["features"]]
        if feature and feature not in known:
            raise InvalidInput(f"view {view_name} has no feature {feature!r}; its features: {known}")
        _add(target, definition, [feature] if feature else known)
    for definition, _ in list(on_demand.values()):  # the views an on-demand view reads come along
        for source in definition.spec["sources"]:
            source_def = get("feature_view", source)
            _add(views, source_def, [])
    for name, (definition, taken) in list(views.items()):
        if not taken:  # read only for an on-demand view: take every feature (they are its inputs)
            views[name] = (definition, [f["name"] for f in definition.spec["features"]])
    return Selection(list(views.values()), list(on_demand.values()), service)


def join_keys(get: Get, view: FeatureDefinition) -> list[str]:
    keys: list[str] = []
    for entity in view.spec["entities"]:
        keys += [k for k in get("entity", entity).spec["join_keys"] if k not in keys]
    return keys


def run_on_demand(definition: FeatureDefinition, frame: Any) -> Any:
    """Run an on-demand view's function on a pandas frame; its declared features, or InvalidInput."""
    import numpy as np
    import pandas as pd

    namespace: dict[str, Any] = {"pd": pd, "np": np}
    spec = definition.spec
    try:
        exec(compile(spec["code"], f"<on-demand view {definition.name}>", "exec"), namespace)  # noqa: S102
        result = namespace[spec["function"]](frame)
    except Exception as err:  # user code
        raise InvalidInput(f"on-demand view {definition.name} failed: {type(err).__name__}: {err}") from err
    wanted = [f["name"] for f in spec["features"]]
    missing = [w for w in wanted if w not in getattr(result, "columns", [])]
    if missing:
        raise InvalidInput(f"on-demand view {definition.name} returned no column {missing}")
    return result[wanted]
