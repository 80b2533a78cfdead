"""Every route that creates a model version records its training data (issue 12 item 1).

Pipeline fresh, pipeline fully cached, pipeline partly cached (a parameter changed after the data
was validated), resume, and a plain script, over embedded SQLite, embedded PostgreSQL and a real
server: ``models show`` lists the dataset version, ``lineage --up`` reaches it, and a policy that
requires data validation passes for the data the pipeline validated. The user's steps here never
log an input themselves: lineage is the platform's job.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
from typer.testing import CliRunner

import slipway
from slipway.pipelines import pipeline, step
from slipway.pipelines.steps import register_model, validate_data
from slipway.workspace import Workspace
from tests.pipelines import flows
from tests.support import AI4I

DATA = "ai4i@1"


@step
def checkpoint(model: Any, marker: str) -> Any:
    """Fails while ``marker`` exists, so a run stops after training and can be resumed."""
    if marker and Path(marker).exists():
        raise RuntimeError(f"stopped by {marker}")
    return model


@pipeline
def retrain(dataset: str = "ai4i", n_estimators: int = 10, marker: str = "") -> None:
    table = validate_data(dataset)
    train_table, test_table = flows.split(flows.features(table))
    model = checkpoint(flows.train(train_table, n_estimators=n_estimators, max_depth=4), marker)
    candidate = flows.log_candidate(model, flows.evaluate(model, test_table), test_table)
    register_model(candidate, "failures")


def _cli(*args: str) -> Any:
    from slipway.cli.main import app

    done = CliRunner().invoke(app, [*args, "--json"])
    assert done.exit_code == 0, done.output
    return json.loads(done.stdout)


def _assert_trained_on_data(ws: Workspace, ref: str) -> None:
    shown = _cli("models", "show", ref)
    assert [f"{d['dataset']}@{d['version']}" for d in shown["datasets"]] == [DATA], (ref, shown["datasets"])
    upstream = _cli("lineage", ref, "--up")
    assert DATA in [n["id"] for n in upstream["nodes"] if n["kind"] == "dataset_version"], (ref, upstream)
    assert ws.lineage.upstream(f"model:{ref}").ids("dataset_version") == [DATA]


def _data_validation_passes(ws: Workspace, ref: str) -> bool:
    outcomes = ws.governance.check(ref).outcomes
    return [o.passed for o in outcomes if o.requirement.startswith("data_validation")] == [True]


def test_every_route_to_a_model_version_records_its_training_data(workspace: Workspace, tmp_path: Path) -> None:
    ws = workspace
    table = pacsv.read_csv(AI4I).slice(0, 1500)
    ws.data.add("ai4i", table)
    ws.data.infer_schema(DATA)
    ws.registry.create_model("failures", "predicts machine failure")
    ws.governance.set_policy("data_validation: required", model="failures")

    # Fresh.
    fresh = ws.pipelines.run(retrain)
    assert fresh.status == "SUCCEEDED", fresh.error
    assert ws.pipelines.output(fresh.id, "register_model").ref == "failures/1"
    _assert_trained_on_data(ws, "failures/1")
    assert DATA in ws.lineage.upstream(f"pipeline:{fresh.id}").ids("dataset_version")
    assert _data_validation_passes(ws, "failures/1")

    # Fully cached on the same data: nothing runs, and the run still records what it read and made,
    # and the validation verdict is recorded again for the policies.
    verdicts = len(ws.audit.log(f"dataset_version:{DATA}", action="data.validation"))
    assert verdicts == 1
    cached = ws.pipelines.run(retrain)
    assert cached.status == "SUCCEEDED" and cached.executed == [], cached.steps
    assert ws.pipelines.output(cached.id, "register_model").ref == "failures/1"
    assert ws.lineage.upstream(f"pipeline:{cached.id}").ids("dataset_version") == [DATA]
    assert cached.step("log_candidate").details["datasets"] == [DATA]
    assert len(ws.audit.log(f"dataset_version:{DATA}", action="data.validation")) == verdicts + 1
    _assert_trained_on_data(ws, "failures/1")

    # Partly cached: the validated data comes from the cache, the model is new.
    partly = ws.pipelines.run(retrain, {"n_estimators": 12})
    assert partly.status == "SUCCEEDED", partly.error
    assert {"validate_data", "features", "split"} <= set(partly.cached) and "train" in partly.executed
    assert ws.pipelines.output(partly.id, "register_model").ref == "failures/2"
    _assert_trained_on_data(ws, "failures/2")
    assert _data_validation_passes(ws, "failures/2")

    # Resume: a run stopped after training is resumed; the data steps are reused, not rerun.
    marker = tmp_path / "stop"
    marker.write_text("x")
    stopped = ws.pipelines.run(retrain, {"n_estimators": 14, "marker": str(marker)})
    assert stopped.status == "FAILED" and stopped.step("checkpoint").status == "FAILED"
    marker.unlink()
    resumed = ws.pipelines.resume(stopped.id, pipeline=retrain)
    assert resumed.status == "SUCCEEDED", resumed.error
    assert resumed.step("validate_data").details["reused_from"] == stopped.id
    assert ws.pipelines.output(resumed.id, "register_model").ref == "failures/3"
    _assert_trained_on_data(ws, "failures/3")
    assert _data_validation_passes(ws, "failures/3")

    # A plain script: the user logs the input, the platform carries it to the version.
    from sklearn.linear_model import LogisticRegression

    frame = ws.data.load(DATA).select([*flows.FEATURES, flows.TARGET]).to_pandas()
    with slipway.start_run("script", experiment="scripts"):
        slipway.log_input(ws.data.get_version(DATA))
        model = LogisticRegression(max_iter=200).fit(frame[flows.FEATURES], frame[flows.TARGET])
        info = slipway.log_model(model, input_example=frame[flows.FEATURES].head(3), registered_model_name="failures")
    assert info.version == 4
    _assert_trained_on_data(ws, "failures/4")


def test_a_step_reading_a_dataset_that_does_not_exist_fails_with_one_clear_error(sqlite_ws: Workspace) -> None:
    run = sqlite_ws.pipelines.run(retrain, {"dataset": "nosuch"})
    assert run.status == "FAILED"
    assert "dataset 'nosuch'" in (run.step("validate_data").error or "")
    assert run.step("train").status == "SKIPPED"


def test_a_dataset_version_passed_as_a_record_is_read_as_it_is(sqlite_ws: Workspace) -> None:
    @step(datasets="version")
    def rows(version: Any) -> int:
        return int(version.rows)

    @pipeline
    def count() -> None:
        rows(sqlite_ws.data.get_version(DATA))

    sqlite_ws.data.add("ai4i", pa.table({"UDI": [1, 2, 3]}))
    run = sqlite_ws.pipelines.run(count)
    assert run.status == "SUCCEEDED", run.error
    assert sqlite_ws.pipelines.output(run.id, "rows") == 3
    assert sqlite_ws.lineage.upstream(f"pipeline:{run.id}").ids("dataset_version") == [DATA]
