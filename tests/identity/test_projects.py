"""Projects and per-project role bindings: a user bound in ``fraud`` only can neither read nor
change what ``credit`` owns through any published endpoint of the registry, tracking, deployment
and governance services, embedded or over REST; listings leave it out; the default project and
global roles behave as before."""

from __future__ import annotations

import importlib
import inspect
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.serving.helpers import ai4i, approve, register
from tests.serving.model_classes import TorqueThreshold
from tests.support import make_settings, platform_server

from slipway.core.auth import endpoints_of
from slipway.core.domains import BACKEND_PATHS
from slipway.core.errors import InvalidInput, NotFound, PermissionDenied, SlipwayError
from slipway.workspace import open_workspace, set_default

SERVICES = ("registry", "tracking", "deploy", "governance")
# Arguments that name an object credit owns in these tests.
CREDIT_KEYS = {"name", "model", "model_name", "ref", "run_id", "run_ids", "parent_id", "experiment_id", "name_or_id",
               "experiment", "deployment", "request_id", "spec", "segment", "target"}
FRAUD_ROLES = ("developer", "deployer", "approver", "validator")


def _backend_class(service: str) -> type:
    module, _, name = BACKEND_PATHS[service].partition(":")
    return getattr(importlib.import_module(module), name)  # type: ignore[no-any-return]


@pytest.fixture
def bank(home: Path) -> Iterator[dict[str, Any]]:
    """A store with projects fraud and credit; credit owns a model with an approved version, an
    experiment with a run, a deployment and an approval request; alice holds every non-admin role
    in fraud and none elsewhere."""
    admin = open_workspace(make_settings(home))
    set_default(admin)
    admin.identity.create_project("fraud", "the fraud team")
    admin.identity.create_project("credit", "the credit team")
    admin.registry.create_model("credit-scorer", "scores applicants", project="credit")
    admin.tracking.create_experiment("credit-exp", project="credit")
    example = ai4i(20)[0]
    with admin.tracking.start_run("credit-train", experiment="credit-exp") as run:
        pass
    register(admin, TorqueThreshold(50.0), "credit-scorer", example)
    approve(home, admin, "credit-scorer/1")
    register(admin, TorqueThreshold(45.0), "credit-scorer", example)
    request = admin.governance.request_approval("credit-scorer/2", "better recall")
    admin.serving.apply({"name": "credit-prod", "variants": [{"name": "stable", "model": "credit-scorer/1"}]})
    alice = make_settings(home, user="alice", local_roles=())
    for role in FRAUD_ROLES:
        admin.identity.bind("alice", role, "fraud")
    experiment = admin.tracking.get_experiment("credit-exp")
    yield {"admin": admin, "alice": alice, "run_id": run.id, "experiment_id": experiment.id, "request_id": request.id,
           "home": home}
    admin.close()
    set_default(None)


def _arguments(service: str, method: str, fn: Any, objects: dict[str, Any]) -> dict[str, Any]:
    """Arguments for ``method`` naming credit's objects wherever a parameter names an object."""
    names = {"registry": "credit-scorer", "deploy": "credit-prod", "governance": "credit-scorer",
             "tracking": "credit-exp" if "experiment" in method else "a-run"}
    by_name = {
        "name": names[service], "model": "credit-scorer", "model_name": "credit-scorer", "ref": "credit-scorer/1",
        "run_id": objects["run_id"], "run_ids": [objects["run_id"]], "parent_id": objects["run_id"],
        "experiment_id": objects["experiment_id"], "name_or_id": objects["experiment_id"], "experiment": "credit-exp",
        "deployment": "credit-prod", "request_id": objects["request_id"], "version": 1, "alias": "champion",
        "spec": {"name": "credit-prod", "variants": [{"name": "stable", "model": "credit-scorer/1"}]},
        "segment": {"deployment": "credit-prod"}, "scope": "model", "target": "credit-scorer",
    }
    arguments = {}
    for parameter in list(inspect.signature(fn).parameters.values())[1:]:
        if parameter.name in by_name:
            arguments[parameter.name] = by_name[parameter.name]
        elif parameter.default is inspect.Parameter.empty:
            annotation = str(parameter.annotation)
            arguments[parameter.name] = ([] if annotation.startswith(("list", "Sequence")) else
                                         {} if annotation.startswith("dict") else
                                         1 if annotation.startswith("int") else
                                         True if annotation.startswith("bool") else
                                         1.0 if annotation.startswith("float") else "x")
    return arguments


def _published(service: str) -> list[tuple[str, Any]]:
    cls = _backend_class(service)
    scope = cls._projects_of.__closure__[0].cell_contents  # the ProjectScope the class was built with
    return [(m, getattr(cls, m)) for m in sorted(endpoints_of(cls)) if m not in scope.listings | scope.open]


def test_fraud_user_is_refused_every_credit_route_embedded(bank: dict[str, Any]) -> None:
    alice = open_workspace(bank["alice"])
    try:
        refused = 0
        for service in SERVICES:
            backend = alice.backend(service)
            for method, fn in _published(service):
                arguments = _arguments(service, method, fn, bank)
                with pytest.raises(SlipwayError) as caught:
                    getattr(backend, method)(**arguments)
                if not isinstance(caught.value, PermissionDenied):
                    # Only a read naming nothing credit owns may fail otherwise (e.g. NotFound).
                    assert not CREDIT_KEYS & set(arguments), (service, method, caught.value)
                    assert isinstance(caught.value, NotFound | InvalidInput), (service, method, caught.value)
                    continue
                message = str(caught.value)
                assert "alice" in message and "permission" in message, (service, method, message)
                permission = endpoints_of(type(backend))[method].split(" or ")[0]
                assert f"'{permission}'" in message or "'admin'" in message or "'governance" in message, (method, message)
                held = any(alice.principal.can_somewhere(p) for p in endpoints_of(type(backend))[method].split(" or "))
                if held:  # held in fraud: refused in credit's scope, or as needing a global role
                    assert "in project '" in message or "globally" in message, (service, method, message)
                refused += 1
        assert refused > 60  # every non-listing endpoint of the four services was tried
    finally:
        alice.close()


def test_listings_hide_credit_and_fraud_works_in_its_own_project(bank: dict[str, Any]) -> None:
    alice = open_workspace(bank["alice"])
    try:
        assert alice.registry.list_models() == []
        assert alice.registry.search_models("credit*") == []
        assert [e.name for e in alice.tracking.list_experiments()] == []
        assert alice.tracking.search_runs().runs == []
        assert alice.serving.list_deployments() == []
        assert alice.governance.list_requests() == []
        alice.tracking.create_experiment("fraud-exp", project="fraud")
        with alice.tracking.start_run("fraud-train", experiment="fraud-exp"):
            pass
        alice.registry.create_model("fraud-detector", project="fraud")
        assert [m.name for m in alice.registry.list_models()] == ["fraud-detector"]
        assert alice.registry.get_model("fraud-detector").project == "fraud"
        assert [e.name for e in alice.tracking.list_experiments()] == ["fraud-exp"]
        assert len(alice.tracking.search_runs().runs) == 1
        with pytest.raises(PermissionDenied, match="in project 'default'"):
            alice.registry.create_model("no-project")  # not bound in default
        with pytest.raises(PermissionDenied, match="in project 'credit'"):
            alice.registry.create_model("sneaky", project="credit")
    finally:
        alice.close()
    admin = bank["admin"]  # a platform admin sees every project
    assert {m.name: m.project for m in admin.registry.list_models()} == {
        "credit-scorer": "credit", "fraud-detector": "fraud"}
    assert {b.project for b in admin.identity.bindings("alice")} == {"fraud"}
    with pytest.raises(NotFound, match="project 'nope' does not exist"):
        admin.registry.create_model("orphan", project="nope")


def test_rest_refuses_fraud_user_with_403_naming_permission_and_project(bank: dict[str, Any]) -> None:
    home: Path = bank["home"]
    with platform_server(make_settings(home)) as (url, admin_token):
        headers = {"authorization": f"Bearer {admin_token}"}
        issued = httpx.post(f"{url}/api/v1/identity/create_token", json={"user": "alice"}, headers=headers).json()
        alice = {"authorization": f"Bearer {issued['token']}"}
        checked = 0
        for service in SERVICES:
            for method, fn in _published(service):
                arguments = _arguments(service, method, fn, bank)
                response = httpx.post(f"{url}/api/v1/{service}/{method}", json=arguments, headers=alice, timeout=30)
                if not CREDIT_KEYS & set(arguments) and response.status_code in (404, 422):
                    continue  # a read naming nothing credit owns
                assert response.status_code == 403, (service, method, response.text)
                assert "permission" in response.text, (service, method, response.text)
                checked += 1
        assert checked > 60
        listed = httpx.post(f"{url}/api/v1/registry/list_models", json={}, headers=alice).json()
        assert listed == []
        ws = open_workspace(make_settings(home / "client", server_url=url, token=issued["token"]))
        try:
            with pytest.raises(PermissionDenied, match=r"'read' permission.*|in project 'credit'"):
                ws.registry.get_model("credit-scorer")
            with pytest.raises(PermissionDenied, match="in project 'credit'"):
                ws.serving.rollback("credit-prod")
            assert ws.serving.list_deployments() == []
        finally:
            ws.close()


def test_cli_projects_and_bindings(bank: dict[str, Any], cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    del bank  # the CLI acts in the same home as the store's bootstrap admin
    monkeypatch.setenv("SLIPWAY_PROJECT", "default")  # `--project` sets it for the process; undone after
    assert cli("projects", "create", "risk", "--description", "model risk")[0] == 0
    code, out, _ = cli("projects", "ls", "--json")
    assert code == 0 and {"credit", "default", "fraud", "risk"} <= {p["name"] for p in json.loads(out)}
    assert cli("users", "bind", "alice", "viewer", "--project", "risk")[0] == 0
    code, out, _ = cli("users", "bindings", "alice", "--json")
    assert ["risk", "viewer"] in [[b["project"], b["role"]] for b in json.loads(out)]
    assert cli("users", "unbind", "alice", "viewer", "--project", "risk")[0] == 0
    code, _, err = cli("users", "bind", "alice", "viewer", "--project", "nope")
    assert code == 2 and "does not exist" in err
    code, out, _ = cli("--project", "credit", "experiments", "create", "from-cli", "--json")
    assert code == 0 and json.loads(out)["project"] == "credit"


def test_shared_features_are_read_across_projects_and_the_crossing_is_in_lineage(home: Path, tmp_path: Path) -> None:
    from tests.features.conftest import write_repo
    from tests.features.pit_fixture import ENTITIES

    admin = open_workspace(make_settings(home))
    try:
        for name in ("platform", "fraud"):
            admin.identity.create_project(name)
        admin.features.apply(write_repo(tmp_path / "repo"), project="platform")
        alice_settings = make_settings(home, user="alice", local_roles=(), project="fraud")
        admin.identity.bind("alice", "developer", "fraud")
        alice = open_workspace(alice_settings)
        try:
            assert {d.name for d in alice.features.definitions()} >= {"txn", "fraud"}  # readable by all
            result = alice.features.training_set(["txn"], ENTITIES, name="fraud-train")
            assert result.version is not None
            # The project-bound user sees the shared view and the crossing edge in lineage too.
            upstream = alice.lineage.upstream(f"dataset:{result.version.ref}")
            assert "txn@1" in upstream.ids("feature_view")
            crossing = next(e for e in upstream.edges if e.src_kind == "feature_view")
            assert (crossing.relation, crossing.dst_id) == ("features_of", result.version.ref)
            assert alice.lineage.downstream("feature_view:txn@1").ids("dataset_version") == [result.version.ref]
            with pytest.raises(PermissionDenied, match="in project 'platform'"):
                alice.features.apply(write_repo(tmp_path / "repo"), prune=True)
        finally:
            alice.close()
        assert admin.data.list_datasets()[0].name in {"fraud-train", "fraud-train-entities"}
        event = next(e for e in admin.audit.log(limit=200) if e.action == "feature.training_set")
        assert event.details["cross_project_reads"] == {"txn@1": "platform"}
        upstream = admin.lineage.upstream(f"dataset:{result.version.ref}")
        assert "txn@1" in upstream.ids("feature_view")
    finally:
        admin.close()
