"""A model as the server runs it: name, version, signature and a batch ``predict``.

The registry's ``Predictor`` (or any object with ``predict``) is wrapped once at load time; the
hot path then hands the predictor a DataFrame built straight from the request's column arrays,
already checked against the signature, so no second validation layer runs per request.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from slipway.core.errors import SlipwayError
from slipway.serving.frame import Frame
from slipway.serving.signature import Signature, parse_signature


class ModelError(SlipwayError):
    """The model's own code raised while predicting (HTTP 500; the server keeps serving)."""

    http_status = 500


@dataclasses.dataclass
class ServedModel:
    """One loaded model version, ready for batches of rows."""

    name: str
    version: str
    predictor: Any
    signature: Signature
    flavor: str = "python"
    bundle_digest: str = ""

    def predict(self, frame: Frame) -> np.ndarray:
        """Predictions for every row of ``frame`` (one output row per input row).

        Raises:
            ModelError: the model raised; the message carries its error, the traceback is chained.
        """
        if getattr(self.predictor, "input_kind", "dataframe") == "ndarray":
            batch: Any = np.column_stack(list(frame.columns.values()))
        else:
            batch = frame.to_pandas()
        raw_predict = getattr(self.predictor, "predict_raw", None) or self.predictor.predict
        try:
            result = raw_predict(batch)
        except SlipwayError as err:
            raise ModelError(f"model {self.name} version {self.version} rejected the batch: {err.message}") from err
        except Exception as err:
            raise ModelError(f"model {self.name} version {self.version} failed: {type(err).__name__}: {err}") from err
        return _as_array(result, frame.n_rows, self)


def _as_array(result: Any, n_rows: int, model: ServedModel) -> np.ndarray:
    if hasattr(result, "to_numpy"):
        result = result.to_numpy()
    array = np.asarray(result)
    if array.ndim == 0 or array.shape[0] != n_rows:
        raise ModelError(f"model {model.name} version {model.version} returned {array.shape} for {n_rows} rows")
    return array


def served_from_object(name: str, version: str, model: Any, signature: Any = None, flavor: str = "python") -> ServedModel:
    """Wrap an in-memory model (anything with ``predict``), e.g. a fitted scikit-learn pipeline."""
    return ServedModel(name, str(version), model, parse_signature(signature), flavor)


def served_from_registry(workspace: Any, ref: str) -> ServedModel:
    """Resolve ``ref`` in the registry and load its bundle (digest-verified by the registry)."""
    version = workspace.registry.resolve(ref)
    predictor = workspace.registry.load(f"{version.name}/{version.version}")
    signature = getattr(predictor, "signature", None) or getattr(version, "signature", None)
    return ServedModel(version.name, str(version.version), predictor, parse_signature(signature),
                       getattr(version, "flavor", "python"), getattr(version, "bundle_digest", ""))
