"""Embedded mode: backends talking to the stores directly (also what the server runs)."""

from slipway.local.backends import BACKEND_PATHS, available_backends, backend_class
from slipway.local.transport import LocalTransport

__all__ = ["BACKEND_PATHS", "LocalTransport", "available_backends", "backend_class"]
