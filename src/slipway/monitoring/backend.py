"""The monitoring backend: monitors, their runs per window, and alerts with states.

Each public method is an API endpoint (embedded, or ``POST /api/v1/monitoring/<method>``).
The drift and quality numbers are computed by the caller (:class:`MonitoringService`, next to the
data); :meth:`MonitoringBackend.record_run` stores a run, opens or repeats its alerts and audits
them in one write transaction, so a run killed before it leaves nothing, and the same window
recorded twice (a re-run, or two schedulers at once) is one run and no duplicate alert.
"""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import Connection, Row, and_, select
from sqlalchemy.exc import IntegrityError

from slipway.core.auth import endpoint
from slipway.core.clock import now_ms
from slipway.core.errors import Conflict, InvalidInput, NotFound
from slipway.core.events import Action, Subject, WebhookEvent
from slipway.core.ids import new_id
from slipway.monitoring.actions import wants
from slipway.monitoring.monitor_records import Alert, Monitor, MonitorRun
from slipway.monitoring.monitor_spec import parse_monitor
from slipway.store.context import ServiceContext
from slipway.store.projects import (
    ProjectScope,
    alert_project,
    deployment_project,
    monitor_project,
    owning_project,
    readable,
    scoped_by,
)
from slipway.store.schema.monitoring import alerts, monitor_runs, monitors
from slipway.webhooks.outbox import emit

STATES = ("open", "acknowledged", "resolved")
_NEXT = {"open": {"acknowledged", "resolved"}, "acknowledged": {"resolved"}, "resolved": set()}
# A deleted monitor keeps its row (its runs and alerts point at it); the stored spec carries the
# time it was deleted under this key, which no spec can have (parse_monitor refuses unknown keys).
DELETED = "$deleted_ms"


def _monitor(row: Row[Any]) -> Monitor:
    spec = orjson.loads(row.spec)
    deleted = spec.pop(DELETED, None)
    return Monitor(row.name, int(row.revision), spec, int(row.created_ms), int(row.updated_ms), deleted, row.project)


def _run(row: Row[Any], name: str, created: bool = True) -> MonitorRun:
    return MonitorRun(row.id, name, int(row.revision), row.window_key, row.status, orjson.loads(row.result),
                      row.created_by, int(row.created_ms), created)


def _alert(row: Row[Any], name: str) -> Alert:
    return Alert(row.id, name, row.check_name, row.state, row.summary, int(row.occurrences), row.first_run_id,
                 row.last_run_id, int(row.opened_ms), int(row.updated_ms), row.updated_by, row.note)


def _spec_monitor(conn: Connection, spec: Any) -> set[str]:
    """The project of the monitor an ``apply`` spec names (none yet: it is created)."""
    return monitor_project(conn, spec.get("name")) if isinstance(spec, dict) else set()


# A project-scoped principal's call is authorised in the project of the monitor it names (an alert
# belongs to its monitor's; a diagnosis to its deployment's); listings show readable monitors only.
MONITORING_SCOPE = ProjectScope(
    {"name": monitor_project, "spec": _spec_monitor, "alert_id": alert_project, "deployment": deployment_project},
    listings=frozenset({"list_monitors", "list_alerts"}),
)


class MonitoringBackend:
    _projects_of = scoped_by(MONITORING_SCOPE)

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def _row(self, conn: Connection, name: str) -> Row[Any]:
        row = conn.execute(select(monitors).where(monitors.c.name == name)).first()
        if row is None:
            raise NotFound(f"no monitor named {name!r}")
        return row

    @endpoint("monitoring.write")
    def apply(self, spec: dict[str, Any], project: str | None = None) -> Monitor:
        """Create a monitor (in ``project``, default: the workspace's) or replace its spec (a new
        revision; it stays in its project); audited."""
        parsed = parse_monitor(spec)
        body = orjson.dumps(parsed).decode()
        with self.ctx.db.write() as conn:
            existing = conn.execute(select(monitors).where(monitors.c.name == parsed["name"])).first()
            now = now_ms()
            if existing is None:
                owner = owning_project(conn, project, self.ctx.settings.project)
                conn.execute(monitors.insert().values(id=new_id(), name=parsed["name"], spec=body, revision=1,
                                                      created_ms=now, updated_ms=now, project=owner))
            elif existing.spec != body:
                conn.execute(monitors.update().where(monitors.c.id == existing.id).values(
                    spec=body, revision=int(existing.revision) + 1, updated_ms=now))
            else:
                return _monitor(existing)
            row = self._row(conn, parsed["name"])
            self.ctx.audit(conn, Action.MONITOR_APPLY, Subject.MONITOR, parsed["name"], {"revision": int(row.revision)})
            return _monitor(row)

    @endpoint("read")
    def get(self, name: str) -> Monitor:
        with self.ctx.db.read() as conn:
            return _monitor(self._row(conn, name))

    @endpoint("read")
    def list_monitors(self) -> list[Monitor]:
        """The live monitors (a deleted one is left out; :meth:`get` still reads it)."""
        with self.ctx.db.read() as conn:
            query = readable(self.ctx.principal, select(monitors), monitors.c.project)
            found = [_monitor(r) for r in conn.execute(query.order_by(monitors.c.name))]
        return [m for m in found if m.deleted_ms is None]

    @endpoint("monitoring.write")
    def delete(self, name: str) -> Monitor:
        """Stop a monitor: a new revision marked deleted, so the scheduler no longer runs it and a
        run is refused; its open alerts are resolved. Its runs and alerts stay (evidence); applying
        a spec of the same name brings it back. Deleting a deleted monitor changes nothing.

        Raises:
            NotFound: no monitor of that name.
        """
        with self.ctx.db.write() as conn:
            row = self._row(conn, name)
            if _monitor(row).deleted_ms is not None:
                return _monitor(row)
            now = now_ms()
            spec = {**orjson.loads(row.spec), DELETED: now}
            conn.execute(monitors.update().where(monitors.c.id == row.id).values(
                spec=orjson.dumps(spec).decode(), revision=int(row.revision) + 1, updated_ms=now))
            closed = conn.execute(alerts.update().where(alerts.c.monitor_id == row.id, alerts.c.state != "resolved")
                                  .values(state="resolved", updated_ms=now, updated_by=self.ctx.principal.name,
                                          note="monitor deleted")).rowcount
            self.ctx.audit(conn, Action.MONITOR_DELETE, Subject.MONITOR, name,
                           {"revision": int(row.revision) + 1, "alerts_resolved": int(closed or 0)})
            return _monitor(self._row(conn, name))

    @endpoint("monitoring.write")
    def record_run(self, name: str, revision: int, window_key: str, status: str, result: dict[str, Any]) -> MonitorRun:
        """Store one run; open an alert per failing check unless one is already open or
        acknowledged for that check (then count the repeat). A window already recorded for this
        revision returns the stored run, and nothing else changes.

        Raises:
            Conflict: the monitor's spec changed since ``revision`` was read.
        """
        if status not in ("ok", "alert"):
            raise InvalidInput(f"run status must be ok or alert, not {status!r}")
        try:
            with self.ctx.db.write() as conn:
                monitor = self._row(conn, name)
                if DELETED in orjson.loads(monitor.spec):
                    raise Conflict(f"monitor {name!r} was deleted; apply its spec again to run it")
                if int(monitor.revision) != revision:
                    raise Conflict(f"monitor {name!r} is at revision {monitor.revision}, not {revision}; run it again")
                found = conn.execute(select(monitor_runs).where(and_(
                    monitor_runs.c.monitor_id == monitor.id, monitor_runs.c.revision == revision,
                    monitor_runs.c.window_key == window_key))).first()
                if found is not None:
                    return _run(found, name, created=False)
                run_id, now = new_id(), now_ms()
                conn.execute(monitor_runs.insert().values(
                    id=run_id, monitor_id=monitor.id, revision=revision, window_key=window_key, status=status,
                    result=orjson.dumps(result).decode(), created_by=self.ctx.principal.name, created_ms=now))
                failing = [c for c in result.get("checks", []) if not c.get("passed", True)]
                self.ctx.audit(conn, Action.MONITOR_RUN, Subject.MONITOR, name,
                               {"run": run_id, "status": status, "failing": [c["name"] for c in failing]})
                for check in failing:
                    self._raise_alert(conn, monitor, check, run_id, now)
                return _run(self._run_row(conn, run_id), name)
        except IntegrityError:  # the same window recorded at the same moment by another process
            with self.ctx.db.read() as conn:
                monitor = self._row(conn, name)
                row = conn.execute(select(monitor_runs).where(and_(
                    monitor_runs.c.monitor_id == monitor.id, monitor_runs.c.revision == revision,
                    monitor_runs.c.window_key == window_key))).one()
                return _run(row, name, created=False)

    def _run_row(self, conn: Connection, run_id: str) -> Row[Any]:
        return conn.execute(select(monitor_runs).where(monitor_runs.c.id == run_id)).one()

    def _raise_alert(self, conn: Connection, monitor: Row[Any], check: dict[str, Any], run_id: str, now: int) -> None:
        live = conn.execute(select(alerts).where(and_(
            alerts.c.monitor_id == monitor.id, alerts.c.check_name == check["name"],
            alerts.c.state != "resolved"))).first()
        summary = str(check.get("summary", ""))
        if live is not None:
            conn.execute(alerts.update().where(alerts.c.id == live.id).values(
                last_run_id=run_id, occurrences=int(live.occurrences) + 1, summary=summary, updated_ms=now))
            return
        alert_id = new_id()
        conn.execute(alerts.insert().values(
            id=alert_id, monitor_id=monitor.id, check_name=check["name"], state="open", summary=summary,
            first_run_id=run_id, last_run_id=run_id, occurrences=1, opened_ms=now, updated_ms=now,
            updated_by=self.ctx.principal.name, note=""))
        details: dict[str, Any] = {"monitor": monitor.name, "check": check["name"], "run": run_id, "summary": summary}
        if wants(orjson.loads(monitor.spec), "webhook"):  # queued with the alert, sent by the dispatcher
            details["webhook_deliveries"] = emit(conn, WebhookEvent.ALERT, {"alert": alert_id, **details})
        self.ctx.audit(conn, Action.ALERT_OPEN, Subject.ALERT, alert_id, details)

    @endpoint("monitoring.write")
    def record_action(self, name: str, details: dict[str, Any]) -> None:
        """Audit one action a monitor's alert fired (``monitor.action``, with its numbers)."""
        with self.ctx.db.write() as conn:
            self._row(conn, name)
            self.ctx.audit(conn, Action.MONITOR_ACTION, Subject.MONITOR, name, details)

    @endpoint("monitoring.write")
    def record_diagnosis(self, deployment: str, details: dict[str, Any]) -> None:
        """Audit a diagnosis (``monitor.diagnose``: its verdict, action and stored report's digest)."""
        with self.ctx.db.write() as conn:
            self.ctx.audit(conn, Action.MONITOR_DIAGNOSE, Subject.DEPLOYMENT, deployment, details)

    @endpoint("read")
    def runs(self, name: str, limit: int = 50) -> list[MonitorRun]:
        """The monitor's runs, newest first."""
        with self.ctx.db.read() as conn:
            monitor = self._row(conn, name)
            rows = conn.execute(select(monitor_runs).where(monitor_runs.c.monitor_id == monitor.id)
                                .order_by(monitor_runs.c.created_ms.desc(), monitor_runs.c.id.desc())
                                .limit(max(1, min(int(limit), 1000))))
            return [_run(r, name) for r in rows]

    @endpoint("read")
    def list_alerts(self, monitor: str | None = None, state: str | None = None) -> list[Alert]:
        """Alerts, newest first, optionally of one monitor and in one state."""
        if state is not None and state not in STATES:
            raise InvalidInput(f"unknown alert state {state!r}; one of {', '.join(STATES)}")
        with self.ctx.db.read() as conn:
            query = select(alerts, monitors.c.name.label("monitor_name")).join(monitors, alerts.c.monitor_id == monitors.c.id)
            query = readable(self.ctx.principal, query, monitors.c.project)
            if monitor is not None:
                query = query.where(alerts.c.monitor_id == self._row(conn, monitor).id)
            if state is not None:
                query = query.where(alerts.c.state == state)
            rows = conn.execute(query.order_by(alerts.c.opened_ms.desc(), alerts.c.id.desc()))
            return [_alert(r, r.monitor_name) for r in rows]

    @endpoint("monitoring.write")
    def set_alert_state(self, alert_id: str, state: str, note: str = "") -> Alert:
        """Acknowledge or resolve an alert (open -> acknowledged -> resolved; open -> resolved); audited.

        Raises:
            NotFound: no such alert. Conflict: the alert is already in or past that state.
        """
        if state not in ("acknowledged", "resolved"):
            raise InvalidInput(f"an alert can be set to acknowledged or resolved, not {state!r}")
        with self.ctx.db.write() as conn:
            row = conn.execute(select(alerts, monitors.c.name.label("monitor_name"))
                               .join(monitors, alerts.c.monitor_id == monitors.c.id).where(alerts.c.id == alert_id)).first()
            if row is None:
                raise NotFound(f"no alert {alert_id!r}")
            if state not in _NEXT[row.state]:
                raise Conflict(f"alert {alert_id} is {row.state}; it cannot become {state}")
            now = now_ms()
            conn.execute(alerts.update().where(alerts.c.id == alert_id).values(
                state=state, updated_ms=now, updated_by=self.ctx.principal.name, note=str(note)[:2000]))
            self.ctx.audit(conn, Action.ALERT_ACKNOWLEDGE if state == "acknowledged" else Action.ALERT_RESOLVE,
                           Subject.ALERT, alert_id,
                           {"monitor": row.monitor_name, "check": row.check_name, "from": row.state, "note": note})
            updated = conn.execute(select(alerts).where(alerts.c.id == alert_id)).one()
            return _alert(updated, row.monitor_name)
