"""Every operation publishes the schema of its result, and real answers match it.

A real server runs a workflow through the Python client (tracking, data, registry, governance,
identity, audit, lineage) and every reading endpoint with its defaults; each 2xx answer it sent is
validated (jsonschema, Draft 2020-12, as OpenAPI 3.1 says) against the schema the document
publishes for its operation.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import orjson
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import slipway
from slipway.server.app import create_app
from slipway.server.bootstrap import prepare
from slipway.workspace import open_workspace, set_default
from tests.support import AI4I, ServerThread, make_settings

Answer = tuple[str, str, int, bytes]  # method, path, status, body


class Recorder:
    """ASGI middleware keeping every answer the server sent."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.answers: list[Answer] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status, chunks = 0, []

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            await send(message)

        await self.app(scope, receive, sending)
        self.answers.append((scope["method"].lower(), scope["path"], status, b"".join(chunks)))


@pytest.fixture(scope="module")
def document(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return dict(create_app(make_settings(tmp_path_factory.mktemp("doc"))).openapi())


def _success_schema(operation: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    ((media_type, content),) = operation["responses"]["200"]["content"].items()
    return media_type, content["schema"]


def _validator(document: dict[str, Any], schema: dict[str, Any]) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator({**schema, "components": document["components"]})


def test_every_operation_publishes_a_typed_success_schema(document: dict[str, Any]) -> None:
    operations = [(path, method, op) for path, ops in document["paths"].items() for method, op in ops.items()]
    assert len(operations) > 130
    untyped = []
    for path, method, operation in operations:
        media_type, schema = _success_schema(operation)
        if media_type == "application/octet-stream":
            assert schema == {"type": "string", "format": "binary"}, path
            continue
        if not ({"$ref", "type", "anyOf"} & set(schema)):
            untyped.append(f"{method.upper()} {path}: {schema}")
    assert not untyped, "\n".join(untyped)
    # Records are objects with exactly their fields, all of them present, and their "$r" tag.
    run = document["components"]["schemas"]["Run"]
    assert run["additionalProperties"] is False
    assert {"id", "status", "metrics", "params", "tags", "$r"} <= set(run["required"])
    assert run["properties"]["$r"]["const"] == "Run"
    assert run["properties"]["end_ms"]["anyOf"] == [{"type": "integer"}, {"type": "null"}]
    get_run = document["paths"]["/api/v1/tracking/get_run"]["post"]
    assert _success_schema(get_run)[1] == {"$ref": "#/components/schemas/Run"}
    versions = document["paths"]["/api/v1/models/{name}/versions"]["get"]
    assert _success_schema(versions)[1] == {"type": "array", "items": {"$ref": "#/components/schemas/ModelVersion"}}


def test_a_schema_refuses_an_answer_of_another_shape(document: dict[str, Any]) -> None:
    run_schema = {"$ref": "#/components/schemas/Run"}
    validator = _validator(document, run_schema)
    run = {"id": "r1", "experiment_id": "e1", "name": "n", "parent_id": None, "status": "RUNNING",
           "start_ms": 1, "end_ms": None, "lifecycle": "active", "user": "u", "git_commit": None,
           "git_dirty": None, "source": None, "packages_digest": None, "params": {"a": "1"},
           "metrics": {"auc": 0.9, "loss": {"$f": "NaN"}}, "tags": {}, "$r": "Run"}
    validator.validate(run)
    for wrong in ({**run, "$r": "Experiment"}, {**run, "start_ms": "1"}, {**run, "extra": 1},
                  {k: v for k, v in run.items() if k != "status"}, {**run, "metrics": {"auc": "high"}}):
        assert not validator.is_valid(wrong), wrong


@pytest.fixture
def recorded(home: Path) -> Iterator[tuple[str, str, Recorder]]:
    """A real server (admin token) whose answers are recorded."""
    settings = dataclasses.replace(make_settings(home / "server"), bootstrap_token="slw_test-admin-token")
    prepare(settings)
    recorder = Recorder(create_app(settings))
    with ServerThread(recorder) as server:
        yield server.url, settings.bootstrap_token, recorder


def _workflow(url: str, token: str, home: Path) -> None:
    """What a team does through the Python client: each call is an HTTP request to the server."""
    ws = open_workspace(make_settings(home / "client", server_url=url, token=token))
    set_default(ws)
    try:
        table = pd.read_csv(AI4I).head(2000)
        features = table[["Air temperature [K]", "Process temperature [K]", "Torque [Nm]"]]
        version = ws.data.add("ai4i", table, message="conformance")
        with slipway.start_run("fit", experiment="conformance") as run:
            slipway.log_params({"model": "logreg", "rows": len(table)})
            slipway.log_metrics({"auc": 0.91, "loss": math.nan, "gain": math.inf})
            slipway.set_tags({"team": "risk"})
            slipway.log_input(version)
            model = LogisticRegression(max_iter=200).fit(features, table["Machine failure"])
            slipway.log_model(model, input_example=features.head(3), registered_model_name="failures")
        ws.registry.set_alias("failures", "challenger", 1)
        ws.tracking.get_run(run.id)
        ws.tracking.search_runs("metrics.auc > 0.5")
        ws.tracking.get_metric_history(run.id, "loss")
        ws.lineage.upstream("failures/1")
        ws.governance.status("failures/1")
        ws.audit.verify()
        identity = ws.backend("identity")
        identity.create_user("vera", ["viewer"])
        identity.create_token("vera", description="conformance")
    finally:
        ws.close()
        set_default(None)


def test_real_answers_match_the_published_schemas(document: dict[str, Any], home: Path,
                                                  recorded: tuple[str, str, Recorder]) -> None:
    url, token, recorder = recorded
    _workflow(url, token, home)
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
        # Every endpoint that takes no required argument, called with its defaults.
        for path, operations in document["paths"].items():
            body = operations.get("post", {}).get("requestBody", {})
            if path.startswith("/api/v1/") and body and not body["required"]:
                client.post(path, json={})
        for path in ("/api/v1/models", "/api/v1/models/failures", "/api/v1/models/failures/versions",
                     "/api/v1/models/failures/versions/1", "/api/v1/models/failures/aliases/challenger"):
            assert client.get(path).status_code == 200, path
    patterns = [(re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", path) + "$"), path, method, operation)
                for path, operations in document["paths"].items() for method, operation in operations.items()]
    checked: set[str] = set()
    problems = []
    for method, path, status, body in recorder.answers:
        if not 200 <= status < 300 or not path.startswith("/api/v1/"):
            continue
        operation = next(((p, op) for rx, p, m, op in patterns if m == method and rx.match(path)), None)
        assert operation is not None, f"{method} {path} answered {status} but is not in the document"
        media_type, schema = _success_schema(operation[1])
        if media_type == "application/json":
            errors = list(_validator(document, schema).iter_errors(orjson.loads(body)))
            problems += [f"{method} {path}: {e.message[:200]} at {list(e.absolute_path)}" for e in errors[:3]]
        checked.add(f"{method} {operation[0]}")
    assert not problems, "\n".join(problems)
    assert len(checked) >= 40, sorted(checked)
    for needed in ("post /api/v1/tracking/get_run", "post /api/v1/data/commit_version",
                   "post /api/v1/registry/register_version", "post /api/v1/identity/create_token",
                   "get /api/v1/models/{name}/versions", "put /api/v1/blobs/{digest}"):
        assert needed in checked, needed
