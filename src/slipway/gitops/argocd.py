"""Argo CD: the platform folder and its deployments run on Kubernetes, one ``Application`` per
environment.

:func:`render_environment` turns a platform folder into what Argo CD syncs for one environment:

- ``<env>.yaml``: an ``argoproj.io/v1alpha1`` ``Application`` whose source is ``<env>/`` in the
  same Git repository (at the environment's revision: a branch or tag) and whose destination is
  the environment's namespace; staging syncs automatically (prune and self-heal), production
  can be left to a manual sync;
- ``<env>/slipway-apply.yaml``: a ``PreSync`` hook ``Job`` that clones the repository at that
  revision and runs ``slipway apply <platform folder> --prune`` against the platform server, so
  the platform objects (feature views, pipelines, deployments, monitors, policies, webhooks)
  match the folder before any pod changes, and the commit lands in the audit ledger;
- ``<env>/<deployment>.yaml``: for each deployment the folder declares, the manifests ``slipway
  deploy render`` produces (a Deployment and a Service, or a KServe InferenceService). A
  deployment removed from the folder disappears from here too, so Argo CD prunes its pods while
  ``apply --prune`` takes it out of service.

Secrets are referenced, never rendered: the Job reads the server URL and token from the Secret
``slipway-gitops``, the webhook secrets the folder names (``secret_env``) from the Secret
``slipway-webhook-secrets``, and an optional clone URL with credentials from ``slipway-git``.
The rendered files hold no revision numbers of the live platform: the router follows a
deployment's revisions itself, so they change only when the folder does.
"""

from __future__ import annotations

import dataclasses
import subprocess
from pathlib import Path
from typing import Any

import yaml

from slipway.core.errors import InvalidInput
from slipway.deploy.image import IMAGE_REPOSITORY
from slipway.deploy.records import Deployment
from slipway.deploy.render import TARGETS, k8s_name, render_manifests
from slipway.deploy.spec import parse_spec
from slipway.gitops.folder import load_folder

API_VERSION = "argoproj.io/v1alpha1"
GIT_IMAGE = "alpine/git:2.45.2"


@dataclasses.dataclass(frozen=True)
class ArgoEnvironment:
    """One environment: where its manifests live in Git and where they run."""

    name: str  # staging, production, …
    repo_url: str  # the Git repository Argo CD and the apply Job read
    revision: str = "main"  # the branch or tag this environment follows
    manifests_path: str = "deploy/argocd"  # where <env>.yaml and <env>/ are in the repository
    platform_path: str = "platform"  # the platform folder, relative to the repository's root
    namespace: str = ""  # default: slipway-<name>
    target: str = "kubernetes"  # or kserve
    image: str = f"{IMAGE_REPOSITORY}:0.1.0"
    automated: bool = True  # sync on every push (prune, self-heal); False: a person presses sync
    project: str = "default"
    argocd_namespace: str = "argocd"
    server: str = "https://kubernetes.default.svc"

    def __post_init__(self) -> None:
        if self.target not in TARGETS:
            raise InvalidInput(f"unknown render target {self.target!r}; use one of {list(TARGETS)}")
        k8s_name(self.name)
        if not self.repo_url:
            raise InvalidInput("an Argo CD environment needs the Git repository's URL (repo_url)")

    @property
    def target_namespace(self) -> str:
        return self.namespace or f"slipway-{k8s_name(self.name)}"


def repository_path(path: str | Path) -> str:
    """``path`` relative to the root of the Git repository holding it (what Argo CD and the apply
    Job see); a relative path outside Git is taken as it is.

    Raises:
        InvalidInput: an absolute path outside a Git repository.
    """
    where = Path(path).resolve()
    probe = where if where.is_dir() else where.parent
    while not probe.exists():
        probe = probe.parent
    try:
        top = subprocess.run(["git", "-C", str(probe), "rev-parse", "--show-toplevel"], capture_output=True,
                             text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        top = None
    if top is not None and top.returncode == 0 and top.stdout.strip():
        return where.relative_to(Path(top.stdout.strip()).resolve()).as_posix()
    if Path(path).is_absolute():
        raise InvalidInput(f"{path} is not in a Git repository: give its path relative to the repository's root")
    return Path(path).as_posix()


def application(env: ArgoEnvironment) -> dict[str, Any]:
    """The environment's Argo CD ``Application``."""
    sync: dict[str, Any] = {
        "syncOptions": ["CreateNamespace=true", "PruneLast=true"],
        "retry": {"limit": 5, "backoff": {"duration": "10s", "factor": 2, "maxDuration": "5m"}}}
    if env.automated:
        sync["automated"] = {"prune": True, "selfHeal": True}
    return {
        "apiVersion": API_VERSION, "kind": "Application",
        "metadata": {"name": f"slipway-{k8s_name(env.name)}", "namespace": env.argocd_namespace,
                     "labels": {"app.kubernetes.io/part-of": "slipway", "slipway.dev/environment": env.name},
                     # deleting the Application deletes what it deployed
                     "finalizers": ["resources-finalizer.argocd.argoproj.io"]},
        "spec": {
            "project": env.project,
            "source": {"repoURL": env.repo_url, "targetRevision": env.revision,
                       "path": f"{env.manifests_path.strip('/')}/{k8s_name(env.name)}",
                       "directory": {"recurse": False}},
            "destination": {"server": env.server, "namespace": env.target_namespace},
            "syncPolicy": sync,
            "revisionHistoryLimit": 10,
        },
    }


def _secret(name: str, key: str, optional: bool = False) -> dict[str, Any]:
    ref: dict[str, Any] = {"name": name, "key": key}
    if optional:
        ref["optional"] = True
    return {"secretKeyRef": ref}


def apply_job(env: ArgoEnvironment, secret_envs: list[str]) -> dict[str, Any]:
    """The ``PreSync`` hook Job running ``slipway apply --prune`` on the folder at the revision."""
    clone = (f'git clone --quiet --branch "{env.revision}" "${{REPO_URL:-{env.repo_url}}}" /repo && '
             "git -C /repo log -1 --format='cloned %H'")
    env_vars: list[dict[str, Any]] = [
        {"name": "SLIPWAY_SERVER_URL", "valueFrom": _secret("slipway-gitops", "server_url")},
        {"name": "SLIPWAY_TOKEN", "valueFrom": _secret("slipway-gitops", "token")},
        *({"name": name, "valueFrom": _secret("slipway-webhook-secrets", name)} for name in sorted(secret_envs)),
    ]
    labels = {"app.kubernetes.io/name": "slipway-apply", "app.kubernetes.io/part-of": "slipway"}
    return {
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": "slipway-apply", "namespace": env.target_namespace, "labels": labels,
                     "annotations": {"argocd.argoproj.io/hook": "PreSync",
                                     "argocd.argoproj.io/hook-delete-policy": "BeforeHookCreation"}},
        "spec": {"backoffLimit": 2, "ttlSecondsAfterFinished": 86400, "template": {
            "metadata": {"labels": labels},
            "spec": {
                "restartPolicy": "Never",
                "volumes": [{"name": "repo", "emptyDir": {}}],
                "initContainers": [{
                    "name": "clone", "image": GIT_IMAGE, "command": ["sh", "-c", clone],
                    "env": [{"name": "REPO_URL", "valueFrom": _secret("slipway-git", "url", optional=True)}],
                    "volumeMounts": [{"name": "repo", "mountPath": "/repo"}]}],
                "containers": [{
                    "name": "apply", "image": env.image,
                    "args": ["apply", f"/repo/{env.platform_path.strip('/')}", "--prune"],
                    "env": env_vars,
                    "volumeMounts": [{"name": "repo", "mountPath": "/repo"}],
                    "resources": {"requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"memory": "1Gi"}}}],
            }}},
    }


def _served(name: str, env: ArgoEnvironment) -> list[dict[str, Any]]:
    deployment = Deployment(name, 0, "stable", [], {}, 0, 0, 0, 0)
    manifests = render_manifests(deployment, env.target, image=env.image, namespace=env.target_namespace)
    for manifest in manifests:  # static in Git: the router follows the live revision itself
        annotations = manifest["metadata"].get("annotations", {})
        annotations.pop("slipway.dev/revision", None)
        if not annotations:
            manifest["metadata"].pop("annotations", None)
    return manifests


def render_environment(folder: str | Path, env: ArgoEnvironment) -> dict[str, list[dict[str, Any]]]:
    """Every file of one environment, by its path relative to the manifests folder
    (``<env>.yaml``, ``<env>/slipway-apply.yaml``, ``<env>/<deployment>.yaml``) -> its objects.

    Raises:
        NotFound, InvalidInput: the folder or one of its objects is not usable (named).
    """
    loaded = load_folder(folder)
    secret_envs = [s["secret_env"] for s in loaded.of("webhook").values() if s.get("secret_env")]
    directory = k8s_name(env.name)
    files = {f"{directory}.yaml": [application(env)], f"{directory}/slipway-apply.yaml": [apply_job(env, secret_envs)]}
    for name, spec in sorted(loaded.of("deployment").items()):
        parse_spec(spec)  # a bad spec fails here, named, not in the cluster
        files[f"{directory}/{k8s_name(name)}.yaml"] = _served(name, env)
    return files


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:  # plain YAML: no &anchors for shared label maps
        return True


def write_environment(folder: str | Path, env: ArgoEnvironment, out: str | Path) -> list[Path]:
    """Render and write one environment's files under ``out``; files of deployments no longer in
    the folder are removed (so Argo CD prunes them). Returns the files written."""
    files = render_environment(folder, env)
    root = Path(out)
    (root / k8s_name(env.name)).mkdir(parents=True, exist_ok=True)
    for stale in (root / k8s_name(env.name)).glob("*.yaml"):
        if str(stale.relative_to(root)) not in files:
            stale.unlink()
    written = []
    for relative, objects in files.items():
        path = root / relative
        header = f"# Rendered by `slipway argocd` from the platform folder ({env.platform_path}); do not edit.\n"
        path.write_text(header + yaml.dump_all(objects, Dumper=_Dumper, sort_keys=False))
        written.append(path)
    return written
