"""The Helm chart ``deploy/helm/slipway``, rendered offline by Helm's own engine (see
:mod:`tests.deploy.helm`) and validated against the Kubernetes JSON schemas (kubernetes-validate,
strict: no field the schema does not know)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import kubernetes_validate
import pytest

from slipway.deploy.render import render_manifests
from tests.deploy.helm import ROOT, Helm

CHART = ROOT / "deploy" / "helm" / "slipway"
K8S = "1.30"
INFERENCE = [{"name": "maintenance", "image": "slipway-serve:0.1.0-0123456789ab", "replicas": 3},
             {"name": "Recs_Model", "workers": 4}]


@pytest.fixture(scope="module")
def helm() -> Helm:
    return Helm()


def _by(objects: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(o["kind"], o["metadata"]["name"]): o for o in objects}


def _validate(objects: list[dict[str, Any]]) -> None:
    for obj in objects:
        if obj["kind"] == "ServiceMonitor":
            continue  # a prometheus-operator CRD: no schema ships offline (checked field by field below)
        kubernetes_validate.validate(obj, K8S, strict=True)


def _env(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("valueFrom", e.get("value")) for e in container["env"]}


def test_chart_lints_clean(helm: Helm, tmp_path: Path) -> None:
    report = helm.lint(CHART, tmp_path)
    assert report["TotalChartsLinted"] == 1 and not report["Errors"]
    # Severity 1 is INFO (the chart has no icon); warnings (2) and errors (3+) fail.
    assert all(m["Severity"] <= 1 for m in report["Messages"]), report["Messages"]


def test_rendered_chart_validates_and_wires_every_component(helm: Helm, tmp_path: Path) -> None:
    values = {"inference": INFERENCE, "server": {"replicas": 3, "ingress": {"enabled": True, "className": "nginx",
                                                                          "tlsSecret": "slipway-tls"}}}
    objects, release = helm.render(CHART, values, tmp_path)
    assert release["info"]["status"] == "deployed"
    _validate(objects)
    found = _by(objects)
    assert set(found) == {
        ("ServiceAccount", "slipway"), ("Deployment", "slipway-server"), ("Service", "slipway-server"),
        ("PodDisruptionBudget", "slipway-server"), ("Ingress", "slipway-server"), ("Deployment", "slipway-scheduler"),
        ("Deployment", "maintenance"), ("Service", "maintenance"), ("Deployment", "recs-model"),
        ("Service", "recs-model"), ("ServiceMonitor", "slipway")}
    assert not [o for o in objects if o["kind"] == "Secret"]  # credentials are referenced, never written

    server = found["Deployment", "slipway-server"]
    assert server["spec"]["replicas"] == 3
    container = server["spec"]["template"]["spec"]["containers"][0]
    assert container["args"] == ["server", "--host", "0.0.0.0", "--port", "5050", "--workers", "2"]
    env = _env(container)
    assert env["SLIPWAY_STORE_URI"] == {"secretKeyRef": {"name": "slipway-store", "key": "uri"}}
    assert env["SLIPWAY_ARTIFACTS_URI"] == {"secretKeyRef": {"name": "slipway-store", "key": "artifacts"}}
    assert env["SLIPWAY_ONLINE_STORE"] == {"secretKeyRef": {"name": "slipway-redis", "key": "url"}}
    assert env["SLIPWAY_BOOTSTRAP_TOKEN"]["secretKeyRef"]["name"] == "slipway-auth"
    assert container["envFrom"] == [{"secretRef": {"name": "slipway-s3"}}]
    # The Service selects the server pods only; the ServiceMonitor scrapes every http port of the release.
    assert found["Service", "slipway-server"]["spec"]["selector"] == server["spec"]["selector"]["matchLabels"]
    assert found["Ingress", "slipway-server"]["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"][
        "name"] == "slipway-server"

    scheduler = found["Deployment", "slipway-scheduler"]["spec"]["template"]["spec"]["containers"][0]
    assert scheduler["args"] == ["scheduler", "--poll", "5"]
    assert _env(scheduler)["SLIPWAY_STORE_URI"] == env["SLIPWAY_STORE_URI"]

    monitor = found["ServiceMonitor", "slipway"]
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["spec"]["selector"]["matchLabels"] == {"app.kubernetes.io/name": "slipway",
                                                          "app.kubernetes.io/instance": "slipway"}
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": ["slipway"]}
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["port"] == "http" and endpoint["path"] == "/metrics"
    assert endpoint["bearerTokenSecret"] == {"name": "slipway-auth", "key": "metrics_token", "optional": True}
    labelled = [o for o in objects if o["kind"] == "Service"]
    for service in labelled:
        assert all(service["metadata"]["labels"][k] == v for k, v in monitor["spec"]["selector"]["matchLabels"].items())
        assert [p["name"] for p in service["spec"]["ports"]] == ["http"]


def test_inference_deployments_match_deploy_render(helm: Helm, tmp_path: Path) -> None:
    """The chart serves a deployment with the container `slipway deploy render` gives it."""
    objects, _ = helm.render(CHART, {"inference": INFERENCE}, tmp_path)
    found = _by(objects)
    rendered = render_manifests(SimpleNamespace(name="maintenance", revision=1),  # type: ignore[arg-type]
                                "kubernetes", INFERENCE[0]["image"], namespace="slipway")
    expected = rendered[0]["spec"]["template"]
    chart = found["Deployment", "maintenance"]
    assert chart["spec"]["replicas"] == 3
    theirs, ours = expected["spec"]["containers"][0], chart["spec"]["template"]["spec"]["containers"][0]
    for field in ("image", "args", "ports", "readinessProbe", "livenessProbe", "resources"):
        assert ours[field] == theirs[field], field
    assert {k: v for k, v in _env(ours).items() if k in _env(theirs)} == _env(theirs)
    assert chart["spec"]["template"]["metadata"]["annotations"] == expected["metadata"]["annotations"]
    assert chart["spec"]["strategy"] == rendered[0]["spec"]["strategy"]
    assert found["Service", "maintenance"]["spec"]["ports"] == rendered[1]["spec"]["ports"]
    # A deployment name is made a DNS label the same way; the platform image is the default.
    recs = found["Deployment", "recs-model"]["spec"]["template"]["spec"]["containers"][0]
    assert recs["args"][:3] == ["serve", "--deployment", "Recs_Model"] and recs["args"][-1] == "4"
    assert recs["image"] == "slipway-serve:0.1.0"


def test_optional_components_and_bad_values(helm: Helm, tmp_path: Path) -> None:
    objects, _ = helm.render(CHART, {"scheduler": {"enabled": False}, "metrics": {"serviceMonitor": {"enabled": False}},
                                     "redis": {"secret": ""}, "stores": {"secret": "pg", "s3Secret": ""},
                                     "server": {"podDisruptionBudget": None}}, tmp_path)
    _validate(objects)
    kinds = sorted((o["kind"], o["metadata"]["name"]) for o in objects)
    assert kinds == [("Deployment", "slipway-server"), ("Service", "slipway-server"), ("ServiceAccount", "slipway")]
    container = _by(objects)["Deployment", "slipway-server"]["spec"]["template"]["spec"]["containers"][0]
    assert "SLIPWAY_ONLINE_STORE" not in _env(container) and "envFrom" not in container
    assert _env(container)["SLIPWAY_STORE_URI"]["secretKeyRef"]["name"] == "pg"

    # values.schema.json: Helm refuses values of the wrong shape before rendering anything.
    for bad in ({"server": {"replicas": "two"}}, {"inference": [{"image": "x:1"}]}, {"stores": {"secret": ""}}):
        with pytest.raises(RuntimeError, match=r"values don.t meet the specifications|schema"):
            helm.render(CHART, bad, tmp_path)
