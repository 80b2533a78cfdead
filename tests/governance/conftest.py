"""Governance fixtures: a workspace per person over one store, and a webhook receiver."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from slipway.workspace import Workspace, open_workspace
from tests.support import make_settings

FAST_WEBHOOKS = {"governance": {"webhooks": {"base_delay_s": 0.05, "max_attempts": 3, "timeout_s": 2},
                                "dispatch_in_server": False,
                                "servicenow": {"username": "slipway-integration", "password": "s3cret-pw"}}}


@pytest.fixture
def people(home: Path) -> Iterator[Callable[..., Workspace]]:
    """``people("alice")`` opens an embedded workspace acting as alice (``people()`` = the admin)."""
    opened: list[Workspace] = []

    def open_as(user: str = "tester", **overrides: Any) -> Workspace:
        settings = dataclasses.replace(make_settings(home, user=user, **overrides), sections=FAST_WEBHOOKS)
        ws = open_workspace(settings)
        opened.append(ws)
        return ws

    yield open_as
    for ws in opened:
        ws.close()
