"""The :class:`Workspace`: one object whose attributes are the services, embedded or remote.

``slipway.connect()`` builds one. Which transport it uses is a URI: ``sqlite:///…`` or
``postgresql://…`` (or nothing: the embedded default under ``SLIPWAY_HOME``) talks to the stores
directly; ``http(s)://…`` talks to a ``slipway server``. The services are the same classes either
way, so calls, results and errors are the same.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from slipway.blobs.store import BlobStore
from slipway.core.domains import SERVICE_PATHS
from slipway.core.settings import Settings, load_settings

if TYPE_CHECKING:
    from slipway.audit.service import AuditService
    from slipway.data.service import DataService
    from slipway.deploy.service import DeployService
    from slipway.features.service import FeaturesService
    from slipway.governance.service import GovernanceService
    from slipway.identity.service import IdentityService
    from slipway.lineage.service import LineageService
    from slipway.monitoring.service import MonitoringService
    from slipway.pipelines.service import PipelineService
    from slipway.registry.service import RegistryService
    from slipway.tracking.service import TrackingService



class Workspace:
    """Every Slipway service, over one transport. Services are created on first use."""

    def __init__(self, settings: Settings, transport: Any) -> None:
        self.settings = settings
        self._transport = transport
        self._services: dict[str, Any] = {}

    @property
    def remote(self) -> bool:
        return bool(self._transport.remote)

    @property
    def blobs(self) -> BlobStore:
        return self._transport.blobs

    @property
    def principal(self) -> Any:
        return self._transport.principal

    def backend(self, name: str) -> Any:
        return self._transport.backend(name)

    def service(self, name: str) -> Any:
        if name not in self._services:
            module_name, _, class_name = SERVICE_PATHS[name].partition(":")
            cls = getattr(importlib.import_module(module_name), class_name)
            self._services[name] = cls(self)
        return self._services[name]

    @property
    def tracking(self) -> TrackingService:
        return self.service("tracking")

    @property
    def audit(self) -> AuditService:
        return self.service("audit")

    @property
    def identity(self) -> IdentityService:
        return self.service("identity")

    @property
    def data(self) -> DataService:
        return self.service("data")

    @property
    def registry(self) -> RegistryService:
        return self.service("registry")

    @property
    def lineage(self) -> LineageService:
        return self.service("lineage")

    @property
    def governance(self) -> GovernanceService:
        return self.service("governance")

    @property
    def pipelines(self) -> PipelineService:
        return self.service("pipelines")

    @property
    def serving(self) -> DeployService:
        return self.service("serving")

    @property
    def monitoring(self) -> MonitoringService:
        return self.service("monitoring")

    @property
    def features(self) -> FeaturesService:
        return self.service("features")

    def close(self) -> None:
        tracking = self._services.get("tracking")
        try:
            if tracking is not None:
                tracking.close()
        finally:
            self._transport.close()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        where = self.settings.server_url if self.remote else self.settings.resolved_store_uri
        return f"Workspace({where!r})"


def settings_for_uri(uri: str | None, **overrides: Any) -> Settings:
    if uri:
        if uri.startswith(("http://", "https://")):
            overrides["server_url"] = uri
        elif "://" in uri:
            overrides["store_uri"] = uri
            overrides.setdefault("server_url", "")
        else:
            overrides["home"] = uri
    return load_settings(**overrides)


def open_workspace(settings: Settings) -> Workspace:
    if settings.remote:
        from slipway.client.transport import RemoteTransport

        return Workspace(settings, RemoteTransport(settings))
    from slipway.local.transport import LocalTransport

    return Workspace(settings, LocalTransport(settings))


def connect(uri: str | None = None, **overrides: Any) -> Workspace:
    """Open a workspace and make it the default for the module-level functions.

    Args:
        uri: ``sqlite:///path.db``, ``postgresql://host/db``, ``http(s)://server``, or a folder to
            use as ``SLIPWAY_HOME``. Without it, settings come from ``SLIPWAY_*`` and ``slipway.toml``.
        overrides: any :class:`~slipway.core.settings.Settings` field, e.g. ``token=…``, ``user=…``.
    """
    workspace = open_workspace(settings_for_uri(uri, **overrides))
    set_default(workspace)
    return workspace


_default: Workspace | None = None


def set_default(workspace: Workspace | None) -> None:
    global _default
    _default = workspace


def default_workspace() -> Workspace:
    global _default
    if _default is None:
        _default = open_workspace(load_settings())
    return _default
