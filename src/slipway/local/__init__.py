"""Embedded mode: backends talking to the stores directly (also what the server runs)."""

from slipway.local.backends import BACKEND_PATHS, available_backends, backend_class
from slipway.local.transport import SERVER_PRINCIPAL, LocalTransport

__all__ = ["BACKEND_PATHS", "SERVER_PRINCIPAL", "LocalTransport", "available_backends", "backend_class"]
