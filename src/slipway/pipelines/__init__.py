"""Layer 3: steps, pipelines, caching, gates, runners, schedules and triggers.

``@step`` and ``@pipeline`` make plain functions a DAG; ``ws.pipelines.run(pipeline)`` runs it
with a content-addressed step cache; gates (:func:`bless`) decide whether a candidate model goes
on; ``slipway scheduler`` runs cron schedules and dataset triggers.
"""

from slipway.pipelines.context import StepContext
from slipway.pipelines.dsl import Pipeline, Step, pipeline, step
from slipway.pipelines.graph import GatherRef, OutputRef

__all__ = ["GatherRef", "OutputRef", "Pipeline", "Step", "StepContext", "pipeline", "step"]
