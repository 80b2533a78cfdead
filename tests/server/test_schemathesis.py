"""Generated requests from the published OpenAPI document against a real ``slipway server``.

schemathesis builds valid and invalid requests for every operation from its request schema; every
answer must be a non-5xx whose body matches the schema the document publishes for its status.
The examples are few per operation (the suite's time), derandomised, with no deadline.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error, response_schema_conformance

from tests.support import make_settings, platform_server


@pytest.mark.slow
@pytest.mark.parametrize(("caller", "examples"), [("admin", 6), ("anonymous", 2)])
def test_generated_requests_get_no_server_error(home: Path, caller: str, examples: int) -> None:
    with platform_server(make_settings(home, allow_anonymous=True)) as (url, token):
        schema = schemathesis.openapi.from_url(url + "/api/v1/openapi.json")
        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) > 100
        headers = {"Authorization": f"Bearer {token}"} if caller == "admin" else {}
        failures: list[str] = []
        for operation in operations:
            cases = operation.as_strategy(GenerationMode.POSITIVE) | operation.as_strategy(GenerationMode.NEGATIVE)

            @given(case=cases)
            @settings(max_examples=examples, deadline=None, derandomize=True, database=None,
                      suppress_health_check=list(HealthCheck))
            def call(case: schemathesis.Case) -> None:
                case.call_and_validate(base_url=url, headers=headers,
                                       checks=[not_a_server_error, response_schema_conformance])

            try:
                call()
            except (Exception, BaseExceptionGroup) as err:  # noqa: BLE001 - every failure is reported together
                failures.append(f"{operation.label}: {_summary(err)}")
        assert not failures, "\n".join(failures)


def _summary(error: BaseException) -> str:
    text = str(error)
    if isinstance(error, BaseExceptionGroup):
        text += " | " + " | ".join(str(e)[:300] for e in error.exceptions)
    return text[:800]
