"""Point-in-time training sets: the hand-checkable table, Feast's DuckDB store's answer on it, the
result stored as a dataset version with lineage, other source kinds, snapshots, out of core."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from slipway.core.errors import InvalidInput
from slipway.workspace import Workspace
from tests.features.conftest import DEFINITIONS, write_repo, yaml_view
from tests.features.pit_fixture import ENTITIES, EXPECTED, EXPECTED_NO_BACKFILL, FEATURES, t

FEAST = Path(__file__).parent / "feast_parity" / "feast_duckdb.json"


def _pairs(frame: pd.DataFrame) -> list[tuple[float | None, int | None]]:
    return [(None if pd.isna(a) else float(a), None if pd.isna(c) else int(c))
            for a, c in zip(frame["amount_sum"], frame["txn_count"], strict=True)]


def test_point_in_time_join_on_the_hand_checked_table(sqlite_ws: Workspace, repo: Path) -> None:
    sqlite_ws.features.apply(repo)
    result = sqlite_ws.features.training_set(["txn"], ENTITIES)
    frame = result.to_pandas()
    assert result.version is None  # no name: nothing stored
    assert len(frame) == len(ENTITIES)  # every entity row kept, in its order
    assert frame["label"].tolist() == ENTITIES["label"].tolist()
    assert _pairs(frame) == EXPECTED
    no_backfill = sqlite_ws.features.training_set(["txn:amount_sum", "txn:txn_count"], ENTITIES, created_before_row=True)
    assert _pairs(no_backfill.to_pandas()) == EXPECTED_NO_BACKFILL


def test_the_same_rows_as_feasts_duckdb_store(sqlite_ws: Workspace, repo: Path) -> None:
    feast = json.loads(FEAST.read_text())
    assert feast["offline_store"] == "duckdb" and len(feast["rows"]) == feast["entity_rows"] == len(ENTITIES)
    sqlite_ws.features.apply(repo)
    frame = sqlite_ws.features.training_set(["txn"], ENTITIES).to_pandas()
    assert _pairs(frame) == [(r["amount_sum"], r["txn_count"]) for r in feast["rows"]]
    assert frame["customer_id"].tolist() == [r["customer_id"] for r in feast["rows"]]


def test_a_training_set_is_a_dataset_version_with_lineage(workspace: Workspace, repo: Path) -> None:
    ws = workspace
    ws.features.apply(repo)
    entities = ENTITIES.assign(amount=[50.0] * len(ENTITIES))
    result = ws.features.training_set("fraud", entities)
    assert result.version.ref == "fraud-training@1" and result.version.rows == len(ENTITIES)
    stored = ws.data.load("fraud-training@1").to_pandas()
    assert _pairs(stored) == EXPECTED
    expected_ratio = [None if a is None else 50.0 / a for a, _ in EXPECTED]
    assert [None if pd.isna(v) else v for v in stored["amount_ratio"]] == expected_ratio  # on-demand, same code
    graph = ws.lineage.upstream("dataset:fraud-training@1")
    edges = {(e.src_kind, e.src_id, e.relation, e.dst_kind, e.dst_id) for e in graph.edges}
    assert ("feature_view", "txn@1", "features_of", "dataset_version", "fraud-training@1") in edges
    assert ("file", str(repo / "data" / "txn.parquet"), "source_of", "feature_view", "txn@1") in edges
    assert ("dataset_version", "fraud-training-entities@1", "entities_of", "dataset_version", "fraud-training@1") in edges
    assert ("feature_service", "fraud@1", "features_of", "dataset_version", "fraud-training@1") in edges
    assert "feature.training_set" in [e.action for e in ws.audit.log(limit=100)]


def test_dataset_and_sql_sources_trace_to_the_source_version(sqlite_ws: Workspace, tmp_path: Path) -> None:
    ws = sqlite_ws
    ws.data.add("transactions", _parquet(tmp_path, FEATURES))
    definitions = DEFINITIONS.replace('Source.path("data/txn.parquet")', 'Source.dataset("transactions")')
    definitions += '''
doubled = FeatureView("doubled", entities=[customer], ttl="2d", created_timestamp="created",
                      source=Source.sql("SELECT customer_id, event_timestamp, created, amount_sum * 2 AS amount_x2 FROM tx",
                                        tx=Source.dataset("transactions@1")),
                      features={"amount_x2": "float64"})
'''
    ws.features.apply(write_repo(tmp_path / "repo", definitions))
    result = ws.features.training_set(["txn", "doubled"], ENTITIES, name="two-views")
    frame = result.to_pandas()
    assert _pairs(frame) == EXPECTED
    assert [None if pd.isna(v) else v for v in frame["amount_x2"]] == [None if a is None else 2 * a for a, _ in EXPECTED]
    edges = {(e.src_kind, e.src_id, e.dst_id) for e in ws.lineage.upstream("dataset:two-views@1").edges}
    assert {("dataset_version", "transactions@1", "txn@1"), ("dataset_version", "transactions@1", "doubled@1")} <= edges


def test_snapshot_of_all_entities_at_a_time(sqlite_ws: Workspace, repo: Path) -> None:
    sqlite_ws.features.apply(repo)
    frame = sqlite_ws.features.snapshot(["txn"], t(2, 11)).to_pandas()
    assert frame["customer_id"].tolist() == [1, 2]
    assert _pairs(frame) == [(21.0, 3), (5.0, 1)]
    later = sqlite_ws.features.snapshot(["txn"], t(5, 12)).to_pandas()
    assert _pairs(later) == [(None, None), (None, None)]  # both outside the TTL by then


def test_bad_entity_tables_and_name_clashes_are_errors(sqlite_ws: Workspace, repo: Path) -> None:
    sqlite_ws.features.apply(repo)
    with pytest.raises(InvalidInput, match="no column 'customer_id'"):
        sqlite_ws.features.training_set(["txn"], ENTITIES.rename(columns={"customer_id": "cid"}))
    with pytest.raises(InvalidInput, match="no column 'amount'"):
        sqlite_ws.features.training_set("fraud", ENTITIES)
    assert sqlite_ws.data.list_datasets() == []


def _parquet(folder: Path, frame: pd.DataFrame, name: str = "features.parquet") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(folder / name)
    return folder / name


def test_out_of_core_join_matches_an_independent_merge_asof(sqlite_ws: Workspace, tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    n_features, n_entities, customers = 300_000, 100_000, 20_000
    start = pd.Timestamp("2024-01-01", tz="UTC")
    features = pd.DataFrame({
        "customer_id": rng.integers(0, customers, n_features),
        "event_timestamp": start + pd.to_timedelta(rng.integers(0, 30 * 86400, n_features), unit="s"),
        "amount_sum": rng.normal(100, 20, n_features)}).drop_duplicates(["customer_id", "event_timestamp"])
    entities = pd.DataFrame({
        "customer_id": rng.integers(0, customers + 500, n_entities),  # some customers never seen
        "event_timestamp": start + pd.to_timedelta(rng.integers(0, 32 * 86400, n_entities), unit="s")})
    source = _parquet(tmp_path / "repo" / "data", features)
    (tmp_path / "repo" / "defs.yaml").write_text(yaml_view("spend", source, "3d", "{amount_sum: float64}"))
    sqlite_ws.features.apply(tmp_path / "repo")
    got = sqlite_ws.features.training_set(["spend"], entities, memory_limit="64MB").to_pandas()
    oracle = pd.merge_asof(entities.reset_index().sort_values("event_timestamp"),
                           features.sort_values("event_timestamp"), on="event_timestamp", by="customer_id",
                           tolerance=pd.Timedelta(days=3), direction="backward").sort_values("index")
    assert len(got) == n_entities
    np.testing.assert_allclose(got["amount_sum"].to_numpy(), oracle["amount_sum"].to_numpy(), equal_nan=True)
    assert got["amount_sum"].isna().sum() > 500  # unseen customers and rows past the TTL stay, as nulls
