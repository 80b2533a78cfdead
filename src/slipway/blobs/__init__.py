"""Layer 1: the content-addressed artifact store (blobs, directory manifests, stat cache, GC).

The interface is :mod:`slipway.blobs.base`; :func:`open_blob_store` picks a backend from a URI.

The names below load on first use, so ``slipway.blobs.statcache`` and friends can be imported
without fsspec (quick commands such as ``slipway data status`` never need it).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from slipway.blobs.manifest import Manifest, ManifestEntry
    from slipway.blobs.store import BlobStore, open_blob_store

_LAZY = {"BlobStore": "slipway.blobs.store", "open_blob_store": "slipway.blobs.store",
         "Manifest": "slipway.blobs.manifest", "ManifestEntry": "slipway.blobs.manifest"}

__all__ = ["BlobStore", "Manifest", "ManifestEntry", "open_blob_store"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
