"""Step outputs as blobs: store a value, load it back by digest, and resolve a node's arguments.

Values made or loaded during a run are kept in memory by digest, so a step's output is read from
the artifact store at most once per run.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from slipway.blobs.store import BlobStore
from slipway.core.hashing import hash_bytes
from slipway.pipelines.cache import literal_material
from slipway.pipelines.graph import GatherRef, OutputRef
from slipway.pipelines.serializers import deserialize

OutputMeta = dict[str, Any]  # {"digest", "kind", "size"}


class Artifacts:
    def __init__(self, blobs: BlobStore, writers: int = 4) -> None:
        self.blobs = blobs
        self._values: dict[str, Any] = {}
        self.outputs: dict[str, dict[str, OutputMeta]] = {}  # node key -> output name -> meta
        # Blob writes (each ends in an fsync) run in the background so the next step need not
        # wait; a record naming a digest is committed only after its write finished (wait_stored).
        self._writer = ThreadPoolExecutor(writers, thread_name_prefix="slipway-artifacts") if writers else None
        self._pending: dict[str, Future[str]] = {}

    def store_encoded(self, encoded: dict[str, tuple[str, bytes]], values: list[Any] | None) -> dict[str, OutputMeta]:
        """Store outputs already serialised by the runner; ``values`` (in-process only) are kept
        in memory so downstream steps do not read them back."""
        metas = {}
        for index, (name, (kind, data)) in enumerate(encoded.items()):
            digest = self.put_bytes(data)
            if values is not None:
                self._values[digest] = values[index]
            metas[name] = {"digest": digest, "kind": kind, "size": len(data)}
        return metas

    def put_bytes(self, data: bytes) -> str:
        """Store ``data`` (in the background when a writer pool exists); returns its digest now."""
        if self._writer is None:
            return self.blobs.put_bytes(data)
        digest = hash_bytes(data)
        if digest not in self._pending:
            self._pending[digest] = self._writer.submit(self.blobs.put_bytes, data)
        return digest

    def wait_stored(self, digests: Any = None) -> None:
        """Block until the blobs ``digests`` (default: all) are durably stored; re-raise a failed write."""
        wanted = list(self._pending) if digests is None else [d for d in digests if d in self._pending]
        for digest in wanted:
            self._pending[digest].result()

    def close(self) -> None:
        try:
            self.wait_stored()
        finally:
            if self._writer is not None:
                self._writer.shutdown(wait=True)

    def load(self, meta: OutputMeta) -> Any:
        digest = meta["digest"]
        if digest not in self._values:
            self.wait_stored([digest])
            self._values[digest] = deserialize(meta["kind"], self.blobs.read_bytes(digest))
        return self._values[digest]

    def meta_of(self, ref: OutputRef) -> OutputMeta:
        outputs = self.outputs[ref.node]
        if ref.output in outputs:
            return outputs[ref.output]
        return next(iter(outputs.values()))  # "output" of a single-output step

    def resolve(self, value: Any) -> Any:
        """``value`` with every reference replaced by the output it points at."""
        if isinstance(value, OutputRef):
            return self.load(self.meta_of(value))
        if isinstance(value, GatherRef):
            return [self.resolve(ref) for ref in value.refs]
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if isinstance(value, tuple):
            return tuple(self.resolve(v) for v in value)
        if isinstance(value, dict):
            return {k: self.resolve(v) for k, v in value.items()}
        return value

    def key_material(self, value: Any) -> Any:
        """What ``value`` contributes to a cache key: references by content digest, literals by value."""
        if isinstance(value, OutputRef):
            return {"ref": self.meta_of(value)["digest"]}
        if isinstance(value, GatherRef):
            return {"gather": [self.meta_of(r)["digest"] for r in value.refs]}
        if isinstance(value, list | tuple) and _has_refs(value):
            return {"seq": [self.key_material(v) for v in value]}
        if isinstance(value, dict) and _has_refs(value):
            return {"map": {k: self.key_material(v) for k, v in value.items()}}
        return literal_material(value)


def _has_refs(value: Any) -> bool:
    items = value.values() if isinstance(value, dict) else value
    return any(isinstance(v, OutputRef | GatherRef) or (isinstance(v, list | tuple | dict) and _has_refs(v)) for v in items)
