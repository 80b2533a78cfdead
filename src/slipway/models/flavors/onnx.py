"""ONNX models, run with onnxruntime. A model with one input takes an array; a model with one input
per column (as skl2onnx makes for mixed-type tables) takes a DataFrame, each column fed by name."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from slipway.models.flavors.base import Files, Flavor, LoadedModel, module_root

MODEL_FILE = "model.onnx"
_ORT_TYPES = {"tensor(float)": "float32", "tensor(double)": "float64", "tensor(int64)": "int64",
              "tensor(int32)": "int32", "tensor(string)": "object", "tensor(bool)": "bool"}


class OnnxFlavor(Flavor):
    name = "onnx"
    packages: ClassVar[tuple[str, ...]] = ("onnxruntime", "onnx", "numpy")

    @classmethod
    def matches(cls, model: Any) -> bool:
        return "onnx" in module_root(model) and type(model).__name__ == "ModelProto"

    def save(self, model: Any, folder: Path, **options: Any) -> dict[str, Any]:
        (folder / MODEL_FILE).write_bytes(model.SerializeToString())
        return {"file": MODEL_FILE, "inputs": [i.name for i in model.graph.input],
                "outputs": [o.name for o in model.graph.output]}

    def example_output(self, model: Any, example: Any) -> Any:
        return _adapter(_session(model.SerializeToString())).predict(example)

    def default_signature(self, model: Any) -> dict[str, Any]:
        session = _session(model.SerializeToString())
        inputs = session.get_inputs()
        if len(inputs) == 1:
            shape = [d if isinstance(d, int) else -1 for d in inputs[0].shape]
            return {"inputs": [{"type": "tensor", "dtype": _ORT_TYPES.get(inputs[0].type, "float32"), "shape": shape}],
                    "outputs": []}
        return {"inputs": [], "outputs": []}

    def load(self, files: Files, config: dict[str, Any], signature: dict[str, Any], **options: Any) -> LoadedModel:
        return _adapter(_session(files[config.get("file", MODEL_FILE)]))


def _session(data: bytes) -> Any:
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    return onnxruntime.InferenceSession(data, options, providers=["CPUExecutionProvider"])


def _adapter(session: Any) -> LoadedModel:
    inputs = session.get_inputs()
    dtypes = {i.name: _ORT_TYPES.get(i.type, "float32") for i in inputs}
    outputs = [o.name for o in session.get_outputs()]

    def feed(x: Any) -> dict[str, np.ndarray]:
        if len(inputs) == 1:
            array = x.to_numpy() if isinstance(x, pd.DataFrame) else np.asarray(x)
            return {inputs[0].name: array.astype(dtypes[inputs[0].name], copy=False)}
        return {name: x[name].to_numpy().astype(dtype, copy=False).reshape(-1, 1) for name, dtype in dtypes.items()}

    def run(x: Any, index: int) -> np.ndarray:
        result = session.run([outputs[index]], feed(x))[0]
        if isinstance(result, list) and result and isinstance(result[0], dict):  # ZipMap: list of {class: p}
            return np.array([list(row.values()) for row in result])
        return np.asarray(result)

    proba = (lambda x: run(x, 1)) if len(outputs) > 1 else None
    kind = "ndarray" if len(inputs) == 1 else "dataframe"
    return LoadedModel(session, lambda x: run(x, 0), proba, kind)
