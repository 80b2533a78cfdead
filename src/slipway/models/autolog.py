"""``slipway.autolog()``: log every ``fit`` of scikit-learn, XGBoost and LightGBM, like MLflow.

On each outermost fit (a Pipeline's inner fits are not logged again) it logs the estimator's
params, training metrics, the fitted model with its signature, and the training data's digest as
a run input. With no active run it starts one and ends it after the fit. ``autolog(disable=True)``
restores every patched method.

Scikit-learn estimators are patched class by class: every ``BaseEstimator`` subclass already
imported, plus (through a hook on ``BaseEstimator.__init_subclass__``) every one imported later.
"""

from __future__ import annotations

import functools
import importlib
import threading
from collections.abc import Callable
from typing import Any

from slipway.models import autolog_capture as capture
from slipway.store.context import Host

_lock = threading.Lock()
_patched: dict[tuple[Any, str], Any] = {}  # (owner, attribute) -> original
_config: dict[str, Any] = {}
_depth = threading.local()


def enable(host: Host, disable: bool = False, log_models: bool = True, log_datasets: bool = True,
           silent: bool = False) -> None:
    """Turn autologging on for ``host`` (or off with ``disable=True``).

    Args:
        log_models: log the fitted model as a bundle artifact ``model``.
        log_datasets: log the training data's digest as a run input ``training-data``.
        silent: do not warn when logging fails (the fit itself never fails because of autolog).
    """
    with _lock:
        _restore()
        if disable:
            _config.clear()
            return
        _config.update(host=host, log_models=log_models, log_datasets=log_datasets, silent=silent)
        _patch_sklearn()
        _patch_boosters()


def disable() -> None:
    """Turn autologging off and restore every patched method."""
    with _lock:
        _restore()
        _config.clear()


def is_enabled() -> bool:
    return bool(_config)


def _restore() -> None:
    for (owner, attribute), original in _patched.items():
        if original is _MISSING:
            try:
                delattr(owner, attribute)
            except AttributeError:
                pass
        else:
            setattr(owner, attribute, original)
    _patched.clear()


_MISSING = object()


def _patch(owner: Any, attribute: str, make: Callable[[Any], Any]) -> None:
    if (owner, attribute) in _patched:
        return
    original = owner.__dict__.get(attribute, _MISSING) if isinstance(owner, type) else getattr(owner, attribute)
    if original is _MISSING and isinstance(owner, type):
        return
    _patched[(owner, attribute)] = original
    setattr(owner, attribute, make(original))


# -- the outermost-call guard ----------------------------------------------------------------
def outermost(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Run ``fn`` only for the outermost patched call on this thread; inner calls go straight through."""

    def guard(original: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(original)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            depth = getattr(_depth, "value", 0)
            if depth or not _config:
                return original(*args, **kwargs)
            _depth.value = depth + 1
            try:
                return fn(original, _config, *args, **kwargs)
            finally:
                _depth.value = depth

        return wrapper

    return guard


# -- scikit-learn ----------------------------------------------------------------------------
def _subclasses(cls: type) -> list[type]:
    found: list[type] = []
    todo: list[type] = [cls]
    while todo:
        subs: list[type] = todo.pop().__subclasses__()
        for sub in subs:
            found.append(sub)
            todo.append(sub)
    return found


def _patch_sklearn() -> None:
    try:
        from sklearn.base import BaseEstimator
    except ImportError:
        return
    import sklearn.compose  # noqa: F401 - Pipelines and ColumnTransformers are what most people fit
    import sklearn.pipeline  # noqa: F401

    wrap = outermost(capture.fit_estimator)
    for cls in _subclasses(BaseEstimator):
        if "fit" in cls.__dict__:
            _patch(cls, "fit", wrap)

    def init_subclass(cls: type, **kwargs: Any) -> None:
        super(BaseEstimator, cls).__init_subclass__(**kwargs)
        if _config and "fit" in cls.__dict__:
            _patch(cls, "fit", wrap)

    _patched[(BaseEstimator, "__init_subclass__")] = BaseEstimator.__dict__.get("__init_subclass__", _MISSING)
    BaseEstimator.__init_subclass__ = classmethod(init_subclass)


def _patch_boosters() -> None:
    for module_name, wrapper in (("xgboost", capture.train_xgboost), ("lightgbm", capture.train_lightgbm)):
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        _patch(module, "train", outermost(wrapper))
