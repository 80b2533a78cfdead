"""German credit models for governance tests: a biased one and an honestly mitigated one.

Both approve credit (predict 1 = good) when the estimated probability of repaying is at least 0.6.
The biased model reads personal status and sex, age, account status and duration; the mitigated
one drops sex and age and is trained with Kamiran-Calders reweighing (each sex x outcome cell
weighted to what independence would give), which lifts the disparate impact by sex above 0.8.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import make_column_transformer
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import FixedThresholdClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from slipway.models.logging import log_model
from slipway.workspace import Workspace
from tests.support import GERMAN

LABEL = "CLASSIFICATION"
BIASED_FEATURES = ["PERSONAL_STATUS_AND_SEX", "AGE", "STATUS_ACCOUNT", "DURATION_MONTHS"]
FAIR_FEATURES = ["STATUS_ACCOUNT", "DURATION_MONTHS", "CREDIT_HISTORY", "AMOUNT", "BONDS", "HOUSING"]


@functools.cache
def german() -> tuple[pd.DataFrame, pd.DataFrame]:
    """(train, test): two thirds and one third, with a derived ``sex`` column (A92, A95 female)."""
    frame = pd.read_csv(GERMAN, sep=" ")
    frame["sex"] = np.where(frame["PERSONAL_STATUS_AND_SEX"].isin(["A92", "A95"]), "female", "male")
    test_rows = np.arange(len(frame)) % 3 == 0
    return frame[~test_rows].reset_index(drop=True), frame[test_rows].reset_index(drop=True)


def _pipeline(features: list[str], frame: pd.DataFrame) -> Any:
    categorical = [c for c in features if not pd.api.types.is_numeric_dtype(frame[c])]
    numeric = [c for c in features if c not in categorical]
    encode = make_column_transformer((OneHotEncoder(handle_unknown="ignore"), categorical), (StandardScaler(), numeric))
    return make_pipeline(encode, LogisticRegression(max_iter=1000))


@functools.cache
def biased_model() -> Any:
    train, _ = german()
    return FixedThresholdClassifier(_pipeline(BIASED_FEATURES, train), threshold=0.6).fit(train[BIASED_FEATURES], train[LABEL])


@functools.cache
def mitigated_model() -> Any:
    train, _ = german()
    weights = np.ones(len(train))
    for sex in ("female", "male"):
        for outcome in (0, 1):
            cell = (train["sex"] == sex) & (train[LABEL] == outcome)
            weights[cell] = (train["sex"] == sex).mean() * (train[LABEL] == outcome).mean() / cell.mean()
    scorer = _pipeline(FAIR_FEATURES, train).fit(train[FAIR_FEATURES], train[LABEL], logisticregression__sample_weight=weights)
    # Frozen: the threshold wrapper must not refit the reweighed scorer without its weights.
    model = FixedThresholdClassifier(FrozenEstimator(scorer), threshold=0.6).fit(train[FAIR_FEATURES], train[LABEL])
    # What the governance tests rely on (the module's promise): reweighing lifts the disparate
    # impact by sex on the held-out third above the four-fifths line.
    _, test = german()
    approved = pd.Series(model.predict(test[FAIR_FEATURES]) == 1).groupby(test["sex"]).mean()
    assert approved["female"] / approved["male"] >= 0.8, approved.to_dict()
    return model


def register_credit(ws: Workspace, name: str, mitigated: bool) -> tuple[int, str]:
    """Add the training data as a dataset version, train-log-register; returns (version, dataset ref)."""
    train, test = german()
    model = mitigated_model() if mitigated else biased_model()
    features = FAIR_FEATURES if mitigated else BIASED_FEATURES
    data = ws.data.add("german-train", train)
    with ws.tracking.start_run("credit-mitigated" if mitigated else "credit-baseline", experiment="credit"):
        ws.tracking.log_input(data)
        accuracy = float((model.predict(test[features]) == test[LABEL]).mean())
        ws.tracking.log_metrics({"accuracy": accuracy})
        info = log_model(ws, model, "model", input_example=train[features].head(3), registered_model_name=name)
    return int(info.version), f"german-train@{data.version}"
