"""Turning a file, a folder or a table into stored blobs and a manifest, on the client side.

Hashing goes through the stat cache, so an unchanged file is never hashed twice; only blobs the
store lacks are uploaded, in parallel; profiles of files whose digest did not change are reused
from the previous version instead of being recomputed.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import stat
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from slipway.blobs.manifest import Manifest, ManifestEntry
from slipway.blobs.statcache import StatCache
from slipway.blobs.store import BlobStore
from slipway.core.errors import InvalidInput, NotFound
from slipway.core.hashing import hash_bytes, hash_file
from slipway.data.ingest import check_file_name, ingest_folder, manifest_bytes
from slipway.data.refs import given_path
from slipway.data.tables_light import is_tabular

# Arrow, NumPy and DataSketches are imported only when a table is actually read or profiled, so
# versioning a folder of images or binaries does not pay for them.
if TYPE_CHECKING:
    import pyarrow as pa

    from slipway.data.profile import TableProfile

TABLE_FILE = "data.parquet"
MAX_PROFILED_TABLES = 100  # a folder of thousands of CSVs is versioned, but only the first 100 are profiled

Progress = Callable[[int], None]


@dataclasses.dataclass
class Scanned:
    """What an add found: the manifest and how to read each table, before anything is stored."""

    kind: str  # file | folder | table
    manifest: Manifest
    sources: dict[str, str]  # manifest path -> local file to upload
    inline: dict[str, bytes]  # manifest path -> bytes to upload (a table given in memory)
    tables: dict[str, Callable[[], pa.Table]]
    stored: bool = False  # the files are already in the store (ingested while hashing)

    @functools.cached_property
    def manifest_bytes(self) -> bytes:
        return manifest_bytes(list(self.manifest.entries))

    @functools.cached_property
    def digest(self) -> str:
        return hash_bytes(self.manifest_bytes)


def scan_source(source: Any, cache: StatCache | None, workers: int, progress: Progress | None = None,
                blobs: BlobStore | None = None, exclude: frozenset[str] = frozenset()) -> Scanned:
    """Hash ``source`` (a path, a pandas DataFrame or an Arrow table) into a manifest.

    With a local ``blobs`` store, a folder's missing files are stored in the same pass (see
    :mod:`slipway.data.ingest`); they become part of a version only when it is committed.

    Raises:
        NotFound: the path does not exist.
        InvalidInput: it is neither a file, a folder nor a table, or the folder is empty.
    """
    if isinstance(source, str | os.PathLike):
        path = given_path(source)
        if path.is_dir():
            local = blobs is not None and blobs.local
            manifest = ingest_folder(blobs, path, cache, workers, store=local, progress=progress, exclude=exclude)
            if not manifest.entries:
                raise InvalidInput(f"folder {path} holds no files; nothing to version")
            root = str(path)
            sources = {e.path: os.path.join(root, e.path) for e in manifest.entries}
            tables = {e.path: _reader(sources[e.path], e.path) for e in manifest.entries if is_tabular(e.path)}
            return Scanned("folder", manifest, sources, {}, tables, stored=local)
        if path.is_file():
            check_file_name(str(path))
            info = os.stat(path)
            full = str(path.resolve())
            digest = (cache.lookup_many([(full, info)]) if cache else {}).get(full)
            stored = False
            if digest is None:
                if blobs is not None and blobs.local:
                    # Hash and copy into the store in one read of the file (see put_file_hashing).
                    digest, stored = blobs.put_file_hashing(full), True
                    if progress:
                        progress(info.st_size)
                else:
                    digest = hash_file(path)
                if cache:
                    cache.store_many([(full, info, digest)])
            entry = ManifestEntry(path.name, digest, info.st_size, stat.S_IMODE(info.st_mode))
            tables = {path.name: _reader(full, path.name)} if is_tabular(path.name) else {}
            return Scanned("file", Manifest((entry,)), {path.name: full}, {}, tables, stored=stored)
        raise NotFound(f"no file or folder at {path}")
    from slipway.data.tables import as_arrow, to_parquet_bytes

    table = as_arrow(source)
    data = to_parquet_bytes(table)
    entry = ManifestEntry(TABLE_FILE, hash_bytes(data), len(data), 0o644)
    return Scanned("table", Manifest((entry,)), {}, {TABLE_FILE: data}, {TABLE_FILE: lambda: table})


def _reader(full: str, name: str) -> Callable[[], pa.Table]:
    def read() -> pa.Table:
        from slipway.data.tables import read_table

        return read_table(full, name)

    return read


def store_scanned(blobs: BlobStore, scanned: Scanned, workers: int, progress: Progress | None = None) -> int:
    """Upload the blobs the store lacks (files first, the manifest is the caller's last step)."""
    if scanned.stored:
        return 0
    missing = set(blobs.missing(e.digest for e in scanned.manifest.entries))
    todo = [e for e in scanned.manifest.entries if e.digest in missing]
    seen: set[str] = set()
    unique = [e for e in todo if not (e.digest in seen or seen.add(e.digest))]  # type: ignore[func-returns-value]

    def put(entry: ManifestEntry) -> None:
        if entry.path in scanned.inline:
            blobs.put_bytes(scanned.inline[entry.path])
        else:
            blobs.put_file(scanned.sources[entry.path], digest=entry.digest)
        if progress:
            progress(entry.size)

    with ThreadPoolExecutor(max(1, workers)) as pool:
        list(pool.map(put, unique))
    return len(unique)


def profile_tables(
    scanned: Scanned, previous: dict[str, tuple[str, TableProfile]] | None = None,
) -> tuple[dict[str, TableProfile], dict[str, dict[str, str]], int | None]:
    """Profile each table (reusing ``previous`` profiles, keyed by path, for unchanged digests).

    Returns the profiles, the schema ``{path: {column: arrow type}}`` and the total row count,
    which is None unless every table of the version was profiled (a folder of more than
    ``MAX_PROFILED_TABLES`` tables, or one holding a file that does not read as a table, has no
    row count rather than a wrong one). In a folder, a file that does not read as a table is
    versioned as a plain file; a single file that does not is an error.

    Raises:
        InvalidInput: a single-file or in-memory table cannot be read.
    """
    if not scanned.tables:
        return {}, {}, None
    from slipway.core.errors import InvalidInput
    from slipway.data.profile import TableProfile

    digests = {e.path: e.digest for e in scanned.manifest.entries}
    profiles: dict[str, TableProfile] = {}
    unread = 0
    for path in sorted(scanned.tables)[:MAX_PROFILED_TABLES]:
        old = (previous or {}).get(path)
        if old and old[0] == digests[path]:
            profiles[path] = old[1]
            continue
        try:
            profiles[path] = TableProfile.of(scanned.tables[path]())
        except InvalidInput:
            if scanned.kind != "folder":
                raise
            unread += 1
    schema = {path: {name: s.arrow_type for name, s in p.columns.items()} for path, p in profiles.items()}
    complete = profiles and not unread and len(profiles) == len(scanned.tables)
    rows = sum(p.rows for p in profiles.values()) if complete else None
    return profiles, schema, rows
