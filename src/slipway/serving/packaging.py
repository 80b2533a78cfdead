"""``slipway build``: a Docker build context for a model server image.

The context holds the model bundle exactly as the registry verified it, a ``requirements.txt``
pinned to the versions installed here (the server's own dependencies plus the bundle's), the
Slipway package source, and a Dockerfile that serves the bundle on port 8080 as a non-root user.
"""

from __future__ import annotations

import importlib.metadata as dist_metadata
import shutil
import sys
from pathlib import Path
from typing import Any

from slipway.core.errors import AlreadyExists, InvalidInput
from slipway.core.paths import contained_path

SERVER_PACKAGES = ("starlette", "uvicorn", "uvloop", "httptools", "orjson", "prometheus-client", "numpy", "pandas",
                   "pyarrow", "sqlalchemy", "alembic", "fsspec", "blake3", "pyyaml", "typer", "rich", "httpx", "scipy",
                   "duckdb", "croniter", "datasketches")

DOCKERFILE = """\
# Rendered by `slipway build {ref}`: serves {name}/{version} ({flavor}) on port 8080.
FROM python:{python}-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PYTHONPATH=/opt/slipway SLIPWAY_HOME=/tmp/slipway
RUN useradd --create-home --uid 10001 slipway
COPY requirements.txt /opt/requirements.txt
RUN pip install --no-cache-dir -r /opt/requirements.txt
COPY slipway /opt/slipway/slipway
COPY model /opt/model
USER 10001
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz')"
CMD ["python", "-m", "slipway.cli.main", "serve", "/opt/model", "--name", "{name}", "--version", "{version}", "--host", "0.0.0.0", "--port", "8080", "--workers", "2"]
"""


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


def build_context(workspace: Any, ref: str, outdir: str | Path, overwrite: bool = False) -> dict[str, Any]:
    """Write the build context for model ``ref`` into ``outdir``; returns what was written.

    Raises:
        AlreadyExists: ``outdir`` exists and is not empty (unless ``overwrite``).
        NotFound: the reference does not resolve.
    """
    from slipway.models.bundle import METADATA_FILE, BundleMetadata
    from slipway.models.files import read_verified_bundle

    version = workspace.registry.resolve(ref)
    files = read_verified_bundle(workspace.blobs, version.bundle_digest)
    if METADATA_FILE not in files:
        raise InvalidInput(f"{version.name}/{version.version} has no {METADATA_FILE}; it is not a model bundle")
    metadata = BundleMetadata.from_json(files[METADATA_FILE])
    out = Path(outdir)
    if out.exists() and any(out.iterdir()):
        if not overwrite:
            raise AlreadyExists(f"{out} is not empty; choose a new folder or pass --overwrite")
        shutil.rmtree(out)
    staging = out.with_name(out.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    model_dir = staging / "model"
    for rel in files:  # checked again here (read_verified_bundle refuses unsafe manifests): nothing leaves model/
        contained_path(model_dir, rel, "bundle path")
    for rel, data in files.items():
        target = contained_path(model_dir, rel, "bundle path")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    requirements = sorted(set(_pins(list(SERVER_PACKAGES)) + _pins(list(metadata.requirements))),
                          key=str.lower)
    (staging / "requirements.txt").write_text("\n".join(requirements) + "\n")
    python = metadata.python_version.rsplit(".", 1)[0] if metadata.python_version.count(".") >= 2 \
        else (metadata.python_version or f"{sys.version_info.major}.{sys.version_info.minor}")
    (staging / "Dockerfile").write_text(DOCKERFILE.format(ref=ref, name=version.name, version=version.version,
                                                          flavor=version.flavor, python=python))
    (staging / ".dockerignore").write_text("**/__pycache__\n**/*.pyc\n")
    package = Path(__file__).resolve().parents[1]
    shutil.copytree(package, staging / "slipway", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.exists():
        out.rmdir()
    staging.rename(out)  # the context appears whole or not at all
    return {"path": str(out), "model": f"{version.name}/{version.version}", "requirements": requirements,
            "files": sorted(files)}
