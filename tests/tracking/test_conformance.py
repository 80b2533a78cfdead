"""The tracking API's contract, the same against embedded SQLite, embedded PostgreSQL and remote."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from slipway.core.errors import AlreadyExists, Conflict, InvalidInput, NotFound
from slipway.tracking.records import RunInput
from slipway.workspace import Workspace
from tests.support import AI4I

DIGEST = "ab" * 32


def test_experiments_and_nested_runs(workspace: Workspace) -> None:
    tracking = workspace.tracking
    exp = tracking.create_experiment("churn", "predict churn")
    assert tracking.get_experiment("churn").id == exp.id == tracking.get_experiment(exp.id).id
    assert "churn" in [e.name for e in tracking.list_experiments()]
    with pytest.raises(AlreadyExists):
        tracking.create_experiment("churn")
    with tracking.start_run("parent", experiment="churn") as parent:
        with tracking.start_run("child", nested=True) as child:
            tracking.log_param("depth", 2)
        assert tracking.active_run() is parent
    got_child = tracking.get_run(child.id)
    assert got_child.parent_id == parent.id and got_child.experiment_id == exp.id
    assert got_child.params == {"depth": "2"}
    assert tracking.get_run(parent.id).params == {}
    page = tracking.search_runs(f"attributes.parent_id = '{parent.id}'")
    assert [r.id for r in page.runs] == [child.id]
    with pytest.raises(NotFound):
        tracking.get_experiment("nope")


def test_params_metrics_tags(workspace: Workspace) -> None:
    tracking = workspace.tracking
    with tracking.start_run("fit") as run:
        tracking.log_params({"lr": 0.1, "model": "rf"})
        tracking.log_params({"lr": 0.1})  # the same value again is fine
        with pytest.raises(InvalidInput, match="params cannot change"):
            tracking.log_params({"lr": 0.2})
        for step in range(30):
            tracking.log_metrics({"loss": 1.0 / (step + 1), "acc": step / 30}, step=step)
        tracking.log_metric("loss", 5.0, step=3)  # an older step does not replace the latest value
        tracking.log_metric("inf", math.inf)
        tracking.set_tags({"team": "risk"})
        tracking.set_tags({"team": "ops"})  # tags can change
    got = tracking.get_run(run.id)
    assert got.params == {"lr": "0.1", "model": "rf"}
    assert got.metrics["loss"] == pytest.approx(1 / 30) and got.metrics["acc"] == pytest.approx(29 / 30)
    assert got.metrics["inf"] == math.inf
    assert got.tags == {"team": "ops"}
    history = tracking.get_metric_history(run.id, "loss")
    assert [m.step for m in history] == [0, 1, 2, 3, 3, *range(4, 30)]
    assert workspace.backend("tracking").count_metric_points(run.id) == 62
    tracking.log_metric("late", 2.0, run_id=run.id)  # a finished run still takes points, as in MLflow
    assert tracking.get_run(run.id).metrics["late"] == 2.0


def test_artifacts_and_inputs_round_trip(workspace: Workspace, tmp_path: Path) -> None:
    tracking = workspace.tracking
    folder = tmp_path / "model"
    (folder / "sub").mkdir(parents=True)
    (folder / "weights.bin").write_bytes(bytes(range(256)) * 100)
    (folder / "sub" / "config.json").write_text('{"depth": 3}')
    with tracking.start_run("art") as run:
        file_art = tracking.log_artifact(AI4I, "data/ai4i.csv")
        dir_art = tracking.log_artifact(folder)
        tracking.log_input(RunInput("ai4i", 2, DIGEST, "training"))
    assert (file_art.kind, dir_art.kind) == ("file", "dir")
    assert {a.path for a in tracking.list_artifacts(run.id)} == {"data/ai4i.csv", "model"}
    out_file = tracking.download_artifact(run.id, "data/ai4i.csv", tmp_path / "back.csv")
    assert out_file.read_bytes() == AI4I.read_bytes()
    out_dir = tracking.download_artifact(run.id, "model", tmp_path / "back")
    assert (out_dir / "weights.bin").read_bytes() == (folder / "weights.bin").read_bytes()
    assert (out_dir / "sub" / "config.json").read_text() == '{"depth": 3}'
    assert tracking.list_inputs(run.id) == [RunInput("ai4i", 2, DIGEST, "training")]
    assert [r.id for r in tracking.search_runs("datasets.name = 'ai4i'").runs] == [run.id]
    with pytest.raises(NotFound):
        tracking.download_artifact(run.id, "missing", tmp_path / "x")


def _seed(workspace: Workspace) -> dict[str, str]:
    tracking = workspace.tracking
    specs = [
        ("fit-rf-1", "rf", 0.95, "risk", {"f1 score": 0.7}),
        ("fit-rf-2", "rf", 0.85, "ops", {"f1 score": 0.6}),
        ("fit-gb-1", "gb", 0.97, "risk", {}),
        ("Fit-lr", "lr", math.nan, "ops", {"f1 score": 0.9}),
        ("eval-gb", "gb", None, "risk", {}),
    ]
    ids = {}
    for name, model, auc, team, extra in specs:
        with tracking.start_run(name, experiment="search") as run:
            tracking.log_params({"model": model})
            if auc is not None:
                tracking.log_metric("auc", auc)
            for key, value in extra.items():
                tracking.log_metric(key, value)
            tracking.set_tags({"team": team})
        ids[name] = run.id
    return ids


def test_search_filters_order_and_paging(workspace: Workspace) -> None:
    ids = _seed(workspace)
    names = {v: k for k, v in ids.items()}

    def found(filter: str, order: list[str] | None = None, **kw: object) -> list[str]:
        page = workspace.tracking.search_runs(filter, ["search"], order, **kw)  # type: ignore[arg-type]
        return [names[r.id] for r in page.runs]

    assert set(found("metrics.auc > 0.9 and params.model = 'rf'")) == {"fit-rf-1"}
    assert set(found("metrics.auc > 0.9 and params.model = 'rf' or tags.team = 'ops'")) == {"fit-rf-1", "fit-rf-2", "Fit-lr"}
    assert set(found("metrics.auc > 0.9 and (params.model = 'rf' or tags.team = 'ops')")) == {"fit-rf-1"}
    assert set(found("attributes.run_name LIKE 'fit%'")) == {"fit-rf-1", "fit-rf-2", "fit-gb-1"}
    assert set(found("attributes.run_name ILIKE 'fit%'")) == {"fit-rf-1", "fit-rf-2", "fit-gb-1", "Fit-lr"}
    assert set(found("params.model IN ('gb', 'lr')")) == {"fit-gb-1", "Fit-lr", "eval-gb"}
    assert set(found("params.model NOT IN ('gb', 'lr')")) == {"fit-rf-1", "fit-rf-2"}
    assert set(found("params.model != 'rf' and tags.team = 'risk'")) == {"fit-gb-1", "eval-gb"}
    assert set(found("metrics.`f1 score` >= 0.7")) == {"fit-rf-1", "Fit-lr"}
    assert set(found("attributes.status = 'FINISHED'")) == set(ids)
    assert set(found("metrics.auc != 0.95")) == {"fit-rf-2", "fit-gb-1", "Fit-lr"}  # NaN differs from 0.95
    assert set(found("metrics.auc <= 0.85")) == {"fit-rf-2"}  # NaN and missing match no comparison
    assert found("tags.team = 'nobody'") == []
    # Ordering: numbers, then NaN, then missing, whichever the direction.
    assert found("", ["metrics.auc DESC"]) == ["fit-gb-1", "fit-rf-1", "fit-rf-2", "Fit-lr", "eval-gb"]
    assert found("", ["metrics.auc"]) == ["fit-rf-2", "fit-rf-1", "fit-gb-1", "Fit-lr", "eval-gb"]
    assert found("", ["params.model", "attributes.run_name"]) == ["eval-gb", "fit-gb-1", "Fit-lr", "fit-rf-1", "fit-rf-2"]
    assert found("") == list(reversed(list(ids)))  # newest first by default
    # Paging through every ordering part, with page sizes that end inside and at part borders.
    for size in (1, 2, 3):
        seen, token = [], None
        while True:
            page = workspace.tracking.search_runs("", ["search"], ["metrics.auc DESC"], size, token)
            seen += [names[r.id] for r in page.runs]
            token = page.next_token
            if not token:
                break
        assert seen == ["fit-gb-1", "fit-rf-1", "fit-rf-2", "Fit-lr", "eval-gb"]
    with pytest.raises(InvalidInput, match="different search"):
        workspace.tracking.search_runs("", ["search"], ["metrics.auc"], 1,
                                       workspace.tracking.search_runs("", ["search"], None, 1).next_token)
    with pytest.raises(InvalidInput, match="position 13"):
        workspace.tracking.search_runs("metrics.auc >> 1")
    with pytest.raises(InvalidInput, match="max_results"):
        workspace.tracking.search_runs("", max_results=0)
    with pytest.raises(NotFound):
        workspace.tracking.search_runs("", ["no-such-experiment"])


def test_delete_restore_compare(workspace: Workspace) -> None:
    tracking = workspace.tracking
    ids = _seed(workspace)
    victim = ids["fit-rf-2"]
    deleted = tracking.delete_run(victim)
    assert deleted.lifecycle == "deleted"
    assert victim not in [r.id for r in tracking.search_runs("", ["search"]).runs]
    assert victim in [r.id for r in tracking.search_runs("", ["search"], include_deleted=True).runs]
    with pytest.raises(Conflict):
        tracking.log_params({"x": 1}, run_id=victim)
    with pytest.raises(Conflict):
        tracking.delete_run(victim)
    assert tracking.restore_run(victim).lifecycle == "active"
    with pytest.raises(Conflict):
        tracking.restore_run(victim)
    assert victim in [r.id for r in tracking.search_runs("", ["search"]).runs]
    actions = [e.action for e in workspace.audit.log(subject=f"run:{victim}")]
    assert actions[:2] == ["run.restore", "run.delete"]

    comparison = tracking.compare_runs([ids["fit-rf-1"], ids["fit-gb-1"], ids["eval-gb"]])
    assert comparison.params == {"model": ["rf", "gb", "gb"]}
    assert comparison.metrics["auc"] == [0.95, 0.97, None]
    assert comparison.metrics["f1 score"] == [0.7, None, None]
    assert comparison.differing_params == ["model"]
    with pytest.raises(NotFound):
        tracking.compare_runs([ids["fit-rf-1"], "f" * 32])
    assert workspace.audit.verify().ok


def test_bad_input_is_refused_and_changes_nothing(workspace: Workspace) -> None:
    tracking = workspace.tracking
    before = len(workspace.audit.log(limit=1000))
    with pytest.raises(InvalidInput, match="200"):
        tracking.create_experiment("x" * 201)
    with pytest.raises(InvalidInput, match="control character"):  # names are free text, as MLflow's, but one line
        tracking.create_experiment("bad\nname")
    with pytest.raises(InvalidInput, match="non-empty"):
        tracking.create_experiment("   ")
    with pytest.raises(InvalidInput):
        tracking.start_run("tab\tin a run name")
    with pytest.raises(NotFound, match=r"f{32}"):
        tracking.log_params({"a": 1}, run_id="f" * 32)
    with pytest.raises(NotFound):
        tracking.delete_run("0" * 32)
    with pytest.raises(InvalidInput, match="position"):
        tracking.search_runs("metrics.auc > 0.9 and (params.model = 'rf'")
    with pytest.raises(InvalidInput, match="must be a number"):
        tracking.log_batch("0" * 32, metrics=[("m", "high", 0, 1)])
    with pytest.raises(InvalidInput, match="limit"):
        workspace.backend("audit").log(limit="ten")
    assert len(workspace.audit.log(limit=1000)) == before
    assert [e.name for e in tracking.list_experiments()] == []
    with tracking.start_run("ok") as run:
        with pytest.raises(InvalidInput, match="250"):
            tracking.log_metric("k" * 251, 1.0)
        with pytest.raises(InvalidInput):
            tracking.log_batch(run.id, metrics=[("good", 1.0, 0, 1), ("bad key!", 1.0, 0, 1)], params={"p": 1})
        with pytest.raises(InvalidInput):
            tracking.log_batch(run.id, metrics=[("good", 1.0, "step", 1)])
        with pytest.raises(InvalidInput, match="context"):
            tracking.log_input(RunInput("ai4i", 1, DIGEST, "x" * 51))
        with pytest.raises(InvalidInput, match="version"):
            tracking.log_input(RunInput("ai4i", "one", DIGEST, "training"))  # type: ignore[arg-type]
    got = tracking.get_run(run.id)
    assert got.metrics == {} and got.params == {}
    assert tracking.list_inputs(run.id) == []
