"""The credit team's pipeline: German credit applicants, each linked to a simulated card holder,
with the platform's ``customer_spending`` features as of the application (a point-in-time training
set over the ``credit`` feature service) -> train -> evaluate on a held-out third -> gate ->
register as ``credit@challenger``.

``mitigation="none"`` trains on the applicant's personal status and sex and age among the inputs;
``mitigation="reweigh"`` leaves them out and reweighs the training rows (Kamiran and Calders: each
sex x outcome cell weighted to what independence would give). Fairness is not judged here: a
validator measures it on the held-out third and the governance policy gates on it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from slipway.pipelines import StepContext, pipeline, step
from slipway.pipelines.steps import evaluate_and_bless, register_model

LABEL = "good"
SPENDING = ["nb_tx_30d", "avg_amount_30d", "nb_tx_7d", "avg_amount_7d"]
SHARED = ["STATUS_ACCOUNT", "DURATION_MONTHS", "CREDIT_HISTORY", "AMOUNT", "BONDS", "HOUSING", *SPENDING]
PERSONAL = ["PERSONAL_STATUS_AND_SEX", "AGE"]
THRESHOLD = 0.6  # credit is granted when the estimated probability of repaying is at least this
THRESHOLDS = {"accuracy": {"lower": 0.65}, "auc": {"lower": 0.7}}


def features(mitigation: str) -> list[str]:
    return SHARED if mitigation == "reweigh" else [*SHARED, *PERSONAL]


@step(local=True, datasets=("applicants",), outputs=("table", "training_set"))
def credit_training_set(applicants: str, context: StepContext = None) -> tuple[pa.Table, str]:  # type: ignore[assignment]
    """Each applicant with their card spending as of the day they applied."""
    ws = context.workspace
    frame = ws.data.load(applicants).to_pandas()
    entities = frame.assign(event_timestamp=pd.to_datetime(frame["application_time"], unit="s", utc=True))
    result = ws.features.training_set("credit", entities, message=f"the applicants of {applicants}")
    print(f"training set {result.version.ref}: {result.version.rows:,} applicants")
    return result.to_arrow(), str(result.version.ref)


def split(table: pa.Table) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(train, test): two thirds and one third (every third applicant), spending nulls as 0."""
    frame = table.to_pandas()
    frame[SPENDING] = frame[SPENDING].astype("float64").fillna(0.0)
    test = np.arange(len(frame)) % 3 == 0
    return frame[~test].reset_index(drop=True), frame[test].reset_index(drop=True)


@step
def train(table: pa.Table, mitigation: str = "none") -> Any:
    from sklearn.compose import make_column_transformer
    from sklearn.frozen import FrozenEstimator
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import FixedThresholdClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    if mitigation not in ("none", "reweigh"):
        raise ValueError(f"mitigation must be 'none' or 'reweigh', not {mitigation!r}")
    fit, _ = split(table)
    columns = features(mitigation)
    categorical = [c for c in columns if not pd.api.types.is_numeric_dtype(fit[c])]
    numeric = [c for c in columns if c not in categorical]
    encode = make_column_transformer((OneHotEncoder(handle_unknown="ignore"), categorical), (StandardScaler(), numeric))
    weights = np.ones(len(fit))
    if mitigation == "reweigh":
        for sex in fit["sex"].unique():
            for outcome in (0, 1):
                cell = ((fit["sex"] == sex) & (fit[LABEL] == outcome)).to_numpy()
                if cell.any():
                    weights[cell] = (fit["sex"] == sex).mean() * (fit[LABEL] == outcome).mean() / cell.mean()
    scorer = make_pipeline(encode, LogisticRegression(max_iter=1000))
    scorer.fit(fit[columns], fit[LABEL], logisticregression__sample_weight=weights)
    return FixedThresholdClassifier(FrozenEstimator(scorer), threshold=THRESHOLD).fit(fit[columns], fit[LABEL])


@step
def evaluate(model: Any, table: pa.Table, mitigation: str = "none") -> dict[str, float]:
    from sklearn.metrics import roc_auc_score

    _, test = split(table)
    columns = features(mitigation)
    predicted = model.predict(test[columns])
    metrics = {"accuracy": float(np.mean(predicted == test[LABEL])),
               "auc": float(roc_auc_score(test[LABEL], model.predict_proba(test[columns])[:, 1])),
               "approval_rate": float(np.mean(predicted)), "test_rows": float(len(test))}
    print(", ".join(f"{k} {v:.4f}" for k, v in metrics.items()))
    return metrics


@step(local=True)
def track(model: Any, metrics: dict[str, float], training_set: str, mitigation: str,
          context: StepContext = None) -> Any:  # type: ignore[assignment]
    ws = context.workspace
    version = ws.data.get_version(training_set)
    with context.start_run(f"train-credit-{mitigation}", experiment="credit") as run:
        ws.tracking.log_input(version)
        ws.tracking.log_params({"training_set": version.ref, "mitigation": mitigation, "threshold": THRESHOLD,
                                "model": "logistic-regression"})
        ws.tracking.log_metrics(metrics)
        example = split(ws.data.load(training_set))[0][features(mitigation)].head(5)
        return context.log_model(model, "model", input_example=example, run_id=run.id)


@pipeline
def train_credit(applicants: str = "applicants", model_name: str = "credit", mitigation: str = "none") -> None:
    table, training_set = credit_training_set(applicants)
    model = train(table, mitigation=mitigation)
    metrics = evaluate(model, table, mitigation=mitigation)
    candidate = track(model, metrics, training_set, mitigation)
    verdict = evaluate_and_bless(metrics, model_name=model_name, thresholds=THRESHOLDS, candidate=candidate)
    register_model(candidate, model_name, alias="challenger", when=verdict)
