"""Layer 2: experiment tracking (experiments, runs, params, metrics, tags, artifacts, inputs)."""

from slipway.tracking.records import Experiment, Metric, Run, RunArtifact, RunInput

__all__ = ["Experiment", "Metric", "Run", "RunArtifact", "RunInput"]
