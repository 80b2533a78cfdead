"""The model bundle: a folder with ``slipway-model.json`` and the serialised model.

``slipway-model.json`` holds the format version, the flavor and its config, the signature, the
input example's file name, the pinned requirements of the flavor, the Python version and the
creation time. A bundle is logged as a folder artifact, so the whole bundle has one digest (its
manifest's) and every file in it is verified when it is loaded.
"""

from __future__ import annotations

import dataclasses
import io
import platform
from importlib import metadata as dist_metadata
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from slipway.core.clock import iso, now_ms
from slipway.core.errors import InvalidInput
from slipway.models.flavors import detect_flavor, get_flavor
from slipway.models.flavors.base import Files
from slipway.models.signature import check_batch, infer_output_schema, infer_schema, to_frame_or_array

METADATA_FILE = "slipway-model.json"
FORMAT_VERSION = 1
EXAMPLE_ROWS = 100  # the example documents the input; it need not be the training set


@dataclasses.dataclass(frozen=True)
class BundleMetadata:
    flavor: str
    flavor_config: dict[str, Any]
    signature: dict[str, Any]
    input_example: str | None
    requirements: list[str]
    python_version: str
    created_ms: int
    model_class: str
    format_version: int = FORMAT_VERSION

    def to_json(self) -> bytes:
        body = dataclasses.asdict(self)
        body["created"] = iso(self.created_ms)
        return orjson.dumps(body, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2)

    @classmethod
    def from_json(cls, data: bytes) -> BundleMetadata:
        try:
            body = orjson.loads(data)
            version = body.get("format_version")
            if version != FORMAT_VERSION:
                raise InvalidInput(f"{METADATA_FILE} has format version {version!r}; this Slipway reads {FORMAT_VERSION}")
            fields = {f.name for f in dataclasses.fields(cls)}
            return cls(**{k: v for k, v in body.items() if k in fields})
        except (orjson.JSONDecodeError, AttributeError, TypeError) as err:
            raise InvalidInput(f"{METADATA_FILE} is not a valid model description: {err}") from err


def pinned_requirements(packages: tuple[str, ...]) -> list[str]:
    """``name==version`` for each installed package the flavor needs."""
    pins = []
    for name in packages:
        try:
            pins.append(f"{name}=={dist_metadata.version(name)}")
        except dist_metadata.PackageNotFoundError:
            continue
    return pins


def write_example(example: Any, folder: Path) -> str:
    """Store the first rows of ``example`` (Parquet for tables, ``.npy`` for arrays)."""
    data = to_frame_or_array(example)
    if isinstance(data, np.ndarray):
        if data.dtype.kind == "O":
            raise InvalidInput("an input example array of Python objects cannot be stored; use a numeric array")
        np.save(folder / "input_example.npy", data[:EXAMPLE_ROWS], allow_pickle=False)
        return "input_example.npy"
    table = pa.Table.from_pandas(data.head(EXAMPLE_ROWS), preserve_index=False)
    pq.write_table(table, folder / "input_example.parquet")
    return "input_example.parquet"


def read_example(files: Files, name: str) -> pd.DataFrame | np.ndarray:
    data = files[name]
    if name.endswith(".npy"):
        return np.load(io.BytesIO(data), allow_pickle=False)
    return pq.read_table(pa.BufferReader(data)).to_pandas()


def save_bundle(model: Any, folder: str | Path, *, flavor: str | None = None, input_example: Any = None,
                **options: Any) -> BundleMetadata:
    """Write ``model`` as a bundle into the empty folder ``folder``.

    Args:
        model: a fitted model of any flavor.
        flavor: force a flavor by name; detected from the model's type when omitted.
        input_example: a batch (DataFrame, Arrow table, array, list of dicts); the signature is
            inferred from it and from the model's prediction on it.
        options: flavor options (e.g. ``init_kwargs`` for pyfunc).

    Raises:
        InvalidInput: unknown flavor, a model the flavor cannot save, or an example it cannot predict.
    """
    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    chosen = get_flavor(flavor) if flavor is not None else detect_flavor(model)
    config = chosen.save(model, target, **options)
    signature: dict[str, Any] = {"inputs": [], "outputs": []}
    example_file = None
    if input_example is not None:
        signature["inputs"] = infer_schema(input_example)
        example_file = write_example(input_example, target)
        native = check_batch(read_example({example_file: (target / example_file).read_bytes()}, example_file),
                             signature["inputs"])
        try:
            output = chosen.example_output(model, native)
        except Exception as err:
            raise InvalidInput(f"the model could not predict its input example: {type(err).__name__}: {err}") from err
        signature["outputs"] = infer_output_schema(output)
    elif hasattr(chosen, "default_signature"):
        signature = chosen.default_signature(model)
    meta = BundleMetadata(
        flavor=chosen.name, flavor_config=config, signature=signature, input_example=example_file,
        requirements=pinned_requirements(chosen.packages), python_version=platform.python_version(),
        created_ms=now_ms(), model_class=f"{type(model).__module__}.{type(model).__qualname__}",
    )
    (target / METADATA_FILE).write_bytes(meta.to_json())
    return meta
