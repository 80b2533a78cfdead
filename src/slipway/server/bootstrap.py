"""First start of a server: make sure an admin exists and can get in."""

from __future__ import annotations

import os

from slipway.core.settings import Settings
from slipway.identity.users import ensure_bootstrap_admin
from slipway.local import SERVER_PRINCIPAL, LocalTransport


def prepare(settings: Settings) -> str:
    """Create the admin user and its first token if needed. The token is written to
    ``$SLIPWAY_HOME/bootstrap-token`` (mode 0600), never to the log."""
    transport = LocalTransport(settings, SERVER_PRINCIPAL, credential="token")
    minted = ensure_bootstrap_admin(transport.ctx, settings.bootstrap_token or None)
    if not minted:
        return ""
    path = settings.home / "bootstrap-token"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(minted + "\n")
    return f"Created user 'admin'; its token is in {path} (readable only by you)."
