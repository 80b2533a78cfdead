"""The held-out applicants a credit model version is judged on, split and featured exactly as the
credit team's pipeline does it (its own module, loaded from the platform repository)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pandas as pd

from slipway import Workspace

PIPELINE = Path(__file__).resolve().parent / "platform-repo" / "pipelines" / "credit.py"


def _pipeline_module() -> Any:
    spec = importlib.util.spec_from_file_location("bank_credit_pipeline", PIPELINE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def held_out(ws: Workspace, version: Any, mitigation: str) -> tuple[pd.DataFrame, list[str], str]:
    """(the held-out third of the version's training set, the model's input columns, the training set's ref)."""
    credit = _pipeline_module()
    training_set = str(ws.tracking.get_run(version.run_id).params["training_set"])
    _, test = credit.split(ws.data.load(training_set))
    return test, list(credit.features(mitigation)), training_set
