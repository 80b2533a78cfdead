"""Batch scoring of a model over a partitioned dataset version, for the multi-node Ray tests. A
module (not a test file), so Ray workers on the other nodes import it.

``load_partition`` reads one file of the dataset version in the driving process (``local``: it
uses the workspace, and pins the version for lineage); ``train`` and each ``score[i]`` run as Ray
tasks. A ``score`` attempt marks where it started (``markers``) and, given ``release``, waits for
that file before it finishes, so a test can kill the node it runs on while it runs.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from slipway.pipelines import StepContext, pipeline, step

FEATURES = ["Air temperature [K]", "Process temperature [K]", "Rotational speed [rpm]", "Torque [Nm]", "Tool wear [min]"]
TARGET = "Machine failure"


@step(local=True, datasets=("dataset",))
def load_partition(dataset: str, path: str, context: StepContext = None) -> pa.Table:  # type: ignore[assignment]
    table = context.workspace.data.load(dataset, path)
    return table.select(["UDI", *FEATURES, TARGET])


def _x(table: pa.Table) -> np.ndarray:
    return np.column_stack([table.column(name).to_numpy().astype(np.float64) for name in FEATURES])


@step
def train(table: pa.Table, n_estimators: int = 10) -> Any:
    from sklearn.ensemble import RandomForestClassifier

    model = RandomForestClassifier(n_estimators=n_estimators, max_depth=5, random_state=0, n_jobs=1)
    return model.fit(_x(table), table.column(TARGET).to_numpy())


def _node() -> str:
    try:
        import ray

        if ray.is_initialized():
            return str(ray.get_runtime_context().get_node_id())
    except Exception:
        pass
    return "driver"


@step
def score(table: pa.Table, model: Any, markers: str = "", release: str = "") -> pa.Table:
    """The model's failure probability for every row of one partition."""
    first = int(table.column("UDI")[0].as_py())
    if markers:
        Path(markers, f"{first}.{_node()}.{uuid.uuid4().hex}.start").touch()
    if release:
        deadline = time.monotonic() + 600
        while not Path(release).exists() and time.monotonic() < deadline:
            time.sleep(0.2)
    probability = model.predict_proba(_x(table))[:, 1]
    return pa.table({"UDI": table.column("UDI"), "p_failure": pa.array(probability, pa.float64())})


@step
def summarise(scored: list[pa.Table]) -> dict[str, float]:
    everything = pa.concat_tables(scored)
    udi = everything.column("UDI").to_pylist()
    assert len(set(udi)) == len(udi), "a row was scored twice: a retried partition was kept twice"
    p = everything.column("p_failure").to_numpy()
    return {"rows": float(len(p)), "mean": round(float(p.mean()), 12), "flagged": float((p > 0.5).sum())}


@pipeline
def batch_score(dataset: str = "ai4i-parts", partitions: list = [], markers: str = "",  # noqa: B006
                release: str = "") -> None:
    tables = [load_partition(dataset, path) for path in partitions]
    model = train(tables[0])
    summarise(score.map(tables, model=model, markers=markers, release=release))
