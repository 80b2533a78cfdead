"""Rendering a Helm chart offline with Helm's own engine, for the tests.

No ``helm`` binary can be had here (Debian has none; PyPI's and npm's helm packages only wrap a
binary they expect to find, except one): ``helm-sdkpy`` ships Helm v4 itself, built as a shared
library (``libhelm_sdkpy.so``, Apache-2.0), which this module loads with cffi. That wheel declares
Python >= 3.12 for its own Python wrapper, so it is not a dependency of this 3.11 project: the
first use installs the wheel (no dependencies) with ``uv pip install --target`` into
``.bench/helm-sdkpy/`` (ignored by git), and only its library is used.

The library has no ``helm template``; ``helm install`` renders the chart exactly as ``template``
does and then sends each object to the cluster. :class:`KubeAPI` is the cluster: a minimal
Kubernetes API on loopback that answers discovery for the kinds the chart uses and keeps every
object it is sent (nothing runs them). What it received is the rendered chart.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
HELM_SDKPY = "helm-sdkpy==0.1.32"
TARGET = ROOT / ".bench" / "helm-sdkpy"
LIBRARY = TARGET / "helm_sdkpy" / "_lib" / "linux-amd64" / "libhelm_sdkpy.so"

# Kubernetes kinds the API serves: group/version -> [(plural, kind, namespaced)].
RESOURCES: dict[str, list[tuple[str, str, bool]]] = {
    "v1": [("secrets", "Secret", True), ("services", "Service", True), ("configmaps", "ConfigMap", True),
           ("serviceaccounts", "ServiceAccount", True), ("namespaces", "Namespace", False),
           ("persistentvolumeclaims", "PersistentVolumeClaim", True), ("pods", "Pod", True)],
    "apps/v1": [("deployments", "Deployment", True), ("statefulsets", "StatefulSet", True)],
    "batch/v1": [("jobs", "Job", True), ("cronjobs", "CronJob", True)],
    "policy/v1": [("poddisruptionbudgets", "PodDisruptionBudget", True)],
    "rbac.authorization.k8s.io/v1": [("roles", "Role", True), ("rolebindings", "RoleBinding", True)],
    "coordination.k8s.io/v1": [("leases", "Lease", True)],
    "networking.k8s.io/v1": [("ingresses", "Ingress", True)],
    "autoscaling/v2": [("horizontalpodautoscalers", "HorizontalPodAutoscaler", True)],
    "monitoring.coreos.com/v1": [("servicemonitors", "ServiceMonitor", True)],
}
CDEF = """
typedef unsigned long long helm_sdkpy_handle;
int helm_sdkpy_config_create(const char *namespace, const char *kubeconfig, const char *kubecontext,
                             const char *options_json, helm_sdkpy_handle *handle_out);
void helm_sdkpy_config_destroy(helm_sdkpy_handle handle);
int helm_sdkpy_install(helm_sdkpy_handle handle, const char *release_name, const char *chart_path,
                       const char *values_json, const char *version, const char *options_json, char **result_json);
int helm_sdkpy_lint(helm_sdkpy_handle handle, const char *chart_path, char **result_json);
const char *helm_sdkpy_last_error(void);
void helm_sdkpy_free(void *ptr);
const char *helm_sdkpy_version_string(void);
"""


def library() -> Path:
    """The Helm library, installed on first use."""
    if not LIBRARY.exists():
        uv = Path(sys.executable).with_name("uv")
        subprocess.run([str(uv), "pip", "install", "--quiet", "--target", str(TARGET), "--python-version", "3.12",
                        "--no-deps", HELM_SDKPY], check=True, timeout=900)
    assert LIBRARY.is_file(), f"{HELM_SDKPY} did not install {LIBRARY}"
    return LIBRARY


class _Api(BaseHTTPRequestHandler):
    server: KubeAPI

    def log_message(self, *args: Any) -> None:
        return None

    def _send(self, code: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _not_found(self) -> None:
        self._send(404, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound",
                         "code": 404, "message": f"{self.path} not found", "details": {}})

    def _split(self) -> tuple[str, str | None, str | None, str | None]:
        """``(group/version, namespace, plural, name)`` of a resource path."""
        path = self.path.split("?", 1)[0].strip("/").split("/")
        if path[0] == "api":
            gv, rest = path[1], path[2:]
        else:
            gv, rest = "/".join(path[1:3]), path[3:]
        namespace = None
        if len(rest) >= 3 and rest[0] == "namespaces":
            namespace, rest = rest[1], rest[2:]
        plural = rest[0] if rest else None
        name = rest[1] if len(rest) > 1 else None
        return gv, namespace, plural, name

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0].rstrip("/")
        if path == "/version":
            self._send(200, {"major": "1", "minor": "30", "gitVersion": "v1.30.0", "platform": "linux/amd64"})
        elif path == "/api":
            self._send(200, {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []})
        elif path == "/apis":
            groups = {}
            for gv in RESOURCES:
                if "/" in gv:
                    group, version = gv.split("/")
                    groups.setdefault(group, []).append({"groupVersion": gv, "version": version})
            self._send(200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": [
                {"name": g, "versions": v, "preferredVersion": v[0]} for g, v in groups.items()]})
        elif path in ("/api/v1", *(f"/apis/{gv}" for gv in RESOURCES)):
            gv = path.removeprefix("/api/").removeprefix("/apis/")
            self._send(200, {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": [
                {"name": plural, "singularName": kind.lower(), "namespaced": namespaced, "kind": kind,
                 "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"]}
                for plural, kind, namespaced in RESOURCES[gv]]})
        else:
            gv, namespace, plural, name = self._split()
            if name is None:  # a list: the release history helm asks for is empty
                with self.server.lock:
                    items = [o for (g, ns, p, _), o in self.server.objects.items()
                             if g == gv and p == plural and ns == namespace]
                self._send(200, {"kind": "List", "apiVersion": "v1", "metadata": {"resourceVersion": "1"},
                                 "items": [] if plural == "secrets" else items})
                return
            with self.server.lock:
                found = self.server.objects.get((gv, namespace, plural, name))
            if found is None:
                self._not_found()
            else:
                self._send(200, found)

    def _body(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) or b"{}"
        if "json" in (self.headers.get("Content-Type") or "json") or raw[:1] == b"{":
            return dict(json.loads(raw))
        # Helm's release record (a Secret) comes as protobuf: kept by name only.
        found = re.search(rb"sh\.helm\.release\.v1\.[a-z0-9.-]+\.v[0-9]+", raw)
        name = found.group(0).decode() if found else "release"
        return {"kind": "Secret", "apiVersion": "v1", "metadata": {"name": name, "labels": {"owner": "helm"}}}

    def do_POST(self) -> None:
        gv, namespace, plural, _ = self._split()
        body = self._body()
        name = body.get("metadata", {}).get("name", "")
        stored = {**body, "metadata": {**body.get("metadata", {}), "uid": f"uid-{name}", "resourceVersion": "1"}}
        if namespace:
            stored["metadata"].setdefault("namespace", namespace)
        with self.server.lock:
            self.server.objects[(gv, namespace, plural, name)] = stored
            self.server.received.append(body)
        self._send(201, stored)

    def do_PUT(self) -> None:
        gv, namespace, plural, name = self._split()
        body = self._body()
        with self.server.lock:
            self.server.objects[(gv, namespace, plural, name or "")] = body
        self._send(200, body)

    def do_PATCH(self) -> None:
        gv, namespace, plural, name = self._split()
        with self.server.lock:
            found = self.server.objects.get((gv, namespace, plural, name or ""))
        self._body()
        if found is None:
            self._not_found()
        else:
            self._send(200, found)

    def do_DELETE(self) -> None:
        self._send(200, {"kind": "Status", "apiVersion": "v1", "status": "Success"})


class KubeAPI(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Api)
        self.lock = threading.Lock()
        self.objects: dict[tuple[str, str | None, str | None, str], dict[str, Any]] = {}
        self.received: list[dict[str, Any]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@contextlib.contextmanager
def kube_api() -> Iterator[KubeAPI]:
    server = KubeAPI()
    thread = threading.Thread(target=server.serve_forever, daemon=True, name="fake-kube-api")
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def _kubeconfig(folder: Path, url: str) -> Path:
    path = folder / "kubeconfig"
    path.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "test",
        "clusters": [{"name": "test", "cluster": {"server": url}}],
        "contexts": [{"name": "test", "context": {"cluster": "test", "user": "test", "namespace": "slipway"}}],
        "users": [{"name": "test", "user": {"token": "test"}}]}))
    return path


class Helm:
    """Helm's engine from ``libhelm_sdkpy.so``."""

    def __init__(self) -> None:
        from cffi import FFI

        self.ffi = FFI()
        self.ffi.cdef(CDEF)
        self.lib = self.ffi.dlopen(str(library()))

    @property
    def version(self) -> str:
        return str(self.ffi.string(self.lib.helm_sdkpy_version_string()).decode())

    def _error(self, what: str) -> RuntimeError:
        message = self.lib.helm_sdkpy_last_error()
        return RuntimeError(f"helm {what} failed: {self.ffi.string(message).decode() if message else '?'}")

    def _config(self, namespace: str, kubeconfig: Path | None) -> Any:
        handle = self.ffi.new("helm_sdkpy_handle *")
        code = self.lib.helm_sdkpy_config_create(namespace.encode(), str(kubeconfig).encode() if kubeconfig else
                                                 self.ffi.NULL, self.ffi.NULL, b"{}", handle)
        if code != 0:
            raise self._error("configuration")
        return handle[0]

    def _call(self, what: str, fn: Any, *args: Any) -> Any:
        out = self.ffi.new("char **")
        if fn(*args, out) != 0:
            raise self._error(what)
        try:
            return json.loads(self.ffi.string(out[0]).decode()) if out[0] != self.ffi.NULL else None
        finally:
            if out[0] != self.ffi.NULL:
                self.lib.helm_sdkpy_free(out[0])

    def lint(self, chart: Path, folder: Path) -> Any:
        handle = self._config("slipway", None)
        try:
            return self._call("lint", self.lib.helm_sdkpy_lint, handle, str(chart).encode())
        finally:
            self.lib.helm_sdkpy_config_destroy(handle)

    def render(self, chart: Path, values: dict[str, Any], folder: Path, release: str = "slipway",
               namespace: str = "slipway") -> tuple[list[dict[str, Any]], Any]:
        """The chart's objects as Helm renders them for ``values`` (what ``helm install`` sends)."""
        with kube_api() as api:
            handle = self._config(namespace, _kubeconfig(folder, api.url))
            options = {"wait": False, "timeout_seconds": 120, "disable_openapi_validation": True,
                       "create_namespace": False, "server_side_apply": "false"}
            try:
                result = self._call("install", self.lib.helm_sdkpy_install, handle, release.encode(),
                                    str(chart).encode(), json.dumps(values).encode(), b"",
                                    json.dumps(options).encode())
            finally:
                self.lib.helm_sdkpy_config_destroy(handle)
            objects = [o for o in api.received if not (o.get("kind") == "Secret" and
                                                       o.get("metadata", {}).get("labels", {}).get("owner") == "helm")]
        return objects, result


def environment_ok() -> bool:
    return os.name == "posix" and sys.platform.startswith("linux")
