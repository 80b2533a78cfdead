"""Pipelines the tests run: validate → train → evaluate → gate → register on AI4I, and small
ones for control flow. A module (not a test file), so process-pool and Ray workers import it."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from slipway.pipelines import StepContext, pipeline, step
from slipway.pipelines.steps import evaluate_and_bless, register_model, validate_data

FEATURES = ["Air temperature [K]", "Process temperature [K]", "Rotational speed [rpm]", "Torque [Nm]", "Tool wear [min]"]
TARGET = "Machine failure"
log = logging.getLogger("tests.flows")


@step
def features(table: pa.Table) -> pa.Table:
    """Numeric features and the label, as float64 / int64."""
    columns = {name: table.column(name).cast(pa.float64()) for name in FEATURES}
    columns[TARGET] = table.column(TARGET).cast(pa.int64())
    return pa.table(columns)


@step(outputs=("train", "test"))
def split(table: pa.Table, test_fraction: float = 0.3, seed: int = 7) -> tuple[pa.Table, pa.Table]:
    order = np.random.RandomState(seed).permutation(table.num_rows)
    cut = int(table.num_rows * (1 - test_fraction))
    assert 0 < cut < table.num_rows, "both sides of the split hold rows"
    return table.take(pa.array(np.sort(order[:cut]))), table.take(pa.array(np.sort(order[cut:])))


def _xy(table: pa.Table) -> tuple[np.ndarray, np.ndarray]:
    x = np.column_stack([table.column(name).to_numpy() for name in FEATURES])
    return x, table.column(TARGET).to_numpy()


@step
def train(table: pa.Table, n_estimators: int = 20, max_depth: int = 6) -> Any:
    from sklearn.ensemble import RandomForestClassifier

    x, y = _xy(table)
    log.info("training on %d rows", len(y))
    model = RandomForestClassifier(n_estimators=n_estimators, max_depth=max_depth, random_state=0, n_jobs=1)
    return model.fit(x, y)


@step
def evaluate(model: Any, table: pa.Table) -> dict[str, float]:
    from sklearn.metrics import accuracy_score, f1_score, recall_score

    x, y = _xy(table)
    predicted = model.predict(x)
    return {"accuracy": float(accuracy_score(y, predicted)), "f1": float(f1_score(y, predicted, zero_division=0)),
            "recall": float(recall_score(y, predicted, zero_division=0))}


@step(local=True)
def log_candidate(model: Any, metrics: dict[str, float], test: pa.Table, context: StepContext = None) -> Any:  # type: ignore[assignment]
    """Log the model and its metrics in a tracking run linked to the pipeline run."""
    from slipway.models.logging import log_model

    workspace = context.workspace
    with context.start_run("train", experiment="ai4i-pipeline") as run:
        workspace.tracking.log_metrics(metrics)
        x, _ = _xy(test.slice(0, 5))
        return log_model(workspace, model, "model", input_example=x, run_id=run.id)


THRESHOLDS = {"accuracy": {"lower": 0.9}, "f1": {"change_absolute": 0.0, "higher_is_better": True}}


@pipeline
def maintenance(dataset: str = "ai4i", n_estimators: int = 20, max_depth: int = 6,
                model_name: str = "ai4i-failure", test_fraction: float = 0.3) -> None:
    table = validate_data(dataset)
    train_table, test_table = split(features(table), test_fraction=test_fraction)
    model = train(train_table, n_estimators=n_estimators, max_depth=max_depth)
    metrics = evaluate(model, test_table)
    candidate = log_candidate(model, metrics, test_table)
    verdict = evaluate_and_bless(metrics, model_name=model_name, thresholds=THRESHOLDS, champion_alias="blessed",
                                 candidate=candidate)
    register_model(candidate, model_name, alias="blessed", when=verdict)


@pipeline
def training_only(rows: int = 600, n_estimators: int = 10, max_depth: int = 4, csv: str = "") -> None:
    """No workspace access: the same artifacts whichever runner executes it."""
    table = load_csv(csv, rows)
    train_table, test_table = split(features(table))
    model = train(train_table, n_estimators=n_estimators, max_depth=max_depth)
    evaluate(model, test_table)
    square.map([1, 2, 3])


@step
def load_csv(path: str, rows: int) -> pa.Table:
    import pyarrow.csv as pacsv

    return pacsv.read_csv(Path(path)).slice(0, rows)


@step
def square(value: int) -> int:
    return value * value


@step(retries=2, backoff=0.05)
def flaky(marker: str) -> str:
    """Fails on the first two attempts of each marker file's life (a file, so it holds across processes)."""
    path = Path(marker)
    count = int(path.read_text()) if path.exists() else 0
    path.write_text(str(count + 1))
    print(f"attempt {count + 1}")
    if count < 2:
        raise RuntimeError(f"transient failure {count + 1}")
    return "ok"


@step
def after(value: str) -> str:
    return value.upper()


@pipeline
def retrying(marker: str = "") -> None:
    after(flaky(marker))


@step
def fail_if(flag_file: str) -> str:
    if Path(flag_file).exists():
        raise ValueError(f"flag {flag_file} is set")
    return "fine"


@step(cache=False)
def counted(value: str, counter: str) -> str:
    path = Path(counter)
    path.write_text(str(int(path.read_text() or "0") + 1) if path.exists() else "1")
    return value + "!"


@pipeline
def resumable(flag_file: str = "", counter: str = "") -> None:
    first = counted("a", counter)
    after(fail_if(flag_file))
    after(first)


@step(timeout=0.5)
def slow(seconds: float) -> float:
    import time

    time.sleep(seconds)
    return seconds


@pipeline
def sleepy(seconds: float = 5.0) -> None:
    slow(seconds)


@step
def passes(flag: bool) -> bool:
    return flag


@pipeline
def conditional(flag: bool = False) -> None:
    after("x", when=passes(flag))


@step
def total(values: list[int]) -> int:
    return sum(values)


@pipeline
def fan_out(n: int = 4) -> None:
    total(square.map(list(range(n))))


@step(local=True)
def count_rows(dataset: str, context: StepContext = None) -> int:  # type: ignore[assignment]
    context.touch("dataset_version", dataset, "input_to")
    return int(context.workspace.data.load(dataset).num_rows)


@pipeline
def on_new_data(dataset: str = "") -> None:
    """What the dataset trigger runs: ``dataset`` arrives as ``name@version``."""
    count_rows(dataset)


@step
def nap_while(flag_file: str, rows: int) -> int:
    """Sleeps while ``flag_file`` exists (so a test can kill the process mid-step)."""
    import time

    while Path(flag_file).exists():
        time.sleep(0.05)
    return rows


@pipeline
def slow_on_new_data(dataset: str = "", flag_file: str = "") -> None:
    nap_while(flag_file, count_rows(dataset))


@pipeline
def on_alert(alert: str = "") -> None:
    """What an alert trigger runs: ``alert`` arrives as the alert's id (writes no file)."""
    after(alert)
