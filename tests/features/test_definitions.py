"""Definitions as code: plan changes nothing, apply versions and audits every change, prune is
explicit, and a bad definition is a clear error that changes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from slipway.core.errors import InvalidInput
from slipway.workspace import Workspace
from tests.features.conftest import DEFINITIONS, write_repo


def _actions(plan: object) -> dict[tuple[str, str], str]:
    return {(c.kind, c.name): c.action for c in plan.changes}  # type: ignore[attr-defined]


def test_plan_changes_nothing_and_apply_stores_every_definition(workspace: Workspace, repo: Path) -> None:
    ws = workspace
    before = len(ws.audit.log(limit=1000))
    plan = ws.features.plan(repo)
    assert not plan.applied and _actions(plan) == {
        ("entity", "customer"): "add", ("feature_view", "txn"): "add", ("on_demand_view", "amount_ratio"): "add",
        ("feature_service", "fraud"): "add"}
    assert ws.features.definitions() == [] and len(ws.audit.log(limit=1000)) == before

    applied = ws.features.apply(repo)
    assert applied.applied and len(applied.pending) == 4
    assert {(d.kind, d.name, d.version) for d in ws.features.definitions()} == {
        ("entity", "customer", 1), ("feature_view", "txn", 1), ("on_demand_view", "amount_ratio", 1),
        ("feature_service", "fraud", 1)}
    view = ws.features.get("feature_view", "txn")
    assert view.spec["ttl_seconds"] == 2 * 86400 and view.spec["source"]["path"] == str(repo / "data" / "txn.parquet")
    actions = [e.action for e in ws.audit.log(limit=1000)]
    assert actions.count("feature_definition.add") == 4
    assert ws.features.plan(repo).pending == []  # applied: nothing left to do


def test_compatible_changes_stay_in_place_and_incompatible_ones_make_a_version(sqlite_ws: Workspace, repo: Path) -> None:
    ws = sqlite_ws
    ws.features.apply(repo)
    (repo / "definitions.py").write_text(DEFINITIONS.replace('owner="risk"', 'owner="fraud-team"'))
    plan = ws.features.apply(repo)
    change = next(c for c in plan.changes if c.name == "txn")
    assert (change.action, change.version, change.fields) == ("update", 1, ["owner"])
    assert ws.features.get("feature_view", "txn").spec["owner"] == "fraud-team"

    (repo / "definitions.py").write_text(DEFINITIONS.replace('ttl="2d"', 'ttl="3d"'))
    change = next(c for c in ws.features.apply(repo).changes if c.name == "txn")
    assert (change.action, change.previous, change.version) == ("new_version", 1, 2)
    assert ws.features.get("feature_view", "txn").spec["ttl_seconds"] == 3 * 86400
    old = ws.features.get("feature_view", "txn", version=1)
    assert old.spec["ttl_seconds"] == 2 * 86400 and not old.current
    assert [e.action for e in ws.audit.log(limit=50)].count("feature_definition.new_version") == 1


def test_deletion_needs_prune_and_keeps_old_versions_readable(sqlite_ws: Workspace, repo: Path) -> None:
    ws = sqlite_ws
    ws.features.apply(repo)
    (repo / "definitions.py").write_text(DEFINITIONS.replace(', "amount_ratio"]', "]").split("\n\n@on_demand_view")[0]
                                         + '\nfraud = FeatureService("fraud", features=["txn"])\n')
    assert _actions(ws.features.apply(repo))[("on_demand_view", "amount_ratio")] == "kept"
    assert ws.features.get("on_demand_view", "amount_ratio").current
    assert _actions(ws.features.plan(repo, prune=True))[("on_demand_view", "amount_ratio")] == "remove"
    ws.features.apply(repo, prune=True)
    assert "amount_ratio" not in {d.name for d in ws.features.definitions()}
    removed = ws.features.get("on_demand_view", "amount_ratio", version=1)
    assert removed.removed_ms is not None and not removed.current


@pytest.mark.parametrize(("change", "message"), [
    (('entities=[customer]', 'entities=["merchant"]'), "unknown entity 'merchant'"),
    (('"txn_count": "int64"', '"txn_count": None'), "feature 'txn_count' has no type"),
    (('ttl="2d"', 'ttl="two days"'), "'two days' is not a duration"),
    (('Source.path("data/txn.parquet")', 'Source.path("data/nope.parquet")'), "does not exist"),
    (('Source.path("data/txn.parquet")', 'Source.dataset("no-such-dataset")'), "no-such-dataset"),
    (('created_timestamp="created"', 'created_timestamp="inserted_at"'), "no column 'inserted_at'"),
])
def test_a_bad_definition_is_a_clear_error_that_changes_nothing(sqlite_ws: Workspace, tmp_path: Path,
                                                                change: tuple[str, str], message: str) -> None:
    ws = sqlite_ws
    good = write_repo(tmp_path / "good")
    ws.features.apply(good)
    before = (ws.features.definitions(history=True), len(ws.audit.log(limit=1000)))
    bad = write_repo(tmp_path / "bad", DEFINITIONS.replace(*change).replace('owner="risk"', 'owner="someone-else"'))
    for attempt in (ws.features.plan, ws.features.apply):
        with pytest.raises(InvalidInput, match=message):
            attempt(bad)
    assert (ws.features.definitions(history=True), len(ws.audit.log(limit=1000))) == before


def test_yaml_definitions_and_a_hundred_views_in_one_apply(sqlite_ws: Workspace, tmp_path: Path) -> None:
    repo = write_repo(tmp_path / "repo", "")
    views = "".join(f"""
---
kind: feature_view
name: view_{i:03d}
entities: [customer]
source: {{path: data/txn.parquet}}
ttl: {i + 1}h
features: {{amount_sum: float64, txn_count: int64}}
tags: {{batch: "{i % 3}"}}
""" for i in range(100))
    (repo / "views.yaml").write_text("kind: entity\nname: customer\njoin_keys: [customer_id]\n" + views)
    plan = sqlite_ws.features.apply(repo)
    assert len(plan.pending) == 101
    stored = sqlite_ws.features.definitions("feature_view")
    assert len(stored) == 100 and stored[7].spec["ttl_seconds"] == 8 * 3600 and stored[7].spec["tags"] == {"batch": "1"}
    (repo / "views.yaml").write_text((repo / "views.yaml").read_text().replace("kind: feature_view\nname: view_050\n",
                                                                              "kind: feature_view\nname: view_050\nowner: me\n"))
    assert [(c.name, c.action) for c in sqlite_ws.features.plan(repo).pending] == [("view_050", "update")]
