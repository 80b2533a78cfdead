"""``data status`` on a lean path: an embedded SQLite store read with the standard ``sqlite3``.

``slipway data status`` is a "did anything change?" question asked often (before every ``add``,
from scripts and hooks), and with nothing changed its work is small: one ``stat`` per file, the
stat cache, and the latest version's manifest. Opening a workspace for it would cost more than
the work itself (SQLAlchemy, the migration check, fsspec), so this module answers it with only
the standard library, BLAKE3, orjson and the stat cache.

It answers only the plain case: the embedded default store (SQLite, local artifact folder), a
schema at the newest migration, no user row for the local user (the configured local roles
apply) and an existing dataset with a version. Anything else returns None and the caller takes
the normal path (:meth:`slipway.data.service.DataService.status`), which gives the same report
or the usual error. Both paths compute the report with the same functions
(:func:`slipway.data.ingest.ingest_folder`, :func:`slipway.data.adding.scan_source`). With the
fast paths off (:mod:`slipway.core.fastpaths`) :func:`quick_status` always returns None.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from slipway.blobs.manifest import manifest_files
from slipway.blobs.statcache import StatCache
from slipway.core.errors import SlipwayError
from slipway.core.hashing import hash_bytes
from slipway.core.names import MAX_NAME, NAME_RE
from slipway.data.records import StatusReport


def quick_status(name: str, path: str | os.PathLike[str], workers: int = 8) -> StatusReport | None:
    """The status of ``path`` against the latest version of ``name``, or None when this lean
    path does not apply (the caller then runs the normal one)."""
    import orjson

    from slipway.core import fastpaths
    from slipway.core.auth import Principal
    from slipway.core.environment import os_user
    from slipway.core.settings import load_settings
    from slipway.store.migrate import head_revisions

    if len(name) > MAX_NAME or not NAME_RE.fullmatch(name):
        return None
    try:
        settings = load_settings()
    except SlipwayError:
        return None
    if not fastpaths.enabled(settings):
        return None
    store_uri = settings.resolved_store_uri
    artifacts = settings.resolved_artifacts_uri
    if settings.remote or not store_uri.startswith("sqlite:///") or not artifacts.startswith("/") or "://" in artifacts:
        return None
    db_path = store_uri.removeprefix("sqlite:///")
    if settings.user != os_user():
        return None  # acting as someone else needs their key: the normal path checks it
    source = Path(path).resolve()
    if not db_path or db_path == ":memory:" or not os.path.isfile(db_path) or not source.exists():
        return None
    try:
        conn = sqlite3.connect(db_path, timeout=settings.sqlite_busy_timeout_s)
    except sqlite3.Error:
        return None
    try:
        conn.execute(f"PRAGMA busy_timeout={int(settings.sqlite_busy_timeout_s * 1000)}")
        revisions = frozenset(row[0] for row in conn.execute("SELECT version_num FROM alembic_version"))
        if revisions != head_revisions():
            return None  # the normal path upgrades the schema first
        found = conn.execute("SELECT roles, disabled FROM users WHERE name = ?", (settings.user,)).fetchone()
        if found is None or found[1] or not Principal(settings.user, frozenset(orjson.loads(found[0]))).can("read"):
            return None  # the normal path enrols a first user or names the missing permission
        latest = conn.execute(
            "SELECT v.version, v.digest FROM dataset_versions v JOIN datasets d ON v.dataset_id = d.id "
            "WHERE d.name = ? ORDER BY v.version DESC LIMIT 1", (name,)).fetchone()
    except sqlite3.Error:
        return None
    finally:
        conn.close()
    if latest is None:
        return None  # the normal path names the missing dataset or version
    version, digest = int(latest[0]), str(latest[1])
    root = artifacts.rstrip("/")
    try:
        with open(f"{root}/{digest[:2]}/{digest[2:]}", "rb") as handle:
            data = handle.read()
        if hash_bytes(data) != digest:
            return None  # the normal path reports the corrupt manifest
        stored = manifest_files(data)
    except (OSError, SlipwayError):
        return None
    own = frozenset({str(Path(settings.home).resolve()), str(Path(root).resolve())})
    cache = StatCache(Path(settings.home) / "statcache.db")
    try:
        report = compare(name, version, source, stored, cache, workers, own)
        fastpaths.took("data.quick_status")
        return report
    finally:
        cache.close()


def compare(name: str, version: int, source: Path, stored: dict[str, tuple[str, int]], cache: StatCache,
            workers: int, own: frozenset[str]) -> StatusReport:
    """The report for the working file or folder ``source`` against a version's
    ``{path: (digest, mode)}`` (shared by both paths, so they report alike). A file whose bytes or
    permissions differ is changed: either makes ``data add`` record a new version."""
    if source.is_dir():
        from slipway.data.ingest import folder_files

        current = folder_files(source, cache, workers, own)
    else:
        from slipway.data import adding

        current = {e.path: (e.digest, e.mode) for e in adding.scan_source(source, cache, 1).manifest.entries}
    return StatusReport(name, version, sorted(current.keys() - stored.keys()), sorted(stored.keys() - current.keys()),
                        sorted(p for p in current.keys() & stored.keys() if current[p] != stored[p]))
