"""Pointer files: the link between a Git commit and the data it used (like DVC's ``.dvc`` files).

``data add NAME PATH --pointer`` writes ``PATH.slipway`` next to ``PATH``, a few lines of YAML
naming the dataset version and its digest. Commit it with the code; the data stays in the
artifact store. After ``git checkout`` of any commit, ``data checkout`` restores, for each pointer
file, the bytes that version holds::

    # Slipway data pointer: 'slipway data checkout' restores these bytes at sensors.csv
    format: slipway-pointer/1
    dataset: sensors
    version: 2
    digest: 5f1c...
    kind: file

The data path is the pointer's own name without ``.slipway`` (in the same folder), never a path
read from the file, so a pointer in a cloned repository cannot aim a write elsewhere.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable
from pathlib import Path

import yaml

from slipway.core.errors import InvalidInput, NotFound
from slipway.core.files import write_atomically
from slipway.core.hashing import check_digest
from slipway.core.names import check_name
from slipway.core.paths import check_relative_path
from slipway.data.records import DatasetVersion

SUFFIX = ".slipway"
FORMAT = "slipway-pointer/1"
KINDS = ("file", "folder", "table")
MAX_POINTER_BYTES = 64 * 1024
SKIP_FOLDERS = frozenset({".git", ".hg", ".svn", ".venv", "node_modules", "__pycache__"})


@dataclasses.dataclass(frozen=True)
class Pointer:
    """What a pointer file names; ``data`` is where the bytes go."""

    file: Path
    data: Path
    dataset: str
    version: int
    digest: str
    kind: str

    @property
    def ref(self) -> str:
        return f"{self.dataset}@{self.version}"


def pointer_file(data_path: str | os.PathLike[str]) -> Path:
    """``data.csv`` -> ``data.csv.slipway`` (a folder ``images/`` -> ``images.slipway``)."""
    path = Path(os.path.abspath(data_path))
    return path.with_name(path.name + SUFFIX)


def write_pointer(version: DatasetVersion, data_path: str | os.PathLike[str]) -> Path:
    """Write (atomically) the pointer file for ``version`` stored from ``data_path``."""
    target = pointer_file(data_path)
    body = {"format": FORMAT, "dataset": version.name, "version": version.version, "digest": version.digest,
            "kind": version.kind}
    text = (f"# Slipway data pointer: 'slipway data checkout' restores these bytes at {Path(data_path).name}\n"
            + yaml.safe_dump(body, sort_keys=False))
    return write_atomically(target, text, mode=0o644)


def read_pointer(file: str | os.PathLike[str]) -> Pointer:
    """Parse and check a pointer file.

    Raises:
        NotFound: the file does not exist.
        InvalidInput: it is not a valid pointer (the message names the file and the field).
    """
    path = Path(os.path.abspath(file))
    if not path.name.endswith(SUFFIX) or path.name == SUFFIX:
        raise InvalidInput(f"{file} is not a pointer file (its name must end in {SUFFIX})")
    try:
        if path.stat().st_size > MAX_POINTER_BYTES:
            raise InvalidInput(f"{file} is too large to be a pointer file")
        body = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise NotFound(f"no pointer file at {file}") from None
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        raise InvalidInput(f"{file} is not a valid pointer file: {err}") from err
    if not isinstance(body, dict) or body.get("format") != FORMAT:
        raise InvalidInput(f"{file} is not a Slipway pointer file (no 'format: {FORMAT}')")
    version = body.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise InvalidInput(f"{file}: version must be a positive integer, got {version!r}")
    if body.get("kind") not in KINDS:
        raise InvalidInput(f"{file}: kind must be one of {', '.join(KINDS)}, got {body.get('kind')!r}")
    try:
        name = check_name(body.get("dataset"), "dataset name")
        digest = check_digest(body.get("digest"))  # type: ignore[arg-type]
        data_name = check_relative_path(path.name[: -len(SUFFIX)], "data path")
    except InvalidInput as err:
        raise InvalidInput(f"{file}: {err.message}") from err
    return Pointer(path, path.with_name(data_name), name, version, digest, body["kind"])


def find_pointers(paths: Iterable[str | os.PathLike[str]], root: Path, skip: frozenset[str] = frozenset()) -> list[Path]:
    """The pointer files to check out: each of ``paths`` (a pointer file, the data path it
    describes, or a folder searched below), or every pointer under ``root`` when none is given.
    Folders in ``skip`` (absolute; Slipway's own home and store), VCS and virtual-env folders
    are not searched, and folder links are not followed.

    Raises:
        NotFound: a given path is neither a pointer, a data path with one, nor a folder.
    """
    given = [Path(p) for p in paths]
    found: list[Path] = []
    for path in given or [root]:
        if path.name.endswith(SUFFIX) and path.name != SUFFIX and path.is_file():
            found.append(path)
        elif pointer_file(path).is_file():
            found.append(pointer_file(path))
        elif path.is_dir():
            found.extend(_search(path, skip))
        else:
            raise NotFound(f"no pointer file for {path} (looked for {pointer_file(path).name})")
    unique = {os.path.abspath(p): Path(os.path.abspath(p)) for p in found}
    return [unique[key] for key in sorted(unique)]


def _search(folder: Path, skip: frozenset[str]) -> list[Path]:
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_FOLDERS and d != SUFFIX
                             and os.path.realpath(os.path.join(dirpath, d)) not in skip)
        found.extend(Path(dirpath, n) for n in filenames if n.endswith(SUFFIX) and n != SUFFIX)
    return found
