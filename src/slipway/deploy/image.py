"""The image a deployment runs in: its pinned requirements, its name and the command it runs.

``slipway build`` writes the image's build context and ``slipway deploy render`` names the image
in its manifests; both compute the name here from the same requirements, so they agree without
talking to each other. The tag is a digest of the requirements and the Slipway version: a new
model flavor (new requirements) means a new image.
"""

from __future__ import annotations

import importlib.metadata as dist_metadata
import re
from typing import Any

from slipway.core.hashing import hash_bytes

SERVER_PACKAGES = ("starlette", "uvicorn", "uvloop", "httptools", "orjson", "prometheus-client", "numpy", "pandas",
                   "pyarrow", "sqlalchemy", "alembic", "fsspec", "blake3", "pyyaml", "typer", "rich", "httpx", "scipy",
                   "duckdb", "croniter", "datasketches", "fastapi", "scikit-learn", "skops")
# The extras whose drivers a server needs for SLIPWAY_STORE_URI=postgresql://… and s3:// artifacts.
DRIVER_EXTRAS = ("postgres", "s3")
IMAGE_REPOSITORY = "slipway-serve"

ENTRYPOINT = ["python", "-m", "slipway.cli.main"]


def _pins(names: list[str]) -> list[str]:
    pins = []
    for name in names:
        if "==" in name:
            pins.append(name)
            continue
        try:
            pins.append(f"{name}=={dist_metadata.version(name)}")
        except dist_metadata.PackageNotFoundError:
            continue
    return pins


def _driver_pins() -> list[str]:
    """The pinned requirements of the driver extras, from Slipway's own package metadata."""
    pins = []
    for requirement in dist_metadata.requires("slipway") or []:
        spec, _, marker = requirement.partition(";")
        extra = re.search(r"""extra\s*==\s*["']([^"']+)["']""", marker)
        if extra and extra.group(1) in DRIVER_EXTRAS and "==" in spec:
            pins.append(spec.strip().replace(" ", ""))
    return pins


def _core_names() -> list[str]:
    """Slipway's own (non-extra) dependencies, by name: a server image needs every one of them."""
    names = []
    for requirement in dist_metadata.requires("slipway") or []:
        spec, _, marker = requirement.partition(";")
        if "extra" in marker:
            continue
        name = re.split(r"[<>=!~\[ ]", spec.strip(), maxsplit=1)[0]
        if name:
            names.append(name)
    return names


def image_requirements(bundle_requirements: list[str]) -> list[str]:
    """The image's pinned requirements: Slipway's own dependencies, the drivers and the bundles' own."""
    return sorted(set(_pins(list(SERVER_PACKAGES) + _core_names()) + _driver_pins() + _pins(bundle_requirements)),
                  key=str.lower)


def image_name(requirements: list[str]) -> str:
    """``slipway-serve:<slipway version>-<12 hex digits of the requirements>``."""
    version = dist_metadata.version("slipway")
    digest = hash_bytes(("\n".join(requirements) + "\n" + version).encode())
    return f"{IMAGE_REPOSITORY}:{version}-{digest.split(':')[-1][:12]}"


def serve_args(deployment: str | None = None, model_dir: str = "/opt/model", name: str = "", version: int = 0,
               workers: int = 2) -> list[str]:
    """The ``slipway`` arguments a container runs: the image's CMD and the manifests' ``args``."""
    head = ["serve", "--deployment", deployment] if deployment else ["serve", model_dir, "--name", name,
                                                                     "--version", str(version)]
    return [*head, "--host", "0.0.0.0", "--port", "8080", "--workers", str(workers)]


def deployment_bundle_requirements(host: Any, variants: list[Any]) -> list[str]:
    """Every requirement of the bundles a deployment's variants serve (``host``: a workspace)."""
    from slipway.models.bundle import METADATA_FILE, BundleMetadata
    from slipway.models.files import read_verified_bundle

    registry = host.backend("registry")
    found: list[str] = []
    for variant in variants:
        version = registry.resolve(f"{variant.model}/{variant.version}")
        files = read_verified_bundle(host.blobs, version.bundle_digest)
        if METADATA_FILE in files:
            found += list(BundleMetadata.from_json(files[METADATA_FILE]).requirements)
    return found


