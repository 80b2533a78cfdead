"""The schedules-and-triggers half of ``ws.pipelines``: create, list, update, enable, disable,
delete, each validated exactly as ``ws.pipelines.run`` validates a run.

A schedule or trigger is refused unless its pipeline resolves here, where the user typed its
reference, and its parameters parse against it (the pipeline is built with them, as ``run``
does, with the trigger's event parameter set to a sample event). Its source file is then stored
by digest (see :mod:`slipway.pipelines.sources`), so the scheduler runs the same code from any
folder or host, and can never be made to load a file of its own host.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from slipway.core.errors import InvalidInput, NotFound
from slipway.pipelines.backend_events import check_pipeline_ref
from slipway.pipelines.cron import check_cron
from slipway.pipelines.dsl import Pipeline
from slipway.pipelines.loader import load_pipeline, pipeline_ref
from slipway.pipelines.records import Firing, PipelineRun, Schedule, Trigger
from slipway.pipelines.sources import load_stored, parse_stored, store_source

if TYPE_CHECKING:
    from slipway.pipelines.backend import PipelineBackend


class SchedulesMixin:
    _host: Any
    _backend: PipelineBackend

    # -- validation ----------------------------------------------------------------------------
    def _in_project(self) -> dict[str, str]:
        """``project=`` for a call that makes a run, schedule or trigger: the workspace's project
        when it is not the default (calls in the default project stay as they were)."""
        chosen = self._host.settings.project
        return {"project": chosen} if chosen and chosen != "default" else {}

    def _load(self, ref: str) -> Pipeline:
        """The pipeline ``ref`` names: a stored source, or a file or module reference."""
        if parse_stored(ref):
            return load_stored(ref, self._host.blobs, self._host.settings.home.resolve() / "pipeline-sources")
        return load_pipeline(ref)

    def _prepare(self, pipeline: Pipeline | str, params: dict[str, Any] | None,
                 sample: dict[str, Any] | None = None) -> tuple[str, str, dict[str, Any]]:
        """Resolve, validate and store ``pipeline``: ``(stored reference, origin, parsed params)``.

        Raises:
            InvalidInput: the pipeline does not resolve, or ``params`` do not parse against it.
            NotFound: the pipeline's file or module does not exist.
        """
        if isinstance(pipeline, str):
            pipe = self._load(pipeline if parse_stored(pipeline) else check_pipeline_ref(pipeline))
            origin = pipeline
        elif isinstance(pipeline, Pipeline):
            pipe, origin = pipeline, pipeline_ref(pipeline)
        else:
            raise InvalidInput(f"expected a @pipeline function or a 'file.py:name' reference, got {pipeline!r}")
        parsed = self._parse(pipe, params, sample)
        ref = pipeline if isinstance(pipeline, str) and parse_stored(pipeline) else store_source(self._host.blobs, pipe)
        return ref, origin, parsed

    @staticmethod
    def _parse(pipe: Pipeline, params: dict[str, Any] | None, sample: dict[str, Any] | None) -> dict[str, Any]:
        """``params`` parsed against ``pipe`` (as ``run`` parses them), after building it with them."""
        params = dict(params or {})
        if not all(isinstance(k, str) for k in params):
            raise InvalidInput(f"parameter names must be strings, got {sorted(map(repr, params))}")
        taken = sorted(set(params) & set(sample or {}))
        if taken:
            raise InvalidInput(f"parameter {taken[0]!r} receives the trigger's event; it cannot be set as well")
        pipe.build({**params, **(sample or {})})
        resolved = pipe.resolve_params({**params, **(sample or {})})
        return {key: resolved[key] for key in params}

    def _source_of(self, name: str) -> tuple[str, Schedule | Trigger]:
        for schedule in self._backend.list_schedules():
            if schedule.name == name:
                return "schedule", schedule
        for trigger in self._backend.list_triggers():
            if trigger.name == name:
                return "trigger", trigger
        raise NotFound(f"no schedule or trigger is named {name!r}; see 'slipway pipelines schedules'")

    @staticmethod
    def _sample(trigger: Trigger, param: str | None = None) -> dict[str, Any]:
        event = f"{trigger.target}@1" if trigger.kind == "dataset" else "alert-id"
        return {param or trigger.param: event}

    # -- schedules -----------------------------------------------------------------------------
    def schedule(self, name: str, pipeline: Pipeline | str, cron: str, params: dict[str, Any] | None = None,
                 runner: str = "inprocess", catchup: bool = False) -> Schedule:
        """Run ``pipeline`` (a :class:`Pipeline` or a ``file.py:name``/``module:name`` reference)
        whenever ``cron`` (UTC) matches, via ``slipway scheduler``. Its source is stored now.

        Raises:
            InvalidInput: a bad cron expression, pipeline reference or parameter.
            NotFound: the pipeline's file or module does not exist.
            AlreadyExists: a schedule or trigger of that name exists.
        """
        check_cron(cron)
        ref, origin, parsed = self._prepare(pipeline, params)
        return self._backend.create_schedule(name, ref, cron, parsed, runner, catchup, origin, **self._in_project())

    def update_schedule(self, name: str, pipeline: Pipeline | str | None = None, cron: str | None = None,
                        params: dict[str, Any] | None = None, runner: str | None = None,
                        catchup: bool | None = None) -> Schedule:
        """Change a schedule; ``params`` replaces its parameters. A new ``pipeline`` is stored
        again; either is validated as :meth:`schedule` validates."""
        if cron is not None:
            check_cron(cron)
        current = self._backend.list_schedules()
        found = next((s for s in current if s.name == name), None)
        if found is None:
            raise NotFound(f"schedule {name!r} does not exist")
        ref = origin = None
        if pipeline is not None or params is not None:
            ref, origin, parsed = self._prepare(pipeline if pipeline is not None else found.pipeline,
                                                params if params is not None else found.params)
            if pipeline is None and parse_stored(found.pipeline):
                ref = origin = None  # unchanged (one stored before stored sources is stored now)
            params = parsed if params is not None else None
        return self._backend.update_schedule(name, ref, cron, params, runner, catchup, origin)

    # -- triggers ------------------------------------------------------------------------------
    def on_dataset(self, name: str, dataset: str, pipeline: Pipeline | str, params: dict[str, Any] | None = None,
                   param: str = "dataset", runner: str = "inprocess") -> Trigger:
        """Run ``pipeline`` once per new version of ``dataset`` (those added after this call), with
        ``param`` set to ``"dataset@version"``."""
        ref, origin, parsed = self._prepare(pipeline, params, {param: f"{dataset}@1"})
        baseline = self._latest_version(dataset)
        return self._backend.create_trigger(name, "dataset", dataset, ref, parsed, param, runner, baseline,
                                            origin, **self._in_project())

    def on_alert(self, name: str, monitor: str, pipeline: Pipeline | str, params: dict[str, Any] | None = None,
                 param: str = "alert", runner: str = "inprocess") -> Trigger:
        """Run ``pipeline`` once per alert raised by ``monitor`` (see :meth:`notify_alert`)."""
        ref, origin, parsed = self._prepare(pipeline, params, {param: "alert-id"})
        return self._backend.create_trigger(name, "alert", monitor, ref, parsed, param, runner, None,
                                            origin, **self._in_project())

    def update_trigger(self, name: str, pipeline: Pipeline | str | None = None, params: dict[str, Any] | None = None,
                       param: str | None = None, runner: str | None = None) -> Trigger:
        """Change a trigger; ``params`` replaces its parameters; validated as on creation."""
        found = next((t for t in self._backend.list_triggers() if t.name == name), None)
        if found is None:
            raise NotFound(f"trigger {name!r} does not exist")
        ref = origin = None
        if pipeline is not None or params is not None or param is not None:
            ref, origin, parsed = self._prepare(pipeline if pipeline is not None else found.pipeline,
                                                params if params is not None else found.params,
                                                self._sample(found, param))
            if pipeline is None and parse_stored(found.pipeline):
                ref = origin = None  # unchanged (one stored before stored sources is stored now)
            params = parsed if params is not None else None
        return self._backend.update_trigger(name, ref, params, param, runner, origin)

    def notify_alert(self, monitor: str, alert_id: str) -> list[PipelineRun]:
        """Queue one run per alert trigger on ``monitor`` (each at most once per alert); the
        scheduler executes them."""
        queued = []
        for trigger in self._backend.list_triggers(kind="alert", target=monitor):
            if trigger.enabled:
                run = self._backend.claim_firing(trigger.id, alert_id, pipeline_name(trigger.pipeline))
                if run is not None:
                    queued.append(run)
        return queued

    # -- either --------------------------------------------------------------------------------
    def disable(self, name: str) -> Schedule | Trigger:
        """Stop a schedule or trigger from firing until :meth:`enable`; its runs already queued still run."""
        kind, _ = self._source_of(name)
        if kind == "schedule":
            return self._backend.set_schedule_enabled(name, False)
        return self._backend.set_trigger_enabled(name, False)

    def enable(self, name: str) -> Schedule | Trigger:
        """Let a schedule or trigger fire again: from now on (fire times and dataset versions that
        passed while it was disabled do not fire)."""
        kind, found = self._source_of(name)
        if kind == "schedule":
            return self._backend.set_schedule_enabled(name, True)
        assert isinstance(found, Trigger)
        baseline = self._latest_version(found.target) if found.kind == "dataset" else None
        return self._backend.set_trigger_enabled(name, True, baseline)

    def delete(self, name: str) -> Schedule | Trigger:
        """Delete a schedule or trigger (its past runs and firings stay)."""
        kind, _ = self._source_of(name)
        if kind == "schedule":
            return self._backend.delete_schedule(name)
        return self._backend.delete_trigger(name)

    def list_schedules(self) -> list[Schedule]:
        """Schedules by name, each with ``next_fire_ms`` (None while disabled)."""
        return self._backend.list_schedules()

    def list_triggers(self) -> list[Trigger]:
        return self._backend.list_triggers()

    def list_firings(self, source_id: str | None = None, limit: int = 100) -> list[Firing]:
        return self._backend.list_firings(source_id, limit)

    def _latest_version(self, dataset: str) -> int | None:
        from slipway.pipelines.dataset_events import latest_version

        return latest_version(self._host, dataset)


def pipeline_name(ref: str) -> str:
    """The pipeline name a reference ends with (``stored:<digest>:retrain`` -> ``retrain``)."""
    return ref.rpartition(":")[2].rpartition(".")[2]
