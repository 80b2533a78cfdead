"""Models logged by an MLflow client through ``slipway server``: the MLflow model folder (its
``MLmodel`` and files) is the bundle, loaded through ``mlflow.pyfunc`` when MLflow is installed.

Bundles of this flavor are written by the server's MLflow API when a logged model is finalised
(see docs/mlflow.md); Slipway never saves a model object as one.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, ClassVar

from slipway.blobs.base import BlobStore
from slipway.blobs.manifest import Manifest, ManifestEntry
from slipway.core.clock import now_ms
from slipway.core.errors import InvalidInput
from slipway.models.bundle import METADATA_FILE, BundleMetadata
from slipway.models.flavors.base import Files, Flavor, LoadedModel


class MlflowFlavor(Flavor):
    name: ClassVar[str] = "mlflow"
    packages: ClassVar[tuple[str, ...]] = ("mlflow",)

    @classmethod
    def matches(cls, model: Any) -> bool:
        return False

    def save(self, model: Any, folder: Path, **options: Any) -> dict[str, Any]:
        raise InvalidInput("the 'mlflow' flavor is written by MLflow clients through slipway server; "
                           "log this model with its own flavor")

    def load(self, files: Files, config: dict[str, Any], signature: dict[str, Any], **options: Any) -> LoadedModel:
        try:
            import mlflow.pyfunc
        except ImportError as err:
            raise InvalidInput("this model was logged by an MLflow client; loading it needs the 'mlflow' package") from err
        folder = Path(tempfile.mkdtemp(prefix="slipway-mlflow-model-"))
        for path, data in files.items():
            target = folder / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        model = mlflow.pyfunc.load_model(str(folder))
        return LoadedModel(model, model.predict, None, "dataframe")


def store_mlflow_bundle(blobs: BlobStore, files: dict[str, tuple[str, int]]) -> tuple[str, int]:
    """Make an MLflow model folder (its stored files, ``relative path → (digest, size)``) a Slipway
    bundle of flavor ``mlflow``: the files plus a ``slipway-model.json``, as one manifest blob.

    Returns:
        The manifest's digest and the bundle's total size, to record as a ``dir`` artifact.

    Raises:
        InvalidInput: the folder has no ``MLmodel`` file.
    """
    files = {path: entry for path, entry in files.items() if path != METADATA_FILE}
    if "MLmodel" not in files:
        raise InvalidInput(f"an MLflow model folder has an MLmodel file; this one holds {sorted(files)[:10]}")
    meta = BundleMetadata("mlflow", {}, {}, None, [], "", now_ms(), "mlflow.pyfunc.PyFuncModel")
    entries = [ManifestEntry(path, digest, size, 0o644) for path, (digest, size) in files.items()]
    data = meta.to_json()
    entries.append(ManifestEntry(METADATA_FILE, blobs.put_bytes(data), len(data), 0o644))
    manifest = Manifest(tuple(sorted(entries, key=lambda e: e.path)))
    return blobs.put_bytes(manifest.to_bytes()), manifest.total_size
