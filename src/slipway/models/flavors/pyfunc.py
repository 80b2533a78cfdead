"""A plain Python class with ``predict``, stored as code you control, never as pickled bytes.

The bundle records the class's import path (``package.module:Class``) and its constructor
arguments as JSON. Loading imports that module (so it must be importable where the model is
loaded, e.g. installed or on ``PYTHONPATH``) and calls the constructor with those arguments. The
constructor arguments come from ``init_kwargs=`` when given, else from ``get_params()`` when the
class has it, else from attributes named like the constructor's parameters (the scikit-learn
convention). A class defined in ``__main__`` cannot be imported later, so it is refused.
"""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path
from typing import Any, ClassVar

import orjson

from slipway.core.errors import InvalidInput
from slipway.models.flavors.base import Files, Flavor, LoadedModel

MODEL_FILE = "pyfunc.json"


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
        (folder / MODEL_FILE).write_bytes(body)
        return {"file": MODEL_FILE, "class": f"{cls.__module__}:{cls.__qualname__}"}

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
        try:
            model = target(**spec.get("init_kwargs", {}))
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
