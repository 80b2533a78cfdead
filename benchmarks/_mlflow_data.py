"""The rows of ``benchmarks/mlflow_compat.py``'s MLflow databases: seeded runs (name, params,
metric series) and the plain SQL that writes them into MLflow's documented tables (loading 20,000
runs through MLflow's client takes about 15 minutes)."""

from __future__ import annotations

import random
import uuid
from typing import Any

MODELS = ["rf", "gbm", "svm", "lr", "knn", "mlp", "xgb", "lgbm", "ridge", "lasso"]
T0 = 1_760_000_000_000
Runs = list[tuple[str, dict[str, str], dict[str, list[float]]]]


def fill_mlflow_db(con: Any, mark: str, db_name: str, experiment_id: str,
                   runs: Runs) -> None:
    """Insert ``runs`` (name, params, metric series) as FINISHED runs of ``experiment_id`` through
    ``con`` (sqlite3 with ``mark`` ``?``, psycopg with ``%s``); the caller commits."""
    def sql(text: str) -> str:
        return text.replace("?", mark)

    cur = con.cursor()
    for index, (name, params, series) in enumerate(runs):
        run_id = uuid.UUID(int=random.Random(f"{db_name}-{experiment_id}-{index}").getrandbits(128)).hex
        start = T0 + index * 1000
        cur.execute(sql("INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name, user_id, status, "
                        "start_time, end_time, source_version, lifecycle_stage, artifact_uri, experiment_id) "
                        "VALUES (?, ?, 'LOCAL', 'bench.py', '', 'bench', 'FINISHED', ?, ?, '', 'active', ?, ?)"),
                    (run_id, name, start, start + 900, f"/bench-artifacts/{run_id}", int(experiment_id)))
        cur.execute(sql("INSERT INTO tags (key, value, run_uuid) VALUES ('mlflow.runName', ?, ?)"), (name, run_id))
        cur.executemany(sql("INSERT INTO params (key, value, run_uuid) VALUES (?, ?, ?)"),
                        [(k, v, run_id) for k, v in params.items()])
        cur.executemany(sql("INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan) VALUES (?, ?, ?, ?, ?, ?)"),
                        [(k, v, start + s, run_id, s, False) for k, values in series.items() for s, v in enumerate(values)])
        cur.executemany(sql("INSERT INTO latest_metrics (key, value, timestamp, step, is_nan, run_uuid) "
                            "VALUES (?, ?, ?, ?, ?, ?)"),
                        [(k, values[-1], start + len(values) - 1, len(values) - 1, False, run_id)
                         for k, values in series.items()])
    cur.close()


def mlflow_uri(uri: str) -> str:
    """``uri`` as MLflow's own code should open it (psycopg2 for PostgreSQL)."""
    return uri.replace("postgresql://", "postgresql+psycopg2://", 1)


def search_runs(count: int) -> Runs:
    rng = random.Random(20_000)
    found = []
    for index in range(count):
        params = {"p0": MODELS[rng.randrange(len(MODELS))], **{f"p{j}": f"value-{rng.randrange(50)}" for j in range(1, 10)}}
        found.append((f"run-{index:05d}", params, {f"m{j}": [rng.random()] for j in range(10)}))
    return found


def import_runs(count: int, metrics: int, steps: int) -> Runs:
    rng = random.Random(1000)
    return [(f"run-{i:04d}", {"lr": str(rng.random()), "depth": str(rng.randrange(10))},
             {f"m{k}": [rng.random() for _ in range(steps)] for k in range(metrics)}) for i in range(count)]
