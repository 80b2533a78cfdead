"""The :class:`Predictor`: a loaded model behind one batch-in, batch-out interface.

``predict`` accepts a pandas DataFrame, a pyarrow Table, a NumPy array or a list of dicts,
validates it against the signature (missing column, wrong type: :class:`InvalidInput`) and
returns a NumPy array or DataFrame. ``predict_raw`` skips every conversion and check, for callers
(the inference server) that already hold the model's native input.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from slipway.core.errors import InvalidInput
from slipway.models.bundle import METADATA_FILE, BundleMetadata, read_example
from slipway.models.flavors import get_flavor
from slipway.models.flavors.base import Files, LoadedModel
from slipway.models.signature import Batch, check_batch, to_frame_or_array


class Predictor:
    """A loaded model bundle.

    Attributes:
        flavor: the flavor name (``sklearn``, ``xgboost``, ...).
        signature: ``{"inputs": [...], "outputs": [...]}`` (empty lists when none was recorded).
        metadata: the bundle's :class:`BundleMetadata`.
        bundle_digest: the manifest digest the bundle was verified against, when it came from a store.
        input_kind: ``"dataframe"`` or ``"ndarray"``, what :meth:`predict_raw` expects.
    """

    def __init__(self, loaded: LoadedModel, metadata: BundleMetadata, files: Files, bundle_digest: str | None = None,
                 ref: str | None = None) -> None:
        self._loaded = loaded
        self._example_file = metadata.input_example
        self._example_bytes = files.get(metadata.input_example) if metadata.input_example else None
        self.metadata = metadata
        self.flavor = metadata.flavor
        self.signature = metadata.signature
        self.bundle_digest = bundle_digest
        self.ref = ref
        self.input_kind = loaded.input_kind
        # Bound once: the hot path is one attribute lookup and the model's own call.
        self.predict_raw = loaded.predict

    def __repr__(self) -> str:
        where = self.ref or (self.bundle_digest or "folder")
        return f"Predictor(flavor={self.flavor!r}, model={self.metadata.model_class!r}, from={where!r})"

    @property
    def model(self) -> Any:
        """The underlying model object (a scikit-learn estimator, a Booster, a session, ...)."""
        return self._loaded.raw

    @property
    def has_predict_proba(self) -> bool:
        return self._loaded.predict_proba is not None

    def check_input(self, batch: Batch) -> pd.DataFrame | np.ndarray:
        """Validate ``batch`` against the signature and return it in the model's native form.

        Raises:
            InvalidInput: a missing column, a column or array of the wrong type or shape, or a
                batch of an unsupported kind; the message names the column and the types.
        """
        native = check_batch(batch, self.signature.get("inputs", []))
        if self.input_kind == "ndarray" and isinstance(native, pd.DataFrame):
            return native.to_numpy()
        return native

    def predict(self, batch: Batch, *, check: bool = True) -> np.ndarray | pd.DataFrame:
        """Predict a batch; ``check=False`` skips validation (conversion still happens)."""
        native = self.check_input(batch) if check else to_frame_or_array(batch)
        return _call(self._loaded.predict, native, self.flavor, "predict")

    def predict_proba(self, batch: Batch, *, check: bool = True) -> np.ndarray | pd.DataFrame:
        """Class probabilities, for models that have them (InvalidInput otherwise)."""
        if self._loaded.predict_proba is None:
            raise InvalidInput(f"this {self.flavor} model ({self.metadata.model_class}) has no predict_proba")
        native = self.check_input(batch) if check else to_frame_or_array(batch)
        return _call(self._loaded.predict_proba, native, self.flavor, "predict_proba")

    def input_example(self) -> pd.DataFrame | np.ndarray | None:
        """The example batch stored with the model, or None."""
        if self._example_file is None or self._example_bytes is None:
            return None
        return read_example({self._example_file: self._example_bytes}, self._example_file)


def _call(fn: Any, native: Any, flavor: str, what: str) -> Any:
    # The model's code is a boundary: its errors come back as ours, with its traceback chained.
    try:
        return fn(native)
    except InvalidInput:
        raise
    except Exception as err:
        raise InvalidInput(f"the {flavor} model failed in {what}: {type(err).__name__}: {err}") from err


def predictor_from_files(files: Files, bundle_digest: str | None = None, ref: str | None = None,
                         **options: Any) -> Predictor:
    """Build a Predictor from a bundle's files (already verified when they came from a store)."""
    if METADATA_FILE not in files:
        raise InvalidInput(f"not a model bundle: it has no {METADATA_FILE} (files: {sorted(files)[:10]})")
    metadata = BundleMetadata.from_json(files[METADATA_FILE])
    loaded = get_flavor(metadata.flavor).load(files, metadata.flavor_config, metadata.signature, **options)
    return Predictor(loaded, metadata, files, bundle_digest, ref)
