"""``slipway apply --prune`` deletes every kind the folder declares, and only with ``--prune``: the
plan lists the deletes first; each deleted object keeps its history; putting one back revives it."""

from __future__ import annotations

import pytest

from slipway.core.errors import Conflict
from slipway.gitops.plan import apply, plan
from tests.gitops.conftest import FEATURES, PLATFORM, commit

KINDS = {"deployment", "monitor", "schedule", "trigger", "webhook", "policy", "feature.feature_view"}


def _empty_folder(folder) -> None:  # type: ignore[no-untyped-def]
    """Everything removed from the folder but the feature entity (a view needs one)."""
    for name in ("platform.yaml", "pipelines.yaml", "governance.yaml"):
        (folder / name).unlink()
    (folder / "features" / "views.yaml").write_text(FEATURES.split("---")[0])


def test_prune_deletes_every_kind_first_and_keeps_history(platform) -> None:  # type: ignore[no-untyped-def]
    ws, folder = platform
    commit(folder, "platform")
    apply(ws, str(folder))
    ws.monitoring.run("txns-quality")
    _empty_folder(folder)
    removed = commit(folder, "platform: remove everything")

    # Without --prune: every removed object is extra (drift), and nothing is deleted.
    kept = plan(ws, str(folder))
    assert {(i.kind, i.action) for i in kept.items if i.action != "unchanged"} == {(k, "extra") for k in KINDS}
    assert kept.drifted and kept.pending == []
    apply(ws, str(folder))
    assert [d.name for d in ws.serving.list_deployments()] == ["credit-prod"]
    assert len(ws.monitoring.monitors()) == 1 and len(ws.governance.list_policies()) == 1

    # With --prune the plan says so first: every delete before any other line.
    pruning = plan(ws, str(folder), prune=True)
    actions = [i.action for i in pruning.items]
    assert {(i.kind, i.action) for i in pruning.pending} == {(k, "delete") for k in KINDS}
    assert actions[:len(KINDS)] == ["delete"] * len(KINDS) and "delete" not in actions[len(KINDS):]
    order = [i.kind for i in pruning.pending]
    assert order.index("trigger") < order.index("monitor") < order.index("deployment")  # users before used
    assert ws.serving.list_deployments() != []  # a plan deletes nothing

    applied = apply(ws, str(folder), prune=True)
    assert len(applied.pending) == len(KINDS)
    # Each kind is gone from the live state, its history kept.
    assert ws.serving.list_deployments() == []
    deleted = ws.serving.get("credit-prod")
    assert deleted.status == "deleted" and deleted.variants == [] and deleted.revision == 2
    assert [h.action for h in ws.serving.history("credit-prod")] == ["delete", "apply"]
    assert ws.monitoring.monitors() == []
    monitor = ws.monitoring.get_monitor("txns-quality")
    assert monitor.deleted_ms is not None and len(ws.monitoring.history("txns-quality")) == 1
    with pytest.raises(Conflict, match="was deleted"):
        ws.monitoring.run("txns-quality")
    assert ws.governance.list_policies() == []
    assert ws.pipelines.list_schedules() == [] and ws.pipelines.list_triggers() == []
    assert [h.active for h in ws.governance.list_webhooks()] == [False]
    assert [d.name for d in ws.features.definitions("feature_view")] == []
    # Audited: each object's own event, and the commit with every delete.
    for action in ("deployment.delete", "monitor.delete", "policy.retire", "pipeline.schedule.delete",
                   "pipeline.trigger.delete"):
        assert len(ws.audit.log(action=action)) == 1, action
    event = ws.audit.log(action="platform.apply")[0]
    assert event.details["commit"] == removed
    assert {(c["kind"], c["action"]) for c in event.details["changes"]} == {(k, "delete") for k in KINDS}
    assert ws.audit.verify().ok  # a retired policy's revision is explained by its event

    again = plan(ws, str(folder), prune=True)
    assert again.pending == [] and not again.drifted

    # Put back in the folder: added again, as a new revision of the same deployment and monitor.
    (folder / "platform.yaml").write_text(PLATFORM)
    commit(folder, "platform: the deployment is back")
    back = apply(ws, str(folder), prune=True)
    assert {(i.kind, i.action) for i in back.pending} == {("deployment", "add"), ("monitor", "add")}
    revived = ws.serving.get("credit-prod")
    assert revived.status == "stable" and revived.revision == 3 and revived.variants[0].version == 1
    assert ws.monitoring.get_monitor("txns-quality").deleted_ms is None
    assert not plan(ws, str(folder)).drifted


def test_cli_prints_deletes_first_and_applies_them_only_with_prune(platform, cli) -> None:  # type: ignore[no-untyped-def]
    ws, folder = platform
    commit(folder, "platform")
    apply(ws, str(folder))
    (folder / "platform.yaml").write_text(PLATFORM.split("---")[1])  # the deployment removed
    (folder / "governance.yaml").unlink()
    commit(folder, "platform: no deployment, no policy")
    ws.close()
    code, out, err = cli("apply", str(folder), "--check")
    assert code == 1 and "? deployment credit-prod: extra  (not in the folder; --prune deletes it)" in out, err
    code, out, err = cli("apply", str(folder), "--prune", "--dry-run")
    lines = [line for line in out.splitlines() if ": " in line and not line.startswith(" ")]
    assert code == 0 and lines[0].startswith("- deployment credit-prod: delete") and \
        lines[1].startswith("- policy tier:high: delete"), out
    assert "0 to add, 0 to change, 2 to delete" in out
    code, out, err = cli("apply", str(folder))  # without --prune: nothing deleted
    assert code == 0 and "nothing to change" in out, err
    code, out, err = cli("apply", str(folder), "--prune")
    assert code == 0 and "applied 2 change(s)" in out, err
    code, out, _ = cli("apply", str(folder), "--check")
    assert code == 0
