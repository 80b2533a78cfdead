"""XGBoost: scikit-learn estimators (XGBClassifier, XGBRegressor, ...) and raw Boosters, in XGBoost's
own JSON format (``save_model``), which loads without executing code."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from slipway.core.errors import InvalidInput
from slipway.models.flavors.base import Files, Flavor, LoadedModel, module_root

MODEL_FILE = "model.xgb.json"
ESTIMATORS = ("XGBClassifier", "XGBRegressor", "XGBRanker", "XGBRFClassifier", "XGBRFRegressor")


class XGBoostFlavor(Flavor):
    name = "xgboost"
    packages: ClassVar[tuple[str, ...]] = ("xgboost", "numpy", "scipy")

    @classmethod
    def matches(cls, model: Any) -> bool:
        return "xgboost" in module_root(model)

    def save(self, model: Any, folder: Path, **options: Any) -> dict[str, Any]:
        kind = type(model).__name__
        if kind != "Booster" and kind not in ESTIMATORS:
            raise InvalidInput(f"the xgboost flavor saves Boosters and {', '.join(ESTIMATORS)}, not {kind}")
        model.save_model(str(folder / MODEL_FILE))
        return {"file": MODEL_FILE, "model_type": kind}

    def example_output(self, model: Any, example: Any) -> Any:
        if type(model).__name__ == "Booster":
            import xgboost

            return model.predict(xgboost.DMatrix(example))
        return model.predict(example)

    def load(self, files: Files, config: dict[str, Any], signature: dict[str, Any], **options: Any) -> LoadedModel:
        import xgboost

        kind = config.get("model_type", "Booster")
        raw = bytearray(files[config.get("file", MODEL_FILE)])
        if kind == "Booster":
            booster = xgboost.Booster()
            booster.load_model(raw)
            return LoadedModel(booster, lambda x: booster.predict(xgboost.DMatrix(x)), None, _kind(signature))
        if kind not in ESTIMATORS:
            raise InvalidInput(f"unknown xgboost model type {kind!r} in the bundle")
        model = getattr(xgboost, kind)()
        model.load_model(raw)
        proba = model.predict_proba if hasattr(model, "predict_proba") else None
        return LoadedModel(model, model.predict, proba, _kind(signature))


def _kind(signature: dict[str, Any]) -> str:
    from slipway.models.signature import is_tensor

    return "ndarray" if is_tensor(signature.get("inputs", [])) else "dataframe"
