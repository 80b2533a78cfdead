"""The must-hold loop on AI4I: validate → train → evaluate → gate → register, with caching,
lineage, a worse candidate refused by the gate and a dataset that fails validation."""

from __future__ import annotations

import pyarrow.csv as pacsv
from sqlalchemy import select

from slipway.store.schema.core import lineage_edges
from slipway.workspace import Workspace
from tests.pipelines import flows
from tests.support import AI4I

DOWNSTREAM_OF_TRAIN = {"train", "evaluate", "log_candidate", "evaluate_and_bless", "register_model"}


def _edges(ws: Workspace, run_id: str) -> set[tuple[str, str, str, str, str]]:
    with ws._transport.db.read() as conn:
        rows = conn.execute(select(lineage_edges)).all()
    return {(r.src_kind, r.src_id, r.relation, r.dst_kind, r.dst_id) for r in rows if run_id in (r.src_id, r.dst_id)}


def test_validate_train_evaluate_gate_register(sqlite_ws: Workspace) -> None:
    ws = sqlite_ws
    table = pacsv.read_csv(AI4I).slice(0, 4000)
    # Two interleaved halves of the same period: a genuinely new version that still fits the schema.
    first_version = ws.data.add("ai4i", table.take(list(range(0, 4000, 2))))
    ws.data.infer_schema(first_version.ref)

    first = ws.pipelines.run(flows.maintenance)
    assert first.status == "SUCCEEDED", first.error
    assert first.executed == list(first.executed) and len(first.executed) == 8
    registered = ws.pipelines.output(first.id, "register_model")
    assert registered.ref == "ai4i-failure/1"
    assert ws.registry.resolve("ai4i-failure@blessed").version == 1
    gate = first.step("evaluate_and_bless").details["gate"]
    assert gate["blessed"] is True and gate["candidate_metrics"]["accuracy"] >= 0.9
    training_run = ws.pipelines.output(first.id, "log_candidate").run_id
    assert ws.tracking.get_run(training_run).tags["slipway.pipeline_run"] == first.id
    assert {("dataset_version", "ai4i@1", "input_to", "pipeline_run", first.id),
            ("pipeline_run", first.id, "produced", "run", training_run),
            ("pipeline_run", first.id, "produced", "model_version", "ai4i-failure/1")} <= _edges(ws, first.id)

    # Nothing changed: no step executes, and nothing new is registered.
    second = ws.pipelines.run(flows.maintenance)
    assert second.status == "SUCCEEDED" and second.executed == []
    assert len(second.cached) == 8
    assert [v.version for v in ws.registry.list_versions("ai4i-failure")] == [1]

    # One parameter changed: only the steps downstream of it run.
    retrained = ws.pipelines.run(flows.maintenance, {"n_estimators": 30})
    assert retrained.status == "SUCCEEDED", retrained.error
    assert set(retrained.cached) == {"validate_data", "features", "split"}
    assert set(retrained.executed) <= DOWNSTREAM_OF_TRAIN and {"train", "evaluate"} <= set(retrained.executed)

    # A new dataset version: everything reruns from validation.
    ws.data.add("ai4i", table.take(list(range(1, 4000, 2))))
    fresh = ws.pipelines.run(flows.maintenance)
    assert fresh.status == "SUCCEEDED", fresh.error
    assert fresh.executed[:4] == ["validate_data", "features", "split", "train"]
    assert ("dataset_version", "ai4i@2", "input_to", "pipeline_run", fresh.id) in _edges(ws, fresh.id)

    # A worse candidate is not registered, and the run says which threshold failed.
    before = [v.version for v in ws.registry.list_versions("ai4i-failure")]
    worse = ws.pipelines.run(flows.maintenance, {"max_depth": 1, "n_estimators": 2})
    assert worse.status == "SUCCEEDED"
    verdict = worse.step("evaluate_and_bless").details["gate"]
    assert verdict["blessed"] is False
    failed = [c for c in verdict["checks"] if not c["passed"] and not c["skipped"]]
    assert [(c["metric"], c["kind"]) for c in failed] == [("f1", "change_absolute")]
    register = worse.step("register_model")
    assert register.status == "SKIPPED"
    assert "f1 change_absolute" in register.details["skipped"]
    assert [v.version for v in ws.registry.list_versions("ai4i-failure")] == before

    # A version that breaks the schema stops the pipeline at validation.
    ws.data.add("ai4i", table.slice(0, 500).drop_columns(["Torque [Nm]"]))
    broken = ws.pipelines.run(flows.maintenance)
    assert broken.status == "FAILED"
    validation = broken.step("validate_data")
    assert validation.status == "FAILED" and "ai4i@3 failed validation" in (validation.error or "")
    assert "Torque" in (validation.error or "")
    assert all(s.status == "SKIPPED" for s in broken.steps[1:])
    assert ws.audit.verify().ok
