"""Where checkpoints are published: a folder or any fsspec URL (``s3://`` with object lock, ``gs://``,
``memory://``), or a webhook receiver (``http(s)://``).

A folder destination keeps, next to each signed ``checkpoint-<size>.json``, the leaf hashes it
covers (``leaves-<first>-<last>.bin``, 32 bytes per event, written only once per range): the
signed root authenticates them, and verification compares the database against them leaf by
leaf to name the first event that changed.
"""

from __future__ import annotations

import os
import re
from typing import Any

import orjson

from slipway.core.errors import BackendUnavailable, InvalidInput
from slipway.core.files import write_atomically

_CHECKPOINT = re.compile(r"checkpoint-(\d{12})-(\d+)\.json$")
_LEAVES = re.compile(r"leaves-(\d{12})-(\d{12})\.bin$")


def is_webhook(location: str) -> bool:
    return location.startswith(("http://", "https://"))


def _fs(location: str) -> tuple[Any, str]:
    import fsspec

    try:
        fs, path = fsspec.core.url_to_fs(location)
    except (ImportError, ValueError) as err:
        raise InvalidInput(f"cannot use checkpoint destination {location!r}: {err}") from err
    return fs, path.rstrip("/")


def _write(fs: Any, path: str, data: bytes) -> None:
    """Write a whole file at once: a rename on a local disk, one put on an object store."""
    from fsspec.implementations.local import LocalFileSystem

    if isinstance(fs, LocalFileSystem):
        write_atomically(path, data, durable=True)
    else:
        fs.pipe_file(path, data)


def _names(fs: Any, path: str) -> list[str]:
    try:
        return sorted(os.path.basename(p) for p in fs.ls(path, detail=False))
    except FileNotFoundError:
        return []


def read_checkpoints(location: str, newest: int | None = None) -> list[dict[str, Any]]:
    """Every checkpoint published to a folder destination (or the ``newest`` few), smallest tree
    first (unchecked)."""
    if is_webhook(location):
        return []
    fs, path = _fs(location)
    found = []
    names = [n for n in _names(fs, path) if _CHECKPOINT.match(n)]
    for name in names[-newest:] if newest else names:
        if _CHECKPOINT.match(name):
            try:
                found.append(orjson.loads(fs.cat_file(f"{path}/{name}")))
            except orjson.JSONDecodeError as err:
                raise InvalidInput(f"{location}/{name} is not a checkpoint: {err}") from err
    return sorted(found, key=lambda c: (int(c.get("tree_size", 0)), int(c.get("timestamp_ms", 0))))


def read_leaves(location: str) -> bytes:
    """The mirrored leaf hashes from event 1 on, as far as they run without a gap."""
    if is_webhook(location):
        return b""
    fs, path = _fs(location)
    segments = sorted((int(m.group(1)), int(m.group(2)), n) for n in _names(fs, path) if (m := _LEAVES.match(n)))
    out, next_seq = bytearray(), 1
    for first, last, name in segments:
        if first != next_seq:
            continue
        data = fs.cat_file(f"{path}/{name}")
        if len(data) != 32 * (last - first + 1):
            break
        out += data
        next_seq = last + 1
    return bytes(out)


def publish(location: str, checkpoint: dict[str, Any], leaves: bytes, first_seq: int) -> str:
    """Publish ``checkpoint`` (and, for folders, the leaf hashes from ``first_seq`` on); returns where."""
    body = orjson.dumps(checkpoint, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)
    size = int(checkpoint["tree_size"])
    if is_webhook(location):
        import httpx

        try:
            response = httpx.post(location, content=body, headers={"content-type": "application/json"}, timeout=10)
        except httpx.HTTPError as err:
            raise BackendUnavailable(f"cannot publish the checkpoint to {location}: {err}") from err
        if response.status_code >= 300:
            raise BackendUnavailable(f"the checkpoint receiver {location} answered {response.status_code}")
        return location
    fs, path = _fs(location)
    try:
        fs.makedirs(path, exist_ok=True)
        if leaves and first_seq <= size:
            _write(fs, f"{path}/leaves-{first_seq:012d}-{size:012d}.bin", leaves)
        target = f"{path}/checkpoint-{size:012d}-{int(checkpoint['timestamp_ms'])}.json"
        _write(fs, target, body)
    except OSError as err:
        raise BackendUnavailable(f"cannot publish the checkpoint to {location}: {err}") from err
    return target
