"""``ws.features``: definitions from a repository folder, training sets, materialisation, lookups.

Example::

    ws.features.apply("features/")                      # after ws.features.plan("features/")
    train = ws.features.training_set("fraud", entity_df, name="fraud-train")
    ws.features.materialize()
    ws.features.online("fraud", [{"customer_id": 42, "amount": 120.0}]).to_dict()
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from slipway.core.clock import iso, now_ms
from slipway.core.errors import InvalidInput
from slipway.features import training
from slipway.features.records import (
    FeatureDefinition,
    FeaturePlan,
    Materialization,
    OnlineFeatures,
    ViewStatus,
)
from slipway.features.repository import load_repository
from slipway.features.selection import Selection, run_on_demand, select_features
from slipway.features.sources import SourceReader, check_source
from slipway.store.context import Host


class FeaturesService:
    def __init__(self, host: Host) -> None:
        self._host = host
        self._backend: Any = host.backend("features")

    def _get(self, kind: str, name: str) -> FeatureDefinition:
        return self._backend.get(kind, name)

    def _reader(self, con: Any) -> SourceReader:
        data = self._host.service("data")
        return SourceReader(con, self._host.blobs, data.get_version)

    # -- definitions ----------------------------------------------------------------------------
    def _load(self, folder: str | os.PathLike[str]) -> list[dict[str, Any]]:
        """The folder's definitions, each view's source checked: it exists and has the columns."""
        specs = load_repository(folder)
        entity_keys = {s["name"]: s["join_keys"] for s in specs if s["kind"] == "entity"}
        with training.join_session(Path(self._host.settings.home), None) as (con, _):
            reader = self._reader(con)
            for spec in specs:
                if spec["kind"] != "feature_view":
                    continue
                keys = [k for e in spec["entities"] for k in entity_keys.get(e, [])]
                columns = [*keys, spec["timestamp"], *([spec["created_timestamp"]] if spec["created_timestamp"] else []),
                           *(f["name"] for f in spec["features"])]
                check_source(reader, spec["source"], columns, f"feature view {spec['name']}")
        return specs

    def plan(self, folder: str | os.PathLike[str], prune: bool = False) -> FeaturePlan:
        """What :meth:`apply` would change; nothing is written.

        Raises:
            InvalidInput: a bad definition (unknown entity, a feature with no type, a TTL that is
                not a duration, a source that does not exist or lacks a column).
        """
        return self._backend.plan(self._load(folder), prune)

    def apply(self, folder: str | os.PathLike[str], prune: bool = False, *, project: str | None = None) -> FeaturePlan:
        """Store the folder's definitions (see :meth:`FeaturesBackend.apply`); all or nothing. New
        definitions belong to ``project`` (default: the workspace's; e.g. ``platform`` for the
        platform team's shared views, which every project reads)."""
        chosen = project or self._host.settings.project
        return self._backend.apply(self._load(folder), prune, **({"project": chosen} if chosen != "default" else {}))

    def definitions(self, kind: str | None = None, history: bool = False) -> list[FeatureDefinition]:
        return self._backend.list_definitions(kind, history)

    def get(self, kind: str, name: str, version: int | None = None) -> FeatureDefinition:
        return self._backend.get(kind, name, version)

    # -- offline ----------------------------------------------------------------------------------
    def training_set(self, features: str | Sequence[str], entities: Any, *, timestamp: str = "event_timestamp",
                     name: str | None = None, created_before_row: bool = False, full_names: bool = False,
                     memory_limit: str | None = None, message: str = "") -> training.TrainingSet:
        """Point-in-time correct features for every row of ``entities``.

        Args:
            features: a feature service name, or a list of ``VIEW`` / ``VIEW:FEATURE``.
            entities: a DataFrame, an Arrow table, a Parquet/CSV path or a dataset reference, with
                the join keys, the ``timestamp`` column and any request data on-demand views need.
            name: store the result as the next version of this dataset, with lineage to the views,
                their source versions and the entity table (a service's set defaults to
                ``<service>-training``); without one, nothing is stored.
            created_before_row: only feature rows created at or before the entity row's time.
            memory_limit: DuckDB's memory limit (e.g. ``"2GB"``); past it the join spills to disk.

        Raises:
            InvalidInput: the entity table lacks a column, or two views share a feature name
                (use ``full_names``). NotFound: an unknown service, view or dataset.
        """
        selection = select_features(self._get, features)
        if name is None and selection.service is not None:
            name = f"{selection.service.name}-training"
        with training.join_session(Path(self._host.settings.home), memory_limit) as (con, scratch):
            reader = self._reader(con)
            lineage: dict[str, list[str]] = {}
            joins = training.plan_joins(self._get, reader, selection, full_names, lineage)
            entity_sources: list[str] = []
            relation = training.entity_relation(con, reader, entities, entity_sources)
            training._check_entities(con, relation, timestamp, joins, selection)
            out = scratch / "training.parquet" if name else None
            table = training.join(con, relation, timestamp, joins, selection, full_names, out, created_before_row,
                                  self._host.settings)
            if out is None:
                return training.TrainingSet(table, None, None)
            return self._record(name, out, entities, entity_sources, selection, lineage, message)

    def _record(self, name: str | None, out: Path, entities: Any, entity_sources: list[str], selection: Selection,
                lineage: dict[str, list[str]], message: str) -> training.TrainingSet:
        data = self._host.service("data")
        entity_ref = next((s.partition(":")[2] for s in entity_sources if s.startswith("dataset_version:")), None)
        if entity_ref is None:  # a table or a file: keep it, so the set traces back to its rows
            entity_ref = data.add(f"{name}-entities", entities if not isinstance(entities, str | Path) else Path(entities)).ref
        version = data.add(name, out, message=message or f"point-in-time join of {', '.join(selection.view_refs)}")
        self._backend.record_training_set(version.ref, selection.view_refs, [lineage[v] for v in selection.view_refs],
                                          entity_ref, selection.service.ref if selection.service else None)
        return training.TrainingSet(None, version, data.load)

    def snapshot(self, features: str | Sequence[str], at: dt.datetime | str | int | None = None, *,
                 timestamp: str = "event_timestamp", full_names: bool = False) -> training.TrainingSet:
        """Every entity the views know, with its features as of ``at`` (default: now); not stored."""
        at_ms = now_ms() if at is None else _as_ms(at)
        selection = select_features(self._get, features)
        with training.join_session(Path(self._host.settings.home), None) as (con, _):
            reader = self._reader(con)
            joins = training.plan_joins(self._get, reader, selection, full_names, {})
            relation = training.snapshot_entities(joins, iso(at_ms), timestamp)
            table = training.join(con, relation, timestamp, joins, selection, full_names, None, False,
                                  self._host.settings)
            return training.TrainingSet(table, None, None)

    # -- online -----------------------------------------------------------------------------------
    def materialize(self, views: Sequence[str] | None = None, *, end: dt.datetime | str | int | None = None,
                    incremental: bool = True, chunk_rows: int = 50_000) -> list[Materialization]:
        """Write each view's latest values per entity into the online store (see
        :meth:`FeaturesBackend.materialize`); all online views when ``views`` is None."""
        names = list(views) if views else [d.name for d in self.definitions("feature_view") if d.spec.get("online", True)]
        end_ms = None if end is None else _as_ms(end)
        return [self._backend.materialize(n, end_ms, incremental, chunk_rows) for n in names]

    def online(self, features: str | Sequence[str], entities: Sequence[dict[str, Any]] | dict[str, Sequence[Any]],
               at_ms: int | None = None) -> OnlineFeatures:
        """The online values of ``features`` (a service or view references) for ``entities`` (a list
        of key mappings, or columns), each with its status; on-demand views run here on them."""
        rows = _rows(entities)
        result: OnlineFeatures = self._backend.online(features, rows, at_ms)
        on_demand = [f for f in result.features if f not in result.values]
        if not on_demand:
            return result
        return _apply_on_demand(result, select_features(self._get, features), rows)

    def status(self) -> list[ViewStatus]:
        """Every feature view with its online freshness."""
        return self._backend.status(at_ms=None)

    def profile(self, view: str) -> dict[str, Any]:
        """The data profile of what the latest materialisation of ``view`` wrote (``{}``: none yet)."""
        return self._backend.profile(view)

    def impact(self, view: str) -> dict[str, list[str]]:
        """What changing ``view`` affects: training sets, runs, model versions, deployments (every
        version of the view), grouped by kind."""
        lineage = self._host.backend("lineage")
        grouped: dict[str, list[str]] = {}
        versions = [d for d in self.definitions("feature_view", history=True) if d.name == view]
        if not versions:
            self._get("feature_view", view)  # NotFound with the usual message
        for definition in versions:
            found = lineage.impact("feature_view", definition.ref)
            for kind, ids in found.items():
                grouped.setdefault(kind, [])
                grouped[kind] += [i for i in ids if i not in grouped[kind]]
        return grouped


def _as_ms(value: dt.datetime | str | int) -> int:
    from slipway.core.clock import parse_time

    if isinstance(value, dt.datetime):
        return int((value if value.tzinfo else value.replace(tzinfo=dt.UTC)).timestamp() * 1000)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        return parse_time(value)
    raise InvalidInput(f"not a time: {value!r}")


def _rows(entities: Sequence[dict[str, Any]] | dict[str, Sequence[Any]]) -> list[dict[str, Any]]:
    if isinstance(entities, dict):
        columns = list(entities)
        return [dict(zip(columns, values, strict=True)) for values in zip(*entities.values(), strict=True)]
    return [dict(e) for e in entities]


def _apply_on_demand(result: OnlineFeatures, selection: Selection, rows: list[dict[str, Any]]) -> OnlineFeatures:
    import pandas as pd

    frame = pd.DataFrame({**{k: [r.get(k) for r in rows] for k in {k for r in rows for k in r}}, **result.values})
    values, status = dict(result.values), dict(result.status)
    for definition, names in selection.on_demand:
        computed = run_on_demand(definition, frame)
        for name in names:
            values[name] = computed[name].tolist()
            status[name] = ["present" if v is not None and v == v else "missing" for v in values[name]]
    return OnlineFeatures(result.entities, result.features, values, status)

