"""Layer 3: steps, pipelines, caching, gates, runners, schedules and triggers.

``@step`` and ``@pipeline`` make plain functions a DAG; ``ws.pipelines.run(pipeline)`` runs it
with a content-addressed step cache; gates (:func:`evaluate_gate`, the ``evaluate_and_bless`` step) decide whether a candidate model goes
on; ``slipway scheduler`` runs cron schedules and dataset triggers.
"""

from slipway.pipelines.context import StepContext
from slipway.pipelines.dsl import Pipeline, Step, pipeline, step
from slipway.pipelines.gates import Blessing, MetricThreshold, evaluate_gate
from slipway.pipelines.graph import GatherRef, OutputRef

TYPE_CHECKING = False
if TYPE_CHECKING:
    from slipway.pipelines.scheduler import Scheduler


def __getattr__(name: str) -> object:
    # The scheduler (and the store code behind it) loads on first use: ``import slipway.pipelines``
    # stays cheap for step modules and the CLI.
    if name == "Scheduler":
        from slipway.pipelines.scheduler import Scheduler

        return Scheduler
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["Blessing", "GatherRef", "MetricThreshold", "OutputRef", "Pipeline", "Scheduler", "Step", "StepContext",
           "evaluate_gate", "pipeline", "step"]
