"""``slipway argocd``: the Argo CD Application per environment and what it syncs, validated offline
(kubernetes-validate, strict, for the Kubernetes kinds; the Application against a schema written
from Argo CD's CRD, tests/gitops/schemas/), and deploy/argocd/ kept as the sample folder renders it."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from slipway.core.errors import InvalidInput
from slipway.deploy.records import Deployment
from slipway.deploy.render import render_manifests
from slipway.gitops.argocd import ArgoEnvironment, render_environment, write_environment

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "deploy" / "argocd"
APPLICATION = json.loads((Path(__file__).parent / "schemas" / "argocd-application-v1alpha1.json").read_text())
K8S = "1.30"
REPO = "https://git.example.com/platform/slipway-platform.git"
ENVIRONMENTS = {  # as deploy/argocd/ was rendered (docs/gitops.md)
    "staging": ArgoEnvironment("staging", REPO, "main", "deploy/argocd", "deploy/argocd/platform"),
    "production": ArgoEnvironment("production", REPO, "production", "deploy/argocd", "deploy/argocd/platform",
                                  target="kserve", automated=False),
}


def _validate(obj: dict[str, Any]) -> None:
    if obj["kind"] == "Application":
        jsonschema.validate(obj, APPLICATION)
    elif obj["kind"] == "InferenceService":  # its predictor is a pod spec: valid Kubernetes containers
        assert set(obj["spec"]) == {"predictor"} and set(obj["spec"]["predictor"]) == {"containers"}
        kubernetes_validate.validate({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "check"},
                                      "spec": obj["spec"]["predictor"]}, K8S, strict=True)
    else:
        kubernetes_validate.validate(obj, K8S, strict=True)


@pytest.mark.parametrize("name", list(ENVIRONMENTS))
def test_committed_environments_are_what_the_folder_renders_and_validate(name: str) -> None:
    env = ENVIRONMENTS[name]
    files = render_environment(SAMPLE / "platform", env)
    assert set(files) == {f"{name}.yaml", f"{name}/slipway-apply.yaml", f"{name}/credit-prod.yaml",
                          f"{name}/fraud-prod.yaml"}
    for relative, objects in files.items():
        committed = [o for o in yaml.safe_load_all((SAMPLE / relative).read_text()) if o]
        assert committed == objects, f"deploy/argocd/{relative} is stale: render it again (docs/gitops.md)"
        for obj in objects:
            _validate(obj)
    (app,) = files[f"{name}.yaml"]
    assert app["spec"]["source"] == {"repoURL": REPO, "targetRevision": env.revision, "path": f"deploy/argocd/{name}",
                                     "directory": {"recurse": False}}
    assert app["spec"]["destination"]["namespace"] == f"slipway-{name}"
    assert ("automated" in app["spec"]["syncPolicy"]) == (name == "staging")  # production: a person syncs
    (job,) = files[f"{name}/slipway-apply.yaml"]
    assert job["metadata"]["annotations"]["argocd.argoproj.io/hook"] == "PreSync"
    pod = job["spec"]["template"]["spec"]
    assert f'--branch "{env.revision}"' in pod["initContainers"][0]["command"][2]
    (apply,) = pod["containers"]
    assert apply["args"] == ["apply", "/repo/deploy/argocd/platform", "--prune"]
    # Secrets referenced, never rendered: the token and the webhook's secret come from Secrets.
    refs = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in apply["env"]}
    assert refs["SLIPWAY_TOKEN"] == {"name": "slipway-gitops", "key": "token"}
    assert refs["CAB_WEBHOOK_SECRET"] == {"name": "slipway-webhook-secrets", "key": "CAB_WEBHOOK_SECRET"}
    # What each deployment runs is what `slipway deploy render` gives it (less the live revision).
    served = files[f"{name}/credit-prod.yaml"]
    rendered = render_manifests(Deployment("credit-prod", 7, "stable", [], {}, 0, 0, 0, 0), env.target,
                                image=env.image, namespace=f"slipway-{name}")
    assert [o["kind"] for o in served] == (["Deployment", "Service"] if name == "staging" else ["InferenceService"])
    assert [o["spec"] for o in served] == [o["spec"] for o in rendered]
    assert "slipway.dev/revision" not in json.dumps(served)


def test_a_deployment_removed_from_the_folder_is_removed_from_the_manifests(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "platform"
    folder.mkdir()
    (folder / "serving.yaml").write_text((SAMPLE / "platform" / "serving.yaml").read_text())
    out = tmp_path / "argocd"
    code, _, err = cli("argocd", str(folder), str(out), "--env", "staging", "--repo-url", REPO)
    assert code == 2 and "not in a Git repository" in err  # where is it in the repository?
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True, timeout=60)
    code, printed, err = cli("argocd", str(folder), str(out), "--env", "staging", "--repo-url", REPO)
    assert code == 0 and "wrote" in printed, err
    (app,) = [o for o in yaml.safe_load_all((out / "staging.yaml").read_text()) if o]
    assert app["spec"]["source"]["path"] == "argocd/staging"  # relative to the repository's root
    assert "/repo/platform" in (out / "staging" / "slipway-apply.yaml").read_text()
    assert sorted(p.name for p in (out / "staging").iterdir()) == ["credit-prod.yaml", "fraud-prod.yaml",
                                                                    "slipway-apply.yaml"]
    (folder / "serving.yaml").write_text("kind: deployment\nname: credit-prod\nvariants:\n"
                                         "  - {name: stable, model: credit@champion}\n")
    write_environment(folder, ENVIRONMENTS["staging"], out)  # Argo CD then prunes fraud-prod's pods
    assert sorted(p.name for p in (out / "staging").iterdir()) == ["credit-prod.yaml", "slipway-apply.yaml"]


def test_bad_environments_and_a_misspelt_application_are_refused(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidInput, match="unknown render target"):
        ArgoEnvironment("staging", REPO, target="helm")
    with pytest.raises(InvalidInput, match="repo_url"):
        ArgoEnvironment("staging", "")
    (app,) = render_environment(SAMPLE / "platform", ENVIRONMENTS["staging"])["staging.yaml"]
    app["spec"]["syncPolicy"]["automated"]["selfheal"] = True  # Argo CD would silently ignore it
    with pytest.raises(jsonschema.ValidationError, match="selfheal"):
        _validate(app)
    code, _, err = cli("argocd", str(tmp_path / "missing"), str(tmp_path / "out"), "--env", "staging",
                       "--repo-url", REPO, "--manifests-path", "out", "--platform-path", "missing")
    assert code == 2 and "missing" in err
