"""Stored pipeline sources: what schedules and triggers run, so they never name a host path.

When a schedule or trigger is created, the client resolves the pipeline where the user typed its
reference (their folder, their files) and stores the folder of the file that defines it as a
directory manifest: that file and the other files beside it (its sibling modules and the YAML it
reads next to itself), top level only, each up to :data:`MAX_SIBLING_BYTES`. The schedule keeps
``stored:<manifest digest>/<file name>:<pipeline name>``; the scheduler, started from any folder
or host, restores that folder under its own home (``<home>/pipeline-sources/<digest>/``, every
file checked against its digest) and loads the file from there. A client can therefore only ever
make the scheduler run source it uploaded itself, never a file of the scheduler's host.

What the file imports beyond its own folder resolves in the scheduler's environment: installed
packages work; relative imports and subfolders of the original folder do not.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

from slipway.blobs.manifest import Manifest, ManifestEntry, load_manifest
from slipway.blobs.store import BlobStore
from slipway.core.errors import InvalidInput, NotFound
from slipway.core.files import write_atomically
from slipway.core.hashing import hash_bytes
from slipway.pipelines.dsl import Pipeline
from slipway.pipelines.loader import describe_load_error
from slipway.pipelines.runners.task import load_file_module

SAFE_NAME = re.compile(r"\A[A-Za-z0-9_][A-Za-z0-9_.-]{0,200}\Z")

STORED_RE = re.compile(r"\Astored:([0-9a-f]{64})/([A-Za-z0-9_][A-Za-z0-9_.-]{0,200}\.py)"
                       r":([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)\Z")
MAX_SOURCE_BYTES = 4 * 1024 * 1024  # the pipeline's own file
MAX_SIBLING_BYTES = 256 * 1024  # files beside it (modules, configuration); larger ones are data, left out
MAX_FILES = 200


def parse_stored(ref: str) -> tuple[str, str, str] | None:
    """``(manifest digest, file name, qualified name)`` of a stored reference, or None."""
    match = STORED_RE.match(ref) if isinstance(ref, str) else None
    return (match.group(1), match.group(2), match.group(3)) if match else None


def check_stored_ref(ref: str, blobs: BlobStore) -> str:
    """The source digest of ``ref``, which must be a stored reference whose folder exists.

    Raises:
        InvalidInput: ``ref`` is anything else (a path, a module name): the scheduler only runs
            stored sources, so no client can name a file on the scheduler's host.
    """
    parsed = parse_stored(ref)
    if parsed is None:
        raise InvalidInput(f"pipeline {str(ref)[:200]!r} must be a stored pipeline source "
                           "'stored:<digest>/<file>.py:<name>'; ws.pipelines.schedule and "
                           "'slipway pipelines schedule' store it from a file or module")
    digest, file_name, _ = parsed
    try:
        manifest = load_manifest(blobs, digest)
    except (NotFound, InvalidInput) as err:
        raise InvalidInput(f"pipeline source {digest} is not a stored folder in the artifact store") from err
    if file_name not in {e.path for e in manifest.entries}:
        raise InvalidInput(f"pipeline source {digest} has no file {file_name!r}")
    return digest


def _folder_entries(file: Path) -> list[tuple[str, bytes]]:
    """``(name, bytes)`` of ``file`` and the small regular files beside it."""
    found: list[tuple[str, bytes]] = []
    for entry in sorted(os.scandir(file.parent), key=lambda e: e.name):
        if entry.name.startswith(".") or not entry.is_file(follow_symlinks=False) or not SAFE_NAME.match(entry.name):
            continue
        limit = MAX_SOURCE_BYTES if entry.name == file.name else MAX_SIBLING_BYTES
        if entry.stat(follow_symlinks=False).st_size <= limit:
            found.append((entry.name, Path(entry.path).read_bytes()))
    if len(found) > MAX_FILES:
        raise InvalidInput(f"the folder of pipeline file {file} has more than {MAX_FILES} files; give the "
                           "pipeline a folder of its own to schedule it")
    if file.name not in {name for name, _ in found}:
        raise InvalidInput(f"pipeline file {file} is larger than {MAX_SOURCE_BYTES} bytes")
    return found


def store_source(blobs: BlobStore, pipe: Pipeline) -> str:
    """Store the folder of the file defining ``pipe`` (see the module docstring); returns its
    stored reference.

    Raises:
        InvalidInput: ``pipe`` was not defined in a readable Python file (e.g. in a notebook).
    """
    module = sys.modules.get(pipe.fn.__module__)
    file = getattr(module, "__slipway_file__", None) or getattr(module, "__file__", None)
    if not file or not str(file).endswith(".py") or not Path(file).is_file():
        raise InvalidInput(f"pipeline {pipe.name!r} is not defined in a Python file; define it in a .py file to "
                           "schedule it")
    path = Path(file).resolve()
    if not SAFE_NAME.match(path.name):
        raise InvalidInput(f"pipeline file name {path.name!r} must be letters, digits, '_', '-' or '.'")
    entries = [ManifestEntry(name, blobs.put_bytes(data), len(data), 0o644) for name, data in _folder_entries(path)]
    digest = blobs.put_bytes(Manifest(tuple(entries)).to_bytes())
    return f"stored:{digest}/{path.name}:{pipe.fn.__qualname__}"


def load_stored(ref: str, blobs: BlobStore, cache_dir: Path) -> Pipeline:
    """The :class:`Pipeline` a stored reference names, loaded from its verified folder.

    Raises:
        InvalidInput: ``ref`` is not a stored reference, or its source has no such pipeline.
        NotFound: the source is missing from the artifact store.
    """
    parsed = parse_stored(ref)
    if parsed is None:
        raise InvalidInput(f"{ref!r} is not a stored pipeline reference 'stored:<digest>/<file>.py:<name>'")
    digest, file_name, name = parsed
    module_name = f"slipway_pipeline_{digest[:24]}_{file_name[:-3].replace('.', '_').replace('-', '_')}"
    module = sys.modules.get(module_name)
    if module is None:
        folder = _materialise(blobs, digest, cache_dir / digest)
        if not (folder / file_name).is_file():
            raise InvalidInput(f"pipeline source {digest} has no file {file_name!r}")
        try:
            module = load_file_module(str(folder / file_name), module_name)
        except Exception as err:  # noqa: BLE001 - user code: a syntax or import error is bad input
            raise InvalidInput(f"cannot load stored pipeline {file_name} ({digest[:12]}): {describe_load_error(err)}") from err
    target: object = module
    for part in name.split("."):
        target = getattr(target, part, None)
    if not isinstance(target, Pipeline):
        found = sorted(k for k, v in vars(module).items() if isinstance(v, Pipeline))
        raise InvalidInput(f"stored pipeline {file_name} ({digest[:12]}) has no pipeline named {name!r}; "
                           f"it has {found or 'none'}")
    return target


def _materialise(blobs: BlobStore, digest: str, folder: Path) -> Path:
    """The folder of manifest ``digest`` at ``folder``: each file written atomically once its
    bytes match their digest; a file already there and intact is kept."""
    if not blobs.exists(digest):
        raise NotFound(f"pipeline source {digest} is not in the artifact store (was it garbage-collected?)")
    manifest = load_manifest(blobs, digest)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    for entry in manifest.entries:
        if not SAFE_NAME.match(entry.path):  # top-level names only: nothing lands outside the folder
            raise InvalidInput(f"pipeline source {digest} names an unsafe path {entry.path!r}")
        path = folder / entry.path
        if path.is_file() and hash_bytes(path.read_bytes()) == entry.digest:
            continue
        write_atomically(path, blobs.read_bytes(entry.digest, verify=True), mode=0o644)
    return folder
