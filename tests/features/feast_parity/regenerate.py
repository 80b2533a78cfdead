"""Regenerate ``feast_duckdb.json``: Feast's DuckDB offline store on the hand-checkable table.

Run inside a Feast 0.67 venv (tests never need Feast; they read the committed JSON)::

    /work/.bench/venv-feast/bin/python tests/features/feast_parity/regenerate.py

It builds a throwaway Feast repository (DuckDB offline store, a file source with the same
created-timestamp column and 2-day TTL), calls ``get_historical_features`` for the entity rows,
and writes every output row, keyed by the entity row's position.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2]))

import feast  # noqa: E402
from feast import Entity, FeatureStore, FeatureView, Field, FileSource  # noqa: E402
from feast.types import Float64, Int64  # noqa: E402
from tests.features.pit_fixture import ENTITIES, FEATURES  # noqa: E402

CONFIG = """project: parity
registry: {folder}/registry.db
provider: local
offline_store:
  type: duckdb
online_store:
  type: sqlite
  path: {folder}/online.db
entity_key_serialization_version: 3
"""


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        FEATURES.to_parquet(root / "txn.parquet")
        (root / "feature_store.yaml").write_text(CONFIG.format(folder=folder))
        customer = Entity(name="customer", join_keys=["customer_id"])
        source = FileSource(path=str(root / "txn.parquet"), timestamp_field="event_timestamp",
                            created_timestamp_column="created")
        view = FeatureView(name="txn", entities=[customer], ttl=dt.timedelta(days=2), source=source,
                           schema=[Field(name="amount_sum", dtype=Float64), Field(name="txn_count", dtype=Int64)])
        store = FeatureStore(repo_path=folder)
        store.apply([customer, view])
        entities = ENTITIES.assign(row=range(len(ENTITIES)))
        result = store.get_historical_features(entity_df=entities,
                                               features=["txn:amount_sum", "txn:txn_count"]).to_df()
    rows = []
    for record in result.sort_values("row").to_dict("records"):
        amount, count = record["amount_sum"], record["txn_count"]
        rows.append({"row": int(record["row"]), "customer_id": int(record["customer_id"]),
                     "amount_sum": None if amount != amount or amount is None else float(amount),
                     "txn_count": None if count is None or count != count else int(count)})
    # Feast's DuckDB store keeps every entity row (nulls where nothing is in TTL): a fixture that
    # lost one would make the parity test compare against a dropped row, so refuse to write it.
    assert [r["row"] for r in rows] == list(range(len(ENTITIES))), f"Feast returned rows {[r['row'] for r in rows]}"
    out = {"feast_version": feast.__version__, "offline_store": "duckdb", "entity_rows": len(ENTITIES), "rows": rows}
    (HERE / "feast_duckdb.json").write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
