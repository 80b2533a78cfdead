"""Lineage walks over edges the registry and tracking recorded: dataset version -> run -> model
version -> deployment, and back; on SQLite, PostgreSQL and remote."""

from __future__ import annotations

import pytest

from slipway.core.errors import InvalidInput, NotFound
from slipway.store.edges import add_edge
from slipway.workspace import Workspace
from tests.governance.credit import register_credit


def test_upstream_and_downstream(workspace: Workspace) -> None:
    version, data_ref = register_credit(workspace, "credit", mitigated=True)
    model_ref = f"credit/{version}"
    run_id = workspace.registry.get_version("credit", version).run_id
    if not workspace.remote:  # a deployment edge as serving records it
        with workspace._transport.db.write() as conn:
            add_edge(conn, "model_version", model_ref, "deployed_as", "deployment", "credit-prod")
    up = workspace.lineage.upstream(f"model:{model_ref}")
    assert up.ids("dataset_version") == [data_ref] and up.ids("run") == [run_id]
    assert {n.depth for n in up.nodes if n.kind == "dataset_version"} == {1}

    down = workspace.lineage.downstream(f"dataset:{data_ref}")
    assert model_ref in down.ids("model_version") and run_id in down.ids("run")
    if not workspace.remote:
        assert down.ids("deployment") == ["credit-prod"]
        assert workspace.lineage.impact(f"dataset:{data_ref}")["deployment"] == ["credit-prod"]
        back = workspace.lineage.upstream("deployment:credit-prod")
        assert data_ref in back.ids("dataset_version") and run_id in back.ids("run")
    shallow = workspace.lineage.downstream(f"run:{run_id}", depth=1)
    assert shallow.ids("model_version") == [model_ref]
    with pytest.raises(InvalidInput, match="malformed"):
        workspace.lineage.upstream("credit")
    with pytest.raises(InvalidInput, match="depth"):
        workspace.lineage.upstream(f"model:{model_ref}", depth=0)
    # Asking about something that does not exist is NotFound, not an empty graph.
    for unknown in ("model:nope/1", "run:" + "0" * 32, "dataset:nope@1", "deployment:nope"):
        with pytest.raises(NotFound, match="does not exist"):
            workspace.lineage.upstream(unknown)
