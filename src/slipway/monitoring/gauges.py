"""Prometheus gauges of the latest stored monitor runs, for the platform server's ``/metrics``.

Read at scrape time from the monitoring tables (one query per monitor for its newest run, one
for the alerts), so every platform server exports the same numbers and nothing is kept in
memory between scrapes. Every series carries ``monitor`` and what the run watched:
``deployment``, ``model`` and ``version`` (the versions that served the window's rows, joined
with commas when a canary split it; empty for a monitor watching a dataset or a file).

=================================================  ==================================================
``slipway_monitor_drift_share``                    share of tested columns that drifted, per drift check
``slipway_monitor_feature_drift_score``            per column: the score of its test (``feature``, ``method``)
``slipway_monitor_feature_drifted``                per column: 1 when it drifted
``slipway_monitor_quality_share``                  per quality finding with a share of rows (``finding``, ``column``)
``slipway_monitor_quality_errors``                 error findings per quality check
``slipway_monitor_check_failed``                   1 when the check failed in the latest run (``check``, ``type``)
``slipway_monitor_open_alerts``                    alerts not resolved (``state``: open, acknowledged)
``slipway_monitor_window_rows``                    rows in the latest run's window
``slipway_monitor_last_run_timestamp_seconds``     when the latest run was recorded
``slipway_monitor_performance``                    estimated or realised performance (see below)
=================================================  ==================================================

**Performance hook.** A check outcome of any type that carries ``"performance": [{"metric":
"accuracy", "source": "estimated" | "realised", "value": 0.91, "lower": 0.88, "upper": 0.94}]``
is exported as ``slipway_monitor_performance{metric, source}`` (and ``…_lower``/``…_upper``
when the bounds are there): a performance check only has to store that list in its outcome.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from slipway.store.schema.monitoring import alerts, monitor_runs, monitors

SUBJECT = ("deployment", "model", "version")
DEPLOYMENT = "deployment:"
_SPECS = {
    "drift_share": ("Share of tested columns that drifted in the latest run", ["check"]),
    "feature_drift_score": ("Drift score of a column in the latest run (p-value or distance, see method)",
                            ["check", "feature", "method"]),
    "feature_drifted": ("1 when the column drifted in the latest run", ["check", "feature"]),
    "quality_share": ("Share of rows concerned by a data-quality finding in the latest run",
                      ["check", "finding", "column"]),
    "quality_errors": ("Error findings of a data-quality check in the latest run", ["check"]),
    "check_failed": ("1 when the check failed in the latest run", ["check", "type"]),
    "open_alerts": ("Alerts of the monitor that are not resolved", ["state"]),
    "window_rows": ("Rows in the latest run's window", []),
    "last_run_timestamp_seconds": ("Unix time of the latest run", []),
    "performance": ("Model performance in the latest run (estimated or realised)", ["check", "metric", "source"]),
    "performance_lower": ("Lower bound of the performance figure", ["check", "metric", "source"]),
    "performance_upper": ("Upper bound of the performance figure", ["check", "metric", "source"]),
}
METRIC_NAMES = [f"slipway_monitor_{key}" for key in _SPECS]


def subject_of(spec: dict[str, Any], window: Any) -> dict[str, str]:
    """What a run watched: the deployment and the model versions that served its rows."""
    labels = dict(getattr(window, "labels", None) or {})
    watch = str(spec.get("watch", ""))
    if not labels and watch.startswith(DEPLOYMENT):
        labels = {"deployment": watch[len(DEPLOYMENT):].partition("/")[0]}
    return {key: str(labels.get(key, "")) for key in SUBJECT}


class MonitorCollector(Collector):
    """Collects the gauges above from a :class:`~slipway.store.database.Database`."""

    def __init__(self, db: Any) -> None:
        self._db = db

    def collect(self) -> Iterator[GaugeMetricFamily]:
        families = {key: GaugeMetricFamily(f"slipway_monitor_{key}", text, labels=["monitor", *SUBJECT, *extra])
                    for key, (text, extra) in _SPECS.items()}
        with self._db.read() as conn:
            live = {(r.monitor_id, r.state): int(r.n) for r in conn.execute(
                select(alerts.c.monitor_id, alerts.c.state, func.count().label("n"))
                .where(alerts.c.state != "resolved").group_by(alerts.c.monitor_id, alerts.c.state))}
            for monitor in conn.execute(select(monitors).order_by(monitors.c.name)):
                spec = orjson.loads(monitor.spec)
                run = conn.execute(select(monitor_runs).where(monitor_runs.c.monitor_id == monitor.id)
                                   .order_by(monitor_runs.c.created_ms.desc(), monitor_runs.c.id.desc()).limit(1)).first()
                result = orjson.loads(run.result) if run is not None else {}
                base = [monitor.name, *subject_of(spec, None).values()]
                if result.get("subject"):
                    base = [monitor.name, *(str(result["subject"].get(k, "")) for k in SUBJECT)]
                for state in ("open", "acknowledged"):
                    families["open_alerts"].add_metric([*base, state], live.get((monitor.id, state), 0))
                if run is not None:
                    families["window_rows"].add_metric(base, float(result.get("rows", 0)))
                    families["last_run_timestamp_seconds"].add_metric(base, int(run.created_ms) / 1000.0)
                    for check in result.get("checks", []):
                        _check(families, base, check)
        yield from families.values()


def _check(families: dict[str, GaugeMetricFamily], base: list[str], check: dict[str, Any]) -> None:
    name = str(check.get("name", ""))
    families["check_failed"].add_metric([*base, name, str(check.get("type", ""))], 0.0 if check.get("passed") else 1.0)
    if check.get("type") == "drift":
        families["drift_share"].add_metric([*base, name], float(check.get("share_drifted", 0.0)))
        for column, outcome in check.get("columns", {}).items():
            if outcome.get("score") is not None:
                families["feature_drift_score"].add_metric([*base, name, column, str(outcome.get("method", ""))],
                                                           float(outcome["score"]))
            families["feature_drifted"].add_metric([*base, name, column], 1.0 if outcome.get("drifted") else 0.0)
    if check.get("type") == "quality":
        findings = check.get("findings", [])
        families["quality_errors"].add_metric([*base, name], float(sum(f.get("severity") == "error" for f in findings)))
        for finding in findings:
            if finding.get("share") is not None:
                families["quality_share"].add_metric([*base, name, str(finding.get("kind", "")),
                                                      str(finding.get("column") or "")], float(finding["share"]))
    for figure in check.get("performance", []):
        labels = [*base, name, str(figure.get("metric", "")), str(figure.get("source", ""))]
        for key, family in (("value", "performance"), ("lower", "performance_lower"), ("upper", "performance_upper")):
            if figure.get(key) is not None:
                families[family].add_metric(labels, float(figure[key]))
