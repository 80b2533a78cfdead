"""The AI4I predictive-maintenance model every models/registry test uses: a scikit-learn Pipeline
(one-hot ``Type`` + scaled numerics + a forest) predicting ``Machine failure``."""

from __future__ import annotations

import functools

import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from tests.support import AI4I

FEATURES = ["Type", "Air temperature [K]", "Process temperature [K]", "Rotational speed [rpm]", "Torque [Nm]",
            "Tool wear [min]"]
TARGET = "Machine failure"


@functools.cache
def ai4i(rows: int = 3000) -> tuple[pd.DataFrame, pd.Series]:
    """The first ``rows`` rows of AI4I as (X, y); a slice, because the point is behaviour, not scale."""
    frame = pd.read_csv(AI4I, nrows=rows)
    assert len(frame) == rows and frame[TARGET].nunique() == 2, "the AI4I slice needs both classes"
    return frame[FEATURES], frame[TARGET]


def pipeline(kind: str = "forest", seed: int = 0) -> Pipeline:
    """An unfitted Pipeline: ColumnTransformer(OneHotEncoder on Type, StandardScaler) + a classifier."""
    prep = ColumnTransformer([("type", OneHotEncoder(handle_unknown="ignore"), ["Type"]),
                              ("num", StandardScaler(), FEATURES[1:])])
    model = (RandomForestClassifier(n_estimators=25, max_depth=8, random_state=seed) if kind == "forest"
             else GradientBoostingClassifier(n_estimators=20, random_state=seed))
    return Pipeline([("prep", prep), ("model", model)])


@functools.cache
def fitted_pipeline(kind: str = "forest", seed: int = 0) -> Pipeline:
    X, y = ai4i()
    fitted = pipeline(kind, seed).fit(X, y)
    assert list(fitted.classes_) == [0, 1]
    return fitted
