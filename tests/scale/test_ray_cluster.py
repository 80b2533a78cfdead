"""Pipelines on a real multi-node Ray cluster on this machine (``ray start --head`` and two worker
node processes, see :mod:`tests.scale.ray_cluster`): a pipeline's steps and the batch scoring of a
model over a partitioned dataset version give the digests of an in-process run, and a worker
node killed while it runs a scoring task loses no result: Ray runs the task again on a node left.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from slipway.pipelines.records import PipelineRun
from slipway.workspace import Workspace, open_workspace
from tests.pipelines import flows
from tests.scale import ray_flows
from tests.scale.ray_cluster import Cluster, node_of_markers, ray_cluster, wait_for
from tests.support import AI4I, make_settings

pytestmark = [pytest.mark.slow, pytest.mark.cluster, pytest.mark.timeout(1200)]
PARTS = 3


def _digests(run: PipelineRun) -> dict[str, dict[str, str]]:
    return {s.key: {name: out["digest"] for name, out in s.outputs.items()} for s in run.steps}


def _partitioned(ws: Workspace, folder: Path) -> tuple[str, list[str]]:
    """AI4I as a dataset version of PARTS Parquet files; its ref and the files' paths."""
    table = pacsv.read_csv(AI4I)
    folder.mkdir(parents=True, exist_ok=True)
    size = -(-table.num_rows // PARTS)
    for index in range(PARTS):
        pq.write_table(table.slice(index * size, size), folder / f"part-{index}.parquet")
    version = ws.data.add("ai4i-parts", folder)
    paths = sorted(f["path"] for f in ws.data.files(version.ref))
    assert len(paths) == PARTS
    return version.ref, paths


def _workspace(path: Path) -> Workspace:
    return open_workspace(make_settings(path))


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with ray_cluster(tmp_path_factory.mktemp("ray"), workers=2) as running:
        yield running


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Both pipelines in-process, in a workspace of their own."""
    root = tmp_path_factory.mktemp("reference")
    ws = _workspace(root / "home")
    try:
        training = ws.pipelines.run(flows.training_only, {"csv": str(AI4I), "rows": 600})
        ref, paths = _partitioned(ws, root / "parts")
        scoring = ws.pipelines.run(ray_flows.batch_score, {"dataset": ref, "partitions": paths})
        assert training.status == scoring.status == "SUCCEEDED", (training.error, scoring.error)
        return {"training": _digests(training), "scoring": _digests(scoring),
                "summary": ws.pipelines.output(scoring.id, "summarise")}
    finally:
        ws.close()


def test_pipeline_steps_on_the_cluster_give_in_process_digests(cluster: Cluster, reference: dict[str, Any],
                                                                 tmp_path: Path) -> None:
    ws = _workspace(tmp_path / "home")
    try:
        run = ws.pipelines.run(flows.training_only, {"csv": str(AI4I), "rows": 600}, runner="ray")
        assert run.status == "SUCCEEDED", run.error
        assert run.runner == "ray"
        assert _digests(run) == reference["training"]
    finally:
        ws.close()


def test_batch_scoring_survives_a_worker_node_killed_mid_run(cluster: Cluster, reference: dict[str, Any],
                                                             tmp_path: Path) -> None:
    ws = _workspace(tmp_path / "home")
    markers, release = tmp_path / "markers", tmp_path / "release"
    markers.mkdir()
    try:
        ref, paths = _partitioned(ws, tmp_path / "parts")
        box: dict[str, Any] = {}

        def drive() -> None:
            try:
                box["run"] = ws.pipelines.run(ray_flows.batch_score, {
                    "dataset": ref, "partitions": paths, "markers": str(markers), "release": str(release)},
                    runner="ray")
            except BaseException as err:  # reported by the assertion below
                box["error"] = err

        driver = threading.Thread(target=drive, name="batch-score-driver")
        driver.start()
        victim = cluster.workers[0]
        # Three scoring tasks of one CPU each on three one-CPU nodes: one runs on the victim.
        started = wait_for(lambda: [item for item, nodes in node_of_markers(markers).items()
                                    if victim.node_id in nodes], 600, "a scoring task on worker1")
        victim.kill()
        wait_for(lambda: not cluster.nodes_alive().get(victim.node_id, True), 300, "Ray seeing worker1 dead")
        release.touch()
        driver.join(900)
        assert not driver.is_alive(), "the run did not finish"
        assert "error" not in box, box.get("error")
        run: PipelineRun = box["run"]
        assert run.status == "SUCCEEDED", run.error
        # No result lost: every output is the in-process one, the killed task's included.
        assert _digests(run) == reference["scoring"]
        assert ws.pipelines.output(run.id, "summarise") == reference["summary"]
        assert ws.pipelines.output(run.id, "summarise")["rows"] == pacsv.read_csv(AI4I).num_rows
        # The killed task ran again on another node, as Ray's retry, not as a failed attempt.
        attempts = node_of_markers(markers)
        for item in started:
            assert len(attempts[item]) >= 2 and any(node != victim.node_id for node in attempts[item])
        assert all(s.attempts == 1 for s in run.steps if s.key.startswith("score"))
        assert set(cluster.nodes_alive().values()) == {True, False}
    finally:
        release.touch()
        ws.close()
