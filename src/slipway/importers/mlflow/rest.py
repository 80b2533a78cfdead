"""Reading a running MLflow server through its REST API (``/api/2.0/mlflow/…``) with httpx.

Only reads are sent: searches, ``get-history`` and artifact listings. A bearer token (MLflow's
``MLFLOW_TRACKING_TOKEN``) is sent when given.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx

from slipway.core.errors import InvalidInput
from slipway.importers.mlflow.source import (
    MlflowExperiment,
    MlflowLoggedModel,
    MlflowModelVersion,
    MlflowRegisteredModel,
    MlflowRun,
    Point,
    redact,
)

API = "/api/2.0/mlflow"


def _pairs(items: list[dict[str, Any]] | None) -> dict[str, str]:
    return {i["key"]: str(i.get("value", "")) for i in items or []}


class RestSource:
    """An MLflow server, read over HTTP."""

    def __init__(self, url: str, token: str | None = None, timeout: float = 120.0) -> None:
        self.url = url.rstrip("/")
        self.description = redact(self.url)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout)
        self._data: dict[str, tuple[dict[str, str], dict[str, str], list[str]]] = {}
        self.get(f"{API}/experiments/search", max_results=1)  # fail now, with the reason, if unreachable

    def get(self, path: str, **params: Any) -> dict[str, Any]:
        return self._call("GET", path, params=params)

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        return self._call("POST", path, json=body)

    def _call(self, method: str, path: str, **options: Any) -> dict[str, Any]:
        try:
            response = self.http.request(method, path, **options)
        except httpx.HTTPError as err:
            raise InvalidInput(f"cannot reach the MLflow server {self.description}: {err}") from err
        if response.status_code != 200:
            try:
                reason = response.json().get("message") or response.text
            except ValueError:
                reason = response.text
            raise InvalidInput(f"the MLflow server {self.description} answered {response.status_code} to {path}: "
                               f"{str(reason).strip()[:300]}")
        try:
            return response.json()
        except ValueError as err:
            raise InvalidInput(f"{self.description}{path} did not answer JSON; is it an MLflow server?") from err

    def _pages(self, method: str, path: str, field: str, **query: Any) -> Iterator[dict[str, Any]]:
        token = None
        while True:
            page_query = {**query, **({"page_token": token} if token else {})}
            page = self.post(path, page_query) if method == "POST" else self.get(path, **page_query)
            yield from page.get(field, [])
            token = page.get("next_page_token")
            if not token:
                return

    def experiments(self) -> list[MlflowExperiment]:
        found = self._pages("POST", f"{API}/experiments/search", "experiments", max_results=1000, view_type="ALL")
        return sorted((MlflowExperiment(e["experiment_id"], e["name"], e.get("lifecycle_stage", "active"),
                                        int(e.get("creation_time", 0)), _pairs(e.get("tags"))) for e in found),
                      key=lambda e: (len(e.id), e.id))

    def runs(self, experiment_id: str) -> list[MlflowRun]:
        found = []
        for item in self._pages("POST", f"{API}/runs/search", "runs", experiment_ids=[experiment_id],
                                run_view_type="ALL", max_results=1000):
            info, data = item["info"], item.get("data", {})
            self._data[info["run_id"]] = (_pairs(data.get("params")), _pairs(data.get("tags")),
                                          sorted({m["key"] for m in data.get("metrics", [])}))
            found.append(MlflowRun(info["run_id"], experiment_id, info.get("run_name", ""), info.get("status", "FINISHED"),
                                   int(info.get("start_time", 0)), int(info["end_time"]) if info.get("end_time") else None,
                                   info.get("user_id", ""), info.get("lifecycle_stage", "active"), info.get("artifact_uri", "")))
        return sorted(found, key=lambda r: (r.start_ms, r.id))

    def run_data(self, run: MlflowRun) -> tuple[dict[str, str], dict[str, str], list[Point]]:
        params, tags, keys = self._data[run.id]
        points: list[Point] = []
        for key in keys:
            for m in self._pages("GET", f"{API}/metrics/get-history", "metrics", run_id=run.id, metric_key=key,
                                 max_results=25_000):
                points.append((key, float(m["value"]), int(m.get("step", 0)), int(m["timestamp"])))
        return params, tags, points

    def logged_models(self, experiment_ids: list[str]) -> list[MlflowLoggedModel]:
        if not experiment_ids:
            return []
        found = []
        for item in self._pages("POST", f"{API}/logged-models/search", "models", experiment_ids=experiment_ids,
                                max_results=100):
            info = item["info"]
            found.append(MlflowLoggedModel(
                info["model_id"], str(info["experiment_id"]), info.get("name", ""),
                str(info.get("status", "")).removeprefix("LOGGED_MODEL_"), info.get("artifact_uri", ""),
                info.get("source_run_id"), int(info.get("creation_timestamp_ms", 0)),
                int(info.get("last_updated_timestamp_ms", 0)), info.get("lifecycle_stage", "active"),
                info.get("model_type", ""), _pairs(info.get("tags")), _pairs(item.get("data", {}).get("params"))))
        return sorted(found, key=lambda m: (m.created_ms, m.id))

    def registered_models(self) -> list[MlflowRegisteredModel]:
        found = self._pages("GET", f"{API}/registered-models/search", "registered_models", max_results=1000)
        return sorted((MlflowRegisteredModel(m["name"], m.get("description", ""), int(m.get("creation_timestamp", 0)),
                                             _pairs(m.get("tags")),
                                             {a["alias"]: int(a["version"]) for a in m.get("aliases", [])})
                       for m in found), key=lambda m: (m.created_ms, m.name))

    def versions(self, name: str) -> list[MlflowModelVersion]:
        quoted = name.replace("'", "\\'")
        found = self._pages("GET", f"{API}/model-versions/search", "model_versions", filter=f"name='{quoted}'",
                            max_results=10_000)
        return sorted((MlflowModelVersion(name, int(v["version"]), int(v.get("creation_timestamp", 0)),
                                          v.get("description", ""), v.get("user_id", ""), v.get("source", ""),
                                          v.get("run_id") or None, v.get("storage_location") or None,
                                          v.get("status", "READY"), _pairs(v.get("tags")))
                       for v in found), key=lambda v: v.version)

    def artifact_url(self, path: str) -> str:
        """The proxied artifact API's URL of ``path`` (an ``mlflow-artifacts:`` location)."""
        return f"{self.url}/api/2.0/mlflow-artifacts/artifacts/{quote(path.lstrip('/'))}"

    def close(self) -> None:
        self.http.close()
