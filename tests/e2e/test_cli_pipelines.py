"""``slipway pipelines …`` as a user runs it: a pipeline file, parameters, JSON, logs, resume."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

FLOW = textwrap.dedent('''
    from pathlib import Path

    from slipway.pipelines import pipeline, step


    @step
    def numbers(n: int) -> list:
        print(f"making {n} numbers")
        return list(range(n))


    @step
    def total(values: list, scale: float) -> float:
        if Path(__file__).with_name("broken").exists():
            raise RuntimeError("total is broken today")
        return sum(values) * scale


    @pipeline
    def summing(n: int = 4, scale: float = 1.0):
        total(numbers(n), scale)
''')


def _cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SLIPWAY_HOME": str(home), "SLIPWAY_SERVER_URL": "",
           "SLIPWAY_STORE_URI": "", "SLIPWAY_ARTIFACTS_URI": "", "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "slipway.cli.main", "pipelines", *args], env=env, cwd=home,
                          capture_output=True, text=True, timeout=300)


def test_run_show_logs_resume_from_the_command_line(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    flow = tmp_path / "flow.py"
    flow.write_text(FLOW)

    first = _cli(home, "run", f"{flow}:summing", "-p", "n=5", "-p", "scale=0.5", "--json")
    assert first.returncode == 0, first.stderr
    run = json.loads(first.stdout)
    assert run["status"] == "SUCCEEDED" and run["params"] == {"n": 5, "scale": 0.5}
    assert [s["status"] for s in run["steps"]] == ["SUCCEEDED", "SUCCEEDED"]

    (tmp_path / "broken").write_text("yes")
    failed = _cli(home, "run", f"{flow}:summing", "-p", "n=5", "-p", "scale=2")
    assert failed.returncode == 1
    assert "FAILED" in failed.stdout and "total is broken today" in failed.stdout
    assert "Traceback" not in failed.stderr

    listed = json.loads(_cli(home, "ls", "--json").stdout)
    assert [r["status"] for r in listed] == ["FAILED", "SUCCEEDED"]
    failed_id = listed[0]["id"]
    shown = _cli(home, "show", failed_id)
    assert shown.returncode == 0 and "cached" in shown.stdout and "numbers" in shown.stdout
    logs = json.loads(_cli(home, "logs", failed_id, "--json").stdout)
    assert logs["numbers"] == ""  # numbers(5) was a cache hit in the failed run: nothing ran, nothing logged
    first_logs = _cli(home, "logs", run["id"], "--step", "numbers")
    assert "making 5 numbers" in first_logs.stdout

    (tmp_path / "broken").unlink()
    resumed = _cli(home, "resume", failed_id, "--json")
    assert resumed.returncode == 0, resumed.stderr
    body = json.loads(resumed.stdout)
    assert body["status"] == "SUCCEEDED" and body["resumed_from"] == failed_id
    assert [s["cached"] for s in body["steps"]] == [True, False]

    bad = _cli(home, "run", f"{flow}:summing", "-p", "n=lots")
    assert bad.returncode == 2
    assert "n='lots' is not a valid int" in bad.stderr and "Traceback" not in bad.stderr
    missing = _cli(home, "run", f"{tmp_path}/nope.py:summing")
    assert missing.returncode == 2 and "does not exist" in missing.stderr
    assert len(json.loads(_cli(home, "ls", "--json").stdout)) == 3  # bad input recorded nothing
