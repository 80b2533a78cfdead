"""``ws.monitoring.diagnose(DEPLOYMENT, window=...)``: why did a served model get worse, and what to do.

The walk, in order (:mod:`slipway.monitoring.diagnosis_steps`): serving health, the input schema
against the training schema, data quality, feature drift ranked by drift strength weighted by the
model's feature importance, prediction drift, performance. The verdict is the first thing that
explains the rest:

=====================  ============================================  =========================
verdict                when                                          recommended action
=====================  ============================================  =========================
serving fault          errors or latency break the deployment's SLO  roll back
feature pipeline fault the input schema changed or quality failed    fix the feature pipeline
                                                                     (roll back meanwhile)
data drift             inputs drifted, the pipeline is healthy       retrain on recent data
concept drift          predictions or performance moved, no input    retrain on recent data
healthy                nothing moved                                 none
=====================  ============================================  =========================

The diagnosis is stored as a JSON blob and audited (``monitor.diagnose``) with its verdict.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from slipway.core.clock import now_ms
from slipway.core.errors import InvalidInput, SlipwayError
from slipway.monitoring import diagnosis_steps
from slipway.monitoring.diagnosis_steps import Context, Step
from slipway.monitoring.lineage_reference import input_columns, served_version, training_data
from slipway.monitoring.payload import payload_features

_UNITS = {"m": 60_000, "h": 3_600_000, "d": 86_400_000}


@dataclass
class Diagnosis:
    deployment: str
    served: str
    reference: str
    window: dict[str, Any]
    steps: list[Step]
    verdict: str
    action: str
    command: str
    evidence: list[str] = field(default_factory=list)
    digest: str = ""

    def step(self, name: str) -> Step:
        return next(s for s in self.steps if s.name == name)

    def to_json(self) -> dict[str, Any]:
        return {"deployment": self.deployment, "served": self.served, "reference": self.reference,
                "window": self.window, "verdict": self.verdict, "action": self.action, "command": self.command,
                "evidence": self.evidence, "steps": [s.to_json() for s in self.steps], "digest": self.digest}


def select_window(log: pa.Table, window: int | str | None, now: int) -> tuple[pa.Table, dict[str, Any]]:
    """The rows of ``window``: the last N rows (``1000``), the last duration (``30m``, ``24h``,
    ``7d``) or everything (None).

    Raises:
        InvalidInput: any other window.
    """
    text = str(window).strip() if window is not None else ""
    if not text:
        return log, {"rows": log.num_rows}
    if text.isdigit() and int(text) > 0:
        return log.slice(max(0, log.num_rows - int(text))), {"last_rows": int(text)}
    match = re.fullmatch(r"(\d+)([mhd])", text)
    if match is None or int(match.group(1)) == 0:
        raise InvalidInput(f"window must be a number of rows (1000) or a duration (30m, 24h, 7d), not {window!r}")
    since = now - int(match.group(1)) * _UNITS[match.group(2)]
    if log.num_rows and "ts_ms" in log.column_names:
        log = log.filter(pc.greater_equal(log.column("ts_ms"), since))
    return log, {"since_ms": since, "duration": text}


def worker_restarts(ws: Any, deployment: str, log: pa.Table) -> int:
    """Worker restarts the inference server recorded (``deployment.worker_restart``) since the
    window's first request."""
    since = pc.min(log.column("ts_ms")).as_py() if "ts_ms" in log.column_names and log.num_rows else None
    return int(ws.backend("deploy").worker_restarts(deployment, int(since or 0)))


def judge(found: dict[str, Step], deployment: str, dataset: str) -> tuple[str, str, str, list[str]]:
    """(verdict, action, command, evidence) from the steps' outcomes."""
    problems = {name for name, s in found.items() if s.status == "problem"}
    evidence = [f"{found[n].name}: {found[n].summary}" for n in found if n in problems]
    rollback = f"slipway diagnose {deployment} --rollback"
    retrain = f"slipway pipelines run <training pipeline> -p dataset={dataset.partition('@')[0]}"
    if "serving health" in problems:
        return "serving fault", "roll back to the previous champion", rollback, evidence
    if problems & {"input schema", "data quality"}:
        if "feature drift" in problems:
            evidence.append("the drift comes from the broken inputs: retraining would learn the fault")
        return ("feature pipeline fault", "fix the feature pipeline; roll back to the previous champion until it "
                "is fixed (do not retrain on the broken data)", rollback, evidence)
    if "feature drift" in problems:
        top = [r for r in found["feature drift"].evidence["ranked"] if r["drifted"]][:3]
        evidence.append("most important drifted inputs: " + ", ".join(
            f"{r['column']} (importance {r['importance']:.0%}, weighted {r['weighted']:.2f})" for r in top))
        evidence.append("the feature pipeline is healthy: schema and quality checks pass")
        return "data drift", "retrain on recent data", retrain, evidence
    if problems & {"prediction drift", "performance"}:
        return "concept drift", "retrain on recent data", retrain, evidence
    return "healthy", "none", "", ["every step passed"]


def diagnose(ws: Any, deployment: str, window: int | str | None = None, now: int | None = None,
             target: str | None = None) -> Diagnosis:
    """Walk the loop for ``deployment`` over ``window`` (see :func:`select_window`); store and
    audit the diagnosis. ``target`` names the training data's label column for the performance
    step (by default the run's ``target``/``label`` parameter, else the column the model predicts).

    Raises:
        NotFound: no such deployment, or lineage names no training data for its served version.
        InvalidInput: a bad window, or the window holds no request.
    """
    version = served_version(ws, f"deployment:{deployment}")
    dataset, columns = training_data(version), input_columns(version)
    log, described = select_window(ws.serving.payload_log(deployment), window, now or now_ms())
    if log.num_rows == 0 or "status" not in log.column_names:
        raise InvalidInput(f"deployment {deployment!r} logged no request in the window {window or 'all'}")
    reference_table = ws.monitoring.table(dataset)
    try:
        predictor = ws.registry.load(f"{version.name}/{version.version}")
    except SlipwayError:
        predictor = None
    watching = [m.spec for m in ws.monitoring.monitors() if m.spec["watch"] == f"deployment:{deployment}"]
    drift_check = next((c for spec in watching for c in spec["checks"] if c["type"] == "drift"), None)
    ctx = Context(ws.serving.get(deployment), log, payload_features(log),
                  reference_table.select([c for c in columns if c in reference_table.column_names]),
                  ws.monitoring.reference(dataset), columns, predictor, drift_check, training=reference_table,
                  feedback=ws.serving.feedback(deployment), evaluation=dict(version.metrics or {}),
                  params=dict(version.params or {}), target=target, restarts=worker_restarts(ws, deployment, log))
    walk = [diagnosis_steps.serving_health, diagnosis_steps.input_schema, diagnosis_steps.data_quality,
            diagnosis_steps.feature_drift, diagnosis_steps.prediction_drift, diagnosis_steps.PERFORMANCE]
    if target is not None and target not in reference_table.column_names:
        raise InvalidInput(f"target {target!r} is not a column of the training data {dataset}; it has "
                           f"{reference_table.column_names}")
    found = {s.name: s for s in (step(ctx) for step in walk)}
    verdict, action, command, evidence = judge(found, deployment, dataset)
    result = Diagnosis(deployment, f"{version.name}/{version.version}", dataset, {**described, "rows": log.num_rows},
                       list(found.values()), verdict, action, command, evidence)
    result.digest = ws.blobs.put_bytes(orjson.dumps(result.to_json()))
    ws.backend("monitoring").record_diagnosis(deployment, {
        "verdict": verdict, "action": action, "served": result.served, "reference": dataset,
        "window": result.window, "evidence": evidence, "report": result.digest})
    return result
