"""``slipway.log_model`` and ``slipway.load_model``.

``log_model`` writes a bundle to a temporary folder, stores it as a folder artifact of the active
run (its manifest digest is the bundle digest) and, given ``registered_model_name``, registers it.
``load_model`` loads ``runs:/<run_id>/<path>`` from the run's artifacts and every other reference
(``name@alias``, ``name/3``, ``models:/…``) through the registry, which checks the digest first.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from slipway.core.errors import InvalidInput, NotFound
from slipway.core.names import check_key
from slipway.models.bundle import save_bundle
from slipway.models.files import read_verified_bundle
from slipway.models.predictor import Predictor, predictor_from_files
from slipway.models.records import ModelInfo
from slipway.store.context import Host


def log_model(host: Host, model: Any, name: str = "model", *, input_example: Any = None,
              registered_model_name: str | None = None, flavor: str | None = None, run_id: str | None = None,
              **options: Any) -> ModelInfo:
    """Store ``model`` as a bundle artifact ``name`` of the active run (one is started if none is).

    Args:
        model: a fitted model (scikit-learn, XGBoost, LightGBM, ONNX, TorchScript, or a class with ``predict``).
        name: the artifact path of the bundle within the run.
        input_example: a batch the signature is inferred from; stored in the bundle.
        registered_model_name: also register the bundle as a new version of this model.
        flavor: force a flavor by name (detected otherwise).
        options: flavor options, e.g. ``init_kwargs`` for a pyfunc class.

    Returns:
        A :class:`ModelInfo` with ``uri`` ``runs:/<run_id>/<name>`` and, when registered, ``version``.

    Raises:
        InvalidInput: an unknown flavor, a model no flavor can save, or an example the model
            cannot predict; nothing is stored then.
    """
    check_key(name, "model artifact path")
    tracking = host.service("tracking")
    own_run = False
    if run_id is None:
        active = tracking.active_run()
        own_run = active is None
        run_id = tracking.start_run().id if active is None else active.id
    try:
        with tempfile.TemporaryDirectory(prefix="slipway-bundle-") as tmp:
            folder = Path(tmp) / "bundle"
            meta = save_bundle(model, folder, flavor=flavor, input_example=input_example, **options)
            artifact = tracking.log_artifact(folder, name, run_id=run_id)
        version = None
        if registered_model_name is not None:
            version = host.service("registry").register_version(registered_model_name, run_id, name).version
    except BaseException:
        if own_run:
            tracking.end_run(run_id, "FAILED")
        raise
    if own_run:
        tracking.end_run(run_id)
    return ModelInfo(f"runs:/{run_id}/{name}", run_id, name, artifact.digest, meta.flavor, meta.signature,
                     registered_model_name, version)


def parse_run_uri(uri: str) -> tuple[str, str]:
    """``runs:/<run_id>/<path>`` as (run_id, path)."""
    rest = uri.removeprefix("runs:/").strip("/")
    run_id, _, path = rest.partition("/")
    if not run_id or not path:
        raise InvalidInput(f"model reference {uri!r} is malformed: use runs:/<run_id>/<artifact path>")
    return run_id, path


def load_run_model(host: Host, run_id: str, path: str, **options: Any) -> Predictor:
    """Load the bundle logged as artifact ``path`` of run ``run_id``, verified against its digest."""
    artifacts = {a.path: a for a in host.service("tracking").list_artifacts(run_id)}
    artifact = artifacts.get(path)
    if artifact is None:
        raise NotFound(f"run {run_id} has no model at {path!r}; its artifacts are {sorted(artifacts)}")
    if artifact.kind != "dir":
        raise InvalidInput(f"artifact {path!r} of run {run_id} is a file, not a model bundle")
    files = read_verified_bundle(host.blobs, artifact.digest)
    return predictor_from_files(files, artifact.digest, f"runs:/{run_id}/{path}", **options)


def load_model(host: Host, ref: str, **options: Any) -> Predictor:
    """Load a model: ``runs:/<run_id>/<path>``, ``name@alias``, ``name/3``, ``models:/name@alias`` or ``models:/name/3``."""
    if not isinstance(ref, str) or not ref:
        raise InvalidInput(f"a model reference must be a non-empty string, got {ref!r}")
    if ref.startswith("runs:/"):
        run_id, path = parse_run_uri(ref)
        return load_run_model(host, run_id, path, **options)
    return host.service("registry").load(ref, **options)
