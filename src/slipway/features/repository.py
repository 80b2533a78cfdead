"""Reading a feature repository folder: its ``*.py`` and ``*.yaml`` files, as normalised definitions.

A Python file is run as a module and every :class:`~slipway.features.definitions` object at its
top level is taken. A YAML file holds one definition per document (``kind:`` and ``name:``) or a
list of them. Relative source paths are resolved against the folder.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from typing import Any

import yaml

from slipway.core.errors import InvalidInput
from slipway.core.yaml_errors import yaml_problem
from slipway.features.definitions import _Definition
from slipway.features.spec import normalise

SKIP_DIRS = {".git", ".venv", "__pycache__", ".slipway", "node_modules"}


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix in (".py", ".yaml", ".yml")
                  and not SKIP_DIRS.intersection(p.relative_to(folder).parts))


def _from_python(path: Path, folder: Path) -> list[dict[str, Any]]:
    module_name = f"_slipway_features_{abs(hash(str(path)))}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise InvalidInput(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(folder))
    try:
        spec.loader.exec_module(module)
    except Exception as err:  # user code: report where it failed, without a traceback of ours
        raise InvalidInput(f"{path}: {type(err).__name__}: {err}") from err
    finally:
        sys.path.remove(str(folder))
    return [value.spec() for value in vars(module).values() if isinstance(value, _Definition)]


def _from_yaml(path: Path) -> list[dict[str, Any]]:
    try:
        documents = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
    except yaml.YAMLError as err:
        raise InvalidInput(f"{path}: not valid YAML: {yaml_problem(err)}") from err
    found: list[dict[str, Any]] = []
    for document in documents:
        items = document if isinstance(document, list) else [document]
        for item in items:
            if not isinstance(item, dict) or "kind" not in item:
                raise InvalidInput(f"{path}: every definition is a mapping with a kind: (entity, feature_view, ...)")
            if item["kind"] == "on_demand_view" and isinstance(item.get("code_file"), str):
                item = {**item, "code": (path.parent / item.pop("code_file")).read_text()}
            found.append(item)
    return found


def _resolve_paths(source: dict[str, Any], folder: Path) -> dict[str, Any]:
    if source["type"] == "path" and "://" not in source["path"]:
        return {**source, "path": str((folder / source["path"]).resolve())}
    if source["type"] == "sql":
        return {**source, "inputs": {k: _resolve_paths(v, folder) for k, v in source["inputs"].items()}}
    return source


def load_repository(folder: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Every definition in ``folder``, normalised, sorted by kind and name.

    Raises:
        InvalidInput: the folder does not exist, a file fails to load, a definition is malformed,
            or two definitions of one kind share a name.
    """
    root = Path(folder)
    if not root.is_dir():
        raise InvalidInput(f"no feature repository folder at {folder}")
    specs: dict[tuple[str, str], dict[str, Any]] = {}
    for path in _files(root):
        raw = _from_python(path, root) if path.suffix == ".py" else _from_yaml(path)
        for item in raw:
            spec = normalise(item)
            if spec["kind"] == "feature_view":
                spec["source"] = _resolve_paths(spec["source"], root.resolve())
            key = (spec["kind"], spec["name"])
            if key in specs:
                raise InvalidInput(f"{spec['kind'].replace('_', ' ')} {spec['name']!r} is defined twice ({path})")
            specs[key] = spec
    return [specs[k] for k in sorted(specs)]
