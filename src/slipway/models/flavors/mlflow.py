"""Models logged by an MLflow client through ``slipway server``: the MLflow model folder (its
``MLmodel`` and files) is the bundle, loaded through ``mlflow.pyfunc`` when MLflow is installed.

Bundles of this flavor are written by the server's MLflow API when a logged model is finalised
(see docs/mlflow.md); Slipway never saves a model object as one.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, ClassVar

from slipway.core.errors import InvalidInput
from slipway.models.flavors.base import Files, Flavor, LoadedModel


class MlflowFlavor(Flavor):
    name: ClassVar[str] = "mlflow"
    packages: ClassVar[tuple[str, ...]] = ("mlflow",)

    @classmethod
    def matches(cls, model: Any) -> bool:
        return False

    def save(self, model: Any, folder: Path, **options: Any) -> dict[str, Any]:
        raise InvalidInput("the 'mlflow' flavor is written by MLflow clients through slipway server; "
                           "log this model with its own flavor")

    def load(self, files: Files, config: dict[str, Any], signature: dict[str, Any], **options: Any) -> LoadedModel:
        try:
            import mlflow.pyfunc
        except ImportError as err:
            raise InvalidInput("this model was logged by an MLflow client; loading it needs the 'mlflow' package") from err
        folder = Path(tempfile.mkdtemp(prefix="slipway-mlflow-model-"))
        for path, data in files.items():
            target = folder / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        model = mlflow.pyfunc.load_model(str(folder))
        return LoadedModel(model, model.predict, None, "dataframe")
