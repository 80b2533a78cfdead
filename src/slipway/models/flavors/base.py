"""What every flavor provides: detect, save and load one kind of model.

A flavor writes the model's files into the bundle folder and returns a small JSON config (file
names, class names, the types skops may build); loading gets the bundle's verified bytes back and
returns a :class:`LoadedModel`, the thin adapter a :class:`~slipway.models.predictor.Predictor`
calls on its hot path.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar

Files = Mapping[str, bytes]  # bundle-relative path -> verified bytes


class LoadedModel:
    """A loaded model: its native input kind and the callables that predict.

    ``input_kind`` is ``"dataframe"`` (the model wants named columns) or ``"ndarray"``.
    """

    __slots__ = ("input_kind", "predict", "predict_proba", "raw")

    def __init__(self, raw: Any, predict: Callable[[Any], Any], predict_proba: Callable[[Any], Any] | None = None,
                 input_kind: str = "dataframe") -> None:
        self.raw = raw
        self.predict = predict
        self.predict_proba = predict_proba
        self.input_kind = input_kind


class Flavor(ABC):
    """One model family. Subclasses set ``name`` and ``packages`` and implement the three methods."""

    name: ClassVar[str] = ""
    # Distributions the flavor needs at load time; pinned to the installed versions in the bundle.
    packages: ClassVar[tuple[str, ...]] = ()

    @classmethod
    @abstractmethod
    def matches(cls, model: Any) -> bool:
        """Whether ``model`` belongs to this flavor (checked without importing optional packages)."""
        ...

    @abstractmethod
    def save(self, model: Any, folder: Path, **options: Any) -> dict[str, Any]:
        """Write the model's files under ``folder``; return the flavor config for ``slipway-model.json``."""
        ...

    @abstractmethod
    def load(self, files: Files, config: dict[str, Any], signature: dict[str, Any], **options: Any) -> LoadedModel:
        """Rebuild the model from its verified bytes (``options`` are flavor-specific, e.g. ``extra_trusted``)."""
        ...

    def example_output(self, model: Any, example: Any) -> Any:
        """The model's output on the (native) input example, for the output signature."""
        return model.predict(example)


def module_root(model: Any) -> set[str]:
    """The top-level package of every class in ``model``'s type hierarchy."""
    return {klass.__module__.split(".")[0] for klass in type(model).__mro__}
