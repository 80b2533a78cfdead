"""The OpenAPI document publishes each endpoint's request schema, limits and statuses."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from slipway.core.auth import endpoints_of
from slipway.core.limits import BATCH_PARAMS, BATCH_TAGS, KEY, PARAM_VALUE, TAG_VALUE
from slipway.local import available_backends
from slipway.server.app import create_app
from tests.support import make_settings


@pytest.fixture(scope="module")
def document(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    home: Path = tmp_path_factory.mktemp("openapi")
    # What /api/v1/openapi.json serves (the schemathesis test reads it over a socket).
    return dict(create_app(make_settings(home)).openapi())


def _schema(document: dict[str, Any], ref: dict[str, Any]) -> dict[str, Any]:
    return dict(document["components"]["schemas"][ref["$ref"].rsplit("/", 1)[1]])


def test_every_endpoint_publishes_its_request_schema_and_statuses(document: dict[str, Any]) -> None:
    paths = document["paths"]
    count = 0
    for service, cls in available_backends().items():
        for method in endpoints_of(cls):
            operation = paths[f"/api/v1/{service}/{method}"]["post"]
            schema = _schema(document, operation["requestBody"]["content"]["application/json"]["schema"])
            assert schema["additionalProperties"] is False
            assert {"200", "401", "403", "413", "422", "503", "default"} <= set(operation["responses"])
            count += 1
    assert count > 100


def test_limits_and_named_errors_are_in_the_document(document: dict[str, Any]) -> None:
    log_batch = document["paths"]["/api/v1/tracking/log_batch"]["post"]
    schema = _schema(document, log_batch["requestBody"]["content"]["application/json"]["schema"])
    params = next(option for option in schema["properties"]["params"]["anyOf"] if option.get("type") == "object")
    assert params["maxProperties"] == BATCH_PARAMS
    assert params["propertyNames"]["maxLength"] == KEY
    create_model = document["paths"]["/api/v1/registry/create_model"]["post"]
    model_schema = _schema(document, create_model["requestBody"]["content"]["application/json"]["schema"])
    tags = next(option for option in model_schema["properties"]["tags"]["anyOf"] if option.get("type") == "object")
    assert tags["maxProperties"] == BATCH_TAGS
    assert tags["additionalProperties"]["maxLength"] == TAG_VALUE > PARAM_VALUE
    assert set(schema["required"]) == {"run_id"}
    # register_version's docstring says it raises NotFound: a 404 is documented for it.
    register = document["paths"]["/api/v1/registry/register_version"]["post"]
    assert "404" in register["responses"]
    assert register["responses"]["404"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Error"}
