"""Opening a blob store: :func:`open_blob_store` picks the backend from the URI.

An absolute path (the default store) opens :class:`~slipway.blobs.local.LocalBlobStore` without
importing fsspec; any other URL goes through fsspec, and a URL naming a local folder
(``file://…``, a relative path) is opened as a local store too. ``BlobStore`` is re-exported
here (and ``BlobStore(uri)`` calls this factory) so the imports written before the split work.
"""

from __future__ import annotations

from slipway.blobs.base import BlobStore, ProgressFn
from slipway.core.errors import BackendUnavailable

__all__ = ["BlobStore", "ProgressFn", "open_blob_store"]


def open_blob_store(uri: str) -> BlobStore:
    """The blob store at ``uri``: a folder (created if needed) or an fsspec URL.

    Raises:
        BackendUnavailable: the URL's scheme is unknown or its driver (e.g. s3fs) is not installed.
    """
    from slipway.blobs.local import LocalBlobStore

    if uri.startswith("/") and "://" not in uri:
        return LocalBlobStore(uri)
    import fsspec
    from fsspec.implementations.local import LocalFileSystem

    try:
        fs, root = fsspec.core.url_to_fs(uri)
    except (ImportError, ValueError) as err:
        raise BackendUnavailable(f"cannot open artifact store {uri!r}: {err}") from err
    if isinstance(fs, LocalFileSystem):
        return LocalBlobStore(uri, root)
    from slipway.blobs.objectstore import ObjectBlobStore

    return ObjectBlobStore(uri, fs, root)
