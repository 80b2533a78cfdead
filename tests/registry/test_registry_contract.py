"""The registry's must-holds, against embedded SQLite, embedded PostgreSQL and remote."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import slipway
from slipway.blobs.manifest import load_manifest
from slipway.core.errors import Conflict, IntegrityError, InvalidInput, NotFound
from slipway.core.records import as_plain
from slipway.models.records import ModelInfo
from slipway.models.training_data import TrainingData
from slipway.workspace import Workspace
from tests.models.ai4i import ai4i, fitted_pipeline
from tests.registry.helpers import blob_store, set_state

ROOT = Path(__file__).resolve().parents[2]


def _log_and_register(ws: Workspace, name: str = "maintenance", kind: str = "forest") -> ModelInfo:
    X, y = ai4i()
    model = fitted_pipeline(kind)
    with ws.tracking.start_run("train", experiment="maintenance"):
        ws.tracking.log_params({"kind": kind})
        ws.tracking.log_metric("accuracy", float(model.score(X, y)))
        info = slipway.log_model(model, input_example=X.head(10), registered_model_name=name)
    return info


def _connect_args(ws: Workspace) -> str:
    if ws.remote:
        return f"slipway.connect({ws.settings.server_url!r}, token={ws.settings.token!r})"
    return (f"slipway.connect({ws.settings.resolved_store_uri!r}, home={str(ws.settings.home)!r}, "
            f"artifacts_uri={ws.settings.resolved_artifacts_uri!r})")


def test_pipeline_champion_round_trip_in_fresh_process(workspace: Workspace, home: Path, tmp_path: Path) -> None:
    X, _ = ai4i()
    info = _log_and_register(workspace)
    assert info.version == 1 and info.uri.startswith("runs:/") and info.flavor == "sklearn"
    set_state(workspace, home, "maintenance", 1, "approved")
    moved = workspace.registry.set_alias("maintenance", "champion", 1)
    assert moved.aliases == ["champion"]

    # A fresh process loads it embedded (SQLite) and through the server; PostgreSQL shares the
    # embedded code path, so it is checked in-process below to keep the suite fast.
    if workspace.remote or workspace.settings.resolved_store_uri.startswith("sqlite"):
        out = tmp_path / "pred.npy"
        script = textwrap.dedent(f"""
            import numpy as np, pandas as pd, slipway
            ws = {_connect_args(workspace)}
            X = pd.read_csv({str(ROOT.parent / 'shared' / 'data' / 'ai4i2020' / 'ai4i2020.csv')!r}, nrows=3000)
            model = slipway.load_model("maintenance@champion")
            cols = [c["name"] for c in model.signature["inputs"]]
            np.save({str(out)!r}, model.predict(X[cols]))
        """)
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        np.testing.assert_array_equal(np.load(out), fitted_pipeline().predict(X))

    loaded = workspace.registry.load("models:/maintenance@champion")
    assert loaded.bundle_digest == info.bundle_digest
    np.testing.assert_allclose(loaded.predict_proba(X), fitted_pipeline().predict_proba(X))
    actions = [e.action for e in workspace.audit.log(subject="registered_model:maintenance")]
    assert "registry.create_model" in actions and "registry.set_alias" in actions
    assert [e.action for e in workspace.audit.log(subject="model_version:maintenance/1")] == ["registry.register_version"]
    assert workspace.audit.verify(state=False).ok
    # set_state bypassed governance with a direct UPDATE, and the state replay says so.
    assert [p.subject for p in workspace.audit.verify().problems] == ["model_version:maintenance/1"]


def test_bundle_edited_after_registration_is_refused(workspace: Workspace, home: Path) -> None:
    info = _log_and_register(workspace)
    store = blob_store(workspace, home)
    entry = load_manifest(store, info.bundle_digest).by_path()["model.skops"]
    path = store.path_of(entry.digest)
    os.chmod(path, 0o644)
    with open(path, "r+b") as handle:  # flip one byte in the middle of the stored model
        handle.seek(entry.size // 2)
        byte = handle.read(1)
        handle.seek(entry.size // 2)
        handle.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(IntegrityError) as caught:
        workspace.registry.load("maintenance/1")
    assert info.bundle_digest in caught.value.message and "model.skops" in caught.value.message
    with pytest.raises(IntegrityError):
        slipway.load_model(info.uri)


def test_bad_requests_change_nothing(workspace: Workspace) -> None:
    info = _log_and_register(workspace)
    X, _ = ai4i()
    before = workspace.audit.verify().events
    models_before = workspace.registry.list_models()
    with pytest.raises(NotFound, match=r"0{32}"):
        workspace.registry.register_version("maintenance", "0" * 32)
    with pytest.raises(NotFound, match="no artifact 'nope'"):
        workspace.registry.register_version("maintenance", info.run_id, "nope")
    with pytest.raises(NotFound, match="no version 7"):
        workspace.registry.set_alias("maintenance", "challenger", 7)
    with pytest.raises(Conflict, match="protected"):
        workspace.registry.set_alias("maintenance", "champion", 1)
    with pytest.raises(InvalidInput, match="unknown model flavor 'nope'"), \
            workspace.tracking.start_run("bad-flavor") as run:
        slipway.log_model(fitted_pipeline(), flavor="nope", registered_model_name="maintenance")
    assert workspace.tracking.list_artifacts(run.id) == []
    model = workspace.registry.load("maintenance/1")
    with pytest.raises(InvalidInput, match="missing column 'Torque \\[Nm\\]'"):
        model.predict(X.drop(columns=["Torque [Nm]"]))
    with pytest.raises(InvalidInput, match=r"'Tool wear \[min\]' has type string but .* expects long"):
        model.predict(X.assign(**{"Tool wear [min]": "worn"}))
    with pytest.raises(InvalidInput, match="version"):
        workspace.registry.resolve("maintenance/zero")
    # Only the failed run's own start/end events were added; nothing in the registry moved.
    after = workspace.audit.log(limit=10)
    registry_events = [e for e in after if e.seq > before and e.action.startswith("registry.")]
    assert registry_events == []
    assert workspace.registry.list_models() == models_before
    assert len(workspace.registry.list_versions("maintenance")) == 1
    assert workspace.audit.verify().ok


def test_versions_aliases_search_and_lineage(workspace: Workspace, home: Path) -> None:
    registry = workspace.registry
    created = registry.create_model("churn", "predicts churn", risk_tier="high", tags={"team": "risk"})
    assert created.latest_version is None and created.risk_tier == "high"
    with pytest.raises(InvalidInput, match="risk tier 'extreme'"):
        registry.create_model("other", risk_tier="extreme")
    X, _ = ai4i()
    with workspace.tracking.start_run("v1") as run:
        workspace.tracking.log_input(TrainingData("ai4i", 2, "a" * 64))
        info = slipway.log_model(fitted_pipeline(), input_example=X.head(5))
    v1 = registry.register_version("churn", run.id)
    assert registry.register_version("churn", run.id).version == 1  # same bytes, same run: same version
    assert v1.datasets == [{"dataset": "ai4i", "version": 2, "digest": "a" * 64, "context": "training"}]
    assert v1.bundle_digest == info.bundle_digest and v1.state == "registered"
    with workspace.tracking.start_run("v2") as run2:
        workspace.tracking.log_metric("auc", 0.9)
        slipway.log_model(fitted_pipeline("boosting"), input_example=X.head(5))
    v2 = registry.register_version("churn", run2.id, description="boosted")
    assert v2.version == 2 and v2.metrics == {"auc": 0.9} and v2.bundle_digest != v1.bundle_digest

    registry.set_alias("churn", "challenger", 1)
    registry.set_alias("churn", "challenger", 2)
    moves = [(e.details["alias"], e.details["previous"], e.details["version"])
             for e in workspace.audit.log(subject="registered_model:churn", action="registry.set_alias")]
    assert ("challenger", 1, 2) in moves and ("challenger", None, 1) in moves
    assert registry.resolve("churn@challenger").version == 2
    assert registry.resolve("models:/churn/1").version == 1
    assert registry.resolve("churn/latest").version == 2
    registry.delete_alias("churn", "challenger")
    with pytest.raises(NotFound, match="no alias 'challenger'"):
        registry.resolve("churn@challenger")

    assert [v.version for v in registry.list_versions("churn")] == [2, 1]
    assert [m.name for m in registry.search_models("ch*")] == ["churn"]
    assert [m.name for m in registry.search_models(tags={"team": "risk"})] == ["churn"]
    assert registry.search_models(tags={"team": "ops"}) == []
    updated = registry.update_model("churn", owner="alice", tags={"tier": "gold"})
    assert updated.owner == "alice" and updated.tags == {"team": "risk", "tier": "gold"}
    assert registry.get_model("churn").latest_version == 2

    from sqlalchemy import select

    from slipway.store.schema.core import lineage_edges
    from tests.registry.helpers import database

    db = database(workspace, home)
    try:
        with db.read() as conn:
            edges = {(r.src_kind, r.src_id, r.relation, r.dst_id) for r in conn.execute(select(lineage_edges))}
    finally:
        db.dispose()
    assert ("run", run.id, "produced", "churn/1") in edges
    assert ("dataset_version", "ai4i@2", "trained", "churn/1") in edges
    info_text = json.dumps(as_plain(registry.reproduce_info("churn/1")))
    assert run.id in info_text
    assert workspace.audit.verify().ok
