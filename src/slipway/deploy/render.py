"""Kubernetes and KServe manifests for a deployment.

Both targets run the image ``slipway build --deployment NAME`` makes (its name comes from
:mod:`slipway.deploy.image`), with the image's ENTRYPOINT (``slipway``) and ``args`` = ``serve
--deployment NAME …``: Slipway's own router loads every variant from the stores and splits traffic
by the deployment's current weights (stable and canary), mirrors shadows and logs payloads.

``kubernetes``: a Deployment with probes on ``/healthz`` and ``/readyz`` and Prometheus scrape
annotations, plus a Service. ``kserve``: one ``serving.kserve.io/v1beta1`` InferenceService whose
predictor is that same container. KServe's own ``canaryTrafficPercent`` is not used: it splits
between the *previous* and the latest revision of the InferenceService, so a fresh apply of a
canary would serve the canary at 100%; the router serves stable and canary at their weights from
the first request, and the canary controller steps them.
"""

from __future__ import annotations

import re
from typing import Any

from slipway.core.errors import InvalidInput
from slipway.deploy.image import serve_args
from slipway.deploy.records import Deployment

TARGETS = ("kubernetes", "kserve")


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


def render_manifests(deployment: Deployment, target: str, image: str, namespace: str = "default") -> list[dict[str, Any]]:
    """The manifests for ``target`` (``kubernetes`` or ``kserve``) as plain dicts, ready for YAML."""
    if target not in TARGETS:
        raise InvalidInput(f"unknown render target {target!r}; use one of {list(TARGETS)}")
    name = k8s_name(deployment.name)
    labels = {"app.kubernetes.io/name": name, "app.kubernetes.io/managed-by": "slipway"}
    meta: dict[str, Any] = {"name": name, "namespace": namespace, "labels": labels,
            "annotations": {"slipway.dev/revision": str(deployment.revision)}}
    args = serve_args(deployment=deployment.name)
    if target == "kubernetes":
        return [
            {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta, "spec": {
                "replicas": 2, "selector": {"matchLabels": labels},
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
                "template": {
                    "metadata": {"labels": labels, "annotations": {
                        "prometheus.io/scrape": "true", "prometheus.io/port": "8080", "prometheus.io/path": "/metrics"}},
                    "spec": {"containers": [_container(deployment, image, args)],
                             "terminationGracePeriodSeconds": 30}}}},
            {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": namespace, "labels": labels},
             "spec": {"selector": labels, "ports": [{"name": "http", "port": 80, "targetPort": "http",
                                                     "protocol": "TCP"}]}},
        ]
    predictor: dict[str, Any] = {"containers": [{**_container(deployment, image, args), "name": "kserve-container"}]}
    return [{"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
             "metadata": {**meta, "annotations": {**meta["annotations"], "serving.kserve.io/enable-prometheus-scraping":
                                                  "true"}},
             "spec": {"predictor": predictor}}]
