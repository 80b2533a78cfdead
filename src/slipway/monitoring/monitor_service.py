"""``ws.monitoring``'s declarative monitors and alerts: apply, run, history, acknowledge, resolve.

The checks run next to the data (in the caller's process); the backend stores the run and its
alerts in one transaction (see :mod:`slipway.monitoring.backend`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from slipway.core.clock import now_ms
from slipway.core.errors import Conflict, InvalidInput
from slipway.core.hashing import hash_bytes
from slipway.monitoring import actions, lineage_reference
from slipway.monitoring.gauges import subject_of
from slipway.monitoring.labelled import TIMESTAMP
from slipway.monitoring.monitor_records import Alert, Monitor, MonitorRun
from slipway.monitoring.monitor_run import (
    PerformanceData,
    labelled_rows,
    read_window,
    rows_in_time,
    run_checks,
)
from slipway.monitoring.monitor_spec import drift_spec, parse_monitor, time_range
from slipway.monitoring.performance_check import problem_of

if TYPE_CHECKING:
    from slipway.monitoring.backend import MonitoringBackend


class MonitorsMixin:
    """Declarative monitors and alerts (see :mod:`slipway.monitoring.monitor_spec`)."""

    _ws: Any

    @property
    def _backend(self) -> MonitoringBackend:
        backend: MonitoringBackend = self._ws.backend("monitoring")
        return backend

    def apply(self, spec: dict[str, Any] | str | Path) -> Monitor:
        """Create or update a monitor from a spec (a mapping, YAML text or a YAML file).

        The spec is checked against its reference first (columns, methods, thresholds, a reference
        with no rows): a spec that does not fit is refused and nothing is stored.
        """
        if isinstance(spec, Path) or (isinstance(spec, str) and spec.endswith((".yaml", ".yml"))):
            path = Path(spec)
            if not path.is_file():
                raise InvalidInput(f"no such monitor spec file: {path}")
            spec = path.read_text()
        parsed = parse_monitor(spec)
        service: Any = self
        resolved = lineage_reference.resolve(self._ws, parsed)
        def fits(reference: Any) -> None:
            for check in resolved["checks"]:
                if check["type"] == "drift":
                    drift_spec(check).check(reference.kinds, list(reference.kinds))
                elif check["type"] == "performance" and check["target"] not in reference.kinds:
                    raise InvalidInput(f"performance check {check['name']!r}: the reference has no label column "
                                       f"{check['target']!r}; it has {sorted(reference.kinds)}")
                elif set(check.get("columns") or []) - set(reference.kinds):
                    raise InvalidInput(f"unknown column(s) {sorted(set(check['columns']) - set(reference.kinds))} in "
                                       f"check {check['name']!r}; the reference has {sorted(reference.kinds)}")

        fits(service.reference(resolved["reference"], parsed["kinds"] or None, check=fits))
        chosen = self._ws.settings.project  # a new monitor goes to the workspace's project
        return self._backend.apply(parsed, **({"project": chosen} if chosen and chosen != "default" else {}))

    def get_monitor(self, name: str) -> Monitor:
        return self._backend.get(name)

    def monitors(self) -> list[Monitor]:
        return self._backend.list_monitors()

    def delete_monitor(self, name: str) -> Monitor:
        """Stop a monitor, keeping its runs and alerts (see ``MonitoringBackend.delete``)."""
        return self._backend.delete(name)

    def run(self, name: str, progress: Callable[[int, int], None] | None = None, now: int | None = None) -> MonitorRun:
        """Run a monitor over its current window and record the run (alerts open for failing
        checks, once per check until resolved), then carry out the actions its new alerts fire
        (see :mod:`slipway.monitoring.actions`). The same window again returns the stored run and
        does nothing else.

        ``progress(rows_read, rows)`` is called as a deployment's payload segments stream in;
        ``now`` (epoch ms, the clock by default) is the time a ``last: 7d`` window ends at.
        """
        monitor = self.get_monitor(name)
        if monitor.deleted_ms is not None:
            raise Conflict(f"monitor {name!r} was deleted; apply its spec again to run it")
        spec = lineage_reference.resolve(self._ws, monitor.spec)
        service: Any = self
        current, window_key = read_window(self._ws, spec["watch"], spec["window"], progress, now)
        if "served" in spec:  # the same payload against another served version's training data is another run
            window_key = hash_bytes(f"{window_key}|{spec['served']}".encode())[:64]
        performance = {c["name"]: self._performance_data(spec, c, current, now)
                       for c in spec["checks"] if c["type"] == "performance"}
        if performance:  # labels arriving later make the same rows another window
            labels = ",".join(str(labelled_rows(d.current, c["target"])) for c in spec["checks"]
                              if (d := performance.get(c["name"])) is not None)
            window_key = hash_bytes(f"{window_key}|labels={labels}".encode())[:64]
        reference = service.reference(spec["reference"], spec["kinds"] or None)
        needs_table = any(c["type"] == "quality" for c in spec["checks"])
        result = run_checks(spec, reference, service.table(spec["reference"]) if needs_table else None, current,
                            performance)
        result["reference"] = spec["reference"]
        result["subject"] = subject_of(spec, current)
        failed = any(not c["passed"] for c in result["checks"])
        status = "alert" if failed and actions.wants(spec, "alert") else "ok"
        run: MonitorRun = self._backend.record_run(name, monitor.revision, window_key, status, result)
        if run.created:
            opened = {a.check_name: a.id for a in self.alerts(name) if a.first_run_id == run.id}
            actions.take(self._ws, name, spec, run, opened)
        return run

    def _performance_data(self, spec: dict[str, Any], check: dict[str, Any], window: Any,
                          now: int | None) -> PerformanceData:
        """A performance check's labelled reference and window (the rows of the monitor's window),
        with the model's outputs, and the model version's recorded metrics."""
        watch, model = spec["watch"], check.get("model")
        version = (self._ws.registry.resolve(model) if model
                   else lineage_reference.served_version(self._ws, watch) if watch.startswith("deployment:") else None)
        problem = problem_of(check["metric"])
        service: Any = self
        options = {"target": check["target"], "prediction": "prediction", "score": "score", "problem": problem}
        current = service._performance_table(watch, model, **options)
        since, until = time_range(spec["window"], now if now is not None else now_ms())
        if since is not None or until is not None:
            current = rows_in_time(current, spec["window"].get("timestamp", TIMESTAMP), since, until)[0]
        current = current.slice(max(0, current.num_rows - window.num_rows))
        reference_model = model or (f"{version.name}/{version.version}" if version is not None else None)
        reference = service._performance_table(spec["reference"], reference_model, **options)
        return PerformanceData(reference, current, dict(version.metrics or {}) if version is not None else {})

    def history(self, name: str, limit: int = 50) -> list[MonitorRun]:
        return self._backend.runs(name, limit)

    def alerts(self, monitor: str | None = None, state: str | None = None) -> list[Alert]:
        return self._backend.list_alerts(monitor, state)

    def acknowledge(self, alert_id: str, note: str = "") -> Alert:
        return self._backend.set_alert_state(alert_id, "acknowledged", note)

    def resolve(self, alert_id: str, note: str = "") -> Alert:
        return self._backend.set_alert_state(alert_id, "resolved", note)
