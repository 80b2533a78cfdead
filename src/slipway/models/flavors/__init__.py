"""The flavors, by name, as ``module:Class`` so optional packages import only when a flavor is used."""

from __future__ import annotations

import functools
import importlib
from typing import Any

from slipway.core.errors import InvalidInput
from slipway.models.flavors.base import Flavor, LoadedModel

FLAVOR_PATHS: dict[str, str] = {
    "sklearn": "slipway.models.flavors.sklearn:SklearnFlavor",
    "xgboost": "slipway.models.flavors.xgboost:XGBoostFlavor",
    "lightgbm": "slipway.models.flavors.lightgbm:LightGBMFlavor",
    "onnx": "slipway.models.flavors.onnx:OnnxFlavor",
    "pytorch": "slipway.models.flavors.pytorch:PyTorchFlavor",
    "pyfunc": "slipway.models.flavors.pyfunc:PyFuncFlavor",
    "mlflow": "slipway.models.flavors.mlflow:MlflowFlavor",  # written by MLflow clients via the server
}
# Detection order: specific libraries before scikit-learn (xgboost/lightgbm estimators subclass
# sklearn's BaseEstimator), and pyfunc (anything with ``predict``) last.
DETECTION_ORDER = ("xgboost", "lightgbm", "onnx", "pytorch", "sklearn", "pyfunc")


@functools.cache
def flavor_class(name: str) -> type[Flavor]:
    """The flavor class called ``name``; InvalidInput naming the known flavors otherwise."""
    if name not in FLAVOR_PATHS:
        raise InvalidInput(f"unknown model flavor {name!r}; known flavors: {', '.join(FLAVOR_PATHS)}")
    module_name, _, class_name = FLAVOR_PATHS[name].partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise InvalidInput(f"flavor {name!r} needs a package that is not installed: {err}") from err
    return getattr(module, class_name)


def get_flavor(name: str) -> Flavor:
    return flavor_class(name)()


def detect_flavor(model: Any) -> Flavor:
    """The flavor of a model object; InvalidInput when no flavor knows it."""
    for name in DETECTION_ORDER:
        cls = flavor_class(name)
        if cls.matches(model):
            return cls()
    raise InvalidInput(
        f"no flavor knows how to save a {type(model).__module__}.{type(model).__qualname__}; "
        f"pass flavor= one of {', '.join(FLAVOR_PATHS)}, or give the object a predict method"
    )


__all__ = ["FLAVOR_PATHS", "Flavor", "LoadedModel", "detect_flavor", "flavor_class", "get_flavor"]
