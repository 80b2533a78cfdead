"""Commands given a reference whose version is a Unicode digit ("²" passes str.isdigit() but not
int()) print one line and exit with code 2, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.parametrize("args", [
    ["models", "show", "churn/\u00b2"],
    ["data", "show", "transactions@\u00b2"],
    ["governance", "status", "churn/\u00b2"],
    ["audit", "log", "--since", "\u00b2"],
])
def test_a_unicode_digit_in_a_reference_is_one_line_and_exit_2(tmp_path: Path, args: list[str]) -> None:
    env = {**os.environ, "SLIPWAY_HOME": str(tmp_path / "home")}
    env.pop("SLIPWAY_SERVER_URL", None)
    done = subprocess.run([sys.executable, "-m", "slipway.cli.main", *args], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stdout + done.stderr
    output = (done.stdout + done.stderr).strip()
    assert "Traceback" not in output and len(output.splitlines()) == 1, output
    assert "\u00b2" in output
