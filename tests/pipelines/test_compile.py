"""`slipway pipelines compile --target kubeflow|argo` and `slipway pipelines run-step`.

The Kubeflow spec is loaded back by the kfp SDK's own loader and parsed strictly into KFP's
``PipelineSpec`` protobuf; the Argo Workflow is validated through hera's models of Argo's schema
(generated from Argo Workflows' published JSON schema), with nothing dropped or coerced. The
compiled Argo DAG is then executed on this machine, task by task, with exactly the container
arguments it gives, and yields the digests of an in-process run.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from slipway.pipelines.compile import RUN_ID_FILE, task_names
from slipway.pipelines.loader import load_pipeline
from slipway.workspace import open_workspace
from tests.pipelines import flows
from tests.support import AI4I, make_settings

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = f"{ROOT}/examples/predictive_maintenance/pipeline.py:retrain"
FLOWS = f"{ROOT}/tests/pipelines/flows.py"
Cli = Callable[..., tuple[int, str, str]]


def _compile(cli: Cli, ref: str, target: str, tmp_path: Path, *params: str) -> str:
    out = tmp_path / f"{target}.yaml"
    code, _, err = cli("pipelines", "compile", ref, "--target", target, "-o", out, "--image", "reg.example/slipway:1",
                       *params)
    assert code == 0, err
    return out.read_text()


def test_kubeflow_spec_round_trips_through_kfp(cli: Cli, tmp_path: Path) -> None:
    from google.protobuf import json_format
    from kfp import components
    from kfp.pipeline_spec import pipeline_spec_pb2

    text = _compile(cli, EXAMPLE, "kubeflow", tmp_path, "-p", "n_estimators=50")
    # kfp's own loader reads it back as a pipeline with the pipeline's typed parameters.
    loaded = components.load_component_from_text(text)
    assert loaded.name == "retrain"
    inputs = loaded.component_spec.inputs
    assert {n: (i.type, i.default) for n, i in inputs.items()} == {
        "dataset": ("String", "ai4i"), "model_name": ("String", "ai4i-failure"), "deployment": ("String", "maintenance"),
        "holdout_rows": ("Integer", 1000), "n_estimators": ("Integer", 50), "alarm_threshold": ("Float", 0.3),
        "alert": ("String", "")}
    spec_doc, platform_doc = list(yaml.safe_load_all(text))
    spec = json_format.ParseDict(spec_doc, pipeline_spec_pb2.PipelineSpec())  # strict: unknown fields fail
    assert spec.pipeline_info.name == "retrain"

    graph = load_pipeline(EXAMPLE).build({"n_estimators": 50})
    dag = spec_doc["root"]["dag"]["tasks"]
    assert set(dag) == {"start", "finish"} | {t for t in dag if t not in ("start", "finish")}
    assert dag["finish"]["triggerPolicy"]["strategy"] == "ALL_UPSTREAM_TASKS_COMPLETED"  # runs after failures too
    inner = {name: task for name, task in dag.items() if name not in ("start", "finish")}
    by_display = {task["taskInfo"]["name"]: task for task in inner.values()}
    assert set(by_display) == set(graph.nodes)
    name_of = {task["taskInfo"]["name"]: name for name, task in inner.items()}
    assert set(dag["finish"]["dependentTasks"]) == {"start", *inner}
    executors = spec_doc["deploymentSpec"]["executors"]
    for key, node in graph.nodes.items():
        task = by_display[key]
        # The step DAG: each step after its upstream steps, reading the run id from start.
        assert set(task["dependentTasks"]) == {"start", *(name_of[u] for u in node.upstream)}
        assert task["inputs"]["parameters"]["run_id"]["taskOutputParameter"]["producerTask"] == "start"
        assert task["cachingOptions"] == {}  # KFP's cache off: Slipway's content-addressed cache decides
        container = executors[spec_doc["components"][task["componentRef"]["name"]]["executorLabel"]]["container"]
        assert container["image"] == "reg.example/slipway:1"
        command = container["command"]
        assert command[:5] == ["python", "-m", "slipway.cli.main", "pipelines", "run-step"]
        assert command[5].startswith("stored:") and command[5].endswith("/pipeline.py:retrain")
        assert command[6:8] == [key, "--run-id"]
    # The stores' credentials come from the slipway-store secret, on every task.
    executors_platform = platform_doc["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    assert len(executors_platform) == len(executors) == len(graph.nodes) + 2
    for config in executors_platform.values():
        assert {(e["secretName"], e["keyToEnv"][0]["envVar"]) for e in config["secretAsEnv"]} >= {
            ("slipway-store", "SLIPWAY_STORE_URI")}
    start = executors[spec_doc["components"]["comp-start"]["executorLabel"]]["container"]["command"]
    assert "--start" in start and "kubeflow" in start


def test_kubeflow_retry_policy_is_the_steps(cli: Cli, tmp_path: Path) -> None:
    text = _compile(cli, f"{FLOWS}:retrying", "kubeflow", tmp_path)
    spec_doc = next(yaml.safe_load_all(text))
    tasks = {t["taskInfo"]["name"]: t for t in spec_doc["root"]["dag"]["tasks"].values()}
    assert tasks["flaky"]["retryPolicy"] == {"maxRetryCount": 2, "backoffDuration": "1s", "backoffFactor": 2.0,
                                             "backoffMaxDuration": "3600s"}
    assert "retryPolicy" not in tasks["after"]


def _argo_valid(doc: dict[str, Any]) -> None:
    """Validate through hera's models of Argo's schema: every field must be known to the schema and
    of its type (a model that dropped or coerced anything would not dump back to the same doc)."""
    from hera.workflows.models import Workflow

    model = Workflow.model_validate(doc)
    assert model.model_dump(by_alias=True, exclude_none=True, mode="json") == doc


def test_argo_workflow_validates_against_argo_schema(cli: Cli, tmp_path: Path) -> None:
    doc = yaml.safe_load(_compile(cli, EXAMPLE, "argo", tmp_path))
    _argo_valid(doc)
    graph = load_pipeline(EXAMPLE).build()
    templates = {t["name"]: t for t in doc["spec"]["templates"]}
    tasks = {t["name"]: t for t in templates["main"]["dag"]["tasks"]}
    assert doc["spec"]["onExit"] == "finish" and doc["spec"]["entrypoint"] == "main"
    assert {p["name"]: p["value"] for p in doc["spec"]["arguments"]["parameters"]}["n_estimators"] == "150"
    names = task_names(graph)
    assert names["split_by_time"] == "split-by-time"
    assert set(tasks) == {"start"} | set(names.values())
    for key, node in graph.nodes.items():
        name = names[key]
        assert set(tasks[name]["dependencies"]) == {"start", *(names[u] for u in node.upstream)}
        assert templates[name]["container"]["args"][3:5] == [key, "--run-id"]
        assert {"name": "SLIPWAY_STORE_URI", "valueFrom": {"secretKeyRef": {"name": "slipway-store", "key": "uri"}}} in (
            templates[name]["container"]["env"])

    bad = json.loads(json.dumps(doc))
    bad["spec"]["templates"][1]["container"]["args"] = "not a list"
    with pytest.raises(Exception, match="args"):
        _argo_valid(bad)


def test_fan_out_keys_become_dns_names(cli: Cli, tmp_path: Path) -> None:
    doc = yaml.safe_load(_compile(cli, f"{FLOWS}:fan_out", "argo", tmp_path, "-p", "n=3"))
    _argo_valid(doc)
    tasks = {t["name"]: t for t in doc["spec"]["templates"][0]["dag"]["tasks"]}
    assert set(tasks) == {"start", "square-0", "square-1", "square-2", "total"}
    assert set(tasks["total"]["dependencies"]) == {"start", "square-0", "square-1", "square-2"}
    steps = {t["name"]: t["container"]["args"][3] for t in doc["spec"]["templates"][3:]}
    assert steps["square-1"] == "square[1]"


def test_bad_target_and_params_exit_2(cli: Cli, tmp_path: Path) -> None:
    code, _, err = cli("pipelines", "compile", f"{FLOWS}:fan_out", "--target", "airflow")
    assert code == 2 and "airflow" in err
    code, _, err = cli("pipelines", "compile", f"{FLOWS}:fan_out", "--target", "argo", "-p", "n=three")
    assert code == 2 and "n=" in err
    assert not list(tmp_path.glob("*.yaml"))


def _execute_argo(cli: Cli, doc: dict[str, Any], tmp_path: Path, only: set[str] | None = None,
                  run_id: str | None = None) -> tuple[str, dict[str, int]]:
    """Run the workflow's DAG here, in order, each task with exactly its container's arguments
    (the orchestrator's substitutions done as Argo does them); then the exit handler."""
    templates = {t["name"]: t for t in doc["spec"]["templates"]}
    params = {p["name"]: p["value"] for p in doc["spec"]["arguments"]["parameters"]}
    run_file = tmp_path / "run-id"
    codes: dict[str, int] = {}

    def args_of(template: dict[str, Any], inputs: dict[str, str]) -> list[str]:
        container = template["container"]
        assert container["command"] == ["python", "-m", "slipway.cli.main"]
        out = []
        for arg in container["args"]:
            for name, value in inputs.items():
                arg = arg.replace(f"{{{{inputs.parameters.{name}}}}}", value)
            arg = arg.replace("{{workflow.outputs.parameters.slipway-run-id}}", run_id or "")
            out.append(str(run_file) if arg == RUN_ID_FILE else arg)
        return out

    for task in templates["main"]["dag"]["tasks"]:
        if task["name"] == "start":
            if run_id is not None:
                continue
            inputs = {p["name"]: params[p["value"][len("{{workflow.parameters."):-2]]
                      for p in task["arguments"]["parameters"]}
            code, _, err = cli(*args_of(templates["start"], inputs))
            assert code == 0, err
            run_id = run_file.read_text()
            continue
        if only is not None and task["name"] not in only:
            continue
        assert run_id is not None
        code, _, err = cli(*args_of(templates[task["template"]], {"run_id": run_id}))
        codes[task["name"]] = code
    code, _, err = cli(*args_of(templates["finish"], {}))
    assert code == 0, err
    assert run_id is not None
    return run_id, codes


@pytest.mark.slow
def test_compiled_workflow_runs_here_with_in_process_digests(cli: Cli, tmp_path: Path) -> None:
    params = {"csv": str(AI4I), "rows": 600}
    reference_ws = open_workspace(make_settings(tmp_path / "reference"))
    try:
        reference = reference_ws.pipelines.run(flows.training_only, params)
    finally:
        reference_ws.close()
    assert reference.status == "SUCCEEDED", reference.error

    doc = yaml.safe_load(_compile(cli, f"{FLOWS}:training_only", "argo", tmp_path, *(
        x for k, v in params.items() for x in ("-p", f"{k}={v}"))))
    run_id, codes = _execute_argo(cli, doc, tmp_path)
    assert set(codes.values()) == {0}
    code, out, err = cli("pipelines", "show", run_id, "--json")
    assert code == 0, err
    run = json.loads(out)
    assert run["status"] == "SUCCEEDED" and run["runner"] == "argo"
    digests = {s["key"]: {n: o["digest"] for n, o in s["outputs"].items()} for s in run["steps"]}
    assert digests == {s.key: {n: o["digest"] for n, o in s.outputs.items()} for s in reference.steps}
    assert all(s["status"] == "SUCCEEDED" for s in run["steps"])
    # The same workflow again: every step comes from Slipway's cache, in its container.
    again, _ = _execute_argo(cli, doc, tmp_path)
    code, out, _ = cli("pipelines", "show", again, "--json")
    assert {s["status"] for s in json.loads(out)["steps"]} == {"CACHED"}


def test_failed_step_is_retried_by_the_orchestrator_and_skips_downstream(cli: Cli, tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    doc = yaml.safe_load(_compile(cli, f"{FLOWS}:retrying", "argo", tmp_path, "-p", f"marker={marker}"))
    templates = {t["name"]: t for t in doc["spec"]["templates"]}
    assert templates["flaky"]["retryStrategy"] == {"limit": "2", "retryPolicy": "Always",
                                                   "backoff": {"duration": "0.05s", "factor": "2"}}
    # Only the first two attempts of `flaky` (it fails twice), then the exit handler: as if the
    # orchestrator gave up. Its attempts are recorded and `after` never ran.
    code, out, _ = cli("pipelines", "run-step", f"{FLOWS}:retrying", "--start", "--runner", "argo", "-p",
                       f"marker={marker}")
    assert code == 0
    run_id = out.strip().splitlines()[-1]
    ref = templates["flaky"]["container"]["args"][2]
    assert cli("pipelines", "run-step", ref, "flaky", "--run-id", run_id)[0] == 1
    assert cli("pipelines", "run-step", ref, "after", "--run-id", run_id)[0] == 2  # upstream not finished: refused
    assert cli("pipelines", "run-step", ref, "flaky", "--run-id", run_id)[0] == 1
    _execute_argo(cli, doc, tmp_path, only=set(), run_id=run_id)
    code, out, _ = cli("pipelines", "show", run_id, "--json")
    run = json.loads(out)
    steps = {s["key"]: s for s in run["steps"]}
    assert run["status"] == "FAILED" and "transient failure 2" in run["error"]
    assert steps["flaky"]["status"] == "FAILED" and steps["flaky"]["attempts"] == 2
    assert len(steps["flaky"]["details"]["attempt_errors"]) == 2
    assert steps["after"]["status"] == "SKIPPED" and "flaky" in steps["after"]["details"]["skipped"]

    # A fresh run where the orchestrator retries as the policy says: the third attempt succeeds.
    marker.unlink()
    code, out, _ = cli("pipelines", "run-step", ref, "--start", "--runner", "argo", "-p", f"marker={marker}")
    run_id = out.strip().splitlines()[-1]
    assert [cli("pipelines", "run-step", ref, "flaky", "--run-id", run_id)[0] for _ in range(3)] == [1, 1, 0]
    assert cli("pipelines", "run-step", ref, "flaky", "--run-id", run_id)[0] == 0  # a pod run again: already done
    assert cli("pipelines", "run-step", ref, "after", "--run-id", run_id)[0] == 0
    assert cli("pipelines", "run-step", ref, "--finish", "--run-id", run_id)[0] == 0
    code, out, _ = cli("pipelines", "show", run_id, "--json")
    run = json.loads(out)
    steps = {s["key"]: s for s in run["steps"]}
    assert run["status"] == "SUCCEEDED" and steps["flaky"]["attempts"] == 3


def test_a_stopped_workflow_ends_its_run_failed(cli: Cli, tmp_path: Path) -> None:
    code, out, _ = cli("pipelines", "run-step", f"{FLOWS}:fan_out", "--start", "--runner", "kubeflow", "-p", "n=2")
    assert code == 0
    run_id = out.strip().splitlines()[-1]
    assert cli("pipelines", "run-step", f"{FLOWS}:fan_out", "square[0]", "--run-id", run_id)[0] == 0
    assert cli("pipelines", "run-step", f"{FLOWS}:fan_out", "--finish", "--run-id", run_id)[0] == 0
    code, out, _ = cli("pipelines", "show", run_id, "--json")
    run = json.loads(out)
    steps = {s["key"]: s["status"] for s in run["steps"]}
    assert run["status"] == "FAILED" and "never ran" in run["error"]
    assert steps == {"square[0]": "SUCCEEDED", "square[1]": "SKIPPED", "total": "SKIPPED"}
    # Resumed here (in-process by default): the step that ran in its container is reused.
    code, out, err = cli("pipelines", "resume", run_id, "--json")
    assert code == 0, err
    resumed = json.loads(out)
    assert resumed["status"] == "SUCCEEDED" and resumed["runner"] == "inprocess"
    assert {s["key"]: s["status"] for s in resumed["steps"]}["square[0]"] == "CACHED"
