"""Run one benchmark script several times and report each case's median and range.

The README's performance table quotes these: a single run on a shared 2-core machine moves by
tens of percent, so every figure there is the median of at least three whole runs of the same
commit, with the lowest and highest ratio beside it::

    .venv/bin/python benchmarks/repeat.py tracking_search [--runs 3] [-- --quick]

Prints one JSON line per case (the last lines of stdout): ``runs``, the median ``slipway``,
``peer`` and ``ratio``, ``ratio_min``/``ratio_max``, ``checks`` (``ok`` only if every run said
``ok``), the commit and the date.
"""

from __future__ import annotations

import argparse
import datetime
import json
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def run_once(script: Path, extra: list[str]) -> list[dict]:
    done = subprocess.run([sys.executable, str(script), *extra], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.stderr.write(done.stdout[-2000:] + done.stderr[-4000:])
        raise SystemExit(f"{script.name} failed with exit code {done.returncode}")
    cases = []
    for line in done.stdout.splitlines():
        line = line.strip()
        if line.startswith("{") and '"case"' in line:
            cases.append(json.loads(line))
    return cases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workload", help="a script in benchmarks/, without .py")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("extra", nargs="*", help="arguments for the script, after --")
    args = parser.parse_args()
    script = HERE / f"{args.workload}.py"
    if not script.is_file():
        raise SystemExit(f"no benchmark {script}")
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=HERE).stdout.strip()
    runs = [run_once(script, args.extra) for _ in range(max(1, args.runs))]
    by_case: dict[str, list[dict]] = {}
    for cases in runs:
        for case in cases:
            by_case.setdefault(case["case"], []).append(case)
    for name, seen in by_case.items():
        def median(key: str, seen: list[dict] = seen) -> float | None:
            values = [c[key] for c in seen if isinstance(c.get(key), int | float)]
            return round(statistics.median(values), 4) if values else None

        ratios = [c["ratio"] for c in seen if isinstance(c.get("ratio"), int | float)]
        print(json.dumps({
            "workload": seen[0].get("workload", args.workload), "case": name, "runs": len(seen),
            "slipway": median("slipway"), "peer": median("peer"), "unit": seen[0].get("unit"),
            "ratio": median("ratio"), "ratio_min": min(ratios) if ratios else None,
            "ratio_max": max(ratios) if ratios else None,
            "checks": "ok" if all(c.get("checks") == "ok" for c in seen) and len(seen) == len(runs) else "failed",
            "peer_version": seen[0].get("peer_version"), "commit": commit,
            "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d"),
        }), flush=True)


if __name__ == "__main__":
    main()
