"""The bank example as a new user runs it (``slipway example bank --small`` in a temporary home,
a real subprocess), then what they would check: both champions signed off through ServiceNow
changes, the credit baseline refused by the fairness gate, the ticket number in the audit ledger,
the model card and the evidence pack, evidence packs that verify offline (and one that does not
once an event in it is edited), the platform folder matching Git (projects and role bindings too:
a `slipway users bind` made outside Git fails `--check`), the teams isolated by their projects
(each team's user refused on the other's model, runs and deployment through Python, the CLI and
REST, both reading the shared features, the platform admin seeing everything), and a second run
that reuses what the first left. Marked slow: it simulates, trains three models and runs a canary."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from slipway.core.settings import load_settings
from slipway.workspace import open_workspace

ROOT = Path(__file__).resolve().parents[2]
SLIPWAY = str(Path(sys.executable).parent / "slipway")


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("SLIPWAY_", "BANK_"))}


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([SLIPWAY, *args], cwd=ROOT, env=env or _env(), capture_output=True, text=True, timeout=900)


def _run(home: Path) -> str:
    result = _cli("example", "bank", "--home", str(home), "--small")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    return result.stdout


def _open(home: Path) -> Any:
    return open_workspace(load_settings(home=home, user="", config_path=str(home / "slipway.toml"), server_url="",
                                        store_uri="", artifacts_uri="", token="", signing_key=""))


def _as(home: Path, user: str, project: str) -> dict[str, str]:
    """The environment of ``slipway`` run as one of the bank's people (their key, their project)."""
    return {**_env(), "SLIPWAY_HOME": str(home), "SLIPWAY_CONFIG": str(home / "slipway.toml"), "SLIPWAY_USER": user,
            "SLIPWAY_SIGNING_KEY": str(home / "keys" / user), "SLIPWAY_PROJECT": project}


def _isolation(home: Path, ws: Any, summary: dict[str, Any]) -> None:
    """Each product team's user is refused on the other team's objects (Python, CLI, REST) with a
    403 naming the permission and the project; both read the shared features; the admin sees all."""
    import httpx

    from tests.support import platform_server

    teams = {"fiona": ("fraud", "credit"), "carl": ("credit", "fraud")}
    for user, (own, other) in teams.items():
        seen = summary["isolation"][user]
        assert len(seen["refused"]) == 6 and seen["models"] == [own], seen
        assert all("may not" in m and "permission" in m and f"project '{other}'" in m for m in seen["refused"].values())
        assert seen["cli"]["exit"] == 2 and "PermissionDenied" in seen["cli"]["error"]
        assert seen["feature_views"] == ["customer_spending", "terminal_risk"]  # the shared features
        assert ws.registry.get_model(own).project == own and ws.serving.get(f"{own}-prod").project == own
        assert {(b.role, b.project) for b in ws.identity.bindings(user)} == {
            ("developer", own), ("deployer", own), ("viewer", "platform")}
        assert next(u.roles for u in ws.identity.list_users() if u.name == user) == []  # no global role
    assert summary["isolation"]["platform-ci"] == {"models": ["credit", "fraud"],
                                                   "deployments": ["credit-prod", "fraud-prod"]}

    # The CLI: one line, exit 2, naming the permission and the project.
    status = _cli("deploy", "status", "credit-prod", env=_as(home, "fiona", "fraud"))
    assert status.returncode == 2 and "'read' permission" in status.stderr and "project 'credit'" in status.stderr
    assert len(status.stderr.strip().splitlines()) == 1, status.stderr
    deleting = _cli("deploy", "delete", "fraud-prod", env=_as(home, "carl", "credit"))
    assert deleting.returncode == 2 and "'deploy' permission" in deleting.stderr, deleting.stderr

    # REST: a 403 whose body names the permission; the team's own objects answer 200.
    settings = load_settings(home=home, user="", config_path=str(home / "slipway.toml"), server_url="", store_uri="",
                             artifacts_uri="", token="", signing_key="")
    runs = {m: str(ws.registry.resolve(f"{m}@champion").run_id) for m in ("fraud", "credit")}
    with platform_server(settings) as (url, _):
        for user, (own, other) in teams.items():
            token = ws.identity.create_token(user, "isolation check", expires_in_days=1).token
            headers = {"authorization": f"Bearer {token}"}
            calls = {"registry/get_model": {"name": other}, "tracking/get_run": {"run_id": runs[other]},
                     "deploy/get": {"name": f"{other}-prod"}}
            for route, arguments in calls.items():
                answer = httpx.post(f"{url}/api/v1/{route}", json=arguments, headers=headers, timeout=60)
                assert answer.status_code == 403, (user, route, answer.text)
                assert "permission" in answer.text and f"project '{other}'" in answer.text, answer.text
            mine = httpx.post(f"{url}/api/v1/registry/get_model", json={"name": own}, headers=headers, timeout=60)
            assert mine.status_code == 200 and mine.json()["name"] == own
            views = httpx.post(f"{url}/api/v1/features/list_definitions", json={"kind": "feature_view"},
                               headers=headers, timeout=60)
            assert views.status_code == 200 and {v["name"] for v in views.json()} == {"customer_spending",
                                                                                      "terminal_risk"}


def _state(ws: Any) -> dict[str, Any]:
    return {"data": sorted((v.ref, v.digest) for d in ws.data.list_datasets() for v in ws.data.versions(d.name)),
            "models": {m: [(v.ref, ws.governance.status(v.ref).state) for v in ws.registry.list_versions(m)]
                       for m in ("fraud", "credit")},
            "champions": {m: ws.registry.resolve(f"{m}@champion").ref for m in ("fraud", "credit")},
            "requests": sorted((r.id, r.status, r.ticket_number) for r in ws.governance.list_requests())}


@pytest.mark.slow
@pytest.mark.timeout(1200)  # two runs of the example and a dozen CLI processes, on a shared, busy machine
def test_bank_example_signs_off_both_teams_models_and_reruns_to_the_same_state(tmp_path: Path) -> None:
    home = tmp_path / "bank"
    first = _run(home)
    summary = json.loads((home / "bank-summary.json").read_text())
    champions = summary["champions"]
    assert set(champions) == {"fraud", "credit"}

    # The credit baseline (sex and age among its inputs) fails the fairness gate and is never signed off.
    refused = summary["credit_fairness_gate"]["refused"]
    assert "fairness.disparate_impact_ratio >= 0.8 (sex)" in summary["credit_fairness_gate"]["error"]
    assert f"carl asking for sign-off of {refused}: refused" in first
    ws = _open(home)
    try:
        assert ws.governance.status(refused).state == "registered"
        check = ws.governance.check(refused)
        assert not check.passed and any(o.requirement.startswith("fairness.") and not o.passed for o in check.outcomes)
        reports = ws.governance.fairness_reports(champions["credit"])
        assert reports and {"sex", "age_band"} <= set(reports[-1].summary)

        # Each champion went live through a ServiceNow change approved by the CAB, not its requester.
        for model, ref in champions.items():
            assert ws.governance.status(ref).state in ("approved", "deployed")
            (request,) = [r for r in ws.governance.list_requests(model) if f"{r.model}/{r.version}" == ref]
            number = request.ticket_number
            assert number and number.startswith("CHG") and request.status == "approved"
            assert {d.approver for d in request.decisions} == {"rita", "rob"}
            assert request.requested_by not in {d.approver for d in request.decisions}
            log = ws.audit.log(subject=f"approval_request:{request.id}")
            assert any(e.action == "approval.external_ref" and e.details["number"] == number for e in log)
            assert f"change {number}" in ws.governance.card(ref)
            pack = Path(summary["evidence"][model]["path"])
            assert number in (pack / "approvals.json").read_text() and number in (pack / "model-card.md").read_text()
            lineage = (pack / "lineage.json").read_text()
            assert "transactions@1" in lineage and "customer_spending@1" in lineage
        assert summary["signoff"]["fraud-canary"]["ref"] == champions["fraud"]  # the promoted canary
        assert ws.serving.get("fraud-prod").status != "canary"
        assert ws.audit.verify().ok
        _isolation(home, ws, summary)
        before = _state(ws)
    finally:
        ws.close()

    # The evidence packs verify offline against the ledger's public key; an edited event does not.
    public_key = str(home / "keys" / "audit-signing.pem.pub")
    for model in champions:
        verified = _cli("audit", "verify-pack", summary["evidence"][model]["path"], "--public-key", public_key)
        assert verified.returncode == 0 and "valid" in verified.stdout, verified.stdout + verified.stderr
    pack = Path(summary["evidence"]["credit"]["path"])
    events = pack / "audit" / "events.jsonl"
    events.write_text(events.read_text().replace('"approval.approve"', '"approval.reject"', 1))
    assert _cli("audit", "verify-pack", str(pack), "--public-key", public_key).returncode == 1

    # The platform folder came from Git: each apply recorded its commit; the second apply changed nothing.
    assert "add binding fiona:developer@fraud" in summary["apply"]["access"]["changes"]
    assert "add project credit" in summary["apply"]["access"]["changes"]
    for key in ("access", "first", "second"):
        assert summary["apply"][key]["changes"] and summary["apply"][key]["second_apply_changes"] == 0
    assert "add feature.feature_view customer_spending" in summary["apply"]["first"]["changes"]
    assert summary["apply"]["reconcile"]["drift"] == ["change deployment fraud-prod"]  # the canary, outside Git
    env = {**_env(), "SLIPWAY_HOME": str(home), "BANK_ALERTS_WEBHOOK_SECRET": "demo-secret-not-for-production-0123456789"}
    assert _cli("apply", str(home / "platform-repo"), "--check", env=env).returncode == 0
    logged = _cli("audit", "log", "--action", "platform.apply", "--json", env=env)
    commits = {e["details"]["commit"] for e in json.loads(logged.stdout)}
    assert {summary["apply"][k]["commit"] for k in ("access", "first", "second")} <= commits
    # A role granted outside Git is drift; --prune takes it away (the plan said so first).
    assert _cli("users", "bind", "fiona", "viewer", "--project", "credit", env=env).returncode == 0
    drifted = _cli("apply", str(home / "platform-repo"), "--check", env=env)
    assert drifted.returncode == 1 and "binding fiona:viewer@credit: extra" in drifted.stdout, drifted.stdout
    pruning = _cli("apply", str(home / "platform-repo"), "--prune", env=env)
    assert pruning.returncode == 0 and "- binding fiona:viewer@credit: delete" in pruning.stdout, pruning.stdout
    assert _cli("apply", str(home / "platform-repo"), "--check", env=env).returncode == 0

    # A second run reuses everything: the same data versions, models, champions and requests.
    second = _run(home)
    assert second.count("(already versioned)") == 6
    assert "nothing to change" in second and "fraud_training_set cached" in second
    ws = _open(home)
    try:
        after = _state(ws)
    finally:
        ws.close()
    assert after == before
