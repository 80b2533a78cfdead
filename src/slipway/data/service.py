"""``ws.data``: versioned datasets, the same in embedded and remote mode.

Hashing, profiling and blob upload happen here, on the client (through ``host.blobs``); the
backend only records versions whose blobs are all stored. Example::

    v = ws.data.add("ai4i", "ai4i2020.csv", key="UDI", message="first drop")
    slipway.log_input(v)                    # lineage: ai4i@1 --input_to--> run
    table = ws.data.load("ai4i@1")          # a pyarrow.Table
    ws.data.diff("ai4i@1", "ai4i@2").tables[0].rows_added
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from slipway.blobs.local import LocalBlobStore
from slipway.blobs.manifest import load_manifest, manifest_files
from slipway.blobs.statcache import StatCache
from slipway.blobs.store import BlobStore, open_blob_store
from slipway.core.errors import InvalidInput, NotFound
from slipway.core.names import check_name
from slipway.data import remotes
from slipway.data.records import (
    Dataset,
    DatasetDiff,
    DatasetUsage,
    DatasetVersion,
    SchemaRevision,
    StatusReport,
    ValidationReport,
    VerifyReport,
)
from slipway.data.refs import given_path, parse_ref
from slipway.store.context import Host

# Arrow, DuckDB and DataSketches load on first use (inside the methods), so that quick calls such
# as status() and get_version() start fast from the CLI.
if TYPE_CHECKING:
    import pyarrow as pa

    from slipway.data.backend import DataBackend
    from slipway.data.checkout import CheckedOut
    from slipway.data.profile import TableProfile

Progress = Callable[[int], None]


class DataService:
    def __init__(self, host: Host) -> None:
        self._host = host
        self._backend: DataBackend = host.backend("data")
        self._stat_cache: StatCache | None = None

    @property
    def _blobs(self) -> BlobStore:
        return self._host.blobs

    @property
    def stat_cache(self) -> StatCache:
        if self._stat_cache is None:
            self._stat_cache = StatCache(Path(self._host.settings.home) / "statcache.db")
        return self._stat_cache

    # -- adding ---------------------------------------------------------------------------------
    def add(self, name: str, source: Any, *, key: str | list[str] | None = None, message: str = "",
            workers: int = 8, progress: Progress | None = None, pointer: bool = False,
            project: str | None = None) -> DatasetVersion:
        """Add a file, a folder, a pandas DataFrame or an Arrow table as the next version of ``name``.

        Unchanged content creates nothing: the latest version comes back with ``created=False``.
        Only files the store lacks are uploaded. ``key`` names the column(s) that identify a row,
        used by :meth:`diff` to count added and removed rows. With ``pointer``, a pointer file
        ``PATH.slipway`` naming the version is written next to the path, to commit with Git
        (see :meth:`checkout`). A new dataset goes to ``project`` (default: the workspace's).

        Raises:
            NotFound: the path does not exist.
            InvalidInput: a bad name or key, a table that cannot be read, or ``pointer`` for a
                source that is not a path.
        """
        if pointer:
            if not isinstance(source, str | os.PathLike):
                raise InvalidInput("a pointer file is written next to a path; pass a file or folder, not a table")
            from slipway.data.pointers import write_pointer

            version = self.add(name, source, key=key, message=message, workers=workers, progress=progress,
                               project=project)
            write_pointer(version, given_path(source))
            return version
        from slipway.data import adding

        check_name(name, "dataset name")
        keys = [key] if isinstance(key, str) else list(key) if key is not None else None
        if isinstance(source, str | os.PathLike):
            source = given_path(source).resolve()  # the stat cache is keyed by absolute path
        scanned = adding.scan_source(source, self.stat_cache, workers, progress, self._blobs, self._own_folders())
        latest = self._latest(name)
        if latest is not None and latest.digest == scanned.digest and keys in (None, latest.key_columns):
            return dataclasses.replace(latest, created=False)
        self._read_listing(latest)  # the files this version shares with the latest are not uploaded again
        adding.store_scanned(self._blobs, scanned, workers, progress)
        profiles, schema, rows = adding.profile_tables(
            scanned, self._previous_profiles(latest) if scanned.tables else None)
        for column in keys or []:
            if schema and not any(column in cols for cols in schema.values()):
                raise InvalidInput(f"key column {column!r} is not a column of {source}; columns: "
                                   f"{sorted({c for cols in schema.values() for c in cols})}")
        profile_digest = None
        if profiles:
            from slipway.data.profile import profiles_to_bytes

            profile_digest = self._blobs.put_bytes(profiles_to_bytes(profiles))
        digest = self._blobs.put_bytes(scanned.manifest_bytes)  # last: the version's root
        chosen = project or self._host.settings.project  # a new dataset's project (default: the workspace's)
        return self._backend.commit_version(name, digest, scanned.kind, rows=rows, schema=schema,
                                            profile_digest=profile_digest, message=message, key_columns=keys,
                                            **({"project": chosen} if chosen != "default" else {}))

    def _store_identity(self) -> str:
        from slipway.data.watch_client import settings_identity

        return settings_identity(self._host.settings)

    def _own_folders(self) -> frozenset[str]:
        """Slipway's home and local artifact store: never part of a dataset folder."""
        own = {str(Path(self._host.settings.home).resolve())}
        if isinstance(self._blobs, LocalBlobStore):
            own.add(str(Path(self._blobs.root).resolve()))
        return frozenset(own)

    def _read_listing(self, version: DatasetVersion | None) -> None:
        """Over a server, read ``version``'s manifest first: a server counts a file as stored for a
        project-bound user only through a manifest it may read that lists it (slipway.client.blobs),
        so ``add`` would upload the files a version shares with it again, and ``get``/``checkout``
        would take the files of a version already on disk for unversioned work."""
        if version is not None and self._host.settings.remote:
            load_manifest(self._blobs, version.digest)

    def _latest(self, name: str) -> DatasetVersion | None:
        try:
            return self._backend.get_version(name)
        except NotFound:
            return None

    def _previous_profiles(self, latest: DatasetVersion | None) -> dict[str, tuple[str, TableProfile]]:
        if latest is None or not latest.profile_digest:
            return {}
        from slipway.data.profile import profiles_from_bytes

        digests = {e.path: e.digest for e in load_manifest(self._blobs, latest.digest).entries}
        profiles = profiles_from_bytes(self._blobs.read_bytes(latest.profile_digest))
        return {path: (digests[path], p) for path, p in profiles.items() if path in digests}

    def status(self, name: str, path: str | os.PathLike[str], workers: int = 8) -> StatusReport:
        """Compare a working file or folder with the latest version (unchanged files are not re-hashed)."""
        source = given_path(path).resolve()
        from slipway.data.watch_client import ask_watcher

        settings = self._host.settings
        answer = ask_watcher(settings.home, source, name, self._store_identity()) if source.is_dir() else None
        if answer is not None:  # a `slipway data watch` of this folder knows already
            return StatusReport(name, answer["version"], answer["added"], answer["removed"], answer["changed"])
        latest = self._latest(name)
        if latest is None:
            self._backend.get_version(name)  # raises NotFound naming the dataset
        assert latest is not None
        from slipway.data.quick import compare

        stored = manifest_files(self._blobs.read_bytes(latest.digest))
        return compare(name, latest.version, source, stored, self.stat_cache, workers, self._own_folders())

    def watch(self, path: str | os.PathLike[str], ready: Callable[[str], None] | None = None,
              stop: Callable[[], bool] | None = None) -> None:
        """Watch a folder so that :meth:`status` on it (from any process of this user with this
        home) answers from inotify events instead of a ``stat`` of every file (Linux; blocks
        until ``stop()`` is true or the process is stopped). ``ready`` gets the socket path.

        Raises:
            NotFound: the folder does not exist.
            InvalidInput: it cannot be watched (e.g. the inotify watch limit).
        """
        from slipway.data.watch import FolderWatcher, serve

        folder = given_path(path).resolve()
        if not folder.is_dir():
            raise NotFound(f"folder {path} does not exist")
        manifests: dict[str, dict[str, tuple[str, int]]] = {}

        def latest_manifest(name: str) -> tuple[int, dict[str, tuple[str, int]]]:
            latest = self._backend.get_version(name)
            if latest.digest not in manifests:
                manifests[latest.digest] = manifest_files(self._blobs.read_bytes(latest.digest))
            return latest.version, manifests[latest.digest]

        settings = self._host.settings
        identity = self._store_identity()
        default_stores = not (settings.store_uri or settings.artifacts_uri or settings.server_url)
        watcher = FolderWatcher(folder, self.stat_cache, self._own_folders())
        try:
            serve(watcher, settings.home, latest_manifest, ready, stop,
                  serves=lambda store: store == identity or (store is None and default_stores))
        finally:
            watcher.close()

    # -- reading --------------------------------------------------------------------------------
    def get_version(self, ref: Any) -> DatasetVersion:
        """``name``, ``name@3`` or ``name@latest`` as a :class:`DatasetVersion`.

        While a version is reproduced (settings ``dataset_pins``), a name without a version means
        the version the original run read, not the latest."""
        name, version = parse_ref(ref)
        if version is None:
            version = self._pinned().get(name)
        return self._backend.get_version(name, version)

    def _pinned(self) -> dict[str, int]:
        pins = {}
        for pin in self._host.settings.dataset_pins:
            name, version = parse_ref(pin)
            if version is not None:
                pins[name] = version
        return pins

    def list_datasets(self) -> list[Dataset]:
        return self._backend.list_datasets()

    def versions(self, name: str) -> list[DatasetVersion]:
        return self._backend.list_versions(name)

    def usage(self, ref: Any) -> DatasetUsage:
        version = self.get_version(ref)
        return self._backend.usage(version.name, version.version)

    def files(self, ref: Any) -> list[dict[str, Any]]:
        from slipway.data import access

        manifest = access.manifest_of(self._blobs, self.get_version(ref))
        return [{"path": e.path, "size": e.size, "digest": e.digest} for e in manifest.entries]

    def profile(self, ref: Any) -> dict[str, TableProfile]:
        """The stored profile of each table of a version (mergeable; see :class:`TableProfile`)."""
        from slipway.data.profile import profiles_from_bytes

        version = self.get_version(ref)
        if not version.profile_digest:
            return {}
        return profiles_from_bytes(self._blobs.read_bytes(version.profile_digest))

    def load(self, ref: Any, path: str | None = None) -> pa.Table:
        """Read a version's table (``path`` picks one when the version holds several)."""
        from slipway.data import access

        return access.read_version_table(self._blobs, self.get_version(ref), path)

    def get(self, ref: Any, dest: str | os.PathLike[str], link: bool = False, force: bool = False) -> Path:
        """Materialise a version under ``dest``; files are verified first.

        Files are copies (reflinks where the file system has them) unless ``link``, which
        hard-links them to the stored read-only blobs. A file already there whose bytes are not
        stored (edited, or never added) is not overwritten unless ``force``.

        Raises:
            Conflict: a file at ``dest`` has unversioned changes (nothing was written).
        """
        from slipway.data import access

        version = self.get_version(ref)
        self._read_listing(self._latest(version.name))  # what is on disk is often the latest version
        return access.materialize_version(self._blobs, version, given_path(dest), link, force)

    def checkout(self, paths: Iterable[str | os.PathLike[str]] = (), *, force: bool = False,
                 link: bool = False) -> list[CheckedOut]:
        """Restore the data the pointer files name (after ``git checkout``, the commit's data).

        ``paths`` are pointer files, the data paths they describe, or folders to search; by
        default every pointer file under the current folder. Only files whose bytes differ are
        written; a folder loses the files its version does not hold.

        Raises:
            Conflict: a file that would be replaced or removed has unversioned changes (nothing
                is written for that pointer; ``force`` discards them).
            IntegrityError: the store's version does not have the digest the pointer names.
            NotFound: a path has no pointer file, or the version is not in this store.
        """
        from slipway.data.checkout import checkout_pointer
        from slipway.data.pointers import find_pointers, read_pointer

        files = find_pointers(paths, Path.cwd(), self._own_folders())
        pointers = [read_pointer(f) for f in files]  # all checked before any data is touched
        versions = [self._backend.get_version(p.dataset, p.version) for p in pointers]
        for name in dict.fromkeys(p.dataset for p in pointers):  # after `git checkout`, the newer data is on disk
            self._read_listing(self._latest(name))
        return [checkout_pointer(self._blobs, p, v, self.stat_cache, link, force) for p, v in zip(pointers, versions, strict=True)]

    def verify(self, ref: Any) -> VerifyReport:
        """Re-hash every blob of a version where it is stored; the report names corrupt files."""
        version = self.get_version(ref)
        return self._backend.verify_version(version.name, version.version)

    def diff(self, old_ref: Any, new_ref: Any, top: int = 5) -> DatasetDiff:
        """Files added/removed/changed; for tables also rows by key, schema changes and shifted columns."""
        from slipway.data import access
        from slipway.data.diff import file_changes, table_diff
        from slipway.data.tables import is_tabular

        old, new = self.get_version(old_ref), self.get_version(new_ref)
        old_manifest, new_manifest = access.manifest_of(self._blobs, old), access.manifest_of(self._blobs, new)
        old_tables = [e.path for e in old_manifest.entries if is_tabular(e.path)]
        new_tables = [e.path for e in new_manifest.entries if is_tabular(e.path)]
        pairs = [(p, p) for p in new_tables if p in old_tables]
        if not pairs and len(old_tables) == 1 and len(new_tables) == 1:
            pairs = [(old_tables[0], new_tables[0])]  # the one table was renamed
        old_profiles, new_profiles = self.profile(old), self.profile(new)
        tables = []
        for old_path, new_path in pairs:
            if old_manifest.by_path()[old_path].digest == new_manifest.by_path()[new_path].digest:
                continue
            tables.append(table_diff(
                new_path, self.load(old, old_path), self.load(new, new_path), new.key_columns,
                old_profiles.get(old_path), new_profiles.get(new_path), top))
        return DatasetDiff(old.ref, new.ref, file_changes(old_manifest, new_manifest), tables)

    # -- remotes --------------------------------------------------------------------------------
    def push(self, ref: Any, remote: str, workers: int = 8, progress: Progress | None = None) -> int:
        """Copy a version's blobs the remote store lacks to it; returns how many moved."""
        version = self.get_version(ref)
        digests = remotes.version_digests(self._blobs, version)
        with remotes.remote_errors(remote):
            return remotes.copy_blobs(self._blobs, open_blob_store(remote), digests, workers, progress)

    def pull(self, ref: Any, remote: str, workers: int = 8, progress: Progress | None = None,
             repair: bool = False) -> int:
        """Fetch a version's blobs this store lacks from the remote store; returns how many moved.

        With ``repair``, every blob the store already holds is re-hashed too, and a corrupt one
        is replaced by the remote's copy (verified first), so ``data verify`` passes again.
        """
        version = self.get_version(ref)
        with remotes.remote_errors(remote):
            source = _existing_store(remote)
            local_manifest = self._blobs.exists(version.digest) and not (repair and not self._blobs.verify(version.digest))
            digests = remotes.version_digests(self._blobs if local_manifest else source, version)
            moved = remotes.copy_blobs(source, self._blobs, digests, workers, progress)
            return moved + (remotes.repair_blobs(source, self._blobs, digests, workers) if repair else 0)

    def remote_digests(self, ref: Any) -> list[str]:
        """Every blob digest a version needs (manifest, files, profile)."""
        return remotes.version_digests(self._blobs, self.get_version(ref))

    # -- schemas and validation (see slipway.data.quality) -----------------------------------------
    def infer_schema(self, ref: Any, table: str | None = None, save: bool = True) -> SchemaRevision:
        """Infer a schema from a version's profile and (by default) store it as the next revision."""
        from slipway.data import quality

        return quality.infer(self, ref, table, save)

    def schema(self, name: str, revision: int | None = None) -> SchemaRevision:
        return self._backend.get_schema(name, revision)

    def save_schema(self, name: str, body: str, source_version: int | None = None) -> SchemaRevision:
        """Store edited YAML as the next revision (it is checked first; a bad schema stores nothing)."""
        return self._backend.save_schema(name, body, source_version)

    def validate(self, target: Any, schema: Any = None, table: str | None = None,
                 at_ms: int | None = None) -> ValidationReport:
        """Check a version (``name@3``), a file path or a table against a schema.

        ``schema`` is YAML text, a path to a YAML file, a mapping, or a dataset name whose stored
        schema to use; by default the stored schema of the target's dataset.
        """
        from slipway.data import quality

        return quality.validate(self, target, schema, table, at_ms)


def _existing_store(uri: str) -> BlobStore:
    """The artifact store at ``uri`` to read from; a local folder must exist (opening a store
    creates its folders, and a mistyped remote must not be created by a pull).

    Raises:
        NotFound: the local folder does not exist.
    """
    if not uri:
        raise InvalidInput("the remote is empty; name a folder or an fsspec URL such as s3://bucket/prefix")
    if "://" not in uri and not os.path.isdir(uri):
        raise NotFound(f"no artifact store at {uri}: the folder does not exist")
    return open_blob_store(uri)
