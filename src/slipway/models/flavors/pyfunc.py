"""A plain Python class with ``predict``, stored as code you control, never as pickled bytes.

The bundle records the class's import path (``package.module:Class``) and its constructor
arguments as JSON. Loading imports that module (so it must be importable where the model is
loaded, e.g. installed or on ``PYTHONPATH``) and calls the constructor with those arguments. The
constructor arguments come from ``init_kwargs=`` when given, else from ``get_params()`` when the
class has it, else from attributes named like the constructor's parameters (the scikit-learn
convention). A class defined in ``__main__`` cannot be imported later, so it is refused.

A model whose state is learned numbers (factor matrices, item popularity) defines
``state_arrays() -> dict[str, numpy.ndarray]`` and a classmethod
``from_state_arrays(arrays, **init_kwargs)``: the arrays are stored in ``state.npz`` (numeric
arrays only, ``allow_pickle=False`` both ways) and, when loading, read from the bundle's verified
bytes and handed to ``from_state_arrays`` instead of the constructor.
"""

from __future__ import annotations

import importlib
import inspect
import io
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import orjson

from slipway.core.errors import InvalidInput
from slipway.models.flavors.base import Files, Flavor, LoadedModel

MODEL_FILE = "pyfunc.json"
STATE_FILE = "state.npz"


class PyFuncFlavor(Flavor):
    name = "pyfunc"
    packages: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def matches(cls, model: Any) -> bool:
        return callable(getattr(model, "predict", None)) and not isinstance(model, type)

    def save(self, model: Any, folder: Path, **options: Any) -> dict[str, Any]:
        cls = type(model)
        if cls.__module__ == "__main__" or "<locals>" in cls.__qualname__:
            raise InvalidInput(
                f"class {cls.__qualname__} is defined in {cls.__module__} and cannot be imported when the model is "
                "loaded; move it into a module"
            )
        kwargs = options.get("init_kwargs")
        if kwargs is None:
            kwargs = _constructor_kwargs(model)
        try:
            body = orjson.dumps({"class": f"{cls.__module__}:{cls.__qualname__}", "init_kwargs": kwargs},
                                option=orjson.OPT_SORT_KEYS | orjson.OPT_SERIALIZE_NUMPY)
        except TypeError as err:
            raise InvalidInput(f"constructor arguments of {cls.__qualname__} must be JSON values: {err}") from err
        config: dict[str, Any] = {"file": MODEL_FILE, "class": f"{cls.__module__}:{cls.__qualname__}"}
        if callable(getattr(model, "state_arrays", None)):
            _check_loadable(cls)
            (folder / STATE_FILE).write_bytes(_npz_bytes(model.state_arrays(), cls.__qualname__))
            config["state"] = STATE_FILE
        (folder / MODEL_FILE).write_bytes(body)
        return config

    def load(self, files: Files, config: dict[str, Any], signature: dict[str, Any], **options: Any) -> LoadedModel:
        spec = orjson.loads(files[config.get("file", MODEL_FILE)])
        module_name, _, qualname = str(spec["class"]).partition(":")
        try:
            target: Any = importlib.import_module(module_name)
            for part in qualname.split("."):
                target = getattr(target, part)
        except (ImportError, AttributeError) as err:
            raise InvalidInput(f"cannot import the model class {spec['class']}: {err}; install or add its module "
                               "to the path where the model is loaded") from err
        kwargs = spec.get("init_kwargs", {})
        try:
            if "state" in config:
                model = target.from_state_arrays(_read_npz(files, str(config["state"])), **kwargs)
            else:
                model = target(**kwargs)
        except InvalidInput:
            raise
        except Exception as err:
            raise InvalidInput(f"constructing {spec['class']} failed: {type(err).__name__}: {err}") from err
        from slipway.models.signature import is_tensor

        kind = "ndarray" if is_tensor(signature.get("inputs", [])) else "dataframe"
        proba = model.predict_proba if callable(getattr(model, "predict_proba", None)) else None
        return LoadedModel(model, model.predict, proba, kind)


def _constructor_kwargs(model: Any) -> dict[str, Any]:
    if callable(getattr(model, "get_params", None)):
        return dict(model.get_params())
    kwargs: dict[str, Any] = {}
    for name, param in inspect.signature(type(model).__init__).parameters.items():
        if name == "self" or param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        if hasattr(model, name):
            kwargs[name] = getattr(model, name)
        elif param.default is param.empty:
            raise InvalidInput(
                f"cannot tell the constructor argument {name!r} of {type(model).__qualname__}: store it as "
                f"self.{name}, add get_params(), or pass init_kwargs= to log_model"
            )
    return kwargs


def _check_loadable(cls: type) -> None:
    if not callable(getattr(cls, "from_state_arrays", None)):
        raise InvalidInput(f"{cls.__qualname__} has state_arrays() but no classmethod from_state_arrays(arrays, "
                           "**init_kwargs) to rebuild it from them")


def _npz_bytes(arrays: Any, owner: str) -> bytes:
    if not isinstance(arrays, dict) or not all(isinstance(k, str) for k in arrays):
        raise InvalidInput(f"{owner}.state_arrays() must return a dict of name -> numpy array")
    checked = {}
    for name, value in arrays.items():
        array = np.asarray(value)
        if array.dtype.kind not in "biuf":
            raise InvalidInput(f"{owner}.state_arrays()[{name!r}] has dtype {array.dtype}; only numeric arrays "
                               "are stored (never pickled objects)")
        checked[name] = array
    buffer = io.BytesIO()
    np.savez(buffer, allow_pickle=False, **checked)
    return buffer.getvalue()


def _read_npz(files: Files, name: str) -> dict[str, np.ndarray]:
    if name not in files:
        raise InvalidInput(f"the bundle has no state file {name!r}")
    try:
        with np.load(io.BytesIO(files[name]), allow_pickle=False) as data:
            return {key: data[key] for key in data.files}
    except ValueError as err:  # an object array would need pickle: refused
        raise InvalidInput(f"the bundle's {name} cannot be read without pickle: {err}") from err
