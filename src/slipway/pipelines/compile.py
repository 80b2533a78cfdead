"""A pipeline as a Kubeflow Pipelines v2 spec or an Argo Workflow (``slipway pipelines compile``).

Both targets run the same step code as ``slipway pipelines run``, one container per step, in the
given image (the platform's, or a model's from ``slipway build``)::

    start   slipway pipelines run-step REF --start --runner kubeflow|argo -p k=v … --run-id-file F
    <step>  slipway pipelines run-step REF STEP --run-id RUN       (one per step, in DAG order)
    finish  slipway pipelines run-step REF --finish --run-id RUN   (exit handler: always runs)

``start`` records a Slipway pipeline run with the pipeline's parameters and writes its id; each
step container executes one step of that run (:meth:`Executor.execute_step`): its inputs are
the recorded outputs of its upstream steps, loaded from the artifact store by digest, and its
outputs, logs, lineage and cache entry are recorded as under any other runner, so the digests are
the same. ``REF`` is the pipeline's *stored* source (``stored:<digest>/file.py:name``, uploaded
when compiling, as a schedule stores it): a container restores it from the store, so the image
needs Slipway and the step's packages, not the pipeline's folder.

What maps to what:

- the DAG: one task per step node (fan-out items included), depending on its upstream steps and
  on ``start``; ``finish`` runs after every step whatever their outcome (KFP: ``ignore_upstream_failure``; Argo:
  ``onExit``);
- parameters: the pipeline's parameters (typed from their defaults: int, float, bool, str;
  anything else as a JSON string) are the spec's parameters, passed to ``start``;
- caching: Slipway's content-addressed step cache decides (a step whose key hits returns in the
  container without running), so KFP's own cache is switched off on every task (it keys on task
  inputs, i.e. the run id, and would never be right) and Argo memoization is not used;
- retries: a step's ``retries`` and ``backoff`` become the task's retry policy
  (``backoff * 2^(attempt-1)``); each container makes one attempt and records it, so a pod lost
  with its node is retried too; ``timeout`` is enforced in the container and, with a margin, by
  Argo's ``activeDeadlineSeconds``;
- conditions: a step whose ``when=`` does not hold, or whose upstream failed or was skipped,
  records SKIPPED and exits 0 (its downstream skip likewise); a step that failed after its retries
  exits 1, the orchestrator runs nothing below it, and ``finish`` records those as SKIPPED and ends
  the run FAILED, with the same error as ``pipelines run``;
- the stores: every container reads ``SLIPWAY_STORE_URI`` and ``SLIPWAY_ARTIFACTS_URI`` from the
  Kubernetes secret ``slipway-store`` (keys ``uri`` and ``artifacts``, as ``deploy render`` and the
  Helm chart use), or ``SLIPWAY_SERVER_URL`` and ``SLIPWAY_TOKEN`` (keys ``server_url``, ``token``;
  optional) for a remote platform.
"""

from __future__ import annotations

import inspect
import json
import math
import re
from typing import Any

import yaml

from slipway.core.errors import BackendUnavailable, InvalidInput
from slipway.pipelines.dsl import Pipeline
from slipway.pipelines.graph import Graph

TARGETS = ("kubeflow", "argo")
ENTRYPOINT = ["python", "-m", "slipway.cli.main", "pipelines", "run-step"]
SECRET = "slipway-store"
SECRET_ENV = {"uri": "SLIPWAY_STORE_URI", "artifacts": "SLIPWAY_ARTIFACTS_URI"}
OPTIONAL_SECRET_ENV = {"server_url": "SLIPWAY_SERVER_URL", "token": "SLIPWAY_TOKEN"}
RUN_ID_FILE = "/tmp/slipway-run-id"
# Argo's deadline for a step with a timeout: the container enforces the timeout itself; this
# margin covers its start and the recording of the failure.
DEADLINE_MARGIN_S = 120


def task_names(graph: Graph) -> dict[str, str]:
    """A DNS-1123 task name for each step key (``score[0]`` becomes ``score-0``), unique."""
    names: dict[str, str] = {}
    taken = {"start", "finish", "main"}
    for key in graph.nodes:
        base = re.sub(r"[^a-z0-9-]+", "-", key.lower()).strip("-")[:50].strip("-") or "step"
        name, n = base, 2
        while name in taken:
            name, n = f"{base}-{n}", n + 1
        taken.add(name)
        names[key] = name
    return names


def param_types(graph: Graph) -> dict[str, tuple[str, Any]]:
    """Each pipeline parameter's spec type (KFP v1 component type names) and default value."""
    types: dict[str, tuple[str, Any]] = {}
    for name, value in graph.params.items():
        if isinstance(value, bool):
            types[name] = ("Boolean", value)
        elif isinstance(value, int):
            types[name] = ("Integer", value)
        elif isinstance(value, float):
            types[name] = ("Float", value)
        elif isinstance(value, str):
            types[name] = ("String", value)
        else:  # lists, dicts, None: a JSON string, parsed back like `-p name=[1, 2]`
            types[name] = ("String", json.dumps(value))
    return types


def compile_spec(pipe: Pipeline, graph: Graph, ref: str, target: str, image: str) -> str:
    """The YAML of ``graph`` (built from ``pipe``) for ``target``; ``ref`` is what containers load."""
    if target not in TARGETS:
        raise InvalidInput(f"unknown compile target {target!r}; use one of {list(TARGETS)}")
    if not image or any(c.isspace() for c in image):
        raise InvalidInput(f"image must be an image reference without spaces, got {image!r}")
    if target == "kubeflow":
        return _kubeflow(pipe, graph, ref, image)
    return yaml.safe_dump(argo_workflow(pipe, graph, ref, image), sort_keys=False)


# -- Kubeflow Pipelines v2 ---------------------------------------------------------------------
def _kubeflow(pipe: Pipeline, graph: Graph, ref: str, image: str) -> str:
    try:
        from kfp import compiler, components, dsl
        from kfp import kubernetes as kfp_kubernetes
    except ImportError as err:
        raise BackendUnavailable("compiling for Kubeflow needs the kfp SDK: pip install 'slipway[kubeflow]'") from err
    import os
    import tempfile

    types = param_types(graph)
    names = task_names(graph)

    def component(name: str, inputs: list[dict[str, Any]], command: list[Any],
                  outputs: list[dict[str, Any]] | None = None) -> Any:
        spec: dict[str, Any] = {"name": name, "inputs": inputs,
                                "implementation": {"container": {"image": image, "command": command}}}
        if outputs:
            spec["outputs"] = outputs
        return components.load_component_from_text(yaml.safe_dump(spec, sort_keys=False))

    start_cmd: list[Any] = [*ENTRYPOINT, ref, "--start", "--runner", "kubeflow", "--run-id-file", {"outputPath": "run_id"}]
    for name in types:
        start_cmd += ["-p", {"concat": [f"{name}=", {"inputValue": name}]}]
    start = component("start", [{"name": n, "type": t, "default": d} for n, (t, d) in types.items()], start_cmd,
                      [{"name": "run_id", "type": "String"}])
    run_input = [{"name": "run_id", "type": "String"}]
    # A default, as ignore_upstream_failure requires (start failed: there is no run to finish).
    finish = component("finish", [{"name": "run_id", "type": "String", "default": ""}],
                       [*ENTRYPOINT, ref, "--finish", "--run-id", {"inputValue": "run_id"}])
    steps = {key: component(names[key], run_input, [*ENTRYPOINT, ref, key, "--run-id", {"inputValue": "run_id"}])
             for key in graph.nodes}

    def configure(task: Any, display: str) -> Any:
        task.set_caching_options(False)  # Slipway's content-addressed cache decides, in the container
        task.set_display_name(display)
        kfp_kubernetes.use_secret_as_env(task, secret_name=SECRET, secret_key_to_env=SECRET_ENV)
        return task

    def body(*values: Any) -> None:  # kfp passes the pipeline's parameters positionally, in order
        started = configure(start(**dict(zip(types, values, strict=True))), "start")
        run_id = started.outputs["run_id"]
        tasks: dict[str, Any] = {}
        for key, node in graph.nodes.items():
            task = configure(steps[key](run_id=run_id), key)
            for upstream in node.upstream:
                task.after(tasks[upstream])
            if node.step.retries:
                # KFP takes whole seconds: the backoff rounded up.
                task.set_retry(num_retries=node.step.retries, backoff_duration=f"{math.ceil(node.step.backoff)}s",
                               backoff_factor=2.0)
            tasks[key] = task
        # After every step, whether it succeeded or not (KFP's ExitHandler cannot take the run id).
        configure(finish(run_id=run_id), "finish").after(*tasks.values()).ignore_upstream_failure()

    body.__signature__ = inspect.Signature([  # type: ignore[attr-defined]
        inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=d,
                          annotation={"Boolean": bool, "Integer": int, "Float": float}.get(t, str))
        for n, (t, d) in types.items()])
    body.__name__ = re.sub(r"[^A-Za-z0-9_]", "_", pipe.name)
    kfp_pipeline = dsl.pipeline(name=kfp_name(pipe.name), description=(pipe.__doc__ or "").strip()[:1000] or None)(body)
    handle, path = tempfile.mkstemp(suffix=".yaml")
    os.close(handle)
    try:
        compiler.Compiler().compile(kfp_pipeline, path)
        with open(path, encoding="utf-8") as file:
            return file.read()
    finally:
        os.unlink(path)


def kfp_name(name: str) -> str:
    """KFP's pipeline name rule: lowercase letters, digits and dashes."""
    return re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-") or "pipeline"


# -- Argo Workflows ----------------------------------------------------------------------------
def _env() -> list[dict[str, Any]]:
    env = [{"name": var, "valueFrom": {"secretKeyRef": {"name": SECRET, "key": key}}} for key, var in SECRET_ENV.items()]
    env += [{"name": var, "valueFrom": {"secretKeyRef": {"name": SECRET, "key": key, "optional": True}}}
            for key, var in OPTIONAL_SECRET_ENV.items()]
    return env


def _container(image: str, args: list[str]) -> dict[str, Any]:
    return {"image": image, "command": ENTRYPOINT[:3], "args": [*ENTRYPOINT[3:], *args], "env": _env()}


def argo_workflow(pipe: Pipeline, graph: Graph, ref: str, image: str) -> dict[str, Any]:
    """An ``argoproj.io/v1alpha1`` Workflow: a DAG template of one task per step."""
    types = param_types(graph)
    names = task_names(graph)
    run_id = {"name": "run_id", "value": "{{tasks.start.outputs.parameters.run_id}}"}
    start_args = [ref, "--start", "--runner", "argo", "--run-id-file", RUN_ID_FILE]
    for name in types:
        start_args += ["-p", f"{name}={{{{inputs.parameters.{name}}}}}"]
    templates: list[dict[str, Any]] = [
        {"name": "main", "dag": {"tasks": [
            {"name": "start", "template": "start", "arguments": {"parameters": [
                {"name": n, "value": f"{{{{workflow.parameters.{n}}}}}"} for n in types]}},
            *({"name": names[key], "template": names[key], "dependencies": ["start", *(names[u] for u in node.upstream)],
               "arguments": {"parameters": [run_id]}} for key, node in graph.nodes.items()),
        ]}},
        {"name": "start", "inputs": {"parameters": [{"name": n} for n in types]},
         "container": _container(image, start_args),
         "outputs": {"parameters": [{"name": "run_id", "valueFrom": {"path": RUN_ID_FILE},
                                     "globalName": "slipway-run-id"}]}},
        {"name": "finish",
         "container": _container(image, [ref, "--finish", "--run-id", "{{workflow.outputs.parameters.slipway-run-id}}"])},
    ]
    for key, node in graph.nodes.items():
        template: dict[str, Any] = {
            "name": names[key], "inputs": {"parameters": [{"name": "run_id"}]},
            "metadata": {"annotations": {"slipway.dev/step": key}},
            "container": _container(image, [ref, key, "--run-id", "{{inputs.parameters.run_id}}"])}
        if node.step.retries:
            template["retryStrategy"] = {"limit": str(node.step.retries), "retryPolicy": "Always",
                                         "backoff": {"duration": f"{node.step.backoff:g}s", "factor": "2"}}
        if node.step.timeout:
            template["activeDeadlineSeconds"] = str(int(node.step.timeout) + DEADLINE_MARGIN_S)
        templates.append(template)
    return {
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
        "metadata": {"generateName": f"{kfp_name(pipe.name)[:50]}-",
                     "labels": {"app.kubernetes.io/managed-by": "slipway"},
                     "annotations": {"slipway.dev/pipeline": ref}},
        "spec": {"entrypoint": "main", "onExit": "finish",
                 "arguments": {"parameters": [{"name": n, "value": _text(d)} for n, (_, d) in types.items()]},
                 "templates": templates},
    }


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
