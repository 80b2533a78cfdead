"""The feature backend's online half: materialisation runs, lookups with per-value status, and
the freshness of each view. Materialisation runs where the backend runs (the server, in remote
mode), next to the online store it writes."""

from __future__ import annotations

import dataclasses
import operator
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import select

from slipway.core.auth import endpoint
from slipway.core.clock import now_ms
from slipway.core.errors import InvalidInput
from slipway.core.events import Action, Subject
from slipway.core.ids import new_id
from slipway.data.profile import TableProfile, profiles_from_bytes, profiles_to_bytes
from slipway.features.gauges import is_stale
from slipway.features.materialize import chunks, encode_keys, profile_table, window_query
from slipway.features.offline import connect
from slipway.features.online.base import open_online_store, store_uris
from slipway.features.records import FeatureDefinition, Materialization, OnlineFeatures, ViewStatus
from slipway.features.selection import join_keys, select_features
from slipway.features.sources import SourceReader
from slipway.store.context import ServiceContext
from slipway.store.schema.features import feature_materializations as states
from slipway.store.upsert import upsert

MAX_ENTITIES = 10_000
PLAN_CACHE_SECONDS = 1.0
# (store, online store, features) -> (expiry, plan): what a lookup reads, so a hot lookup does
# not query the metadata store; an apply in this process clears it.
_plans: dict[tuple[str, str, str], tuple[float, list[tuple[str, list[str], list[int], list[str], int | None]], list[str]]] = {}
_plans_lock = threading.Lock()


def _one(positions: list[int]) -> Callable[[Sequence[Any]], tuple[Any, ...]]:
    """Like ``itemgetter(*positions)`` but always a tuple (``itemgetter(i)`` gives the item)."""
    if not positions:
        return lambda row: ()
    position = positions[0]
    return lambda row: (row[position],)


def forget_plans() -> None:
    with _plans_lock:
        _plans.clear()


class OnlineMixin:
    ctx: ServiceContext
    get: Callable[..., FeatureDefinition]

    def _reader(self, con: Any) -> SourceReader:
        from slipway.data.backend import DataBackend

        data = DataBackend(self.ctx)

        def get_version(ref: str) -> Any:
            name, _, version = ref.partition("@")
            return data.get_version(name, int(version) if version and version != "latest" else None)

        return SourceReader(con, self.ctx.blobs, get_version)

    @endpoint("features.write")
    def materialize(self, view: str, end_ms: int | None = None, incremental: bool = True,
                    chunk_rows: int = 50_000) -> Materialization:
        """Write the latest row per entity of ``view`` with event time in (watermark, end] into the
        online store, ``chunk_rows`` keys at a time; resume an interrupted run first. Audited.

        Raises:
            NotFound: no such view. InvalidInput: a bad chunk size or a view not served online.
        """
        if isinstance(chunk_rows, bool) or not isinstance(chunk_rows, int) or not 1 <= chunk_rows <= 1_000_000:
            raise InvalidInput(f"chunk_rows must be a whole number from 1 to 1000000, got {chunk_rows!r}")
        definition = self.get("feature_view", view)
        if not definition.spec.get("online", True):
            raise InvalidInput(f"feature view {view} is not served online (online: false)")
        store = open_online_store(self.ctx.settings)
        with self.ctx.db.read() as conn:
            state = conn.execute(select(states).where(states.c.view == view)).first()
        same = state is not None and int(state.view_version) == definition.version
        cursor = store.cursor(definition.ref)
        if cursor is not None and same and state is not None and int(state.watermark_ms) >= cursor["end_ms"]:
            store.clear_cursor(definition.ref)  # finished and recorded; only the clean-up was cut off
            cursor = None
        resumed = cursor is not None
        resumed_after = int(cursor["rows"]) if cursor is not None else 0
        if cursor is None:
            start = int(state.watermark_ms) if incremental and same and state is not None else None
            cursor = {"start_ms": start, "end_ms": int(end_ms) if end_ms is not None else now_ms(),
                      "last_key": None, "rows": 0, "max_event_ms": None}
        home = Path(self.ctx.settings.home) / "features" / "tmp"
        home.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=home) as scratch:
            con = connect(scratch, self.ctx.settings.section("features").get("memory_limit"))
            try:
                relation = self._reader(con).relation(definition.spec["source"], [])
                query = window_query(relation, definition.spec, join_keys(self.get, definition), cursor["start_ms"],
                                     cursor["end_ms"], cursor["last_key"])
                profile: TableProfile | None = None
                for keys, event_ms, values in chunks(con, query, chunk_rows):
                    part = TableProfile.of(profile_table(definition.spec, event_ms, values))
                    profile = part if profile is None else profile.merge(part)
                    top = max(event_ms)
                    cursor = {**cursor, "last_key": keys[-1], "rows": cursor["rows"] + len(keys),
                              "max_event_ms": top if cursor["max_event_ms"] is None else max(top, cursor["max_event_ms"])}
                    store.write(definition.ref, keys, event_ms, values, cursor)
            finally:
                con.close()
        digest = self.ctx.blobs.put_bytes(profiles_to_bytes({view: profile})) if profile is not None else None
        result = Materialization(view, definition.version, cursor["start_ms"], cursor["end_ms"], cursor["rows"],
                                 0, cursor["max_event_ms"], resumed, resumed_after, digest)
        result = self._record_run(result, state if same else None)
        store.clear_cursor(definition.ref)
        return result

    def _record_run(self, run: Materialization, state: Any) -> Materialization:
        total = (int(state.total_rows) if state is not None else 0) + run.rows
        newest = run.max_event_ms
        if state is not None and state.max_event_ms is not None:
            newest = max(int(state.max_event_ms), newest or 0)
        # A run that wrote nothing keeps the profile of the latest run that wrote rows.
        profile = run.profile_digest or (state.profile_digest if state is not None else None)
        with self.ctx.db.write() as conn:
            upsert(conn, states, [{
                "id": new_id(), "view": run.view, "view_version": run.view_version, "watermark_ms": run.end_ms,
                "max_event_ms": newest, "rows": run.rows, "total_rows": total,
                "profile_digest": profile, "last_run_ms": now_ms(), "last_run_by": self.ctx.principal.name}],
                ["view"], ["view_version", "watermark_ms", "max_event_ms", "rows", "total_rows", "profile_digest",
                           "last_run_ms", "last_run_by"])
            self.ctx.audit(conn, Action.FEATURE_VIEW_MATERIALIZE, Subject.FEATURE_VIEW, f"{run.view}@{run.view_version}",
                           {"start_ms": run.start_ms, "end_ms": run.end_ms, "rows": run.rows, "resumed": run.resumed})
        return dataclasses.replace(run, total_rows=total, max_event_ms=newest)

    def _plan(self, features: str | Sequence[str]) -> tuple[list[tuple[str, list[str], list[int], list[str], int | None]], list[str]]:
        """Per view: its ref, join keys, the positions of the wanted features in the stored array,
        their output names and TTL; and every output feature name in order."""
        cache_key = (*store_uris(self.ctx.settings),
                     f"s:{features}" if isinstance(features, str) else f"j:{orjson.dumps(features).decode()}")
        found = _plans.get(cache_key)
        if found is not None and found[0] > time.monotonic():
            return found[1], found[2]
        selection = select_features(self.get, features)
        plan = []
        for definition, names in selection.views:
            stored = [f["name"] for f in definition.spec["features"]]
            plan.append((definition.ref, join_keys(self.get, definition), [stored.index(n) for n in names], names,
                         definition.spec.get("ttl_seconds")))
        order = [n for _, _, _, names, _ in plan for n in names] + [n for _, names in selection.on_demand for n in names]
        with _plans_lock:
            _plans[cache_key] = (time.monotonic() + PLAN_CACHE_SECONDS, plan, order)
        return plan, order

    @endpoint("read")
    def online(self, features: str | list[str], entities: list[dict[str, Any]], at_ms: int | None = None) -> OnlineFeatures:
        """The online values of ``features`` for ``entities`` (key mappings), each with a status:
        present, missing (never materialised) or expired (older than the view's TTL at ``at_ms``,
        default now: never served as fresh). On-demand features are listed but computed by the
        caller (:meth:`FeaturesService.online`)."""
        if not isinstance(entities, list) or not all(isinstance(e, dict) for e in entities):
            raise InvalidInput("entities must be a list of mappings of join key to value")
        if len(entities) > MAX_ENTITIES:
            raise InvalidInput(f"at most {MAX_ENTITIES} entities per lookup, got {len(entities)}")
        plan, order = self._plan(features)
        store = open_online_store(self.ctx.settings)
        now = now_ms() if at_ms is None else int(at_ms)
        values: dict[str, list[Any]] = {}
        status: dict[str, list[str]] = {}
        for ref, keys, positions, names, ttl in plan:
            missing_keys = [k for k in keys if any(k not in e for e in entities)]
            if missing_keys:
                raise InvalidInput(f"every entity needs the join key(s) {missing_keys} of view {ref}")
            found = store.read(ref, encode_keys(entities, keys))
            oldest = now - ttl * 1000 if ttl else None
            states_ = ["missing" if f is None else "expired" if oldest is not None and f[0] < oldest else "present"
                       for f in found]
            # Each entity's wanted values in one C call, then turned into columns by one zip: no
            # Python loop per feature (a lookup of 50 features for one entity is the hot case).
            pick = operator.itemgetter(*positions) if len(positions) > 1 else _one(positions)
            blank = (None,) * len(positions)
            rows = [pick(orjson.loads(f[1])) if s == "present" and f is not None else blank
                    for f, s in zip(found, states_, strict=True)]
            for name, column in zip(names, zip(*rows, strict=True) if rows else [()] * len(names), strict=True):
                values[name] = list(column)
                status[name] = states_
        return OnlineFeatures(entities, order, values, status)

    @endpoint("read")
    def profile(self, view: str) -> dict[str, Any]:
        """The data profile of what the latest materialisation of ``view`` that wrote rows wrote
        (its features and event time: count, nulls, distinct, min/max/mean/quantiles or top
        values); ``{}`` when the current version was never materialised or wrote nothing yet.

        Raises:
            NotFound: no such view.
        """
        self.get("feature_view", view)
        with self.ctx.db.read() as conn:
            state = conn.execute(select(states).where(states.c.view == view)).first()
        if state is None or not state.profile_digest:
            return {}
        table = profiles_from_bytes(self.ctx.blobs.read_bytes(state.profile_digest))[view]
        return {"view": view, "view_version": int(state.view_version), "watermark_ms": int(state.watermark_ms),
                "rows": table.rows, "columns": table.summary(), "digest": state.profile_digest}

    @endpoint("read")
    def status(self, at_ms: int | None = None) -> list[ViewStatus]:
        """Every current feature view and its freshness (stale: never materialised, or its
        watermark is older than its TTL)."""
        from slipway.features.backend import to_definition
        from slipway.store.schema.features import feature_definitions as defs

        now = now_ms() if at_ms is None else int(at_ms)
        with self.ctx.db.read() as conn:
            views = [to_definition(r) for r in conn.execute(select(defs).where(
                defs.c.kind == "feature_view", defs.c.current.is_(True)).order_by(defs.c.name))]
            found = {r.view: r for r in conn.execute(select(states))}
        out = []
        for view in views:
            state = found.get(view.name)
            if state is not None and int(state.view_version) != view.version:
                state = None
            ttl = view.spec.get("ttl_seconds")
            watermark = None if state is None else int(state.watermark_ms)
            stale = is_stale(ttl, watermark, now)
            out.append(ViewStatus(view.name, view.version, view.spec["entities"], len(view.spec["features"]), ttl,
                                  view.spec.get("owner", ""), watermark,
                                  None if state is None or state.max_event_ms is None else int(state.max_event_ms),
                                  None if state is None else int(state.last_run_ms), stale,
                                  view.spec.get("schedule")))
        return out
