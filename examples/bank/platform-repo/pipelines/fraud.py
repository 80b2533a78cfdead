"""The fraud team's pipeline: the shared features at each transaction (a point-in-time training set
over the platform's ``fraud`` feature service) -> train -> evaluate on the latest two weeks ->
gate against the champion -> register as ``fraud@challenger``.

As in the handbook, the test period starts a week after the training period ends: fraud labels
arrive late, so the week between is not labelled yet when the model is trained.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from slipway.pipelines import StepContext, pipeline, step
from slipway.pipelines.steps import evaluate_and_bless, register_model

FEATURES = ["tx_amount", "nb_tx_1d", "avg_amount_1d", "nb_tx_7d", "avg_amount_7d", "nb_tx_30d", "avg_amount_30d",
            "terminal_nb_tx_1d", "terminal_risk_1d", "terminal_nb_tx_7d", "terminal_risk_7d", "terminal_nb_tx_30d",
            "terminal_risk_30d"]
LABEL = "tx_fraud"
TEST_DAYS, DELAY_DAYS = 14, 7
THRESHOLDS = {"auc": {"lower": 0.8, "change_absolute": -0.02}, "average_precision": {"lower": 0.3}}


@step(local=True, datasets=("dataset",), outputs=("table", "training_set"))
def fraud_training_set(dataset: str, context: StepContext = None) -> tuple[pa.Table, str]:  # type: ignore[assignment]
    """Every transaction of ``dataset`` with the features known at its time (stored as a version of
    ``fraud-training``, with lineage to the views and the raw transactions)."""
    ws = context.workspace
    tx = ws.data.load(dataset).to_pandas()
    entities = pd.DataFrame({"customer_id": tx["customer_id"], "terminal_id": tx["terminal_id"],
                             "event_timestamp": pd.to_datetime(tx["tx_time"], unit="s", utc=True),
                             "transaction_id": tx["transaction_id"], "tx_time_days": tx["tx_time_days"],
                             "tx_amount": tx["tx_amount"].astype("float64"), LABEL: tx[LABEL]})
    result = ws.features.training_set("fraud", entities, message=f"every transaction of {dataset}")
    print(f"training set {result.version.ref}: {result.version.rows:,} transactions")
    return result.to_arrow(), str(result.version.ref)


def split(table: pa.Table) -> tuple[pd.DataFrame, pd.DataFrame]:
    frame = table.to_pandas()
    frame[FEATURES] = frame[FEATURES].astype("float64")
    last = int(frame["tx_time_days"].max())
    test = frame[frame["tx_time_days"] > last - TEST_DAYS]
    train = frame[frame["tx_time_days"] <= last - TEST_DAYS - DELAY_DAYS]
    return train, test


@step
def train(table: pa.Table, max_iter: int = 100, learning_rate: float = 0.1) -> Any:
    from sklearn.ensemble import HistGradientBoostingClassifier
    from threadpoolctl import threadpool_limits

    fit, _ = split(table)
    model = HistGradientBoostingClassifier(max_iter=max_iter, learning_rate=learning_rate, early_stopping=False,
                                           random_state=0)
    # One OpenMP thread: on a small shared machine more threads spin against each other.
    with threadpool_limits(1):
        return model.fit(fit[FEATURES], fit[LABEL])


@step
def evaluate(model: Any, table: pa.Table) -> dict[str, float]:
    """AUC, average precision and the handbook's card precision@k on the test weeks."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    _, test = split(table)
    scores = model.predict_proba(test[FEATURES])[:, 1]
    # Card precision@100: each day, of the 100 cards with the highest score, the share with a fraud.
    cards = test.assign(score=scores).groupby(["tx_time_days", "customer_id"])[["score", LABEL]].max()
    top = cards.sort_values("score", ascending=False).groupby(level=0).head(100)
    metrics = {"auc": float(roc_auc_score(test[LABEL], scores)),
               "average_precision": float(average_precision_score(test[LABEL], scores)),
               "card_precision_at_100": float(top.groupby(level=0)[LABEL].mean().mean()),
               "test_rows": float(len(test)), "test_fraud_rate": float(np.mean(test[LABEL]))}
    print(", ".join(f"{k} {v:.4f}" for k, v in metrics.items()))
    return metrics


@step(local=True)
def track(model: Any, metrics: dict[str, float], training_set: str, params: dict[str, Any],
          context: StepContext = None) -> Any:  # type: ignore[assignment]
    ws = context.workspace
    version = ws.data.get_version(training_set)
    with context.start_run("train-fraud", experiment="fraud") as run:
        ws.tracking.log_input(version)
        ws.tracking.log_params({**params, "training_set": version.ref, "model": "hist-gradient-boosting"})
        ws.tracking.log_metrics(metrics)
        example = version_example(ws, training_set)
        return context.log_model(model, "model", input_example=example, run_id=run.id)


def version_example(ws: Any, training_set: str) -> pd.DataFrame:
    return ws.data.load(training_set).to_pandas()[FEATURES].head(5).astype("float64")


@pipeline
def train_fraud(dataset: str = "transactions", model_name: str = "fraud", max_iter: int = 100,
                learning_rate: float = 0.1) -> None:
    table, training_set = fraud_training_set(dataset)
    model = train(table, max_iter=max_iter, learning_rate=learning_rate)
    metrics = evaluate(model, table)
    candidate = track(model, metrics, training_set, {"max_iter": max_iter, "learning_rate": learning_rate})
    verdict = evaluate_and_bless(metrics, model_name=model_name, thresholds=THRESHOLDS, candidate=candidate)
    register_model(candidate, model_name, alias="challenger", when=verdict)
