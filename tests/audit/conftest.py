"""Audit fixtures: a signing key outside the store, a checkpoint folder, and a ledger to tamper with."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from slipway.audit.keys import generate_key
from slipway.workspace import Workspace, open_workspace
from tests.support import make_settings


@dataclasses.dataclass
class AuditSetup:
    key: Path
    public_key: Path
    published: Path

    def section(self) -> dict[str, Any]:
        return {"audit": {"signing_key": str(self.key), "public_key": str(self.public_key),
                          "checkpoints": str(self.published)}}


@pytest.fixture
def audit_setup(tmp_path: Path) -> AuditSetup:
    key = tmp_path / "keys" / "audit.pem"
    public = generate_key(key)
    return AuditSetup(key, public, tmp_path / "published")


def open_audited(home: Path, setup: AuditSetup, **overrides: Any) -> Workspace:
    settings = dataclasses.replace(make_settings(home, **overrides), sections=setup.section())
    return open_workspace(settings)


@pytest.fixture
def audited_ws(home: Path, audit_setup: AuditSetup) -> Iterator[Workspace]:
    ws = open_audited(home, audit_setup)
    yield ws
    ws.close()


@pytest.fixture
def audited_pg_ws(home: Path, audit_setup: AuditSetup, pg_uri: str) -> Iterator[Workspace]:
    ws = open_audited(home, audit_setup, store_uri=pg_uri)
    yield ws
    ws.close()
