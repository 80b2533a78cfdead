"""Schema inference and validation on AI4I and MovieLens, with anomalies typed by column and share."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
import yaml

from slipway.core.errors import InvalidInput
from slipway.data.tables import read_table
from slipway.workspace import Workspace
from tests.support import AI4I, MOVIELENS


def _broken_ai4i() -> pa.Table:
    """AI4I with one column renamed, 5% nulls in air temperature and 3% of torque shifted out of range."""
    table = read_table(AI4I, "ai4i.csv")
    table = table.rename_columns(["Rotational speed (rpm)" if c == "Rotational speed [rpm]" else c
                                  for c in table.column_names])
    air = table.column("Air temperature [K]").to_numpy()
    mask = np.zeros(len(air), dtype=bool)
    mask[::20] = True
    table = table.set_column(3, "Air temperature [K]", pa.array(air, mask=mask))
    torque = table.column("Torque [Nm]").to_numpy().copy()
    torque[:300] += 150.0
    return table.set_column(6, "Torque [Nm]", pa.array(torque))


def test_ai4i_renamed_column_nulls_and_torque_shift(sqlite_ws: Workspace, tmp_path: Path) -> None:
    data = sqlite_ws.data
    data.add("ai4i", AI4I, key="UDI")
    revision = data.infer_schema("ai4i@1")
    assert revision.revision == 1 and "Torque [Nm]" in yaml.safe_load(revision.body)["columns"]
    assert data.validate("ai4i@1").anomalies == []

    broken = tmp_path / "broken.parquet"
    import pyarrow.parquet as pq

    pq.write_table(_broken_ai4i(), broken)
    report = data.validate(str(broken), schema="ai4i")
    found = sorted((a.kind, a.column, a.severity, a.share) for a in report.anomalies)
    assert found == [
        ("extra_column", "Rotational speed (rpm)", "warning", None),
        ("missing_column", "Rotational speed [rpm]", "error", None),
        ("null_share", "Air temperature [K]", "error", pytest.approx(0.05)),
        ("out_of_range", "Torque [Nm]", "error", pytest.approx(0.03)),
    ]
    assert not report.ok and report.rows == 10_000


def test_categories_rows_types_and_staleness(sqlite_ws: Workspace) -> None:
    ratings = read_table(MOVIELENS / "ratings.csv", "ratings.csv").slice(0, 20_000)
    ratings = ratings.set_column(3, "timestamp", pc.cast(pc.multiply(ratings.column("timestamp"), 1000),
                                                          pa.timestamp("ms")))
    ratings = ratings.append_column("source", pa.array(["web", "app"] * 10_000))
    schema = yaml.safe_load(sqlite_ws.data.infer_schema(sqlite_ws.data.add("ratings", ratings), save=False).body)
    schema["freshness"] = {"column": "timestamp", "max_age_days": 30}
    assert schema["columns"]["source"]["categories"] == ["app", "web"]

    changed = ratings.slice(0, 2000)
    changed = changed.set_column(4, "source", pa.array(["web"] * 1900 + ["kiosk"] * 100))
    changed = changed.set_column(1, "movieId", pc.cast(changed.column("movieId"), pa.string()))
    report = sqlite_ws.data.validate(changed, schema=schema)
    found = {(a.kind, a.column): a for a in report.anomalies}
    assert set(found) == {("too_few_rows", None), ("type_changed", "movieId"), ("unseen_category", "source"),
                          ("stale_data", "timestamp")}
    assert found[("unseen_category", "source")].share == pytest.approx(0.05)
    assert "kiosk" in found[("unseen_category", "source")].detail
    newest = int(pc.max(ratings.column("timestamp")).cast(pa.int64()).as_py())
    fresh = sqlite_ws.data.validate(ratings, schema=schema, at_ms=newest + 86_400_000)
    assert fresh.anomalies == []


def test_schema_revisions_and_bad_yaml(sqlite_ws: Workspace, ai4i_7000: Path) -> None:
    data = sqlite_ws.data
    data.add("ai4i", ai4i_7000)
    body = yaml.safe_load(data.infer_schema("ai4i").body)
    body["columns"]["Torque [Nm]"]["max"] = 50.0
    second = data.save_schema("ai4i", yaml.safe_dump(body))
    assert second.revision == 2 and data.schema("ai4i").revision == 2 and data.schema("ai4i", 1).revision == 1
    report = data.validate("ai4i@1")
    assert [(a.kind, a.column) for a in report.anomalies] == [("out_of_range", "Torque [Nm]")]
    for bad, needle in (("columns: [1, 2", "not valid YAML"), ("columns: {a: {type: int64, mn: 1}}", "mn"),
                        ("columns: {a: {type: int64, min: low}}", "'low'")):
        with pytest.raises(InvalidInput, match=needle):
            data.save_schema("ai4i", bad)
    assert data.schema("ai4i").revision == 2


def test_inferred_schema_leaves_the_key_and_increasing_ids_open_ended(sqlite_ws: Workspace, tmp_path: Path) -> None:
    """Issue 23: infer from the first weeks, validate the next week and the whole file, no hand edit."""
    table = read_table(AI4I, "ai4i.csv")
    first, everything = tmp_path / "first6000.csv", tmp_path / "all10000.csv"
    import pyarrow.csv as pacsv

    pacsv.write_csv(table.slice(0, 6000), first)
    pacsv.write_csv(table, everything)
    data = sqlite_ws.data
    data.add("s", first, key="UDI")
    columns = yaml.safe_load(data.infer_schema("s@1").body)["columns"]
    assert "max" not in columns["UDI"] and columns["UDI"]["min"] >= 0
    assert "max" in columns["Torque [Nm]"]  # an ordinary measurement keeps its range
    report = data.validate(everything, schema="s")
    assert report.anomalies == []  # was out_of_range on UDI for 34% of rows
    pacsv.write_csv(table.slice(0, 7000), next_week := tmp_path / "next_week.csv")  # versions accumulate
    assert data.validate(next_week, schema="s").anomalies == []


def test_an_increasing_id_without_a_declared_key_is_open_ended_too(sqlite_ws: Workspace, tmp_path: Path) -> None:
    table = read_table(AI4I, "ai4i.csv").slice(0, 3000)
    import pyarrow.csv as pacsv

    pacsv.write_csv(table, path := tmp_path / "first.csv")
    sqlite_ws.data.add("nokey", path)
    columns = yaml.safe_load(sqlite_ws.data.infer_schema("nokey@1").body)["columns"]
    assert "max" not in columns["UDI"]
    assert "max" in columns["Tool wear [min]"]
