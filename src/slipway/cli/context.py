"""The workspace a CLI command acts on (from ``SLIPWAY_*`` settings and ``slipway.toml``)."""

from __future__ import annotations

from slipway.workspace import Workspace, default_workspace


def workspace() -> Workspace:
    return default_workspace()
