"""Stored pipeline sources: what schedules and triggers run, so they never name a host path.

When a schedule or trigger is created, the client resolves the pipeline where the user typed its
reference (their folder, their files), reads the source file of the module that defines it and
stores it as a blob. The schedule keeps ``stored:<digest>:<pipeline name>``; the scheduler,
started from any folder or host, fetches that blob, writes it under its own home
(``<home>/pipeline-sources/<digest>.py``, checked against the digest) and loads it from there.
A client can therefore only ever make the scheduler run source it uploaded itself, never a file
that happens to exist on the scheduler's host.

The pipeline file's own imports resolve in the scheduler's environment: installed packages work,
relative imports and sibling files next to the original do not (put shared code in a package).
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

from slipway.blobs.store import BlobStore
from slipway.core.errors import InvalidInput, NotFound
from slipway.core.hashing import hash_bytes
from slipway.pipelines.dsl import Pipeline
from slipway.pipelines.runners.task import load_file_module

STORED_RE = re.compile(r"\Astored:([0-9a-f]{64}):([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)\Z")
MAX_SOURCE_BYTES = 4 * 1024 * 1024


def parse_stored(ref: str) -> tuple[str, str] | None:
    """``(digest, qualified name)`` of a stored reference, or None if ``ref`` is not one."""
    match = STORED_RE.match(ref) if isinstance(ref, str) else None
    return (match.group(1), match.group(2)) if match else None


def check_stored_ref(ref: str, blobs: BlobStore) -> str:
    """The source digest of ``ref``, which must be a stored reference whose blob exists.

    Raises:
        InvalidInput: ``ref`` is anything else (a path, a module name): the scheduler only runs
            stored sources, so no client can name a file on the scheduler's host.
    """
    parsed = parse_stored(ref)
    if parsed is None:
        raise InvalidInput(f"pipeline {str(ref)[:200]!r} must be a stored pipeline source 'stored:<digest>:<name>'; "
                           "ws.pipelines.schedule and 'slipway pipelines schedule' store it from a file or module")
    if not blobs.exists(parsed[0]):
        raise InvalidInput(f"pipeline source {parsed[0]} is not in the artifact store; upload it first")
    return parsed[0]


def store_source(blobs: BlobStore, pipe: Pipeline) -> str:
    """Store the source file of the module defining ``pipe``; returns its stored reference.

    Raises:
        InvalidInput: ``pipe`` was not defined in a readable Python file (e.g. in a notebook).
    """
    module = sys.modules.get(pipe.fn.__module__)
    file = getattr(module, "__slipway_file__", None) or getattr(module, "__file__", None)
    if not file or not str(file).endswith(".py") or not Path(file).is_file():
        raise InvalidInput(f"pipeline {pipe.name!r} is not defined in a Python file; define it in a .py file to "
                           "schedule it")
    data = Path(file).read_bytes()
    if len(data) > MAX_SOURCE_BYTES:
        raise InvalidInput(f"pipeline file {file} is larger than {MAX_SOURCE_BYTES} bytes")
    digest = blobs.put_bytes(data)
    return f"stored:{digest}:{pipe.fn.__qualname__}"


def load_stored(ref: str, blobs: BlobStore, cache_dir: Path) -> Pipeline:
    """The :class:`Pipeline` a stored reference names, loaded from its verified source.

    Raises:
        InvalidInput: ``ref`` is not a stored reference, or its source has no such pipeline.
        NotFound: the source blob is missing from the artifact store.
    """
    parsed = parse_stored(ref)
    if parsed is None:
        raise InvalidInput(f"{ref!r} is not a stored pipeline reference 'stored:<digest>:<name>'")
    digest, name = parsed
    module_name = f"slipway_pipeline_{digest[:24]}"
    module = sys.modules.get(module_name)
    if module is None:
        path = _materialise(blobs, digest, cache_dir)
        module = load_file_module(str(path), module_name)
    target: object = module
    for part in name.split("."):
        target = getattr(target, part, None)
    if not isinstance(target, Pipeline):
        found = sorted(k for k, v in vars(module).items() if isinstance(v, Pipeline))
        raise InvalidInput(f"stored pipeline source {digest[:12]} has no pipeline named {name!r}; it has {found or 'none'}")
    return target


def _materialise(blobs: BlobStore, digest: str, cache_dir: Path) -> Path:
    """The source file of ``digest`` under ``cache_dir``, written atomically and verified."""
    path = cache_dir / f"{digest}.py"
    if path.is_file() and hash_bytes(path.read_bytes()) == digest:
        return path
    if not blobs.exists(digest):
        raise NotFound(f"pipeline source {digest} is not in the artifact store (was it garbage-collected?)")
    data = blobs.read_bytes(digest, verify=True)
    cache_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = cache_dir / f".{digest}.{os.getpid()}.tmp"
    temporary.write_bytes(data)
    os.replace(temporary, path)
    return path
