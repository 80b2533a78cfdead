"""``slipway pipelines …`` as a user runs it: a pipeline file, parameters, JSON, logs, resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pyarrow as pa

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


HELD_FLOW = textwrap.dedent('''
    import time
    from pathlib import Path

    from slipway.pipelines import StepContext, pipeline, step


    @step
    def first(n: int) -> int:
        return n


    @step
    def hold(value: int, flag: str) -> int:
        while Path(flag).exists():
            time.sleep(0.05)
        return value + 1


    @pipeline
    def held(n: int = 1, flag: str = ""):
        hold(first(n), flag)


    @step
    def count_rows(dataset: str, context: StepContext = None) -> int:
        return context.workspace.data.load(dataset).num_rows


    @pipeline
    def on_data(dataset: str = ""):
        count_rows(dataset)
''')


def _slipway(home: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SLIPWAY_HOME": str(home), "SLIPWAY_SERVER_URL": "",
           "SLIPWAY_STORE_URI": "", "SLIPWAY_ARTIFACTS_URI": "", "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "slipway.cli.main", *args], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def test_bad_schedules_are_refused_and_schedules_are_managed(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    flow = tmp_path / "flow.py"
    flow.write_text(FLOW)
    broken = tmp_path / "broken.py"
    broken.write_text("def oops(:\n")
    for args, message in (((f"{flow}:NOSUCH",), "has no pipeline named 'NOSUCH'"),
                          ((f"{broken}:oops",), f"SyntaxError: invalid syntax ({broken}, line 1)"),
                          (("/etc/hostname:x",), "is not a Python file"),
                          ((f"{tmp_path}/nope.py:summing",), "does not exist"),
                          ((f"{flow}:summing", "-p", "n=many"), "n='many' is not a valid int")):
        bad = _cli(home, "schedule", "weekly", *args, "--cron", "0 3 * * 1")
        assert bad.returncode == 2, bad.stderr
        assert message in bad.stderr and len(bad.stderr.strip().splitlines()) == 1 and "Traceback" not in bad.stderr
    assert json.loads(_cli(home, "schedules", "--json").stdout) == {"schedules": [], "triggers": []}

    made = _cli(home, "schedule", "weekly", f"{flow}:summing", "--cron", "0 3 * * 1", "-p", "n=3", "--json")
    assert made.returncode == 0, made.stderr
    assert json.loads(made.stdout)["params"] == {"n": 3} and json.loads(made.stdout)["next_fire_ms"]
    listed = _cli(home, "schedules")
    assert "weekly" in listed.stdout and "enabled" in listed.stdout and "T03:00:00" in listed.stdout  # next fire

    assert _cli(home, "disable", "weekly").returncode == 0
    (schedule,) = json.loads(_cli(home, "schedules", "--json").stdout)["schedules"]
    assert schedule["enabled"] is False and schedule["next_fire_ms"] is None
    assert _cli(home, "enable", "weekly").returncode == 0
    changed = _cli(home, "update", "weekly", "--cron", "30 4 * * *", "-p", "scale=2", "--json")
    assert changed.returncode == 0, changed.stderr
    body = json.loads(changed.stdout)
    assert body["cron"] == "30 4 * * *" and body["params"] == {"n": 3, "scale": 2.0} and body["enabled"]
    bad_update = _cli(home, "update", "weekly", "-p", "scale=lots")
    assert bad_update.returncode == 2 and "scale='lots' is not a valid float" in bad_update.stderr
    assert _cli(home, "delete", "weekly").returncode == 0
    gone = _cli(home, "delete", "weekly")
    assert gone.returncode == 2 and "no schedule or trigger is named 'weekly'" in gone.stderr


def test_a_killed_pipelines_run_is_failed_by_its_heartbeat_and_resumed(tmp_path: Path) -> None:
    from slipway.workspace import open_workspace
    from tests.support import make_settings

    home = tmp_path / "home"
    home.mkdir()
    flow = tmp_path / "held.py"
    flow.write_text(HELD_FLOW)
    flag = tmp_path / "hold"
    flag.write_text("hold")
    env = {**os.environ, "SLIPWAY_HOME": str(home), "SLIPWAY_SERVER_URL": "",
           "SLIPWAY_STORE_URI": "", "SLIPWAY_ARTIFACTS_URI": ""}
    process = subprocess.Popen([sys.executable, "-m", "slipway.cli.main", "pipelines", "run", f"{flow}:held",
                                "-p", f"flag={flag}"], env=env, cwd=home, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    ws = open_workspace(make_settings(home))
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            running = ws.pipelines.list_runs(status="RUNNING")
            if running and running[0].step("hold").status == "RUNNING":
                break
            time.sleep(0.1)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        (killed,) = ws.pipelines.list_runs(status="RUNNING")
        flag.unlink()

        early = _cli(home, "resume", killed.id)  # its last heartbeat is fresh: it may still be alive
        assert early.returncode == 2 and "RUNNING and its process was alive" in early.stderr

        ws.pipelines.clock = lambda: (killed.heartbeat_ms or 0) + 31_000  # past the heartbeat bound
        resumed = ws.pipelines.resume(killed.id)
        assert resumed.status == "SUCCEEDED" and resumed.resumed_from == killed.id
        assert resumed.step("first").cached and ws.pipelines.output(resumed.id, "hold") == 2
        failed = ws.pipelines.get_run(killed.id)
        assert failed.status == "FAILED" and "no heartbeat" in (failed.error or "")
    finally:
        ws.close()


def test_a_scheduler_started_from_another_folder_runs_a_trigger(tmp_path: Path) -> None:
    from slipway.workspace import open_workspace
    from tests.support import make_settings

    home, project, elsewhere = tmp_path / "home", tmp_path / "project", tmp_path / "elsewhere"
    for folder in (home, project, elsewhere):
        folder.mkdir()
    (project / "flow.py").write_text(HELD_FLOW)
    ws = open_workspace(make_settings(home))
    try:
        ws.data.add("sensor", pa.table({"x": [1, 2, 3]}))
        made = _slipway(home, project, "pipelines", "trigger", "on-sensor", "flow.py:on_data", "--dataset", "sensor")
        assert made.returncode == 0, made.stderr
        ws.data.add("sensor", pa.table({"x": [1, 2, 3, 4]}))
        ticked = _slipway(home, elsewhere, "scheduler", "--once")
        assert ticked.returncode == 0, ticked.stderr
        (run,) = ws.pipelines.list_runs()
        assert run.status == "SUCCEEDED", run.error
        assert ws.pipelines.output(run.id, "count_rows") == 4
    finally:
        ws.close()
