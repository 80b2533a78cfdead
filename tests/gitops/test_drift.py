"""``slipway apply --check`` fails after a change made outside Git to any kind the folder declares
(changed, deleted or added by hand), and applying puts the folder's version back; the commit
applied, and whether the folder had uncommitted changes, are in the plan and the audit ledger."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slipway.gitops.plan import apply, plan
from slipway.workspace import Workspace, open_workspace
from tests.gitops.conftest import FEATURES, commit
from tests.support import make_settings

MONITOR = {"name": "txns-quality", "watch": "txns", "reference": "txns@1",
           "checks": [{"name": "quality", "type": "quality"}, {"name": "drift", "type": "drift"}]}


def _other_view(ws: Workspace, folder: Any) -> None:
    extra = folder.parent / "by-hand"
    (extra / "data").mkdir(parents=True)
    (extra / "data" / "spending.parquet").write_bytes((folder / "features/data/spending.parquet").read_bytes())
    (extra / "views.yaml").write_text(FEATURES + FEATURES.split("---")[1].replace("name: spending", "name: by_hand"))
    ws.features.apply(extra)


# Each: a change made outside Git, and the (kind, name, action) the plan shows for it.
CHANGES: dict[str, tuple[Callable[[Workspace, Any], Any], tuple[str, str, str]]] = {
    "deployment changed": (lambda ws, _: ws.serving.apply({"name": "credit-prod", "variants": [
        {"name": "main", "model": "credit/1"}]}), ("deployment", "credit-prod", "change")),
    "deployment deleted": (lambda ws, _: ws.serving.delete("credit-prod"), ("deployment", "credit-prod", "add")),
    "monitor changed": (lambda ws, _: ws.monitoring.apply(MONITOR), ("monitor", "txns-quality", "change")),
    "monitor deleted": (lambda ws, _: ws.monitoring.delete_monitor("txns-quality"), ("monitor", "txns-quality", "add")),
    "schedule changed": (lambda ws, _: ws.pipelines.update_schedule("nightly-retrain", cron="0 3 * * *"),
                         ("schedule", "nightly-retrain", "change")),
    "schedule deleted": (lambda ws, _: ws.pipelines.delete("nightly-retrain"), ("schedule", "nightly-retrain", "add")),
    "trigger disabled": (lambda ws, _: ws.pipelines.disable("retrain-on-data"), ("trigger", "retrain-on-data", "change")),
    "webhook deactivated": (lambda ws, _: ws.governance.set_webhook_active(ws.governance.list_webhooks()[0].id, False),
                            ("webhook", "cab", "add")),
    "webhook added": (lambda ws, _: ws.governance.add_webhook("https://other.example.com/x", ["alias.moved"]),
                      ("webhook", "generic https://other.example.com/…", "extra")),
    "policy changed": (lambda ws, _: ws.governance.set_policy("approvals: 1\n", tier="high"),
                       ("policy", "tier:high", "change")),
    "policy retired": (lambda ws, _: ws.governance.retire_policy(tier="high"), ("policy", "tier:high", "add")),
    "feature view added": (_other_view, ("feature.feature_view", "by_hand", "extra")),
}


def test_check_fails_after_a_change_outside_git(platform) -> None:  # type: ignore[no-untyped-def]
    ws, folder = platform  # one platform, changed by hand kind after kind (a fixture each is slow)
    commit(folder, "platform")
    apply(ws, str(folder))
    assert not plan(ws, str(folder)).drifted
    for change, (made, expected) in CHANGES.items():
        made(ws, folder)
        drift = plan(ws, str(folder))
        shown = [(i.kind, i.name, i.action) for i in drift.items if i.action != "unchanged"]
        assert drift.drifted and shown == [expected], change
        apply(ws, str(folder), prune=True)  # the folder's version back (an extra object pruned)
        assert not plan(ws, str(folder)).drifted, change


def test_commit_and_uncommitted_changes_in_plan_and_ledger(platform, cli) -> None:  # type: ignore[no-untyped-def]
    ws, folder = platform
    first = commit(folder, "platform")
    apply(ws, str(folder))
    (folder / "governance.yaml").write_text((folder / "governance.yaml").read_text().replace("approvals: 2",
                                                                                            "approvals: 3"))
    assert plan(ws, str(folder)).dirty
    ws.close()
    code, out, err = cli("apply", str(folder))
    assert code == 0 and "(uncommitted changes)" in out and "warning: the folder has uncommitted changes" in out, err
    code, out, err = cli("apply", str(folder), "--json")
    assert code == 0 and '"dirty": true' in out.replace(":true", ": true")
    with open_workspace(make_settings(folder.parent / "home")) as again:
        events = again.audit.log(action="platform.apply")
    assert [(e.details["commit"], e.details["dirty"]) for e in events] == [(first, True), (first, False)]
    second = commit(folder, "platform: three approvals")
    code, out, err = cli("apply", str(folder), "--check")
    assert code == 0 and "(uncommitted changes)" not in out and second[:12] in out, err
