"""Projects in the pipelines and monitoring services: a user bound in ``fraud`` only is refused
every endpoint against credit's pipeline runs, schedules, monitors and alerts, embedded and over
REST; its listings leave credit's out; its own runs, schedules and monitors go to ``fraud``; a
fired run belongs to its schedule's project."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.identity.test_projects import FRAUD_ROLES, _backend_class
from tests.monitoring.test_monitors import SPEC
from tests.serving.helpers import ai4i, approve, register
from tests.serving.model_classes import TorqueThreshold
from tests.support import make_settings, platform_server

from slipway.core.auth import endpoints_of
from slipway.core.errors import InvalidInput, NotFound, PermissionDenied, SlipwayError
from slipway.workspace import open_workspace, set_default

SERVICES = ("pipelines", "monitoring")
FAN_OUT = "tests.pipelines.flows:fan_out"
# Scheduler plumbing and the shared step cache: a global role only.
GLOBAL_ONLY = {"scheduler_lease", "release_scheduler_lease", "clear_cache"}
FAILING = {"checks": [{"name": "drift", "passed": False, "summary": "drifted"}]}


@pytest.fixture
def credit(home: Path) -> Iterator[dict[str, Any]]:
    """credit owns a pipeline run, a schedule (and a run it fired), a monitor and its alert, and a
    deployment; alice
    holds every non-admin role in fraud and none elsewhere."""
    admin = open_workspace(make_settings(home))
    set_default(admin)
    admin.identity.create_project("fraud")
    admin.identity.create_project("credit")
    in_credit = open_workspace(make_settings(home, project="credit"))
    run = in_credit.pipelines.run(FAN_OUT, {"n": 2})
    schedule = in_credit.pipelines.schedule("credit-nightly", FAN_OUT, "0 3 * * *", {"n": 2})
    fired = in_credit.backend("pipelines").claim_firing(schedule.id, "2026-01-01T03:00:00Z", "fan_out")
    monitoring = in_credit.backend("monitoring")
    monitoring.apply({**SPEC, "name": "credit-drift"})
    monitoring.record_run("credit-drift", 1, "w1", "alert", FAILING)
    alert = monitoring.list_alerts("credit-drift")[0]
    in_credit.close()
    admin.registry.create_model("credit-scorer", project="credit")  # and its deployment, credit-prod
    register(admin, TorqueThreshold(50.0), "credit-scorer", ai4i(20)[0])
    approve(home, admin, "credit-scorer/1")
    admin.serving.apply({"name": "credit-prod", "variants": [{"name": "stable", "model": "credit-scorer/1"}]})
    make_settings(home, user="alice", local_roles=(), project="fraud")  # enrols alice
    for role in FRAUD_ROLES:
        admin.identity.bind("alice", role, "fraud")
    yield {"admin": admin, "home": home, "run": run, "schedule": schedule, "fired": fired, "alert": alert}
    admin.close()
    set_default(None)


def _arguments(service: str, fn: Any, objects: dict[str, Any]) -> dict[str, Any]:
    """Arguments naming credit's objects wherever a parameter names one."""
    by_name = {"name": "credit-nightly" if service == "pipelines" else "credit-drift", "monitor": "credit-drift",
               "run_id": objects["run"].id, "resumed_from": objects["run"].id, "source_id": objects["schedule"].id,
               "alert_id": objects["alert"].id, "spec": {**SPEC, "name": "credit-drift"}, "deployment": "credit-prod"}
    arguments: dict[str, Any] = {}
    for parameter in list(inspect.signature(fn).parameters.values())[1:]:
        if parameter.name in by_name:
            arguments[parameter.name] = by_name[parameter.name]
        elif parameter.default is inspect.Parameter.empty:
            annotation = str(parameter.annotation)
            arguments[parameter.name] = ([] if annotation.startswith("list") else {} if annotation.startswith("dict")
                                         else 1 if annotation.startswith("int") else
                                         True if annotation.startswith("bool") else "x")
    return arguments


def _published(service: str) -> list[tuple[str, Any]]:
    cls = _backend_class(service)
    scope = cls._projects_of.__closure__[0].cell_contents
    return [(m, getattr(cls, m)) for m in sorted(endpoints_of(cls)) if m not in scope.listings | scope.open]


def test_fraud_user_is_refused_every_pipelines_and_monitoring_route_embedded(credit: dict[str, Any]) -> None:
    assert credit["run"].project == "credit" and credit["schedule"].project == "credit"
    assert credit["fired"].project == "credit"  # a fired run belongs to its schedule's project
    alice = open_workspace(make_settings(credit["home"], user="alice", local_roles=(), project="fraud"))
    try:
        refused = 0
        for service in SERVICES:
            backend = alice.backend(service)
            for method, fn in _published(service):
                arguments = _arguments(service, fn, credit)
                with pytest.raises(SlipwayError) as caught:
                    getattr(backend, method)(**arguments)
                assert isinstance(caught.value, PermissionDenied), (service, method, caught.value)
                message = str(caught.value)
                assert "alice" in message and "permission" in message, (service, method, message)
                where = "globally" if method in GLOBAL_ONLY else "in project 'credit'"
                assert where in message, (service, method, message)
                refused += 1
        assert refused >= 28  # every non-listing endpoint of both services was tried
    finally:
        alice.close()


def test_listings_hide_credit_and_fraud_works_in_its_own_project(credit: dict[str, Any]) -> None:
    alice = open_workspace(make_settings(credit["home"], user="alice", local_roles=(), project="fraud"))
    try:
        assert alice.pipelines.list_runs() == []
        assert alice.pipelines.list_schedules() == []
        assert alice.backend("pipelines").list_firings() == []
        assert alice.backend("pipelines").cache_entries(["square", "total"]) == {}  # credit's cached outputs
        assert alice.monitoring.monitors() == [] and alice.monitoring.alerts() == []
        mine = alice.pipelines.run(FAN_OUT, {"n": 2})
        assert mine.status == "SUCCEEDED" and mine.project == "fraud"
        assert not any(s.cached for s in mine.steps)  # credit's cache entries are not reused
        assert alice.pipelines.schedule("fraud-nightly", FAN_OUT, "0 4 * * *").project == "fraud"
        alice.backend("monitoring").apply({**SPEC, "name": "fraud-drift"})
        assert [r.id for r in alice.pipelines.list_runs()] == [mine.id]
        assert [s.name for s in alice.pipelines.list_schedules()] == ["fraud-nightly"]
        assert [m.name for m in alice.monitoring.monitors()] == ["fraud-drift"]
        with pytest.raises(PermissionDenied, match="in project 'credit'"):
            alice.pipelines.resume(credit["run"].id)
        with pytest.raises(PermissionDenied, match="in project 'credit'"):
            alice.backend("monitoring").apply({**SPEC, "name": "sneaky"}, project="credit")
    finally:
        alice.close()
    admin = credit["admin"]  # a platform admin sees every project
    assert {r.project for r in admin.pipelines.list_runs()} == {"credit", "fraud"}
    assert {m.name for m in admin.monitoring.monitors()} == {"credit-drift", "fraud-drift"}
    assert admin.backend("monitoring").get("fraud-drift") is not None
    with pytest.raises(NotFound, match="project 'nope' does not exist"):
        admin.backend("monitoring").apply({**SPEC, "name": "orphan"}, project="nope")


def test_rest_refuses_fraud_user_on_pipelines_and_monitoring(credit: dict[str, Any]) -> None:
    home: Path = credit["home"]
    with platform_server(make_settings(home)) as (url, admin_token):
        headers = {"authorization": f"Bearer {admin_token}"}
        issued = httpx.post(f"{url}/api/v1/identity/create_token", json={"user": "alice"}, headers=headers).json()
        alice = {"authorization": f"Bearer {issued['token']}"}
        checked = 0
        for service in SERVICES:
            for method, fn in _published(service):
                arguments = _arguments(service, fn, credit)
                response = httpx.post(f"{url}/api/v1/{service}/{method}", json=arguments, headers=alice, timeout=30)
                assert response.status_code == 403, (service, method, response.text)
                assert "permission" in response.text, (service, method, response.text)
                checked += 1
        assert checked >= 28
        for service, listing in (("pipelines", "list_runs"), ("pipelines", "list_schedules"),
                                 ("monitoring", "list_monitors"), ("monitoring", "list_alerts")):
            listed = httpx.post(f"{url}/api/v1/{service}/{listing}", json={}, headers=alice, timeout=30)
            assert listed.status_code == 200 and listed.json() == [], (listing, listed.text)
        ws = open_workspace(make_settings(home / "client", server_url=url, token=issued["token"]))
        try:
            with pytest.raises(PermissionDenied, match="in project 'credit'"):
                ws.pipelines.cancel(credit["fired"].id)
            with pytest.raises(PermissionDenied, match="in project 'credit'"):
                ws.monitoring.acknowledge(credit["alert"].id)
        finally:
            ws.close()


def test_a_bad_project_is_refused_before_anything_is_stored(credit: dict[str, Any]) -> None:
    admin = credit["admin"]
    with pytest.raises(InvalidInput):
        admin.backend("pipelines").create_schedule("x", "not-stored", "0 3 * * *", project="nope")
    assert "x" not in {s.name for s in admin.pipelines.list_schedules()}
