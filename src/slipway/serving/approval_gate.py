"""Which registered versions ``slipway serve MODEL_REF`` may serve: the governance policy.

A version in state ``approved`` or ``deployed`` is always served. Any other (``registered``,
``validated``, ``pending_approval``, ``rejected``, ``revoked``, ``retired``) is refused, unless
the server is told ``allow_unapproved`` (``slipway serve … --allow-unapproved``, for development)
and its ``environment`` (``[serving] environment``, ``development`` by default) is not one of the
``protected_environments`` (``production`` and ``staging`` by default), where nothing unapproved
is ever served. Deployments apply the same rule to their stable and canary variants when applied.
"""

from __future__ import annotations

import logging
from typing import Any

from slipway.core.errors import Conflict
from slipway.serving.options import ServeOptions

log = logging.getLogger("slipway.serving")
SERVABLE_STATES = ("approved", "deployed")


def check_servable(version: Any, options: ServeOptions) -> None:
    """Refuse to serve ``version`` (a registry ModelVersion) when the policy says so.

    Raises:
        Conflict: the version is not approved and the server may not serve it; the message says
            its state and what would allow it.
    """
    state = getattr(version, "state", "approved")
    if state in SERVABLE_STATES:
        return
    label = f"model {version.name} version {version.version} is {state!r}, not approved"
    if options.environment in options.protected_environments:
        raise Conflict(f"{label}; the {options.environment!r} environment serves only approved or deployed "
                       "versions (request approval first)")
    if not options.allow_unapproved:
        raise Conflict(f"{label}; request approval, or pass --allow-unapproved to serve it for development")
    log.warning("%s; serving it anyway (--allow-unapproved, environment %r)", label, options.environment)
