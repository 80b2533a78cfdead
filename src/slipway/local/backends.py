"""Every service backend by name, as ``module:Class`` so optional domains import only when used.

The server publishes each backend's endpoints under ``/api/v1/<name>/<method>``; the remote
client proxies the same names. The table itself is :data:`slipway.core.domains.DOMAINS`.
"""

from __future__ import annotations

import functools
import importlib

from slipway.core.domains import BACKEND_PATHS

__all__ = ["BACKEND_PATHS", "available_backends", "backend_class"]


@functools.cache
def backend_class(name: str) -> type:
    module_name, _, class_name = BACKEND_PATHS[name].partition(":")
    return getattr(importlib.import_module(module_name), class_name)


def available_backends() -> dict[str, type]:
    """The backends whose modules exist in this installation."""
    found = {}
    for name, path in BACKEND_PATHS.items():
        try:
            found[name] = backend_class(name)
        except ModuleNotFoundError as err:
            if err.name and path.partition(":")[0].startswith(err.name):
                continue
            raise
    return found
