"""What autologging records around one fit: params, training metrics, the model and the data digest.

Each function here wraps one patched training call. The user's training runs exactly as it would
without Slipway; a failure while *logging* is reported as a warning and never fails the fit.
"""

from __future__ import annotations

import contextlib
import inspect
import warnings
from collections.abc import Callable, Iterator
from typing import Any

from slipway.core.clock import now_ms
from slipway.core.names import MAX_VALUE
from slipway.models.training_data import TRAINING_DATA, TrainingData, example_rows, training_digest


@contextlib.contextmanager
def _run(config: dict[str, Any]) -> Iterator[str]:
    """The active run's id, or a new run that ends (FAILED if the fit raised) after the block."""
    tracking = config["host"].service("tracking")
    active = tracking.active_run()
    if active is not None:
        yield active.id
        return
    run = tracking.start_run()
    try:
        yield run.id
    except BaseException:
        tracking.end_run(run.id, "FAILED")
        raise
    tracking.end_run(run.id)


def _safely(config: dict[str, Any], what: str, action: Callable[[], Any]) -> None:
    try:
        action()
    except Exception as err:
        if not config.get("silent"):
            warnings.warn(f"slipway autolog could not log {what}: {type(err).__name__}: {err}", stacklevel=3)


def _param_value(value: Any) -> str:
    if hasattr(value, "get_params") or callable(value):
        return type(value).__name__ if not isinstance(value, type) else value.__name__
    return str(value)[:MAX_VALUE]


def _log_common(config: dict[str, Any], run_id: str, model: Any, X: Any, y: Any, params: dict[str, Any]) -> None:
    host = config["host"]
    tracking = host.service("tracking")
    _safely(config, "params", lambda: tracking.log_params({k: _param_value(v) for k, v in params.items()}, run_id))
    if config.get("log_datasets", True):
        _safely(config, "the training data digest", lambda: tracking.log_input(
            TrainingData(TRAINING_DATA, None, training_digest(X, y)), "training", run_id=run_id))
    if config.get("log_models", True):
        from slipway.models.logging import log_model

        _safely(config, "the model", lambda: log_model(host, model, "model", input_example=example_rows(X),
                                                       run_id=run_id))


def _log_metrics(config: dict[str, Any], run_id: str, points: list[tuple[str, float, int]]) -> None:
    if points:
        ts = now_ms()
        tracking = config["host"].service("tracking")
        _safely(config, "metrics", lambda: tracking.log_batch(run_id, metrics=[(k, float(v), s, ts) for k, v, s in points]))


def training_metrics(model: Any, X: Any, y: Any) -> dict[str, float]:
    """Scores of a fitted estimator on its own training data (MLflow's ``training_*`` metrics)."""
    from sklearn import metrics
    from sklearn.base import is_classifier, is_regressor

    found: dict[str, float] = {}
    if y is None:
        return found
    if callable(getattr(model, "score", None)):
        with contextlib.suppress(Exception):
            found["training_score"] = float(model.score(X, y))
    if is_classifier(model):
        predicted = model.predict(X)
        found["training_accuracy_score"] = float(metrics.accuracy_score(y, predicted))
        found["training_f1_score"] = float(metrics.f1_score(y, predicted, average="weighted", zero_division=0))
        if callable(getattr(model, "predict_proba", None)):
            with contextlib.suppress(Exception):
                proba = model.predict_proba(X)
                found["training_log_loss"] = float(metrics.log_loss(y, proba, labels=model.classes_))
                if proba.shape[1] == 2:
                    found["training_roc_auc"] = float(metrics.roc_auc_score(y, proba[:, 1]))
    elif is_regressor(model):
        predicted = model.predict(X)
        mse = float(metrics.mean_squared_error(y, predicted))
        found.update(training_mean_squared_error=mse, training_root_mean_squared_error=mse ** 0.5,
                     training_mean_absolute_error=float(metrics.mean_absolute_error(y, predicted)),
                     training_r2_score=float(metrics.r2_score(y, predicted)))
    return found


def fit_estimator(original: Callable[..., Any], config: dict[str, Any], model: Any, *args: Any,
                  **kwargs: Any) -> Any:
    """A scikit-learn style ``fit`` (also XGBoost's and LightGBM's estimators)."""
    try:
        bound = inspect.signature(original).bind(model, *args, **kwargs)
    except TypeError:
        return original(model, *args, **kwargs)  # let the estimator report its own usage error
    names = list(bound.signature.parameters)
    X = bound.arguments.get(names[1]) if len(names) > 1 else None
    y = bound.arguments.get("y")
    with _run(config) as run_id:
        result = original(model, *args, **kwargs)
        if X is None:
            return result
        _log_common(config, run_id, model, X, y, model.get_params(deep=True))

        def metric_points() -> list[tuple[str, float, int]]:
            points = [(k, v, 0) for k, v in training_metrics(model, X, y).items()]
            evals = getattr(model, "evals_result_", None) or {}
            return points + _eval_points(evals)

        found: list[tuple[str, float, int]] = []
        _safely(config, "training metrics", lambda: found.extend(metric_points()))
        _log_metrics(config, run_id, found)
        return result


def _eval_points(evals: dict[str, dict[str, list[Any]]]) -> list[tuple[str, float, int]]:
    """``{"train": {"logloss": [...]}}`` as points ``("train-logloss", value, iteration)``."""
    points = []
    for dataset, by_metric in evals.items():
        for metric, values in by_metric.items():
            points += [(f"{dataset}-{metric}", float(v[0] if isinstance(v, tuple | list) else v), step)
                       for step, v in enumerate(values)]
    return points


def train_xgboost(original: Callable[..., Any], config: dict[str, Any], params: dict[str, Any], dtrain: Any,
                  *args: Any, **kwargs: Any) -> Any:
    """``xgboost.train``: params, eval results per iteration, the Booster and the DMatrix's digest."""
    bound = inspect.signature(original).bind(params, dtrain, *args, **kwargs)
    bound.apply_defaults()
    if bound.arguments.get("evals_result") is None:
        bound.arguments["evals_result"] = {}
    with _run(config) as run_id:
        booster = original(*bound.args, **bound.kwargs)
        X, y = dtrain.get_data(), dtrain.get_label()
        names = dtrain.feature_names
        if names:
            import pandas as pd

            X = pd.DataFrame(X.toarray() if hasattr(X, "toarray") else X, columns=names)
        _log_common(config, run_id, booster, X, y if len(y) else None,
                    {**params, "num_boost_round": bound.arguments["num_boost_round"]})
        _log_metrics(config, run_id, _eval_points(bound.arguments["evals_result"]))
        return booster


def train_lightgbm(original: Callable[..., Any], config: dict[str, Any], params: dict[str, Any], train_set: Any,
                   *args: Any, **kwargs: Any) -> Any:
    """``lightgbm.train``: params, eval results per iteration, the Booster and the Dataset's digest."""
    import lightgbm

    bound = inspect.signature(original).bind(params, train_set, *args, **kwargs)
    bound.apply_defaults()
    evals: dict[str, Any] = {}
    bound.arguments["callbacks"] = [*(bound.arguments.get("callbacks") or []), lightgbm.record_evaluation(evals)]
    # The Dataset frees its raw data once built, so take what we need before training.
    X, y = train_set.data, train_set.label
    with _run(config) as run_id:
        booster = original(*bound.args, **bound.kwargs)
        if isinstance(X, str):
            X = None
        if X is not None:
            _log_common(config, run_id, booster, X, y, {**params, "num_boost_round": bound.arguments["num_boost_round"]})
        _log_metrics(config, run_id, _eval_points(evals))
        return booster
