"""Concurrent registrations of one model get distinct, gap-free version numbers."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

import slipway
from slipway.workspace import Workspace
from tests.models.ai4i import ai4i, fitted_pipeline


@pytest.mark.parametrize("workspace", ["sqlite", "postgres"], indirect=True)
def test_parallel_registrations_number_versions_once(workspace: Workspace) -> None:
    X, _ = ai4i()
    run_ids = []
    for index in range(6):
        with workspace.tracking.start_run(f"r{index}") as run:
            slipway.log_model(fitted_pipeline(), input_example=X.head(3))
        run_ids.append(run.id)
    # The model does not exist yet: the writers also race to create it.
    with ThreadPoolExecutor(6) as pool:
        versions = list(pool.map(lambda run_id: workspace.registry.register_version("race", run_id), run_ids))
    assert sorted(v.version for v in versions) == [1, 2, 3, 4, 5, 6]
    assert {v.run_id for v in versions} == set(run_ids)
    assert workspace.registry.get_model("race").latest_version == 6
    creates = workspace.audit.log(subject="registered_model:race", action="registry.create_model")
    assert len(creates) == 1
    assert workspace.audit.verify().ok
