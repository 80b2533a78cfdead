"""Running a product team's pipeline as one of its people, and finding the version it registered."""

from __future__ import annotations

from typing import Any

from teams import Bank


def say(line: str) -> None:
    print(line, flush=True)


def train(bank: Bank, user: str, pipeline: str, params: dict[str, Any]) -> Any:
    """Run a team's pipeline as ``user``; the version it registered (or registered in an earlier run)."""
    ws = bank[user]
    run = ws.pipelines.run(pipeline, params)
    if run.status != "SUCCEEDED":
        raise SystemExit(f"pipeline {pipeline} failed: {run.error}")
    steps = ", ".join(f"{s.key} {s.status.lower()}" for s in run.steps)
    say(f"{user} ran {pipeline.rsplit('/', 1)[-1]} {params}: {steps}")
    info = ws.pipelines.output(run.id, "track")
    model = pipeline.rsplit(":", 1)[-1].removeprefix("train_")
    for version in ws.registry.list_versions(model):
        if version.run_id == info.run_id:
            metrics = ", ".join(f"{k} {v:.3f}" for k, v in sorted(version.metrics.items()) if k in
                                ("auc", "average_precision", "card_precision_at_100", "accuracy"))
            say(f"  {version.ref} registered: {metrics}")
            return version
    raise SystemExit(f"the gate refused the candidate of {pipeline} (run {run.id}); see slipway pipelines show {run.id}")
