"""The same pipeline gives identical artifact digests in-process, in a process pool and on Ray;
the process pool enforces timeouts by killing the worker."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from slipway.pipelines.records import PipelineRun
from slipway.pipelines.runners.process_pool import ProcessPoolRunner
from slipway.workspace import Workspace
from tests.pipelines import flows
from tests.support import AI4I

PARAMS = {"csv": str(AI4I), "rows": 600}


def _digests(run: PipelineRun) -> dict[str, dict[str, str]]:
    return {s.key: {name: out["digest"] for name, out in s.outputs.items()} for s in run.steps}


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, str]]:
    from slipway.workspace import open_workspace
    from tests.support import make_settings

    ws = open_workspace(make_settings(tmp_path_factory.mktemp("inprocess")))
    run = ws.pipelines.run(flows.training_only, PARAMS)
    assert run.status == "SUCCEEDED", run.error
    assert len(run.executed) == len(run.steps) == 8
    ws.close()
    return _digests(run)


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    import ray

    # Ray gives its raylet a fixed 30 s to come up, which a busy two-core machine can miss: try
    # again rather than make the test depend on the machine's load. address="local": a cluster of
    # its own, never one that `ray start` left running on this machine.
    for attempt in range(3):
        try:
            ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
            break
        except Exception:
            ray.shutdown()
            if attempt == 2:
                raise
    yield
    ray.shutdown()


def test_process_pool_gives_identical_digests_retries_and_kills_on_timeout(
        sqlite_ws: Workspace, reference: dict[str, dict[str, str]], tmp_path: Path) -> None:
    runner = ProcessPoolRunner(workers=2)
    try:
        run = sqlite_ws.pipelines.run(flows.training_only, PARAMS, runner=runner)
        assert run.status == "SUCCEEDED", run.error
        assert run.runner == "process"
        assert _digests(run) == reference
        assert "training on 420 rows" in sqlite_ws.pipelines.logs(run.id, "train")["train"]

        retried = sqlite_ws.pipelines.run(flows.retrying, {"marker": str(tmp_path / "m")}, runner=runner)
        assert retried.status == "SUCCEEDED" and retried.step("flaky").attempts == 3

        started = time.monotonic()
        late = sqlite_ws.pipelines.run(flows.sleepy, {"seconds": 30.0}, runner=runner)
        assert time.monotonic() - started < 20
        assert late.status == "FAILED"
        assert "StepTimeout" in (late.step("slow").error or "") and "killed" in (late.step("slow").error or "")
        # The pool replaced the killed worker and still works.
        again = sqlite_ws.pipelines.run(flows.fan_out, {"n": 3}, runner=runner)
        assert again.status == "SUCCEEDED" and sqlite_ws.pipelines.output(again.id, "total") == 5
    finally:
        runner.close()


def test_ray_gives_identical_digests(sqlite_ws: Workspace, reference: dict[str, dict[str, str]],
                                     local_ray: None) -> None:
    run = sqlite_ws.pipelines.run(flows.training_only, PARAMS, runner="ray")
    assert run.status == "SUCCEEDED", run.error
    assert run.runner == "ray"
    assert _digests(run) == reference
