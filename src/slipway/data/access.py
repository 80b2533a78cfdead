"""Reading a version back: its manifest, its tables, its files materialised into a folder.

Every byte is checked against its digest before it is served; a blob changed on disk behind
Slipway's back raises :class:`IntegrityError` naming the file, and nothing corrupt is written.
"""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa

from slipway.blobs.manifest import Manifest, ManifestEntry, load_manifest, restore_folder
from slipway.blobs.store import BlobStore
from slipway.core.errors import IntegrityError, InvalidInput, NotFound
from slipway.core.paths import contained_path
from slipway.data.records import DatasetVersion
from slipway.data.tables import is_tabular, read_table
from slipway.data.workcopy import refuse_unversioned


def manifest_of(blobs: BlobStore, version: DatasetVersion) -> Manifest:
    try:
        return load_manifest(blobs, version.digest)
    except IntegrityError as err:
        raise IntegrityError(f"the manifest of {version.ref} (blob {version.digest}) is corrupt in the artifact store") from err


def table_entry(manifest: Manifest, version: DatasetVersion, path: str | None) -> ManifestEntry:
    """The tabular file to read: ``path``, or the only table of the version."""
    tables = [e for e in manifest.entries if is_tabular(e.path)]
    if path is not None:
        for entry in tables:
            if entry.path == path:
                return entry
        raise NotFound(f"{version.ref} has no table {path!r}; its tables: {[e.path for e in tables]}")
    if len(tables) == 1:
        return tables[0]
    if not tables:
        raise InvalidInput(f"{version.ref} holds no CSV or Parquet file to load")
    raise InvalidInput(f"{version.ref} holds {len(tables)} tables; pick one with path=, e.g. {tables[0].path!r}")


def read_version_table(blobs: BlobStore, version: DatasetVersion, path: str | None = None) -> pa.Table:
    entry = table_entry(manifest_of(blobs, version), version, path)
    try:
        loose = blobs.file_path(entry.digest)
        if loose is not None:  # read in place (Arrow maps the file); packed and remote blobs are read
            if not blobs.verify(entry.digest):
                raise IntegrityError(f"blob {entry.digest} does not match its digest")
            return read_table(loose, entry.path)
        return read_table(blobs.read_bytes(entry.digest), entry.path)
    except IntegrityError as err:
        raise IntegrityError(f"file {entry.path} of {version.ref} (blob {entry.digest}) is corrupt in the artifact "
                             "store; refusing to read it") from err


def materialize_version(blobs: BlobStore, version: DatasetVersion, dest: str | os.PathLike[str], link: bool = False,
                        force: bool = False) -> Path:
    """Write the version's files under ``dest`` (a folder), verified first.

    A single-file version goes to ``dest`` itself when ``dest`` is not an existing folder. By
    default each file is a copy (a reflink where the file system has them), so editing it cannot
    touch the stored version; ``link`` hard-links to the stored, read-only blob instead (fast,
    no extra space, but an edit forced through the link would corrupt the store).

    Raises:
        Conflict: a file there has unversioned changes (nothing is written; ``force`` discards them).
        InvalidInput: the manifest names a path outside ``dest``.
        IntegrityError: a stored blob is corrupt (nothing is written).
    """
    target = Path(dest)
    manifest = manifest_of(blobs, version)
    if version.kind == "folder":
        if not force:
            # Only reads here; restore_folder checks each path stays inside ``target`` before writing.
            refuse_unversioned(blobs, [(target / e.path, e.digest) for e in manifest.entries], f"getting {version.ref}")
        try:
            restore_folder(blobs, version.digest, target, link=link)
        except IntegrityError as err:
            raise IntegrityError(f"{version.ref}: {err.message}") from err
        return target
    entry = manifest.entries[0]
    out = contained_path(target, entry.path) if target.is_dir() else target
    if not force:
        refuse_unversioned(blobs, [(out, entry.digest)], f"getting {version.ref}")
    try:
        blobs.materialize(entry.digest, out, link=link)
    except IntegrityError as err:
        raise IntegrityError(f"file {entry.path} of {version.ref} (blob {entry.digest}) is corrupt in the artifact "
                             f"store; nothing was written to {out}") from err
    return out
