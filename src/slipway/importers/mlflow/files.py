"""Reading MLflow's file store (``./mlruns``, tracking URI ``file:///…/mlruns``), read-only.

The layout is the one MLflow's ``FileStore`` and ``FileStore`` model registry write:

- ``<experiment id>/meta.yaml`` (name, lifecycle, creation time) and ``tags/<key>``; deleted
  experiments are under ``.trash/<id>/``;
- ``<experiment id>/<run id>/meta.yaml`` (status as a number, times, user, artifact URI),
  ``params/<key>`` and ``tags/<key>`` (the value is the file's text), ``metrics/<key>`` (a line
  ``timestamp value step`` per point; ``nan``/``inf`` spelled so), ``artifacts/``;
- ``<experiment id>/models/<model id>/`` for MLflow 3 logged models (``meta.yaml``, tags, params,
  ``artifacts/``);
- ``models/<name>/meta.yaml`` for registered models, ``tags/``, ``aliases/<alias>`` (the version
  number) and ``version-<n>/meta.yaml`` with its own ``tags/``.

Keys holding ``/`` are nested folders (``metrics/val/loss``). MLflow itself is not imported.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import yaml

from slipway.core.errors import InvalidInput
from slipway.importers.mlflow.source import (
    MlflowExperiment,
    MlflowLoggedModel,
    MlflowModelVersion,
    MlflowRegisteredModel,
    MlflowRun,
    Point,
)

# mlflow.entities.RunStatus and LoggedModelStatus numbers, as the file store writes them.
_RUN_STATUS = {1: "RUNNING", 2: "SCHEDULED", 3: "FINISHED", 4: "FAILED", 5: "KILLED"}
_LOGGED_MODEL_STATUS = {0: "UNSPECIFIED", 1: "PENDING", 2: "READY", 3: "FAILED"}
_SPECIAL = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf, "infinity": math.inf, "-infinity": -math.inf}
_RESERVED = {"models", "tags", "datasets", "traces", "outputs"}


def store_path(uri: str) -> Path | None:
    """The folder a ``file:`` URI or a plain path names, if it is an MLflow file store; else None."""
    if uri.startswith("file:"):
        parsed = urlparse(uri)
        path = Path(unquote(parsed.path) if parsed.netloc in ("", "localhost") else f"//{parsed.netloc}{unquote(parsed.path)}")
    elif "://" in uri:
        return None
    else:
        path = Path(uri).expanduser()
    return path if path.is_dir() else None


def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _meta(folder: Path) -> dict[str, Any]:
    try:
        found = yaml.safe_load(_text(folder / "meta.yaml"))
    except (OSError, yaml.YAMLError) as err:
        raise InvalidInput(f"cannot read {folder / 'meta.yaml'}: {err}".splitlines()[0]) from err
    return found if isinstance(found, dict) else {}


def _keyed(folder: Path) -> dict[str, Path]:
    """Every file under ``folder`` by its key (its path below ``folder``, ``/``-separated)."""
    if not folder.is_dir():
        return {}
    found = {}
    for root, _dirs, files in os.walk(folder):
        for name in files:
            path = Path(root) / name
            found[path.relative_to(folder).as_posix()] = path
    return found


def _values(folder: Path) -> dict[str, str]:
    return {key: _text(path) for key, path in sorted(_keyed(folder).items())}


def _int(value: Any, default: int = 0) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _points(key: str, path: Path) -> list[Point]:
    points = []
    for number, line in enumerate(_text(path).splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        try:
            value = _SPECIAL.get(parts[1].lower()) if parts[1].lower() in _SPECIAL else float(parts[1])
            points.append((key, float(value), int(parts[2]) if len(parts) > 2 else 0, int(parts[0])))  # type: ignore[arg-type]
        except (IndexError, ValueError):
            raise InvalidInput(f"{path}:{number} is not a metric point 'timestamp value step': {line[:100]!r}") from None
    return points


class FileSource:
    """An MLflow file store (the ``mlruns`` folder), read without writing to it."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.description = f"file://{self.root}"
        if not any((p / "meta.yaml").is_file() for p in self._experiment_folders()):
            raise InvalidInput(f"{self.root} is not an MLflow file store: no <experiment>/meta.yaml in it "
                               "(pass the mlruns folder itself)")

    def _experiment_folders(self) -> list[Path]:
        folders = [p for p in self.root.iterdir() if p.is_dir() and p.name not in (".trash", "models")]
        trash = self.root / ".trash"
        if trash.is_dir():
            folders += [p for p in trash.iterdir() if p.is_dir()]
        return [p for p in folders if (p / "meta.yaml").is_file()]

    def _experiment_folder(self, experiment_id: str) -> Path:
        for folder in (self.root / experiment_id, self.root / ".trash" / experiment_id):
            if (folder / "meta.yaml").is_file():
                return folder
        raise InvalidInput(f"experiment {experiment_id} is not in {self.root}")

    def experiments(self) -> list[MlflowExperiment]:
        found = []
        for folder in self._experiment_folders():
            meta = _meta(folder)
            deleted = folder.parent.name == ".trash" or meta.get("lifecycle_stage") == "deleted"
            found.append(MlflowExperiment(str(meta.get("experiment_id", folder.name)), str(meta.get("name") or folder.name),
                                          "deleted" if deleted else "active", _int(meta.get("creation_time")),
                                          _values(folder / "tags")))
        return sorted(found, key=lambda e: (_int(e.id, 0), e.id))

    def runs(self, experiment_id: str) -> list[MlflowRun]:
        found = []
        for folder in self._experiment_folder(experiment_id).iterdir():
            if folder.name in _RESERVED or not (folder / "meta.yaml").is_file():
                continue
            meta = _meta(folder)
            run_id = str(meta.get("run_id") or meta.get("run_uuid") or folder.name)
            status = meta.get("status")
            found.append(MlflowRun(
                run_id, experiment_id, str(meta.get("run_name") or ""),
                _RUN_STATUS.get(status, "FINISHED") if isinstance(status, int) else str(status or "FINISHED"),
                _int(meta.get("start_time")), None if meta.get("end_time") is None else _int(meta["end_time"]),
                str(meta.get("user_id") or ""), str(meta.get("lifecycle_stage") or "active"),
                str(meta.get("artifact_uri") or "")))
        return sorted(found, key=lambda r: (r.start_ms, r.id))

    def _run_folder(self, run: MlflowRun) -> Path:
        return self._experiment_folder(run.experiment_id) / run.id

    def run_data(self, run: MlflowRun) -> tuple[dict[str, str], dict[str, str], list[Point]]:
        folder = self._run_folder(run)
        points = [p for key, path in sorted(_keyed(folder / "metrics").items()) for p in _points(key, path)]
        points.sort(key=lambda p: (p[0], p[2], p[3]))
        return _values(folder / "params"), _values(folder / "tags"), points

    def logged_models(self, experiment_ids: list[str]) -> list[MlflowLoggedModel]:
        found = []
        for experiment_id in experiment_ids:
            models = self._experiment_folder(experiment_id) / "models"
            if not models.is_dir():
                continue
            for folder in models.iterdir():
                if not (folder / "meta.yaml").is_file():
                    continue
                meta = _meta(folder)
                status = meta.get("status")
                found.append(MlflowLoggedModel(
                    str(meta.get("model_id") or folder.name), experiment_id, str(meta.get("name") or ""),
                    _LOGGED_MODEL_STATUS.get(status, "UNSPECIFIED") if isinstance(status, int) else str(status),
                    str(meta.get("artifact_location") or folder / "artifacts"), meta.get("source_run_id"),
                    _int(meta.get("creation_timestamp")), _int(meta.get("last_updated_timestamp")),
                    str(meta.get("lifecycle_stage") or "active"), str(meta.get("model_type") or ""),
                    _values(folder / "tags"), _values(folder / "params")))
        return sorted(found, key=lambda m: (m.created_ms, m.id))

    def registered_models(self) -> list[MlflowRegisteredModel]:
        root = self.root / "models"
        if not root.is_dir():
            return []
        found = []
        for folder in root.iterdir():
            if not (folder / "meta.yaml").is_file():
                continue
            meta = _meta(folder)
            aliases = {str(k): _int(v) for k, v in (meta.get("aliases") or {}).items()}
            aliases.update({alias: _int(value.strip()) for alias, value in _values(folder / "aliases").items()})
            found.append(MlflowRegisteredModel(str(meta.get("name") or folder.name), str(meta.get("description") or ""),
                                               _int(meta.get("creation_timestamp")), _values(folder / "tags"), aliases))
        return sorted(found, key=lambda m: (m.created_ms, m.name))

    def versions(self, name: str) -> list[MlflowModelVersion]:
        folder = self.root / "models" / name
        found = []
        for version in folder.glob("version-*") if folder.is_dir() else []:
            if not (version / "meta.yaml").is_file():
                continue
            meta = _meta(version)
            if meta.get("current_stage") == "Deleted_Internal":
                continue
            found.append(MlflowModelVersion(
                name, _int(meta.get("version"), _int(version.name.removeprefix("version-"))),
                _int(meta.get("creation_timestamp")), str(meta.get("description") or ""), str(meta.get("user_id") or ""),
                str(meta.get("source") or ""), meta.get("run_id") or None, meta.get("storage_location") or None,
                str(meta.get("status") or "READY"), _values(version / "tags")))
        return sorted(found, key=lambda v: v.version)

    def close(self) -> None:
        pass
