"""Project-scoped reads across domains: lineage, the audit log and blob downloads. A user bound in
``fraud`` only gets the lineage, the audit events and the bytes of what fraud owns, never those of
``credit`` (403 naming the permission and the project), embedded and over REST; a global admin
sees everything."""

from __future__ import annotations

import contextlib
import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.serving.helpers import ai4i
from tests.serving.model_classes import TorqueThreshold
from tests.support import make_settings, platform_server

from slipway.audit.keys import generate_key
from slipway.blobs.manifest import load_manifest
from slipway.core.errors import NotFound, PermissionDenied
from slipway.core.settings import Settings
from slipway.core.transparency import check_inclusion_proof
from slipway.models.logging import log_model
from slipway.pipelines.records import StepPlan, StepUpdate
from slipway.workspace import Workspace, open_workspace, set_default


def _train(ws: Workspace, run: str, experiment: str, dataset: Any, model: str, threshold: float,
           example: Any, folder: Path | None = None) -> str:
    """One run of ``experiment`` reading ``dataset`` and registering a new version of ``model``."""
    with ws.tracking.start_run(run, experiment=experiment) as active:
        ws.tracking.log_input(dataset)
        if folder is not None:
            ws.tracking.log_artifact(folder, "notes")
        log_model(ws, TorqueThreshold(threshold), input_example=example, registered_model_name=model)
    return str(active.id)


@pytest.fixture
def teams(home: Path, tmp_path: Path) -> Iterator[dict[str, Any]]:
    with _teams(home, tmp_path) as made:
        yield made


@contextlib.contextmanager
def _teams(home: Path, tmp_path: Path, **store: Any) -> Iterator[dict[str, Any]]:
    """credit owns credit-data@1 → a run → credit-scorer/1; fraud owns fraud-data@1 → a run (with a
    folder artifact) → fraud-detector/1, and fraud-detector/2 was trained by a credit run on
    credit-data (an admin crossing the projects). alice is developer and auditor in fraud only."""
    key = tmp_path / "keys" / "audit.pem"
    public = generate_key(key)
    sections = {"audit": {"signing_key": str(key), "public_key": str(public), "checkpoints": str(tmp_path / "pub")}}

    def settings(**overrides: Any) -> Settings:
        return dataclasses.replace(make_settings(home, **store, **overrides), sections=sections)

    admin = open_workspace(settings())
    set_default(admin)
    example = ai4i(20)[0]
    for team in ("fraud", "credit"):
        admin.identity.create_project(team, f"the {team} team")
        admin.tracking.create_experiment(f"{team}-exp", project=team)
        admin.registry.create_model(f"{team}-{'scorer' if team == 'credit' else 'detector'}", project=team)
    credit_data = admin.data.add("credit-data", example, project="credit")
    fraud_data = admin.data.add("fraud-data", example.head(10), project="fraud")
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "readme.txt").write_text("fraud notes")
    credit_run = _train(admin, "credit-train", "credit-exp", credit_data, "credit-scorer", 50.0, example)
    fraud_run = _train(admin, "fraud-train", "fraud-exp", fraud_data, "fraud-detector", 45.0, example, notes)
    crossing_run = _train(admin, "credit-for-fraud", "credit-exp", credit_data, "fraud-detector", 40.0, example)
    alice = settings(user="alice", local_roles=())
    for role in ("developer", "auditor"):
        admin.identity.bind("alice", role, "fraud")
    yield {"admin": admin, "alice": alice, "server": settings(), "credit_run": credit_run, "fraud_run": fraud_run,
           "crossing_run": crossing_run, "example": example, "home": home, "public_key": public}
    admin.close()
    set_default(None)


def test_lineage_shows_readable_projects_and_hides_the_others(teams: dict[str, Any]) -> None:
    admin = teams["admin"]
    alice = open_workspace(teams["alice"])
    try:
        with pytest.raises(PermissionDenied, match=r"lineage of model_version 'credit-scorer/1' in project 'credit'; "
                                                   r"it needs the 'read' permission there"):
            alice.lineage.upstream("model:credit-scorer/1")
        with pytest.raises(PermissionDenied, match="in project 'credit'"):
            alice.lineage.downstream("dataset:credit-data@1")
        with pytest.raises(PermissionDenied, match="in project 'credit'"):
            alice.lineage.impact(f"run:{teams['credit_run']}")
        own = alice.lineage.upstream("model:fraud-detector/1")
        assert own.ids("run") == [teams["fraud_run"]] and own.ids("dataset_version") == ["fraud-data@1"]
        assert own.hidden == []
        # fraud-detector/2 came from a credit run on credit data: both left out, the project named.
        crossed = alice.lineage.upstream("model:fraud-detector/2")
        assert crossed.nodes == [] and crossed.edges == [] and crossed.hidden == ["credit"]
        assert alice.lineage.impact("dataset:fraud-data@1") == {"run": [teams["fraud_run"]],
                                                                 "model_version": ["fraud-detector/1"]}
        with pytest.raises(NotFound):
            alice.lineage.upstream("model:fraud-detector/9")
    finally:
        alice.close()
    everything = admin.lineage.upstream("model:fraud-detector/2")  # a global admin sees all of it
    assert everything.ids("run") == [teams["crossing_run"]] and everything.ids("dataset_version") == ["credit-data@1"]
    assert everything.hidden is None


def test_lineage_and_audit_scoping_on_postgres(home: Path, tmp_path: Path, pg_uri: str) -> None:
    """The owner lookups (``name/V`` and ``name@V`` built in SQL) and the audit filter on PostgreSQL."""
    with _teams(home, tmp_path, store_uri=pg_uri) as made:
        alice = open_workspace(made["alice"])
        try:
            assert alice.lineage.upstream("model:fraud-detector/2").hidden == ["credit"]
            assert alice.lineage.upstream("model:fraud-detector/1").ids("dataset_version") == ["fraud-data@1"]
            with pytest.raises(PermissionDenied, match="in project 'credit'"):
                alice.lineage.upstream("model:credit-scorer/1")
            subjects = {(e.subject_kind, e.subject_id) for e in alice.audit.log(limit=10_000)}
            assert {("model_version", "fraud-detector/1"), ("dataset_version", "fraud-data@1")} <= subjects
            assert not any("credit" in ident for _, ident in subjects)
        finally:
            alice.close()


def test_audit_log_keeps_the_events_of_readable_projects(teams: dict[str, Any]) -> None:
    admin = teams["admin"]
    checkpoint = admin.audit.checkpoint()["checkpoint"]
    alice = open_workspace(teams["alice"])
    try:
        events = alice.audit.log(limit=10_000)
        subjects = {(e.subject_kind, e.subject_id) for e in events}
        assert {("project", "fraud"), ("registered_model", "fraud-detector"), ("model_version", "fraud-detector/2"),
                ("dataset_version", "fraud-data@1"), ("run", teams["fraud_run"])} <= subjects
        assert not any("credit" in ident for _, ident in subjects), subjects
        assert not {("run", teams["credit_run"]), ("run", teams["crossing_run"])} & subjects
        assert not {kind for kind, _ in subjects} & {"user", "policy", "webhook"}
        assert [e.subject_id for e in alice.audit.log(subject="registered_model:fraud-detector")] == ["fraud-detector"]
        with pytest.raises(PermissionDenied, match=r"in project 'credit'; it needs the 'audit.read' permission there"):
            alice.audit.log(subject="registered_model:credit-scorer")
        with pytest.raises(PermissionDenied, match=r"'audit.read' permission.* globally"):
            alice.audit.verify()
        with pytest.raises(PermissionDenied, match=r"'audit.read' permission.* globally"):
            alice.audit.checkpoint()
        own = next(e for e in events if e.subject_id == "fraud-detector/1")
        proof = alice.audit.prove(str(own.seq), checkpoint=checkpoint)
        assert proof.document["event"]["subject_id"] == "fraud-detector/1"
        assert check_inclusion_proof(proof.document, teams["public_key"].read_bytes())["seq"] == own.seq
        credit = next(e for e in admin.audit.log(subject="registered_model:credit-scorer"))
        with pytest.raises(PermissionDenied, match="in project 'credit'"):
            alice.audit.prove(str(credit.seq), checkpoint=checkpoint)
        with pytest.raises(PermissionDenied, match="in project 'credit'"):
            alice.audit.recorded_bundle("credit-scorer", 1)
        assert alice.audit.recorded_bundle("fraud-detector", 1)["bundle_digest"]
    finally:
        alice.close()
    seen = {(e.subject_kind, e.subject_id) for e in admin.audit.log(limit=10_000)}
    assert ("registered_model", "credit-scorer") in seen and ("run", teams["credit_run"]) in seen


def test_rest_lineage_audit_and_downloads_are_scoped(teams: dict[str, Any], tmp_path: Path, cli: Any,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    admin_ws: Workspace = teams["admin"]
    credit_bundle = admin_ws.registry.resolve("credit-scorer/1").bundle_digest
    fraud_bundle = admin_ws.registry.resolve("fraud-detector/1").bundle_digest
    credit_files = {e.digest for e in load_manifest(admin_ws.blobs, credit_bundle).entries}
    fraud_files = {e.digest for e in load_manifest(admin_ws.blobs, fraud_bundle).entries}
    credit_only = sorted(credit_files - fraud_files)[0]
    stray = admin_ws.blobs.put_bytes(b"referred to by nothing")
    with platform_server(teams["server"]) as (url, admin_token):
        admin = {"authorization": f"Bearer {admin_token}"}
        token = httpx.post(f"{url}/api/v1/identity/create_token", json={"user": "alice"}, headers=admin).json()["token"]
        alice = {"authorization": f"Bearer {token}"}

        def post(path: str, body: dict[str, Any], headers: dict[str, str] = alice) -> httpx.Response:
            return httpx.post(f"{url}/api/v1/{path}", json=body, headers=headers, timeout=30)

        refused = post("lineage/upstream", {"kind": "model_version", "id": "credit-scorer/1"})
        assert refused.status_code == 403 and "'read' permission" in refused.text and "'credit'" in refused.text
        own = post("lineage/upstream", {"kind": "model_version", "id": "fraud-detector/2"})
        assert own.status_code == 200 and own.json()["hidden"] == ["credit"] and own.json()["nodes"] == []
        assert len(post("lineage/upstream", {"kind": "model_version", "id": "fraud-detector/2"}, admin).json()["nodes"]) == 2
        refused = post("audit/log", {"subject_kind": "run", "subject_id": teams["credit_run"]})
        assert refused.status_code == 403 and "'audit.read' permission" in refused.text and "'credit'" in refused.text
        listed = post("audit/log", {"limit": 10_000}).json()
        assert listed and not any("credit" in e["subject_id"] for e in listed)
        assert any("credit" in e["subject_id"] for e in post("audit/log", {"limit": 10_000}, admin).json())
        assert post("audit/verify", {}).status_code == 403

        def get(digest: str, headers: dict[str, str] = alice, **params: str) -> httpx.Response:
            return httpx.get(f"{url}/api/v1/blobs/{digest}", params=params, headers=headers, timeout=30)

        refused = get(credit_bundle)
        assert refused.status_code == 403 and "'read' permission" in refused.text and "'credit'" in refused.text
        assert get(credit_only, via=credit_bundle).status_code == 403  # the manifest is credit's
        assert "'credit'" in get(credit_only, via=credit_bundle).text
        assert get(credit_only, via=fraud_bundle).status_code == 403  # fraud's manifest does not list it
        assert get(credit_only).status_code == 403
        assert "globally" in get(stray).text and get(stray).status_code == 403  # a digest opens nothing
        assert get(fraud_bundle).status_code == 200
        assert get(credit_bundle, admin).content == admin_ws.blobs.read_bytes(credit_bundle)
        assert get(stray, admin).status_code == 200

        # A pipeline step's output (named in the step's outputs JSON) is credit's, or fraud's.
        pipelines = admin_ws.backend("pipelines")
        outputs = {}
        for team in ("credit", "fraud"):
            run = pipelines.create_run("p", "p.py:p", "inprocess", {}, [StepPlan("s", "s", [])], project=team)
            outputs[team] = admin_ws.blobs.put_bytes(f"{team} step output".encode())
            pipelines.update_steps(run.id, [StepUpdate("s", "SUCCEEDED", outputs={
                "out": {"digest": outputs[team], "kind": "bytes", "size": 1}})])
        assert get(outputs["fraud"]).content == b"fraud step output"
        assert get(outputs["credit"]).status_code == 403 and "'credit'" in get(outputs["credit"]).text

        ws = open_workspace(make_settings(teams["home"] / "alice-client", server_url=url, token=token))
        try:  # the Python client downloads a whole bundle and a folder artifact through ?via=
            predicted = ws.registry.load("fraud-detector/1").predict(teams["example"])
            assert len(predicted) == len(teams["example"])
            folder = ws.tracking.download_artifact(teams["fraud_run"], "notes", tmp_path / "got")
            assert (folder / "readme.txt").read_text() == "fraud notes"
            with pytest.raises(PermissionDenied, match="in project 'credit'"):
                ws.registry.load("credit-scorer/1")
            with pytest.raises(PermissionDenied, match="in project 'credit'"):
                ws.blobs.read_bytes(credit_bundle)
            with pytest.raises(PermissionDenied, match="in project 'credit'"):
                ws.lineage.upstream("model:credit-scorer/1")
        finally:
            ws.close()

        monkeypatch.setenv("SLIPWAY_SERVER_URL", url)  # the CLI, remote, as alice
        monkeypatch.setenv("SLIPWAY_TOKEN", token)
        code, out, _ = cli("lineage", "model:fraud-detector/2")
        assert code == 0 and "project(s) credit, which you may not read" in out and "credit-data" not in out
        code, _, err = cli("lineage", "model:credit-scorer/1")
        assert code != 0 and "'read' permission" in err and "in project 'credit'" in err
        code, out, _ = cli("audit", "log", "--limit", "10000", "--json")
        # (a readable event's details may name another project's object, as its record does: the
        # registration of fraud-detector/2 lists its training data, credit-data@1)
        subjects = {e["subject_id"] for e in json.loads(out)}
        assert code == 0 and "fraud-detector/1" in subjects and not any("credit" in s for s in subjects)
        code, _, err = cli("audit", "log", "--subject", "registered_model:credit-scorer")
        assert code != 0 and "'audit.read' permission" in err and "in project 'credit'" in err
