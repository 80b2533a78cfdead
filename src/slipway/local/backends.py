"""Every service backend by name, as ``module:Class`` so optional domains import only when used.

The server publishes each backend's endpoints under ``/api/v1/<name>/<method>``; the remote
client proxies the same names. A domain adds one line here to be reachable embedded and remote.
"""

from __future__ import annotations

import functools
import importlib

BACKEND_PATHS: dict[str, str] = {
    "audit": "slipway.audit.backend:AuditBackend",
    "identity": "slipway.governance.identity:IdentityBackend",
    "tracking": "slipway.tracking.backend:TrackingBackend",
    "data": "slipway.data.backend:DataBackend",
    "registry": "slipway.registry.backend:RegistryBackend",
    "lineage": "slipway.lineage.backend:LineageBackend",
    "governance": "slipway.governance.backend:GovernanceBackend",
    "pipelines": "slipway.pipelines.backend:PipelineBackend",
    "deploy": "slipway.deploy.backend:DeployBackend",
    "monitoring": "slipway.monitoring.backend:MonitoringBackend",
    "features": "slipway.features.backend:FeaturesBackend",
}


@functools.cache
def backend_class(name: str) -> type:
    module_name, _, class_name = BACKEND_PATHS[name].partition(":")
    return getattr(importlib.import_module(module_name), class_name)  # type: ignore[no-any-return]


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
