"""A feature repository on disk: the hand-checkable transactions as a Parquet source, an entity,
a view with a created timestamp and TTL, an on-demand view and a feature service."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.features.pit_fixture import FEATURES

DEFINITIONS = '''
from slipway.features import Entity, FeatureService, FeatureView, Source, on_demand_view

customer = Entity("customer", join_keys=["customer_id"])
txn = FeatureView("txn", entities=[customer], source=Source.path("data/txn.parquet"), created_timestamp="created",
                  ttl="2d", features={"amount_sum": "float64", "txn_count": "int64"}, owner="risk")


@on_demand_view(sources=[txn], request={"amount": "float64"}, features={"amount_ratio": "float64"})
def amount_ratio(df):
    return pd.DataFrame({"amount_ratio": df["amount"] / df["amount_sum"]})


fraud = FeatureService("fraud", features=["txn", "amount_ratio"])
'''


def write_repo(folder: Path, definitions: str = DEFINITIONS) -> Path:
    (folder / "data").mkdir(parents=True, exist_ok=True)
    FEATURES.to_parquet(folder / "data" / "txn.parquet")
    (folder / "definitions.py").write_text(definitions)
    return folder


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return write_repo(tmp_path / "repo")


def yaml_view(name: str, source: Path | str, ttl: str, features: str) -> str:
    """A YAML repository of the ``customer`` entity and one view over ``source``."""
    return f"""
kind: entity
name: customer
join_keys: [customer_id]
---
kind: feature_view
name: {name}
entities: [customer]
source: {{path: {source}}}
ttl: {ttl}
features: {features}
"""
