"""Bearer tokens on the inference server: ``slipway serve --auth`` (or ``[serving] auth = true``).

With auth on, every request except the health and metrics paths (which probes and Prometheus
call without credentials) must carry ``Authorization: Bearer <token>`` of an active user or
service account whose roles grant ``predict`` (viewer, developer, deployer and admin do). Tokens
are the platform's own (stored hashed, with expiry and revocation); an answer is cached for a few
seconds per token, so the hot path pays a dictionary lookup, and a revocation takes effect within
that window. A missing or bad token gets a 401 with ``WWW-Authenticate: Bearer``, a token
without the permission a 403, both as ``{"error": ...}`` bodies like every other error here.

The server checks tokens against the metadata store directly, so ``--auth`` needs the store
(``SLIPWAY_STORE_URI``, or the embedded default), not a platform server URL.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.types import Scope

from slipway.core.errors import InvalidInput, PermissionDenied, Unauthenticated
from slipway.identity.authenticator import Authenticator
from slipway.serving.handler import Answer

PERMISSION = "predict"
PUBLIC_PATHS = frozenset({"/metrics", "/healthz", "/readyz", "/ping", "/health", "/", "/v2/health/live",
                          "/v2/health/ready"})


class InferenceAuth:
    """Decides, from a request's headers alone, whether it may reach the models."""

    def __init__(self, authenticator: Authenticator) -> None:
        self._authenticator = authenticator

    @classmethod
    def for_workspace(cls, workspace: Any) -> InferenceAuth:
        """Check tokens against ``workspace``'s metadata store.

        Raises:
            InvalidInput: the workspace is remote (there is no store to check tokens in).
        """
        if workspace.remote:
            raise InvalidInput("serving with --auth checks tokens in the metadata store: set SLIPWAY_STORE_URI "
                               "(or use the embedded store), not SLIPWAY_SERVER_URL")
        return cls(Authenticator(workspace.backend("governance").ctx.db, workspace.settings))

    def denied(self, scope: Scope) -> Answer | None:
        """None when the request may go on; otherwise the 401 or 403 answer to send instead."""
        if scope["path"] in PUBLIC_PATHS:
            return None
        header = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"authorization"), None)
        try:
            self._authenticator.principal_for(header).require(PERMISSION, "call the models of this server")
        except Unauthenticated as err:
            return Answer(401, orjson.dumps({"error": err.message}), [(b"www-authenticate", b"Bearer")])
        except PermissionDenied as err:
            return Answer(403, orjson.dumps({"error": err.message}))
        return None
