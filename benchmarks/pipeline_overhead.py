"""Pipeline framework overhead: 100 no-op steps in-process, and the same pipeline fully cached.

The limit is plain Python: calling the same 100 functions directly. Slipway's overhead per step
is (pipeline run time - plain calls time) / 100; a cached rerun is timed whole. Rounds alternate
(plain, pipeline, cached rerun), each round with a fresh parameter so nothing is cached across
rounds. Goals (BENCHMARKS.md): <= 5 ms per step, <= 0.5 s cached rerun; ``ratio`` = goal / measured.

    python benchmarks/pipeline_overhead.py [--quick] [--steps 100] [--rounds 7]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import tempfile
import time
from pathlib import Path

from slipway.pipelines import pipeline, step
from slipway.workspace import open_workspace

STEP_GOAL_MS = 5.0
CACHED_GOAL_S = 0.5


def plus_one(value: int) -> int:
    return value + 1


noop = step(plus_one)  # no-op work: one addition, so each step's output (and cache key) differs


def build(steps: int):  # noqa: ANN201 - returns a Pipeline
    @pipeline(name="overhead")
    def overhead(start: int = 0) -> None:
        value = noop(start)
        for _ in range(steps - 1):
            value = noop(value)

    return overhead


def plain(start: int, steps: int) -> int:
    value = start
    for _ in range(steps):
        value = plus_one(value)
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 rounds instead of 7")
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=None)
    args = parser.parse_args()
    rounds = args.rounds or (3 if args.quick else 7)
    steps = args.steps
    pipe = build(steps)
    with tempfile.TemporaryDirectory(prefix="slipway-bench-") as tmp:
        ws = open_workspace(_settings(Path(tmp)))
        ws.pipelines.run(pipe, {"start": -(10**9)})  # warm-up (values disjoint from every round): imports, schema
        plain_s, run_s, cached_s, checks = [], [], [], []
        for round_index in range(rounds):
            start = round_index * 1_000_000
            began = time.perf_counter()
            expected = plain(start, steps)
            plain_s.append(time.perf_counter() - began)

            began = time.perf_counter()
            run = ws.pipelines.run(pipe, {"start": start})
            run_s.append(time.perf_counter() - began)

            began = time.perf_counter()
            rerun = ws.pipelines.run(pipe, {"start": start})
            cached_s.append(time.perf_counter() - began)

            last = run.steps[-1].key
            checks.append(run.status == "SUCCEEDED" and len(run.executed) == steps and rerun.executed == []
                          and len(rerun.cached) == steps and ws.pipelines.output(rerun.id, last) == expected)
        ws.close()
    plain_ms = statistics.median(plain_s) * 1000
    overhead_ms = (statistics.median(run_s) * 1000 - plain_ms) / steps
    cached = statistics.median(cached_s)
    ok = "ok" if all(checks) else "mismatch"
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{steps} steps, {rounds} rounds: run {statistics.median(run_s):.3f} s, plain {plain_ms:.4f} ms, "
          f"cached rerun {cached:.3f} s, peak {peak_mb:.0f} MiB")
    print(json.dumps({"workload": "pipeline_overhead", "case": "step_overhead_ms", "slipway": round(overhead_ms, 3),
                      "peer": round(plain_ms / steps, 6), "unit": "ms/step", "ratio": round(STEP_GOAL_MS / overhead_ms, 2),
                      "peer_version": "plain Python calls", "goal": STEP_GOAL_MS, "steps": steps, "rounds": rounds,
                      "peak_mib": round(peak_mb), "checks": ok}))
    print(json.dumps({"workload": "pipeline_overhead", "case": "cached_rerun_s", "slipway": round(cached, 4),
                      "peer": round(plain_ms / 1000, 6), "unit": "s", "ratio": round(CACHED_GOAL_S / cached, 2),
                      "peer_version": "plain Python calls", "goal": CACHED_GOAL_S, "steps": steps, "rounds": rounds,
                      "peak_mib": round(peak_mb), "checks": ok}))


def _settings(home: Path):  # noqa: ANN202
    from slipway.core.settings import load_settings

    return load_settings(home=home, server_url="", token="", store_uri="", artifacts_uri="")


if __name__ == "__main__":
    main()
