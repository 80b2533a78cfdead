"""What a step sees of the pipeline run: ``context`` (declare a parameter named ``context``)."""

from __future__ import annotations

from typing import Any

from slipway.core.errors import Conflict


class StepContext:
    """The run a step belongs to, and a way to record what it touched.

    ``workspace`` is the workspace running the pipeline; it exists in the driving process only,
    so a step that uses it must be declared ``@step(local=True)`` to run there under every runner.
    """

    def __init__(self, run_id: str, step_key: str, attempt: int, params: dict[str, Any],
                 workspace: Any = None) -> None:
        self.run_id = run_id
        self.step_key = step_key
        self.attempt = attempt
        self.params = params
        self._workspace = workspace
        self.lineage: list[list[str]] = []

    @property
    def workspace(self) -> Any:
        if self._workspace is None:
            raise Conflict(
                f"step {self.step_key!r} runs in a worker process, where the workspace is not available; "
                "declare it @step(local=True) to run it in the driving process"
            )
        return self._workspace

    def touch(self, kind: str, ident: str, relation: str = "produced") -> None:
        """Record an extra lineage edge: ``relation`` ``input_to`` reads "``kind`` ``ident`` was an
        input of this pipeline run"; anything else reads "this pipeline run ``relation`` ``kind``
        ``ident``". Rarely needed: dataset versions a step declares, runs, model versions and
        deployments the platform's APIs create during the step are recorded without it."""
        edge = [kind, ident, relation]
        if edge not in self.lineage:
            self.lineage.append(edge)

    def start_run(self, name: str | None = None, *, experiment: str | None = None, **kwargs: Any) -> Any:
        """Start a tracking run linked to this pipeline run (tag ``slipway.pipeline_run``). The
        platform records ``pipeline_run --produced--> run`` and gives the run the dataset versions
        this step read (directly or through upstream steps) as inputs. Use it as a context manager."""
        tags = {**kwargs.pop("tags", {}), "slipway.pipeline_run": self.run_id, "slipway.pipeline_step": self.step_key}
        return self.workspace.tracking.start_run(name or self.step_key, experiment=experiment, tags=tags, **kwargs)

    def log_model(self, model: Any, name: str = "model", **kwargs: Any) -> Any:
        """Store ``model`` as a bundle artifact of a tracking run, through this run's workspace:
        ``slipway.log_model`` for a step (same arguments: ``input_example``, ``run_id``,
        ``registered_model_name``, ...). Returns the ``ModelInfo``."""
        from slipway.models.logging import log_model

        return log_model(self.workspace, model, name, **kwargs)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_workspace"] = None  # a workspace holds connections; workers never get one
        return state

    def __repr__(self) -> str:
        return f"StepContext(run_id={self.run_id!r}, step={self.step_key!r}, attempt={self.attempt})"
