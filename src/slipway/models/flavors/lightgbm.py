"""LightGBM: scikit-learn estimators (LGBMClassifier, LGBMRegressor) and raw Boosters, in LightGBM's
text model format. A classifier's classes are kept in the bundle so ``predict`` returns labels."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from slipway.core.errors import InvalidInput
from slipway.models.flavors.base import Files, Flavor, LoadedModel, module_root

MODEL_FILE = "model.lgb.txt"


class LightGBMFlavor(Flavor):
    name = "lightgbm"
    packages: ClassVar[tuple[str, ...]] = ("lightgbm", "numpy", "scipy")

    @classmethod
    def matches(cls, model: Any) -> bool:
        return "lightgbm" in module_root(model)

    def save(self, model: Any, folder: Path, **options: Any) -> dict[str, Any]:
        kind = type(model).__name__
        booster = model if kind == "Booster" else getattr(model, "booster_", None)
        if booster is None:
            raise InvalidInput(f"the lightgbm flavor saves fitted Boosters and LGBM estimators, not {kind}")
        booster.save_model(str(folder / MODEL_FILE))
        config: dict[str, Any] = {"file": MODEL_FILE, "model_type": kind}
        if hasattr(model, "classes_"):
            config["classes"] = np.asarray(model.classes_).tolist()
        return config

    def load(self, files: Files, config: dict[str, Any], signature: dict[str, Any], **options: Any) -> LoadedModel:
        import lightgbm

        booster = lightgbm.Booster(model_str=files[config.get("file", MODEL_FILE)].decode())
        kind = "ndarray" if _tensor(signature) else "dataframe"
        classes = config.get("classes")
        if classes is None:
            return LoadedModel(booster, booster.predict, None, kind)
        labels = np.asarray(classes)

        def predict_proba(x: Any) -> np.ndarray:
            scores = np.asarray(booster.predict(x))
            return np.column_stack([1.0 - scores, scores]) if scores.ndim == 1 else scores

        def predict(x: Any) -> np.ndarray:
            return labels[np.argmax(predict_proba(x), axis=1)]

        return LoadedModel(booster, predict, predict_proba, kind)


def _tensor(signature: dict[str, Any]) -> bool:
    from slipway.models.signature import is_tensor

    return is_tensor(signature.get("inputs", []))
