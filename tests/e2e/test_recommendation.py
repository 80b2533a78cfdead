"""The recommendation example as a new user runs it: a real subprocess in a temporary home, then
what they would check: the models, the champion, the canary's decision in the deployment history,
exactly one triggered run per new ratings version, an intact ledger; and a second run that reuses
everything and ends in the same state. Marked slow: it trains ALS twice."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from slipway.core.settings import load_settings
from slipway.workspace import open_workspace

pytest.importorskip("implicit")
ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "recommendation"


def _run(home: Path, *extra: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLIPWAY_")}
    result = subprocess.run([sys.executable, str(EXAMPLE / "run.py"), "--home", str(home), *extra], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    return result.stdout


@pytest.mark.slow
def test_recommendation_example_runs_and_reruns_to_the_same_state(tmp_path: Path) -> None:
    home = tmp_path / "recs"
    first = _run(home)
    assert "alice approving her own request: refused" in first
    assert "as the model computes in-process" in first
    assert "click-through per variant" in first
    second = _run(home)
    assert "ratings@1: 94,418 ratings (already versioned)" in second
    ws = open_workspace(load_settings(home=home, user="", config_path=str(EXAMPLE / "slipway.toml"), server_url="",
                                      store_uri="", artifacts_uri="", token=""))
    try:
        assert sorted(v.version for v in ws.data.versions("ratings")) == [1, 2]
        versions = {v.version: v for v in ws.registry.list_versions("movie-recs")}
        assert sorted(versions) == [1, 2]  # nothing new registered by the second run
        champion = ws.registry.resolve("movie-recs@champion")
        deployment = ws.serving.get("recs")
        assert deployment.status in ("promoted", "rolled_back")
        expected = "movie-recs/2" if deployment.status == "promoted" else "movie-recs/1"
        assert champion.ref == expected
        assert f"'champion': '{expected}'" in first and f"'champion': '{expected}'" in second
        history = [h.action for h in ws.serving.history("recs", 1000)]
        assert ("promote" in history) != ("rollback" in history)
        trigger = next(t for t in ws.pipelines.list_triggers() if t.name == "weekly-recs")
        assert [f.event for f in ws.pipelines.list_firings(trigger.id, 100)] == ["ratings@2"]
        assert ws.audit.verify().ok
    finally:
        ws.close()
