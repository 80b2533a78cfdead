"""Kubernetes and KServe manifests for a deployment.

``kubernetes``: a Deployment running ``slipway serve --deployment NAME`` (Slipway's own router
does the canary split, shadowing and payload logging) with probes on ``/healthz`` and ``/readyz``
and Prometheus scrape annotations, plus a Service. ``kserve``: one ``serving.kserve.io/v1beta1``
InferenceService per deployment, whose predictor is the same image serving the stable variant and,
when a canary exists, ``canaryTrafficPercent`` set to the canary's current weight.
"""

from __future__ import annotations

import re
from typing import Any

from slipway.core.errors import InvalidInput
from slipway.deploy.records import Deployment

TARGETS = ("kubernetes", "kserve")
DEFAULT_IMAGE = "slipway-serve:latest"


def k8s_name(name: str) -> str:
    """A DNS-1123 label from a deployment name (lowercase, dashes, at most 63 characters)."""
    label = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")[:63].strip("-")
    if not label:
        raise InvalidInput(f"deployment name {name!r} has no characters usable in a Kubernetes name")
    return label


def _container(deployment: Deployment, image: str, args: list[str]) -> dict[str, Any]:
    return {
        "name": "server", "image": image, "args": args,
        "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
        "env": [{"name": "SLIPWAY_STORE_URI", "valueFrom": {"secretKeyRef": {"name": "slipway-store", "key": "uri"}}},
                {"name": "SLIPWAY_ARTIFACTS_URI", "valueFrom": {"secretKeyRef": {"name": "slipway-store",
                                                                                 "key": "artifacts"}}}],
        "readinessProbe": {"httpGet": {"path": "/readyz", "port": "http"}, "periodSeconds": 5},
        "livenessProbe": {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 10},
        "resources": {"requests": {"cpu": "500m", "memory": "512Mi"}, "limits": {"memory": "2Gi"}},
    }


def render_manifests(deployment: Deployment, target: str, image: str = "", namespace: str = "default") -> list[dict[str, Any]]:
    """The manifests for ``target`` (``kubernetes`` or ``kserve``) as plain dicts, ready for YAML."""
    if target not in TARGETS:
        raise InvalidInput(f"unknown render target {target!r}; use one of {list(TARGETS)}")
    name = k8s_name(deployment.name)
    image = image or DEFAULT_IMAGE
    labels = {"app.kubernetes.io/name": name, "app.kubernetes.io/managed-by": "slipway"}
    meta: dict[str, Any] = {"name": name, "namespace": namespace, "labels": labels,
            "annotations": {"slipway.dev/revision": str(deployment.revision)}}
    serve_args = ["serve", "--deployment", deployment.name, "--host", "0.0.0.0", "--port", "8080"]
    if target == "kubernetes":
        return [
            {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta, "spec": {
                "replicas": 2, "selector": {"matchLabels": labels},
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
                "template": {
                    "metadata": {"labels": labels, "annotations": {
                        "prometheus.io/scrape": "true", "prometheus.io/port": "8080", "prometheus.io/path": "/metrics"}},
                    "spec": {"containers": [_container(deployment, image, serve_args)],
                             "terminationGracePeriodSeconds": 30}}}},
            {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": namespace, "labels": labels},
             "spec": {"selector": labels, "ports": [{"name": "http", "port": 80, "targetPort": "http",
                                                     "protocol": "TCP"}]}},
        ]
    stable = next(v for v in deployment.variants if v.role == "stable")
    canary = next((v for v in deployment.variants if v.role == "canary"), None)
    serving = canary or stable
    predictor: dict[str, Any] = {"containers": [{
        **_container(deployment, image, ["serve", f"{serving.model}/{serving.version}", "--host", "0.0.0.0",
                                         "--port", "8080"]),
        "name": "kserve-container"}]}
    if canary is not None:
        predictor["canaryTrafficPercent"] = round(canary.weight)
    return [{"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
             "metadata": {**meta, "annotations": {**meta["annotations"], "serving.kserve.io/enable-prometheus-scraping":
                                                  "true"}},
             "spec": {"predictor": predictor}}]
