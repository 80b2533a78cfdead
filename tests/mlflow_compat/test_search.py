"""``search_runs`` through ``slipway server`` answers what MLflow's own store answers for the same
runs: filters, orders (ties, missing values), ``max_results`` and page tokens, page by page.

The runs are written by MLflow's client into a SQLite store, imported into Slipway, and the same
MLflow client script pages through each query against both."""

from __future__ import annotations

from pathlib import Path

import pytest

from slipway.importers.mlflow import import_mlflow
from tests.mlflow_compat.conftest import MlflowServer
from tests.mlflow_compat.mlflow_stores import run_mlflow

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

WRITE = """
import json, random
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag

c = MlflowClient()
exp = c.create_experiment("search")
rng = random.Random(3)
T0 = 1_700_000_000_000
for i in range(45):
    run = c.create_run(exp, run_name=f"run-{i:02d}", start_time=T0 + i * 1000)
    metrics = [Metric("loss", rng.random(), T0, 0)]
    if i % 9:  # every ninth run has no auc: missing values sort last
        metrics.append(Metric("auc", round(rng.random(), 1), T0, 0))  # rounded: ties
    c.log_batch(run.info.run_id, metrics=metrics,
                params=[Param("model", rng.choice(["rf", "gb", "lr"])), Param("depth", str(rng.randrange(5)))],
                tags=[RunTag("team", rng.choice(["a", "b"]))])
    c.set_terminated(run.info.run_id, "FINISHED" if i % 7 else "FAILED", T0 + i * 1000 + 500)
print(json.dumps({"experiment": exp}))
"""

QUERIES = [
    ("", ["metrics.auc DESC"], 7),
    ("", ["metrics.auc"], 10),
    ("metrics.auc > 0.4 and params.model = 'rf'", ["metrics.loss"], 3),
    ("params.depth != '2'", ["params.model DESC", "metrics.auc"], 4),
    ("tags.team = 'a' and attributes.status = 'FINISHED'", ["attributes.start_time"], 6),
    ("attributes.run_name LIKE 'run-1%'", [], 3),
    ("metrics.loss < 0.5", ["tags.team", "metrics.loss DESC"], 50),
]

READ = """
import json
from mlflow import MlflowClient

c = MlflowClient()
exp = c.get_experiment_by_name("search").experiment_id
answers = []
for filter_string, order_by, size in QUERIES:
    pages, token = [], None
    while True:
        page = c.search_runs([exp], filter_string, max_results=size, order_by=order_by, page_token=token)
        pages.append([r.info.run_name for r in page])
        token = page.token
        if not token:
            break
    answers.append(pages)
print(json.dumps(answers))
""".replace("QUERIES", repr(QUERIES))


def test_search_runs_pages_like_mlflow(mlflow_server: MlflowServer, tmp_path: Path) -> None:
    run_mlflow(mlflow_server.python, WRITE, tmp_path, "sqlite:///mlflow.db")
    summary = import_mlflow(mlflow_server.workspace(), f"sqlite:///{tmp_path / 'mlflow.db'}").to_dict()
    assert summary["imported"]["runs"] == 45
    theirs = run_mlflow(mlflow_server.python, READ, tmp_path, "sqlite:///mlflow.db")
    ours = run_mlflow(mlflow_server.python, READ, tmp_path, mlflow_server.url, mlflow_server.token)
    for (filter_string, order_by, size), mine, mlflows in zip(QUERIES, ours, theirs, strict=True):
        assert mine == mlflows, (filter_string, order_by, size)
        assert all(len(page) <= size for page in mine) and sum(map(len, mine)) > 0
    assert len(theirs[0]) == 7 and sum(map(len, theirs[0])) == 45  # every run, seven pages
