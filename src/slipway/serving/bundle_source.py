"""Serving a model bundle folder directly (what a built container image does)."""

from __future__ import annotations

from pathlib import Path

from slipway.core.errors import InvalidInput
from slipway.serving.model import ServedModel, describe_output, enable_fast_path, learn_limits
from slipway.serving.signature import parse_signature


def served_from_bundle(path: str, name: str | None = None, version: str | None = None) -> ServedModel:
    """Load the bundle in ``path`` (a folder with ``slipway-model.json``)."""
    from slipway.models.files import read_folder
    from slipway.models.predictor import predictor_from_files

    folder = Path(path)
    if not (folder / "slipway-model.json").is_file():
        raise InvalidInput(f"{path} is not a model bundle folder (no slipway-model.json)")
    predictor = predictor_from_files(read_folder(folder))
    served = ServedModel(name or folder.resolve().name, version or "1", predictor, parse_signature(predictor.signature),
                         predictor.flavor)
    enable_fast_path(served)
    learn_limits(served)
    describe_output(served)
    return served
