"""``slipway apply``: a platform folder in a real Git repository, planned, applied twice (the
second time changes nothing), drift detected after a change made outside Git, deletes only with
--prune, secrets referenced by environment variable name, the commit in the audit ledger."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from slipway.core.errors import InvalidInput
from slipway.gitops.plan import apply, plan
from slipway.workspace import open_workspace
from tests.gitops.conftest import PIPELINE, PIPELINES, PLATFORM
from tests.gitops.conftest import commit as _commit
from tests.gitops.conftest import git as _git
from tests.support import make_settings


def test_plan_apply_idempotent_drift_and_prune(platform) -> None:  # type: ignore[no-untyped-def]
    ws, folder = platform
    commit = _commit(folder, "platform: first cut")

    first = plan(ws, str(folder))
    assert {(i.kind, i.name, i.action) for i in first.pending} == {
        ("deployment", "credit-prod", "add"), ("monitor", "txns-quality", "add"),
        ("schedule", "nightly-retrain", "add"), ("trigger", "retrain-on-data", "add"), ("webhook", "cab", "add"),
        ("feature.entity", "customer", "add"), ("feature.feature_view", "spending", "add"),
        ("policy", "tier:high", "add")}
    assert first.commit == commit and not first.dirty and first.drifted
    assert ws.serving.list_deployments() == [] and ws.pipelines.list_schedules() == []  # a plan writes nothing

    applied = apply(ws, str(folder))
    assert len(applied.pending) == 8 and applied.applied
    (policy,) = ws.governance.list_policies()
    assert (policy.scope, policy.target, policy.revision) == ("tier", "high", 1) and "0.8" in policy.source
    assert ws.serving.get("credit-prod").variants[0].version == 1
    (schedule,) = ws.pipelines.list_schedules()
    assert schedule.cron == "0 2 * * *" and schedule.params == {"n": 5}
    (hook,) = ws.governance.list_webhooks()
    assert hook.url == "https://hooks.example.com/…" and "s" * 32 not in str(hook)
    (event,) = ws.audit.log(action="platform.apply")
    assert event.details["commit"] == commit and event.details["dirty"] is False
    assert {c["name"] for c in event.details["changes"]} >= {"credit-prod", "cab", "spending"}

    again = apply(ws, str(folder))  # the second time changes nothing
    assert again.pending == [] and not again.drifted
    assert len(ws.audit.log(action="platform.apply")) == 1 and ws.serving.get("credit-prod").revision == 1

    # A change made outside Git is drift, with the diff; applying puts the folder's version back.
    ws.pipelines.update_schedule("nightly-retrain", cron="0 3 * * *")
    drift = plan(ws, str(folder))
    (changed,) = drift.pending
    assert drift.drifted and (changed.kind, changed.action) == ("schedule", "change")
    assert changed.diff == ['- cron: "0 3 * * *"', '+ cron: "0 2 * * *"']
    apply(ws, str(folder))
    assert ws.pipelines.list_schedules()[0].cron == "0 2 * * *" and not plan(ws, str(folder)).drifted
    ws.governance.set_policy("approvals: 1\n", tier="high")  # a looser policy, set by hand
    (loosened,) = plan(ws, str(folder)).pending
    assert (loosened.kind, loosened.name, loosened.action) == ("policy", "tier:high", "change")
    assert "- approvals: 1" in loosened.diff and "+ approvals: 2" in loosened.diff
    apply(ws, str(folder))
    assert ws.governance.list_policies()[0].revision == 3 and not plan(ws, str(folder)).drifted

    # Removed from the folder: the plan says so first; only --prune deletes.
    (folder / "pipelines.yaml").write_text("---".join(PIPELINES.split("---")[:2]))
    second = _commit(folder, "platform: drop the webhook")
    kept = apply(ws, str(folder))
    assert [(i.kind, i.name, i.action) for i in kept.items if i.action != "unchanged"] == [
        ("webhook", "generic https://hooks.example.com/…", "extra")] and kept.drifted
    assert len(ws.governance.list_webhooks()) == 1
    pruning = plan(ws, str(folder), prune=True)
    assert [(i.kind, i.action) for i in pruning.pending] == [("webhook", "delete")]
    apply(ws, str(folder), prune=True)
    assert not ws.governance.list_webhooks()[0].active and not plan(ws, str(folder)).drifted
    assert ws.audit.log(action="platform.apply")[0].details["commit"] == second

    # A deployment removed from the folder: extra (drift) without --prune, deleted with it.
    (folder / "platform.yaml").write_text(PLATFORM.split("---")[1])
    assert [(i.kind, i.action) for i in plan(ws, str(folder)).items if i.action != "unchanged"] == [
        ("deployment", "extra")]
    assert [(i.kind, i.action) for i in plan(ws, str(folder), prune=True).items if i.action != "unchanged"] == [
        ("deployment", "delete")]
    assert plan(ws, str(folder)).dirty  # uncommitted change in the folder


def test_bad_folders_are_refused_before_anything_changes(platform, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    ws, folder = platform
    (folder / "pipelines.yaml").write_text(PIPELINES.replace("secret_env: CAB_WEBHOOK_SECRET", "secret: hunter2hunter2hunter2"))
    with pytest.raises(InvalidInput, match="secret_env"):
        apply(ws, str(folder))
    (folder / "pipelines.yaml").write_text(PIPELINES)
    monkeypatch.delenv("CAB_WEBHOOK_SECRET")
    with pytest.raises(InvalidInput, match=r"\$CAB_WEBHOOK_SECRET, which is not set"):
        apply(ws, str(folder))
    monkeypatch.setenv("CAB_WEBHOOK_SECRET", "s" * 32)
    (folder / "extra.yaml").write_text("kind: deployment\nname: credit-prod\nvariants: []\n")
    with pytest.raises(InvalidInput, match="declared twice"):
        apply(ws, str(folder))
    (folder / "extra.yaml").write_text("kind: cronjob\nname: x\n")
    with pytest.raises(InvalidInput, match="kind must be one of"):
        apply(ws, str(folder))
    assert ws.serving.list_deployments() == [] and ws.governance.list_webhooks() == []


def test_cli_apply_check_and_dry_run(platform, cli) -> None:  # type: ignore[no-untyped-def]
    ws, folder = platform
    _commit(folder, "platform")
    ws.close()
    code, out, err = cli("apply", str(folder), "--dry-run")
    assert code == 0 and "+ deployment credit-prod: add" in out and "8 to add" in out, err
    code, out, _ = cli("apply", str(folder), "--check")
    assert code == 1 and "deployment credit-prod: add" in out
    code, out, err = cli("apply", str(folder))
    assert code == 0 and "applied 8 change(s)" in out, err
    code, out, _ = cli("apply", str(folder), "--check")
    assert code == 0 and "0 to add, 0 to change, 0 to delete" in out
    code, _, err = cli("apply", str(folder / "missing"))
    assert code == 2 and "missing" in err


def test_apply_through_a_server(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import dataclasses

    from tests.support import platform_server

    monkeypatch.setenv("CAB_WEBHOOK_SECRET", "s" * 32)
    folder = tmp_path / "platform"
    (folder / "pipelines").mkdir(parents=True)
    (folder / "pipelines" / "retrain.py").write_text(PIPELINE)
    (folder / "platform.yaml").write_text(PLATFORM.split("---")[1])  # the monitor only
    (folder / "pipelines.yaml").write_text(PIPELINES)
    _git(folder, "init", "-q")
    commit = _commit(folder, "platform")
    settings = dataclasses.replace(make_settings(home / "server"), sections={"governance": {"dispatch_in_server": False}})
    with platform_server(settings) as (url, token):
        ws = open_workspace(make_settings(home / "client", server_url=url, token=token))
        ws.data.add("txns", pd.DataFrame({"amount": np.linspace(1, 100, 60), "count": np.arange(60) % 7}))
        assert len(apply(ws, str(folder)).pending) == 4
        assert apply(ws, str(folder)).pending == []
        ws.pipelines.disable("retrain-on-data")  # outside Git
        (drift,) = plan(ws, str(folder)).pending
        assert (drift.name, drift.diff) == ("retrain-on-data", ["- enabled: false", "+ enabled: true"])
        apply(ws, str(folder))
        assert not plan(ws, str(folder)).drifted
        events = ws.audit.log(action="platform.apply")
        assert len(events) == 2 and {e.details["commit"] for e in events} == {commit}
        ws.close()
