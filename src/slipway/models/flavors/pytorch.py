"""PyTorch models as TorchScript (``torch.jit.save``/``torch.jit.load``): the graph and weights,
loadable without the Python class that defined them. An ``nn.Module`` is scripted on save."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from slipway.core.errors import InvalidInput
from slipway.models.flavors.base import Files, Flavor, LoadedModel, module_root

MODEL_FILE = "model.pt"


class PyTorchFlavor(Flavor):
    name = "pytorch"
    packages: ClassVar[tuple[str, ...]] = ("torch", "numpy")

    @classmethod
    def matches(cls, model: Any) -> bool:
        return "torch" in module_root(model)

    def save(self, model: Any, folder: Path, **options: Any) -> dict[str, Any]:
        import torch

        scripted = model
        if not isinstance(model, torch.jit.ScriptModule):
            if not isinstance(model, torch.nn.Module):
                raise InvalidInput(f"the pytorch flavor saves torch.nn.Module objects, not {type(model).__name__}")
            try:
                scripted = torch.jit.script(model.eval())
            except Exception as err:
                raise InvalidInput(f"cannot script {type(model).__name__} with TorchScript: {err}") from err
        torch.jit.save(scripted, str(folder / MODEL_FILE))
        return {"file": MODEL_FILE}

    def example_output(self, model: Any, example: Any) -> Any:
        return _predict(model.eval())(example)

    def load(self, files: Files, config: dict[str, Any], signature: dict[str, Any], **options: Any) -> LoadedModel:
        import torch

        module = torch.jit.load(io.BytesIO(files[config.get("file", MODEL_FILE)]), map_location="cpu")
        module.eval()
        return LoadedModel(module, _predict(module), None, "ndarray")


def _predict(module: Any) -> Any:
    import torch

    def predict(x: Any) -> np.ndarray:
        array = x.to_numpy() if hasattr(x, "to_numpy") else np.asarray(x)
        with torch.inference_mode():
            return module(torch.from_numpy(np.ascontiguousarray(array))).numpy()

    return predict
