"""The public surface, pinned (in the manner of httpx's exported-members test): what ``import
slipway`` exports, which services a workspace has, and that every service method that forwards
to a backend endpoint has the endpoint's signature (names, order and defaults), so a copied
signature cannot drift from the one the server publishes."""

from __future__ import annotations

import inspect

import slipway
from slipway.core.auth import endpoints_of
from slipway.core.domains import DOMAINS
from slipway.local.backends import backend_class
from slipway.workspace import SERVICE_PATHS, Workspace

EXPORTED = {
    "ActiveRun", "AlreadyExists", "BackendUnavailable", "Conflict", "IntegrityError", "InvalidInput", "NotFound",
    "PermissionDenied", "SlipwayError", "Unauthenticated", "Workspace", "active_run", "autolog", "connect",
    "default_workspace", "end_run", "generate_signing_key", "load_model", "log_artifact", "log_input", "log_metric",
    "log_metrics", "log_model", "log_param", "log_params", "search_runs", "serve_in_background", "set_tag", "set_tags",
    "start_run",
}
SERVICES = {"tracking", "audit", "identity", "data", "registry", "lineage", "governance", "pipelines", "serving",
            "monitoring", "features"}
# Service attribute -> backend name, from the one table of domains (ws.serving is the deploy backend).
BACKEND_OF = {d.service_attribute: d.name for d in DOMAINS}


def test_import_slipway_exports_exactly_the_public_names() -> None:
    assert set(slipway.__all__) == EXPORTED
    for name in EXPORTED:
        assert getattr(slipway, name) is not None


def test_a_workspace_has_one_typed_property_per_service() -> None:
    assert set(SERVICE_PATHS) == SERVICES
    for name in SERVICES:
        prop = getattr(Workspace, name)
        assert isinstance(prop, property) and prop.fget is not None, name
        # typed against the service class (a string: the classes are imported for type checking only)
        assert prop.fget.__annotations__["return"] == SERVICE_PATHS[name].partition(":")[2], name


def _forwarded(service_cls: type) -> dict[str, inspect.Signature]:
    """Service methods whose body is ``return self._backend.<same name>(...)``."""
    found = {}
    for name, member in inspect.getmembers(service_cls, inspect.isfunction):
        if name.startswith("_"):
            continue
        source = inspect.getsource(member)
        if f"self._backend.{name}(" in source:
            found[name] = inspect.signature(member)
    return found


def _parameters(signature: inspect.Signature) -> list[tuple[str, object]]:
    return [(p.name, p.default) for p in list(signature.parameters.values())[1:]
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]


def test_service_methods_have_their_backend_endpoints_signatures() -> None:
    import importlib

    checked, drifted = 0, []
    for service, path in SERVICE_PATHS.items():
        module, _, cls_name = path.partition(":")
        service_cls = getattr(importlib.import_module(module), cls_name)
        backend_cls = backend_class(BACKEND_OF[service])
        endpoints = endpoints_of(backend_cls)
        for name, signature in _forwarded(service_cls).items():
            if name not in endpoints:
                continue
            ours, theirs = _parameters(signature), _parameters(inspect.signature(getattr(backend_cls, name)))
            checked += 1
            # the service may take fewer arguments (it fills some in), never other names or defaults
            theirs_by_name = dict(theirs)
            for arg, default in ours:
                if arg in theirs_by_name and default is not inspect.Parameter.empty \
                        and theirs_by_name[arg] is not inspect.Parameter.empty and default != theirs_by_name[arg]:
                    drifted.append(f"{service}.{name}({arg}={default!r}) but the endpoint has {theirs_by_name[arg]!r}")
    assert checked > 50
    assert drifted == [], drifted
