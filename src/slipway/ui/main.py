"""The ASGI app for ``uvicorn slipway.ui.main:app``: the platform API and the web UI, with
settings from the environment (what ``slipway server`` runs)."""

from __future__ import annotations

from slipway.core.settings import load_settings
from slipway.ui.app import create_app

app = create_app(load_settings(server_url=""))
