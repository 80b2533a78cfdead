"""scikit-learn (estimators, Pipelines, ColumnTransformers), stored with skops, never pickle.

skops rebuilds only the types it is told to trust. The types a model needs beyond skops' own
safe set are recorded in the bundle when it is saved; at load time that list is passed to
``skops.io.loads`` only after every entry is checked against :data:`TRUSTED_MODULES` (plus any
``extra_trusted`` the caller names), so a tampered list cannot smuggle in ``os.system``.
"""

from __future__ import annotations

import pkgutil
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar

from slipway.core.errors import IntegrityError, InvalidInput
from slipway.models.flavors.base import Files, Flavor, LoadedModel, module_root
from slipway.models.signature import is_tensor

MODEL_FILE = "model.skops"
TRUSTED_MODULES = ("sklearn.", "numpy.", "scipy.", "skops.", "collections.", "builtins.", "xgboost.", "lightgbm.")


def check_trusted(types: list[str], extra_trusted: tuple[str, ...] = ()) -> list[str]:
    """The bundle's trusted-type list, if every entry is from a module we trust."""
    for name in types:
        if not isinstance(name, str) or not (name.startswith(TRUSTED_MODULES) or name in extra_trusted):
            raise IntegrityError(
                f"the bundle asks skops to trust {name!r}, which is outside the trusted modules "
                f"{', '.join(m.rstrip('.') for m in TRUSTED_MODULES)}; pass extra_trusted=[{name!r}] if you wrote it"
            )
    return list(types)


_IMPORTING = threading.Lock()
# Packages that scikit-learn's estimator discovery never reads, but that pkgutil imports on its walk.
_UNWALKED = ("sklearn.externals.",)


def _skops_io() -> ModuleType:
    """``skops.io``, imported without importing PyTorch.

    skops lists scikit-learn's estimators on first import (``sklearn.utils.all_estimators``).
    ``pkgutil.walk_packages`` imports every package it passes, including
    ``sklearn.externals.array_api_compat.torch``, which imports torch wherever torch is installed:
    seconds per process, for modules the discovery then skips ("externals" is on its ignore list).
    While skops is imported, the walk does not enter ``sklearn.externals``; the estimators found
    are the same.
    """
    module = sys.modules.get("skops.io")
    if module is not None:
        return module
    with _IMPORTING:
        walk = pkgutil.walk_packages

        def walk_packages(path: Any = None, prefix: str = "", onerror: Any = None) -> Iterator[Any]:
            # pkgutil's own recursion calls the module's walk_packages, so this sees every level.
            return iter(()) if prefix.startswith(_UNWALKED) else walk(path, prefix, onerror)

        pkgutil.walk_packages = walk_packages
        try:
            import skops.io
        finally:
            pkgutil.walk_packages = walk
    return skops.io


class SklearnFlavor(Flavor):
    name = "sklearn"
    packages: ClassVar[tuple[str, ...]] = ("scikit-learn", "skops", "numpy", "scipy")

    @classmethod
    def matches(cls, model: Any) -> bool:
        return "sklearn" in module_root(model)

    def save(self, model: Any, folder: Path, **options: Any) -> dict[str, Any]:
        sio = _skops_io()

        data = sio.dumps(model)
        (folder / MODEL_FILE).write_bytes(data)
        return {
            "file": MODEL_FILE,
            "trusted_types": sorted(sio.get_untrusted_types(data=data)),
            "has_predict_proba": hasattr(model, "predict_proba"),
        }

    def load(self, files: Files, config: dict[str, Any], signature: dict[str, Any], **options: Any) -> LoadedModel:
        sio = _skops_io()
        from skops.io.exceptions import UntrustedTypesFoundException

        trusted = check_trusted(config.get("trusted_types", []), tuple(options.get("extra_trusted", ())))
        try:
            model = sio.loads(files[config.get("file", MODEL_FILE)], trusted=trusted)
        except UntrustedTypesFoundException as err:
            raise IntegrityError(f"the skops file holds types its bundle does not list as trusted: {err}") from err
        except KeyError as err:
            raise InvalidInput(f"the bundle has no file {err}") from err
        proba = model.predict_proba if config.get("has_predict_proba") and hasattr(model, "predict_proba") else None
        kind = "ndarray" if is_tensor(signature.get("inputs", [])) else "dataframe"
        return LoadedModel(model, model.predict, proba, kind)
