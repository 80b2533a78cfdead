"""``slipway build``: a Docker build context for a model server image, and the image name that
``slipway deploy render`` puts in its manifests.

Two kinds of image, one shape: the Slipway package source, a ``requirements.txt`` pinned to the
versions installed here (the server's own dependencies, the PostgreSQL and S3 drivers its store
settings may need, and each served bundle's requirements), a Dockerfile whose ENTRYPOINT is the
``slipway`` command (so a Kubernetes ``args`` list replaces only the default arguments), port 8080,
a non-root user.

- ``slipway build REF OUTDIR``: the bundle is baked in (``/opt/model``); the default command serves it.
- ``slipway build --deployment NAME OUTDIR``: no bundle; the default command is ``serve
  --deployment NAME``, which loads every variant from the stores and splits traffic by the
  deployment's weights. ``deploy render`` names exactly this image.

The image's tag is a digest of its requirements and the Slipway version, so ``render`` and
``build`` agree on it without talking to each other, and a new model flavor means a new tag.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any

from slipway.core.errors import AlreadyExists, InvalidInput
from slipway.core.paths import contained_path
from slipway.deploy.image import (
    ENTRYPOINT,
    deployment_bundle_requirements,
    image_name,
    image_requirements,
    serve_args,
)

DOCKERFILE = """\
# Rendered by `slipway build {source}`: {what} on port 8080. Image: {image}
FROM python:{python}-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PYTHONPATH=/opt/slipway SLIPWAY_HOME=/tmp/slipway
RUN useradd --create-home --uid 10001 slipway
COPY requirements.txt /opt/requirements.txt
RUN pip install --no-cache-dir -r /opt/requirements.txt
COPY slipway /opt/slipway/slipway
{copy_model}USER 10001
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz')"
ENTRYPOINT {entrypoint}
CMD {command}
"""


def _python_version(metadata_version: str) -> str:
    if metadata_version.count(".") >= 2:
        return metadata_version.rsplit(".", 1)[0]
    return metadata_version or f"{sys.version_info.major}.{sys.version_info.minor}"


def _prepare(outdir: str | Path, overwrite: bool) -> tuple[Path, Path]:
    out = Path(outdir)
    if out.exists() and any(out.iterdir()):
        if not overwrite:
            raise AlreadyExists(f"{out} is not empty; choose a new folder or pass --overwrite")
        shutil.rmtree(out)
    staging = out.with_name(out.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    return out, staging


def _finish(out: Path, staging: Path, source: str, what: str, python: str, requirements: list[str],
            command: list[str], with_model: bool) -> str:
    import json

    image = image_name(requirements)
    (staging / "requirements.txt").write_text("\n".join(requirements) + "\n")
    (staging / "Dockerfile").write_text(DOCKERFILE.format(
        source=source, what=what, image=image, python=python, entrypoint=json.dumps(ENTRYPOINT),
        command=json.dumps(command), copy_model="COPY model /opt/model\n" if with_model else ""))
    (staging / ".dockerignore").write_text("**/__pycache__\n**/*.pyc\n")
    (staging / "image.txt").write_text(image + "\n")
    package = Path(__file__).resolve().parents[1]
    shutil.copytree(package, staging / "slipway", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.exists():
        out.rmdir()
    staging.rename(out)  # the context appears whole or not at all
    return image


def build_deployment_context(workspace: Any, name: str, outdir: str | Path, overwrite: bool = False) -> dict[str, Any]:
    """Write the build context of the image that serves deployment ``name`` (the one ``deploy
    render`` names); returns what was written.

    Raises:
        AlreadyExists: ``outdir`` exists and is not empty (unless ``overwrite``).
        NotFound: no such deployment.
    """
    deployment = workspace.serving.get(name)
    requirements = image_requirements(deployment_bundle_requirements(workspace, deployment.variants))
    out, staging = _prepare(outdir, overwrite)
    command = serve_args(deployment=name)
    image = _finish(out, staging, f"--deployment {name}", f"serves deployment {name} (its variants from the stores)",
                    f"{sys.version_info.major}.{sys.version_info.minor}", requirements, command, with_model=False)
    return {"path": str(out), "deployment": name, "image": image, "requirements": requirements,
            "entrypoint": ENTRYPOINT, "command": command}


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
    out, staging = _prepare(outdir, overwrite)
    model_dir = staging / "model"
    for rel in files:  # checked again here (read_verified_bundle refuses unsafe manifests): nothing leaves model/
        contained_path(model_dir, rel, "bundle path")
    for rel, data in files.items():
        target = contained_path(model_dir, rel, "bundle path")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    requirements = image_requirements(list(metadata.requirements))
    command = serve_args(name=version.name, version=version.version)
    image = _finish(out, staging, ref, f"serves {version.name}/{version.version} ({version.flavor})",
                    _python_version(metadata.python_version), requirements, command, with_model=True)
    return {"path": str(out), "model": f"{version.name}/{version.version}", "image": image,
            "requirements": requirements, "entrypoint": ENTRYPOINT, "command": command, "files": sorted(files)}
