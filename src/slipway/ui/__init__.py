"""The web UI (layer 5): server-rendered pages over the same backends and role checks as the API.

:func:`slipway.ui.app.create_app` is the platform API with the pages mounted at ``/``; ``slipway
server`` runs it. See docs/ui.md.
"""
