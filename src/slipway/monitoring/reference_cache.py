"""Prepared references stored once per dataset version: two blobs and one small index file.

The index file (``<key>.json`` naming the head blob) is written to a temporary name and renamed,
so a process killed mid-way leaves either no entry or a complete one; the blobs are content
addressed, so two processes preparing the same reference at once store the same bytes.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import orjson

from slipway.blobs.store import BlobStore
from slipway.core.files import write_atomically
from slipway.monitoring.reference import Reference


class ReferenceCache:
    """Prepared references by key (a dataset version's digest and the kind overrides)."""

    def __init__(self, blobs: BlobStore, folder: Path) -> None:
        self._blobs = blobs
        self._folder = folder

    def get(self, key: str) -> Reference | None:
        index = self._folder / f"{key}.json"
        if not index.is_file():
            return None
        head_digest = orjson.loads(index.read_bytes())["head"]
        head = self._blobs.read_bytes(head_digest)
        numeric_digest = orjson.loads(head)["numeric"]
        local = self._blobs.file_path(numeric_digest)
        if local is not None:  # memory-mapped: a block of columns is read when it is tested
            matrix = np.load(local, mmap_mode="r")
        else:
            import io

            matrix = np.load(io.BytesIO(self._blobs.read_bytes(numeric_digest)))
        return Reference.from_head(head, matrix)

    def get_or_prepare(self, key: str, prepare: Callable[[], Reference]) -> Reference:
        found = self.get(key)
        if found is not None:
            return found
        reference = prepare()
        self.put(key, reference)
        return reference

    def put(self, key: str, reference: Reference) -> None:
        """Store ``reference`` under ``key`` (complete or not at all)."""
        numeric_digest = self._blobs.put_bytes(reference.numeric_bytes())
        head_digest = self._blobs.put_bytes(reference.head_bytes(numeric_digest))
        self._folder.mkdir(parents=True, exist_ok=True)
        write_atomically(self._folder / f"{key}.json", orjson.dumps({"head": head_digest}), durable=True)
