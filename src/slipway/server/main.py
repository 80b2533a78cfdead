"""The ASGI app for ``uvicorn slipway.server.main:app`` (settings from the environment)."""

from __future__ import annotations

from slipway.core.settings import load_settings
from slipway.server.app import create_app

app = create_app(load_settings(server_url=""))
