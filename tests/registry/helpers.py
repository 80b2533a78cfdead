"""Test helpers for the registry: reach the stores behind a workspace, whatever its transport.

Governance owns version state transitions; tests that need an approved version set the state
directly in the database, which is what :func:`set_state` does.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from slipway.blobs.store import BlobStore
from slipway.store.database import Database
from slipway.store.schema.registry import model_versions, registered_models
from slipway.workspace import Workspace
from tests.support import make_settings


def store_settings(ws: Workspace, home: Path):  # type: ignore[no-untyped-def]
    """The settings whose stores hold the data: the server's in remote mode, the workspace's otherwise."""
    return make_settings(home / "server") if ws.remote else ws.settings


def database(ws: Workspace, home: Path) -> Database:
    return Database(store_settings(ws, home).resolved_store_uri)


def blob_store(ws: Workspace, home: Path) -> BlobStore:
    return BlobStore(store_settings(ws, home).resolved_artifacts_uri)


def set_state(ws: Workspace, home: Path, name: str, version: int, state: str = "approved") -> None:
    db = database(ws, home)
    try:
        with db.write() as conn:
            model_id = conn.execute(select(registered_models.c.id).where(registered_models.c.name == name)).scalar_one()
            moved = conn.execute(model_versions.update().where(model_versions.c.model_id == model_id,
                                                               model_versions.c.version == version).values(state=state))
            assert moved.rowcount == 1, f"{name}/{version} is not a registered version"
    finally:
        db.dispose()
