"""The streamed sort-merge join (fast path ``features.streamed_join``) gives DuckDB's ASOF join's
answer row for row: ties on event time broken by created time, TTL bounds, null feature values,
entity keys with no rows, null entity keys and times, several views, int and bool features; and
it declines what it does not answer (a string key) so DuckDB's join runs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from slipway.core import fastpaths
from slipway.workspace import Workspace
from tests.features.pit_fixture import ENTITIES, EXPECTED

START = pd.Timestamp("2024-01-01", tz="UTC")


def _both(ws: Workspace, monkeypatch: pytest.MonkeyPatch, features, entities, **options) -> tuple[pd.DataFrame, dict]:
    """The join with the fast paths on (asserting the streamed join answered) and off; equal frames."""
    monkeypatch.setenv("SLIPWAY_FAST_PATHS", "1")
    fastpaths.reset()
    fast = ws.features.training_set(features, entities, **options).to_pandas()
    taken = fastpaths.taken()
    monkeypatch.setenv("SLIPWAY_FAST_PATHS", "0")
    fastpaths.reset()
    slow = ws.features.training_set(features, entities, **options).to_pandas()
    assert fastpaths.taken() == {}
    pd.testing.assert_frame_equal(fast, slow, check_dtype=True)
    return fast, taken


def _repo(folder: Path, frames: dict[str, pd.DataFrame], views: str) -> Path:
    (folder / "data").mkdir(parents=True)
    for name, frame in frames.items():
        frame.to_parquet(folder / "data" / f"{name}.parquet")
    (folder / "defs.py").write_text(views)
    return folder


def test_random_tables_give_the_duckdb_rows(sqlite_ws: Workspace, tmp_path: Path, monkeypatch) -> None:
    rng = np.random.default_rng(3)
    n, customers = 60_000, 3_000
    seconds = rng.integers(0, 20 * 86400, n) // 600 * 600  # coarse times: many ties on event time
    spend = pd.DataFrame({
        "customer_id": rng.integers(0, customers, n), "event_timestamp": START + pd.to_timedelta(seconds, unit="s"),
        "created": START + pd.to_timedelta(seconds + rng.integers(0, 7200, n), unit="s"),
        "amount": np.where(rng.random(n) < 0.05, np.nan, rng.normal(size=n)),
        "count": rng.integers(0, 100, n).astype("int32"), "flag": rng.random(n) < 0.5})
    visits = pd.DataFrame({"customer_id": rng.integers(0, customers, n // 2),
                           "event_timestamp": START + pd.to_timedelta(rng.integers(0, 20 * 86400, n // 2), unit="s"),
                           "pages": rng.integers(1, 50, n // 2)})
    m = 20_000
    entities = pd.DataFrame({"customer_id": rng.integers(0, customers + 500, m).astype("float64"),
                             "event_timestamp": START + pd.to_timedelta(rng.integers(0, 22 * 86400, m), unit="s"),
                             "label": rng.integers(0, 2, m)})
    entities.loc[::997, "customer_id"] = np.nan  # no key: no features
    entities["customer_id"] = entities["customer_id"].astype("Int64")
    repo = _repo(tmp_path / "repo", {"spend": spend, "visits": visits}, '''
from slipway.features import Entity, FeatureView, Source

customer = Entity("customer", join_keys=["customer_id"])
spend = FeatureView("spend", entities=[customer], source=Source.path("data/spend.parquet"), created_timestamp="created",
                    ttl="3d", features={"amount": "float64", "count": "int32", "flag": "bool"})
visits = FeatureView("visits", entities=[customer], source=Source.path("data/visits.parquet"),
                     features={"pages": "int64"})
''')
    sqlite_ws.features.apply(repo)
    fast, taken = _both(sqlite_ws, monkeypatch, ["spend", "visits"], entities)
    assert taken == {"features.streamed_join": 1}
    assert len(fast) == m and fast["label"].tolist() == entities["label"].tolist()  # every row, in order
    assert fast["amount"].notna().sum() > m // 3 and fast["amount"].isna().sum() > m // 10  # both kinds of rows
    assert fast["pages"].notna().sum() > m // 2  # no TTL: most rows find a visit


def test_the_hand_checked_table_through_the_streamed_join(sqlite_ws: Workspace, repo: Path, monkeypatch) -> None:
    sqlite_ws.features.apply(repo)
    fast, taken = _both(sqlite_ws, monkeypatch, ["txn"], ENTITIES)
    assert taken == {"features.streamed_join": 1}
    got = [(None if pd.isna(a) else a, None if pd.isna(c) else c) for a, c in zip(fast["amount_sum"], fast["txn_count"],
                                                                                 strict=True)]
    assert got == EXPECTED


def test_a_string_key_is_declined_and_joined_by_duckdb(sqlite_ws: Workspace, tmp_path: Path, monkeypatch) -> None:
    frame = pd.DataFrame({"user": ["a", "b", "a"], "event_timestamp": [START, START, START + pd.Timedelta("1h")],
                          "score": [1.0, 2.0, 3.0]})
    repo = _repo(tmp_path / "repo", {"scores": frame}, '''
from slipway.features import Entity, FeatureView, Source

user = Entity("user", join_keys=["user"])
scores = FeatureView("scores", entities=[user], source=Source.path("data/scores.parquet"), features={"score": "float64"})
''')
    sqlite_ws.features.apply(repo)
    entities = pd.DataFrame({"user": ["a", "b", "c"], "event_timestamp": [START + pd.Timedelta("2h")] * 3})
    fast, taken = _both(sqlite_ws, monkeypatch, ["scores"], entities)
    assert taken == {} and fast["score"].tolist()[:2] == [3.0, 2.0] and pd.isna(fast["score"].iloc[2])


def test_sparse_keys_and_a_crowded_key_give_the_duckdb_rows(sqlite_ws: Workspace, tmp_path: Path, monkeypatch) -> None:
    # Keys far apart (ranked, not offset) and one key with hundreds of entity rows (a deep search
    # inside its group), with ties on event time.
    rng = np.random.default_rng(5)
    n, m = 8_000, 3_000
    keys = rng.integers(0, 400, n) * 10_000_019
    keys[: n // 4] = 7 * 10_000_019
    seconds = rng.integers(0, 10 * 86400, n) // 300 * 300
    scores = pd.DataFrame({"account": keys, "event_timestamp": START + pd.to_timedelta(seconds, unit="s"),
                           # distinct created times: two rows of one key and one event time never tie
                           # completely (which of them wins is then undefined, and threads may differ)
                           "created": START + pd.to_timedelta(seconds + rng.permutation(n), unit="s"),
                           "score": rng.normal(size=n)})
    accounts = rng.integers(0, 420, m) * 10_000_019
    accounts[: m // 3] = 7 * 10_000_019
    entities = pd.DataFrame({"account": accounts,
                             "event_timestamp": START + pd.to_timedelta(rng.integers(0, 11 * 86400, m), unit="s")})
    repo = _repo(tmp_path / "repo", {"scores": scores}, '''
from slipway.features import Entity, FeatureView, Source

account = Entity("account", join_keys=["account"])
scores = FeatureView("scores", entities=[account], source=Source.path("data/scores.parquet"), created_timestamp="created",
                     ttl="2d", features={"score": "float64"})
''')
    sqlite_ws.features.apply(repo)
    fast, taken = _both(sqlite_ws, monkeypatch, ["scores"], entities)
    assert taken == {"features.streamed_join": 1} and len(fast) == m
    crowded = fast["account"] == 7 * 10_000_019
    assert fast.loc[crowded, "score"].notna().sum() > m // 4 and fast["score"].isna().sum() > 0
