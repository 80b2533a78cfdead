"""The MovieLens feature store example as a new user runs it: a real subprocess in a temporary
home, then what they would check: the training sets are dataset versions whose lineage reaches the
raw ratings, both models are registered, the online store holds every user and movie, and the run
printed that online values equal the offline join. Marked slow: it trains two models."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from slipway.core.settings import load_settings
from slipway.workspace import open_workspace

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "features" / "run.py"


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_the_features_example_runs_end_to_end(tmp_path: Path) -> None:
    home = tmp_path / "features"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLIPWAY_")}
    result = subprocess.run([sys.executable, str(EXAMPLE), "--home", str(home)], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=1200)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    assert "plan: 7 change(s)" in out and "add feature_view user_stats" in out
    assert "values as the offline join" in out
    assert "materialised user_stats@1: 610 keys" in out and "materialised movie_stats@1: 9,724 keys" in out
    assert "user_stats values are expired" in out
    ws = open_workspace(load_settings(home=home, user="", server_url="", store_uri="", artifacts_uri="", token=""))
    try:
        assert [v.version for v in ws.data.versions("likes-training")] == [1]
        assert {m.name for m in ws.registry.list_models()} >= {"movielens-likes", "movielens-rating"}
        impact = ws.features.impact("user_stats")
        assert set(impact["dataset_version"]) == {"likes-training@1", "rating-training@1"}
        assert len(impact["model_version"]) == 2
        up = ws.lineage.upstream("dataset:likes-training@1")
        assert {"dataset_version:ratings@1", "dataset_version:movies@1"} <= {f"{n.kind}:{n.id}" for n in up.nodes}
        assert ws.features.profile("movie_stats")["rows"] == 9724
    finally:
        ws.close()
