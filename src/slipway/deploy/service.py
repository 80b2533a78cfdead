"""``ws.serving``: deployments as users drive them, the same embedded and remote.

Apply a YAML spec, watch its status (with the shadow comparison and canary numbers), promote or
roll back, read the history, read the payload log back as one Arrow table, attach feedback and
compare variants on it, and render Kubernetes or KServe manifests.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from slipway.core.activity import report_created
from slipway.core.errors import InvalidInput
from slipway.core.yaml_errors import yaml_problem
from slipway.deploy.outcomes import outcome_metrics
from slipway.deploy.records import Deployment, DeploymentStatus, HistoryEntry, PayloadSegment
from slipway.store.context import Host

if TYPE_CHECKING:
    from slipway.deploy.backend import DeployBackend
    from slipway.store.leases import Lease


def read_spec(spec: str | Path | dict[str, Any]) -> dict[str, Any]:
    """A spec from a mapping, a YAML file path, or YAML text."""
    if isinstance(spec, dict):
        return spec
    text = str(spec)
    if isinstance(spec, Path) or (len(text) < 4096 and "\n" not in text and Path(text).suffix in {".yaml", ".yml"}):
        path = Path(text)
        if not path.is_file():
            raise InvalidInput(f"deployment spec file {text} does not exist")
        text = path.read_text()
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise InvalidInput(f"the deployment spec is not valid YAML: {yaml_problem(err)}") from err
    if not isinstance(data, dict):
        raise InvalidInput("the deployment spec must be a YAML mapping with name and variants")
    return data


class DeployService:
    def __init__(self, host: Host) -> None:
        self._host = host
        self._backend: DeployBackend = host.backend("deploy")

    def apply(self, spec: str | Path | dict[str, Any]) -> Deployment:
        """Create or update a deployment from a spec (mapping, YAML path or YAML text)."""
        deployment: Deployment = self._backend.apply(read_spec(spec))
        report_created("deployment", deployment.name, "deployed")
        return deployment

    def get(self, name: str) -> Deployment:
        return self._backend.get(name)

    def list_deployments(self) -> list[Deployment]:
        return self._backend.list_deployments()

    def delete(self, name: str, reason: str = "deleted") -> Deployment:
        """Take a deployment out of service, keeping its history (see ``DeployBackend.delete``)."""
        return self._backend.delete(name, reason)

    def status(self, name: str) -> DeploymentStatus:
        return self._backend.status(name)

    def history(self, name: str, limit: int = 100) -> list[HistoryEntry]:
        return self._backend.history(name, limit)

    def promote(self, name: str, reason: str = "manual promotion") -> Deployment:
        return self._backend.promote(name, reason)

    def rollback(self, name: str, reason: str = "manual rollback") -> Deployment:
        return self._backend.rollback(name, reason)

    def canary_tick(self, name: str, lease_token: int | None = None) -> dict[str, Any]:
        """Run one canary evaluation now (the server's controller does this on a timer, passing
        the fencing token of its ``controller_lease``; a stale token is ``LeaseLost``)."""
        return self._backend.canary_tick(name, lease_token)

    def controller_lease(self, name: str, holder: str, ttl_s: float = 30.0, now: int | None = None) -> Lease | None:
        """Take or renew the lease on controlling ``name``'s canary (see :mod:`slipway.store.leases`)."""
        return self._backend.controller_lease(name, holder, ttl_s, now)

    def release_controller_lease(self, name: str, holder: str, token: int) -> bool:
        return self._backend.release_controller_lease(name, holder, token)

    def add_feedback(self, deployment: str, items: list[dict[str, Any]]) -> int:
        return self._backend.add_feedback(deployment, items)

    def feedback(self, name: str) -> dict[str, Any]:
        """Every label posted for the deployment's requests, by request id."""
        return self._backend.feedback(name)

    def payload_segments(self, name: str, since_ms: int = 0) -> list[PayloadSegment]:
        return self._backend.payload_segments(name, since_ms)

    def payload_log(self, name: str, since_ms: int = 0) -> pa.Table:
        """Every logged row of the deployment (one row per predicted row), as one Arrow table."""
        tables = [pq.read_table(io.BytesIO(self._host.blobs.read_bytes(s.digest)))
                  for s in self.payload_segments(name, since_ms)]
        if not tables:
            return pa.table({"request_id": pa.array([], pa.string())})
        return pa.concat_tables(tables, promote_options="permissive")

    def outcomes(self, name: str) -> dict[str, dict[str, Any]]:
        """Per-variant outcome metrics on the requests that have feedback (accuracy, MAE, …)."""
        return outcome_metrics(self.payload_log(name), self._backend.feedback(name))

    def render(self, name: str, target: str = "kubernetes", image: str = "", namespace: str = "default") -> list[dict[str, Any]]:
        """Kubernetes (Deployment + Service) or KServe (InferenceService) manifests for a deployment.

        ``image`` defaults to the one ``slipway build --deployment NAME`` builds (same name and tag)."""
        from slipway.deploy.image import deployment_bundle_requirements, image_name, image_requirements
        from slipway.deploy.render import render_manifests

        deployment = self.get(name)
        if not image:
            image = image_name(image_requirements(deployment_bundle_requirements(self._host, deployment.variants)))
        return render_manifests(deployment, target, image=image, namespace=namespace)
