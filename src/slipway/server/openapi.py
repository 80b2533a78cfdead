"""The OpenAPI document of the platform API: request and response schemas, every status an endpoint returns.

FastAPI documents only what its own routes declare; the service endpoints parse their bodies
themselves (see :mod:`slipway.server.requests`), so their request schemas are added here, with
the schema of their results (:mod:`slipway.server.responses`) and the error statuses each can
answer: those every endpoint can (401, 403, 413, 422, 503), plus the errors named in the method's
docstring (``Raises:``) or raised in its body, plus ``default`` (the JSON error body, for any
other status).
"""

from __future__ import annotations

import http
import inspect
import re
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from pydantic.json_schema import models_json_schema

from slipway.core.errors import ERRORS_BY_NAME
from slipway.server.requests import RequestModel
from slipway.server.responses import media_type_of, response_schemas, result_of

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {
        "type": "object", "required": ["type", "message"],
        "properties": {"type": {"type": "string"}, "message": {"type": "string"}},
    }},
}
COMMON_STATUSES = (401, 403, 413, 422, 503)
_ERROR_NAME = re.compile(r"\b(" + "|".join(n for n in ERRORS_BY_NAME if n != "SlipwayError") + r")\b")


def statuses_of(method: Callable[..., Any]) -> list[int]:
    """The HTTP statuses a backend method can answer: the common ones and the errors it names."""
    target = inspect.unwrap(method)
    try:
        text = inspect.getsource(target)
    except (OSError, TypeError):
        text = inspect.getdoc(target) or ""
    named = {ERRORS_BY_NAME[name].http_status for name in _ERROR_NAME.findall(text)}
    return sorted({200, *COMMON_STATUSES, *named})


def _error_response(status: int | str) -> dict[str, Any]:
    phrase = http.HTTPStatus(status).phrase if isinstance(status, int) else "Any other error"
    return {"description": phrase,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def _results(app: FastAPI, requests: dict[str, tuple[RequestModel, list[int]]]) -> dict[tuple[str, str], Any]:
    """What each documented operation answers: an endpoint's return type, or a route's :func:`returns`."""
    results: dict[tuple[str, str], Any] = {(path, "post"): result_of(request.method)
                                           for path, (request, _) in requests.items()}
    for route in app.routes:
        if isinstance(route, APIRoute) and route.include_in_schema and route.path not in requests:
            hint = getattr(route.endpoint, "__slipway_result__", None)
            if hint is not None:
                results.update({(route.path, method.lower()): hint for method in route.methods or ()})
    return results


def install_openapi(app: FastAPI, requests: dict[str, tuple[RequestModel, list[int]]]) -> None:
    """Publish ``requests`` (route path → request model and statuses) in ``app``'s document."""

    def document() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(title=app.title, version=app.version, routes=app.routes)
        models = [(request.model, "validation") for request, _ in requests.values()]
        refs, definitions = models_json_schema(models, ref_template="#/components/schemas/{model}")  # type: ignore[arg-type]
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components.update(definitions.get("$defs", {}))
        components["Error"] = ERROR_SCHEMA
        results = _results(app, requests)
        answers, result_definitions = response_schemas(results)
        clashes = set(result_definitions) & set(components)
        if clashes:
            raise RuntimeError(f"response schemas named like request schemas: {sorted(clashes)}")
        components.update(result_definitions)
        for path, (request, statuses) in requests.items():
            operation = schema["paths"][path]["post"]
            required = any(field.is_required() for field in request.model.model_fields.values())
            operation["requestBody"] = {"required": required, "content": {
                "application/json": {"schema": refs[(request.model, "validation")]}}}
            operation["responses"] = {str(code): _error_response(code) for code in statuses if code != 200}
        for (path, method), answer in answers.items():
            operation = schema["paths"][path][method]
            operation.setdefault("responses", {})["200"] = {
                "description": "The result (a record is an object with its fields and \"$r\": its type)",
                "content": {media_type_of(answer): {"schema": answer}}}
        for path, operations in schema["paths"].items():
            for operation in operations.values():
                responses = operation.setdefault("responses", {})
                responses.pop("422", None) if path not in requests else None
                for code in COMMON_STATUSES:
                    responses.setdefault(str(code), _error_response(code))
                responses["default"] = _error_response("default")
        app.openapi_schema = schema
        return schema

    app.openapi = document  # type: ignore[method-assign]
