"""Which project a tracking call acts in: a project-scoped principal's call is authorised in the
project of the experiment or run it names (see :class:`slipway.store.projects.ProjectScope`)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from slipway.store.projects import ProjectScope, dataset_project, experiment_project, run_project


def _input_datasets(conn: Connection, arguments: dict[str, Any]) -> set[str]:
    """The projects of the datasets a run logs as inputs (reading one needs ``read`` there)."""
    inputs = arguments.get("inputs")
    names = [getattr(i, "dataset", None) or (i.get("dataset") if isinstance(i, dict) else None)
             for i in (inputs if isinstance(inputs, list | tuple) else [])]
    return dataset_project(conn, [n for n in names if isinstance(n, str)])


# A project-scoped principal's call is authorised in the project of the experiment or run it
# names (a run belongs to its experiment's project); listings show readable experiments only.
TRACKING_SCOPE = ProjectScope(
    {"run_id": run_project, "run_ids": run_project, "parent_id": run_project, "experiment_id": experiment_project,
     "name_or_id": experiment_project, "experiment": experiment_project},
    listings=frozenset({"list_experiments", "search_runs"}),
    methods={"create_experiment": {"name": experiment_project},
             "get_or_create_experiment": {"name": experiment_project}},
    extra=_input_datasets,
)
