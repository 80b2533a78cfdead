"""Layer 1: the content-addressed artifact store (blobs, directory manifests, stat cache, GC)."""

from slipway.blobs.manifest import Manifest, ManifestEntry
from slipway.blobs.store import BlobStore

__all__ = ["BlobStore", "Manifest", "ManifestEntry"]
