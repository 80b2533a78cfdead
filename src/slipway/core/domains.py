"""The one table of domains: each backend's name and class, and the workspace service over it.

A backend's name is where the server publishes it (``/api/v1/<name>/<method>``) and what
``host.backend(name)`` returns; its service is ``ws.<attribute>`` (the attribute is the name,
except ``ws.serving`` over the ``deploy`` backend). Classes are ``"module:Class"`` strings so
a domain's modules (and its optional dependencies) load only when used. A new domain adds one
line here (and a typed property to :class:`slipway.workspace.Workspace`).
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class Domain:
    name: str
    backend: str
    service: str
    attribute: str = ""

    @property
    def service_attribute(self) -> str:
        return self.attribute or self.name


DOMAINS: tuple[Domain, ...] = (
    Domain("audit", "slipway.audit.backend:AuditBackend", "slipway.audit.service:AuditService"),
    Domain("identity", "slipway.identity.users:IdentityBackend", "slipway.identity.service:IdentityService"),
    Domain("tracking", "slipway.tracking.backend:TrackingBackend", "slipway.tracking.service:TrackingService"),
    Domain("data", "slipway.data.backend:DataBackend", "slipway.data.service:DataService"),
    Domain("registry", "slipway.registry.backend:RegistryBackend", "slipway.registry.service:RegistryService"),
    Domain("lineage", "slipway.lineage.backend:LineageBackend", "slipway.lineage.service:LineageService"),
    Domain("governance", "slipway.governance.backend:GovernanceBackend", "slipway.governance.service:GovernanceService"),
    Domain("pipelines", "slipway.pipelines.backend:PipelineBackend", "slipway.pipelines.service:PipelineService"),
    Domain("deploy", "slipway.deploy.backend:DeployBackend", "slipway.deploy.service:DeployService", "serving"),
    Domain("monitoring", "slipway.monitoring.backend:MonitoringBackend", "slipway.monitoring.service:MonitoringService"),
    Domain("features", "slipway.features.backend:FeaturesBackend", "slipway.features.service:FeaturesService"),
)

BACKEND_PATHS: dict[str, str] = {d.name: d.backend for d in DOMAINS}
SERVICE_PATHS: dict[str, str] = {d.service_attribute: d.service for d in DOMAINS}
