"""A model as the server runs it: name, version, signature and a batch ``predict``.

The registry's ``Predictor`` (or any object with ``predict``) is wrapped once at load time; the
hot path then hands the predictor a DataFrame built straight from the request's column arrays,
already checked against the signature, so no second validation layer runs per request. For the
scikit-learn models :mod:`slipway.serving.fastpath` knows, a compiled path that returned exactly
the model's predictions on the bundle's input example replaces that call.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

import numpy as np

from slipway.core import fastpaths
from slipway.core.errors import InvalidInput, SlipwayError
from slipway.serving.fastpath import FastPredict, compile_model, verify
from slipway.serving.frame import Frame, frame_from_columns
from slipway.serving.input_limits import InputLimits, probe_limits
from slipway.serving.signature import Signature, parse_signature


@dataclasses.dataclass(frozen=True)
class OutputSpec:
    """The dtype and per-row shape of a model's predictions, as ``predict`` returns them."""

    dtype: np.dtype[Any]
    row_shape: tuple[int, ...] = ()


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
    fast: FastPredict | None = None  # a compiled predict proven equal to the model's (see fastpath)
    output: OutputSpec | None = None  # what ``predict`` returns (see describe_output); None: unknown
    limits: InputLimits | None = None  # float values the model refuses (see learn_limits), refused first

    @functools.cached_property
    def proba_classes(self) -> int | None:
        """With ``predict_proba``: the number of classes (-1 when unknown); None without it."""
        raw = _raw_model(self.predictor)
        if getattr(self.predictor, "has_predict_proba", None) is False or not callable(
                getattr(raw, "predict_proba", None)):
            return None
        classes = getattr(raw, "classes_", None)
        return len(classes) if classes is not None and np.ndim(classes) == 1 else -1

    @functools.cached_property
    def named_outputs(self) -> dict[str, str]:
        """Extra outputs by name -> v2 datatype, for a model with ``named_outputs`` and
        ``predict_outputs(batch) -> {name: array}`` (e.g. a ranking model's ``item_ids`` and
        ``scores``); empty for other models."""
        raw = _raw_model(self.predictor)
        declared = getattr(raw, "named_outputs", None)
        if not isinstance(declared, dict) or not callable(getattr(raw, "predict_outputs", None)):
            return {}
        return {str(k): str(v) for k, v in declared.items()}

    def predict_outputs(self, frame: Frame, names: list[str]) -> dict[str, np.ndarray]:
        """The named outputs ``names`` for every row of ``frame`` (the model's ``predict_outputs``).

        Raises:
            ModelError: the model raised, or left out an output it declares.
        """
        raw = _raw_model(self.predictor)
        try:
            result = raw.predict_outputs(self._native(frame))
        except InvalidInput:  # the caller's input (e.g. a malformed item list): a 400
            raise
        except SlipwayError as err:
            raise ModelError(f"model {self.name} version {self.version} rejected the batch: {err.message}") from err
        except Exception as err:
            raise ModelError(f"model {self.name} version {self.version} failed in predict_outputs: "
                             f"{type(err).__name__}: {err}") from err
        missing = [n for n in names if n not in result]
        if missing:
            raise ModelError(f"model {self.name} version {self.version} declared output {missing[0]!r} but "
                             "predict_outputs did not return it")
        return {n: _as_array(result[n], frame.n_rows, self) for n in names}

    def _native(self, frame: Frame) -> Any:
        if getattr(self.predictor, "input_kind", "dataframe") == "ndarray":
            return np.column_stack(list(frame.columns.values()))
        return frame.to_pandas()

    def check(self, frame: Frame) -> None:
        """Refuse (InvalidInput, a 400) a value the model is known to reject, before calling it."""
        if self.limits is not None:
            self.limits.check(frame)

    def predict_proba(self, frame: Frame) -> np.ndarray:
        """Class probabilities for every row of ``frame`` (the model's own ``predict_proba``).

        Raises:
            ModelError: the model raised.
        """
        raw = _raw_model(self.predictor)
        try:
            result = raw.predict_proba(self._native(frame))
        except Exception as err:
            raise ModelError(f"model {self.name} version {self.version} failed in predict_proba: "
                             f"{type(err).__name__}: {err}") from err
        return _as_array(result, frame.n_rows, self)

    def predict(self, frame: Frame) -> np.ndarray:
        """Predictions for every row of ``frame`` (one output row per input row).

        Raises:
            ModelError: the model raised; the message carries its error, the traceback is chained.
        """
        fast = self.fast
        if fast is not None:
            try:
                answer = fast(frame.columns, frame.n_rows)
                fastpaths.took("serving.compiled")
                return answer
            except Exception:  # fastpath.Fallback, or anything unforeseen: the model's own answer
                pass
        return self.predict_model(frame)

    def predict_model(self, frame: Frame) -> np.ndarray:
        """Predictions from the model's own ``predict`` (what the fast path must equal)."""
        batch = self._native(frame)
        raw_predict = getattr(self.predictor, "predict_raw", None) or self.predictor.predict
        try:
            result = raw_predict(batch)
        except SlipwayError as err:
            raise ModelError(f"model {self.name} version {self.version} rejected the batch: {err.message}") from err
        except Exception as err:
            raise ModelError(f"model {self.name} version {self.version} failed: {type(err).__name__}: {err}") from err
        return _as_array(result, frame.n_rows, self)


def _raw_model(predictor: Any) -> Any:
    """The model object itself: a registry Predictor's ``model``, or the object served."""
    return getattr(predictor, "model", None) if hasattr(predictor, "predict_raw") else predictor


def learn_limits(served: ServedModel, example: Any = None) -> InputLimits | None:
    """Find which float values the model refuses, on ``example`` (a DataFrame; by default the
    bundle's input example): see :mod:`slipway.serving.input_limits`."""
    served.limits = None
    try:
        if example is None and hasattr(served.predictor, "input_example"):
            example = served.predictor.input_example()
        if example is None or not hasattr(example, "columns") or not served.signature.columns:
            return None
        frame = frame_from_columns({str(c): example[c].tolist() for c in example.columns}, served.signature)
    except Exception:
        return None
    floats = [c.name for c in served.signature.columns if c.kind == "float"]
    served.limits = probe_limits(floats, frame, served.predict_model)
    return served.limits


def _as_array(result: Any, n_rows: int, model: ServedModel) -> np.ndarray:
    if hasattr(result, "to_numpy"):
        result = result.to_numpy()
    array = np.asarray(result)
    if array.ndim == 0 or array.shape[0] != n_rows:
        raise ModelError(f"model {model.name} version {model.version} returned {array.shape} for {n_rows} rows")
    return array


def enable_fast_path(served: ServedModel, example: Any = None, settings: Any = None) -> bool:
    """Use a compiled predict for ``served`` if one exists for its model and returns exactly the
    model's own predictions on ``example`` (a DataFrame; by default the bundle's input example).
    Never with the fast paths off (:mod:`slipway.core.fastpaths`)."""
    served.fast = None
    if not served.signature.columns or not fastpaths.enabled(settings):
        return False
    raw = getattr(served.predictor, "model", None) if hasattr(served.predictor, "predict_raw") else served.predictor
    if raw is None or "sklearn" not in type(raw).__module__:
        return False
    try:
        if example is None and hasattr(served.predictor, "input_example"):
            example = served.predictor.input_example()
        if example is None or not hasattr(example, "columns"):
            return False
        frame = frame_from_columns({str(c): example[c].tolist() for c in example.columns}, served.signature)
    except Exception:
        return False
    fast = compile_model(raw, served.signature.names)
    if fast is None:
        return False

    def reference(columns: Any, n_rows: int) -> np.ndarray:
        return served.predict_model(Frame(dict(columns), n_rows))

    if verify(fast, reference, frame.columns, frame.n_rows):
        served.fast = fast
    return served.fast is not None


def describe_output(served: ServedModel, example: Any = None, declared: Any = None) -> OutputSpec | None:
    """Record what ``served.predict`` returns (dtype, per-row shape) on ``example`` (a DataFrame;
    by default the bundle's input example), or, without one, what the outputs of the ``declared``
    signature (by default the predictor's) say.

    The server's v2 model metadata declares this, so it names the datatype ``/infer`` answers with.
    """
    served.output = None
    try:
        if example is None and hasattr(served.predictor, "input_example"):
            example = served.predictor.input_example()
        if example is not None and hasattr(example, "columns"):
            frame = frame_from_columns({str(c): example[c].tolist() for c in example.columns}, served.signature)
            outputs = served.predict(frame)
            served.output = OutputSpec(outputs.dtype, tuple(outputs.shape[1:]))
            return served.output
    except Exception:  # a model that cannot predict its own example: fall back to the signature
        pass
    served.output = _signature_output(declared if declared is not None else getattr(served.predictor, "signature", None))
    return served.output


def _signature_output(raw: Any) -> OutputSpec | None:
    outputs = raw.get("outputs") if isinstance(raw, dict) else None
    if not isinstance(outputs, list) or len(outputs) != 1 or not isinstance(outputs[0], dict):
        return None
    spec = outputs[0]
    try:
        dtype = np.dtype(spec.get("dtype") or spec.get("type"))
    except TypeError:
        return None
    shape = spec.get("shape")
    row_shape = tuple(int(d) for d in shape[1:]) if isinstance(shape, list) and len(shape) > 1 else ()
    return OutputSpec(dtype, row_shape)


def served_from_object(name: str, version: str, model: Any, signature: Any = None, flavor: str = "python",
                       example: Any = None) -> ServedModel:
    """Wrap an in-memory model (anything with ``predict``), e.g. a fitted scikit-learn pipeline;
    with an ``example`` DataFrame, a verified fast path is used when there is one."""
    served = ServedModel(name, str(version), model, parse_signature(signature), flavor)
    if example is not None:
        enable_fast_path(served, example)
        learn_limits(served, example)
    describe_output(served, example, signature)
    return served


def served_from_registry(workspace: Any, ref: str) -> ServedModel:
    """Resolve ``ref`` in the registry and load its bundle (digest-verified by the registry)."""
    version = workspace.registry.resolve(ref)
    predictor = workspace.registry.load(f"{version.name}/{version.version}")
    signature = getattr(predictor, "signature", None) or getattr(version, "signature", None)
    served = ServedModel(version.name, str(version.version), predictor, parse_signature(signature),
                         getattr(version, "flavor", "python"), getattr(version, "bundle_digest", ""))
    enable_fast_path(served, settings=getattr(workspace, "settings", None))
    learn_limits(served)
    describe_output(served, declared=signature)
    return served
