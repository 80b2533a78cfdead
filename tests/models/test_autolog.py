"""Autologging logs params, training metrics, the model and the training data's digest."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

import slipway
from slipway.models import autolog
from slipway.models.training_data import TRAINING_DATA, training_digest
from slipway.workspace import Workspace
from tests.models.ai4i import ai4i, pipeline
from tests.models.test_flavors import _numeric


@pytest.fixture
def autologging(sqlite_ws: Workspace) -> Iterator[Workspace]:
    slipway.autolog()
    try:
        yield sqlite_ws
    finally:
        slipway.autolog(disable=True)


def _check_run(ws: Workspace, run_id: str, X: object, y: object) -> None:
    artifacts = {a.path: a for a in ws.tracking.list_artifacts(run_id)}
    assert artifacts["model"].kind == "dir"
    inputs = ws.tracking.list_inputs(run_id)
    assert [(i.dataset, i.digest) for i in inputs] == [(TRAINING_DATA, training_digest(X, y))]


def test_sklearn_pipeline_fit_is_logged_once(autologging: Workspace) -> None:
    X, y = ai4i()
    X, y = X.head(800), y.head(800)
    with slipway.start_run("auto") as run:
        model = pipeline("forest").fit(X, y)
    got = autologging.tracking.get_run(run.id)
    assert got.params["model__n_estimators"] == "25" and got.params["prep"] == "ColumnTransformer"
    assert got.metrics["training_accuracy_score"] == pytest.approx(model.score(X, y))
    assert "training_roc_auc" in got.metrics and "training_log_loss" in got.metrics
    _check_run(autologging, run.id, X, y)
    # Only the outer Pipeline.fit was logged: one model, one input, not one per step.
    assert len(autologging.tracking.list_artifacts(run.id)) == 1
    loaded = slipway.load_model(f"runs:/{run.id}/model")
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


def test_fit_without_a_run_starts_one_and_disable_restores(autologging: Workspace) -> None:
    from sklearn.linear_model import LinearRegression

    X, y = _numeric(300)
    patched = LinearRegression.__dict__["fit"]
    original = patched.__wrapped__
    LinearRegression().fit(X=X, y=y)  # keyword arguments are found by name
    assert slipway.active_run() is None
    runs = autologging.tracking.search_runs().runs
    assert len(runs) == 1 and runs[0].status == "FINISHED"
    assert "training_r2_score" in runs[0].metrics and runs[0].params["fit_intercept"] == "True"
    slipway.autolog(disable=True)
    assert LinearRegression.__dict__["fit"] is original and not autolog.is_enabled()
    LinearRegression().fit(X, y)
    assert len(autologging.tracking.search_runs().runs) == 1  # nothing logged once disabled


def test_xgboost_sklearn_api_and_train(autologging: Workspace) -> None:
    import xgboost

    X, y = _numeric(600)
    with slipway.start_run("xgb-sk") as run:
        xgboost.XGBClassifier(n_estimators=5, max_depth=2).fit(X, y, eval_set=[(X, y)], verbose=False)
    got = autologging.tracking.get_run(run.id)
    assert got.params["n_estimators"] == "5" and "training_accuracy_score" in got.metrics
    assert len(autologging.tracking.get_metric_history(run.id, "validation_0-logloss")) == 5
    _check_run(autologging, run.id, X, y)

    dtrain = xgboost.DMatrix(X, label=y)
    with slipway.start_run("xgb-train") as run2:
        booster = xgboost.train({"objective": "binary:logistic", "max_depth": 2}, dtrain, 4, evals=[(dtrain, "train")],
                                verbose_eval=False)
    got = autologging.tracking.get_run(run2.id)
    assert got.params["max_depth"] == "2" and got.params["num_boost_round"] == "4"
    assert [m.step for m in autologging.tracking.get_metric_history(run2.id, "train-logloss")] == [0, 1, 2, 3]
    loaded = slipway.load_model(f"runs:/{run2.id}/model")
    np.testing.assert_allclose(loaded.predict(X), booster.predict(xgboost.DMatrix(X)), rtol=1e-6)
    assert autologging.tracking.list_inputs(run2.id)[0].dataset == TRAINING_DATA


def test_lightgbm_sklearn_api_and_train(autologging: Workspace) -> None:
    import lightgbm

    X, y = _numeric(600)
    with slipway.start_run("lgb-sk") as run:
        lightgbm.LGBMClassifier(n_estimators=5, num_leaves=4, verbose=-1).fit(X, y)
    got = autologging.tracking.get_run(run.id)
    assert got.params["num_leaves"] == "4" and "training_accuracy_score" in got.metrics
    _check_run(autologging, run.id, X, y)

    with slipway.start_run("lgb-train") as run2:
        data = lightgbm.Dataset(X, label=y)
        lightgbm.train({"objective": "binary", "verbose": -1}, data, 3, valid_sets=[data], valid_names=["train"])
    got = autologging.tracking.get_run(run2.id)
    assert got.params["objective"] == "binary" and got.params["num_boost_round"] == "3"
    assert len(autologging.tracking.get_metric_history(run2.id, "train-binary_logloss")) == 3
    _check_run(autologging, run2.id, X, y)
