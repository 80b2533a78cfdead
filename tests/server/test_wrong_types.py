"""A wrong-type sweep: every parameter of every endpoint gets values of the wrong type (and values
past its limits) over a real server; every answer is a 4xx JSON error naming the parameter."""

from __future__ import annotations

import dataclasses
import inspect
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from slipway.core.auth import endpoints_of
from slipway.core.limits import limits_for
from slipway.local import available_backends
from tests.support import make_settings, platform_server


def _kinds(hint: Any) -> set[str]:
    """The JSON kinds a parameter typed ``hint`` accepts."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Annotated:
        return _kinds(args[0])
    if origin is typing.Union or str(origin) == "<class 'types.UnionType'>":
        return set().union(*(_kinds(arg) for arg in args))
    if hint is type(None):
        return {"null"}
    if hint in (Any, object):
        return {"any"}
    if hint is bool:
        return {"bool"}
    if hint is int:
        return {"int"}
    if hint is float:
        return {"int", "float"}
    if hint is str:
        return {"str"}
    if dataclasses.is_dataclass(hint):
        return {"record"}
    if origin in (dict, typing.Mapping) or str(origin) == "<class 'collections.abc.Mapping'>":
        return {"object"}
    return {"array"}


SAMPLES: dict[str, list[bytes]] = {
    "null": [b"null"],
    "bool": [b"true"],
    "int": [b"5", b"123456789012345678901234567890"],
    "float": [b"1.5", b"1e400"],
    "str": [b'"x"', b'"\\u00b2"'],
    "array": [b"[]"],
    "object": [b"{}", b'{"$r": "Run", "id": "x"}'],
    "deep": [b"[" * 500 + b"]" * 500],
}
WRONG_FOR = {
    "null": ("bool", "str", "array", "object"),
    "bool": ("int", "str", "null", "array"),
    "int": ("float", "str", "bool", "null", "array"),
    "float": ("str", "bool", "null", "object"),
    "str": ("int", "bool", "null", "array", "object"),
    "array": ("str", "object", "null", "deep"),
    "object": ("str", "array", "null", "deep"),
    "record": ("str", "array", "null", "object"),
    "any": ("deep",),
}


def _over_limit(kind: str, param: str) -> list[bytes]:
    """Values of an accepted kind that are still refused: beyond 64 bits, non-finite, too long, too many."""
    limits = limits_for(param)
    return {"int": [b"123456789012345678901234567890"], "float": [b"1e400"],
            "str": [b'"' + b"%_" * (limits.text // 2 + 1) + b'"'],
            "array": [b"[" + b",".join([b"1"] * max(limits.items + 1, 300_000)) + b"]"]}.get(kind, [])


def _calls() -> Iterator[tuple[str, str, bytes]]:
    for service, cls in available_backends().items():
        for method in endpoints_of(cls):
            target = getattr(cls, method)
            hints = typing.get_type_hints(target)
            for param in list(inspect.signature(target).parameters)[1:]:
                accepted = _kinds(hints[param])
                wrong: list[bytes] = []
                for kind in set().union(*(WRONG_FOR.get(k, ()) for k in accepted)) - accepted:
                    wrong += SAMPLES[kind]
                for kind in accepted:
                    wrong += _over_limit(kind, param)
                if "array" in accepted and "record" in _kinds(typing.get_args(hints[param])[0] if typing.get_args(
                        hints[param]) else Any):
                    wrong.append(b'[{"$r": "Run", "id": "x"}]')
                for value in wrong:
                    yield f"{service}/{method}", param, b'{"' + param.encode() + b'": ' + value + b"}"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    home: Path = tmp_path_factory.mktemp("sweep")
    with platform_server(make_settings(home)) as running:
        yield running


def test_every_parameter_refuses_wrong_types_with_a_4xx_naming_it(server: tuple[str, str]) -> None:
    url, token = server
    failures = []
    calls = list(_calls())
    assert len(calls) > 1000
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}",
                                             "Content-Type": "application/json"}, timeout=60) as client:
        for path, param, body in calls:
            response = client.post(f"/api/v1/{path}", content=body)
            error = response.json().get("error", {}) if response.status_code >= 400 else {}
            if not 400 <= response.status_code < 500 or (param not in error.get("message", "")
                                                           and b"[[[[" not in body):
                failures.append(f"{path} {param}={body[:60]!r}: {response.status_code} {response.text[:200]}")
    assert not failures, f"{len(failures)} of {len(calls)}:\n" + "\n".join(failures[:40])


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b'"text"', b"\xff\xfe", b"[" * 100_000])
def test_a_body_that_is_not_a_json_object_is_a_422(server: tuple[str, str], body: bytes) -> None:
    url, token = server
    response = httpx.post(f"{url}/api/v1/tracking/create_experiment", content=body,
                          headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 422
    assert response.json()["error"]["type"] == "InvalidInput"


@pytest.mark.parametrize(("path", "arguments"), [
    ("registry/resolve", {"ref": "churn/\u00b2"}),
    ("registry/reproduce_info", {"ref": "churn/\u00b2"}),
    ("governance/status", {"ref": "churn/\u00b2"}),
    ("registry/set_alias", {"name": "churn", "alias": "\u00b2", "version": 1}),
    ("governance/record_data_validation",
     {"dataset_version": "transactions@\u00b2", "passed": True, "rows": 1, "anomalies": []}),
    ("registry/resolve", {"ref": "churn/99999999999999999999999"}),
])
def test_unicode_and_oversized_digits_in_references_are_a_4xx(server: tuple[str, str], path: str,
                                                              arguments: dict[str, Any]) -> None:
    url, token = server
    response = httpx.post(f"{url}/api/v1/{path}", json=arguments, headers={"Authorization": f"Bearer {token}"})
    assert 400 <= response.status_code < 500, response.text
    assert response.json()["error"]["type"] in {"InvalidInput", "NotFound"}


def test_records_are_built_only_where_the_signature_takes_them(server: tuple[str, str]) -> None:
    """The client's ``"$r"`` tag is accepted when it names the record the argument takes; a caller
    cannot use it to make the server build a record of another type, anywhere."""
    url, token = server
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}) as client:
        run_id = client.post("/api/v1/tracking/create_run", json={"experiment": "records"}).json()["id"]
        one = {"dataset": "transactions", "version": 1, "digest": "a" * 64, "context": "training"}
        tagged = client.post("/api/v1/tracking/log_inputs", json={"run_id": run_id,
                                                                   "inputs": [{**one, "$r": "RunInput"}]})
        assert tagged.status_code == 200 and tagged.json()[0]["$r"] == "RunInput"
        plain = client.post("/api/v1/tracking/log_inputs", json={"run_id": run_id, "inputs": [one]})
        assert plain.status_code == 200
        for inputs in ([{**one, "$r": "Run"}], [{"$r": "RunInput"}], [{**one, "extra": 1}]):
            refused = client.post("/api/v1/tracking/log_inputs", json={"run_id": run_id, "inputs": inputs})
            assert refused.status_code == 422 and "inputs.0" in refused.json()["error"]["message"], refused.text
        # Where any JSON is taken, a tagged object stays a plain object (it is never built).
        run = {"$r": "Run", "id": "forged"}
        schedule = client.post("/api/v1/pipelines/create_schedule", json={
            "name": "tagged", "pipeline": "flows.py:train", "cron": "0 * * * *", "params": {"run": run}})
        assert schedule.status_code in (200, 422), schedule.text
        if schedule.status_code == 200:
            assert schedule.json()["params"]["run"] == run


def test_an_unknown_route_or_method_answers_in_slipways_error_shape(tmp_path: Path) -> None:
    with platform_server(make_settings(tmp_path / "home")) as (url, token):
        headers = {"Authorization": f"Bearer {token}"}
        missing = httpx.get(f"{url}/api/v1/no-such-thing", headers=headers, timeout=30)
        wrong = httpx.delete(f"{url}/healthz", timeout=30)
    assert missing.status_code == 404
    assert missing.json() == {"error": {"type": "NotFound", "message": "no such route: GET /api/v1/no-such-thing"}}
    assert wrong.status_code == 405 and wrong.json()["error"]["type"] == "MethodNotAllowed"
    assert "GET" in wrong.headers["allow"]  # the methods the route takes, as before
