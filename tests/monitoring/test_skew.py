"""Training-serving skew on AI4I: served rows that carry the training rows' key (``UDI``) are
joined to them and compared column by column; an online pipeline that computes torque differently
for some machines is skewed on torque only, in the quality report and in the diagnosis."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

from slipway.core.errors import InvalidInput
from slipway.models.logging import log_model
from slipway.monitoring.skew import find_key, training_serving_skew
from slipway.serving.frame import Frame
from slipway.serving.payload import PayloadEntry, entries_to_table
from slipway.workspace import Workspace
from tests.serving.helpers import FEATURES, LABEL, approve
from tests.support import AI4I, in_process_cli

TORQUE = "Torque [Nm]"
INPUTS = ["UDI", *FEATURES]


@pytest.fixture(scope="module")
def frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    """5,000 training rows; 1,000 of them served again, torque 5 % higher for 300 of them (an
    online pipeline with the wrong units for some machines)."""
    frame = pd.read_csv(AI4I, nrows=6000)
    train = frame.iloc[:5000][[*INPUTS, LABEL]].reset_index(drop=True)
    served = train.sample(1000, random_state=3).reset_index(drop=True)[INPUTS]
    served.loc[:299, TORQUE] = served.loc[:299, TORQUE] * 1.05
    return train, served


def test_the_quality_report_names_the_skewed_column(sqlite_ws: Workspace, frames, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    train, served = frames
    fresh = pd.read_csv(AI4I).iloc[9000:9100][INPUTS]  # machines the training data never saw
    report = sqlite_ws.monitoring.quality(train, pd.concat([served, fresh]), key="UDI")
    assert report.skew is not None and (report.skew.served_rows, report.skew.joined_rows) == (1100, 1000)
    shares = {c.column: c.share for c in report.skew.columns}
    assert shares[TORQUE] == 0.3 and all(v == 0.0 for c, v in shares.items() if c != TORQUE)
    assert report.skew.skewed_columns == [TORQUE] and not report.ok
    [finding] = [f for f in report.findings if f.kind == "skew"]
    assert finding.column == TORQUE and finding.share == 0.3 and "joined on 'UDI'" in finding.detail
    assert report.to_json()["skew"]["skewed_columns"] == [TORQUE]
    # Within the tolerance, a rounding difference is no skew; without the key nothing is joined.
    nudged = served.assign(**{TORQUE: np.where(served.index < 300, served[TORQUE] / 1.05, served[TORQUE]) + 1e-9})
    assert training_serving_skew(pa.Table.from_pandas(train), pa.Table.from_pandas(nudged), "UDI").skewed_columns == []
    assert sqlite_ws.monitoring.quality(train, served).skew is None

    assert find_key(pa.Table.from_pandas(train), pa.Table.from_pandas(served)) == "UDI"
    assert find_key(pa.Table.from_pandas(train), pa.Table.from_pandas(fresh)) is None  # no served key is known
    with pytest.raises(InvalidInput, match="key 'Type' is not unique"):
        sqlite_ws.monitoring.quality(train, served, key="Type")
    with pytest.raises(InvalidInput, match="no key column 'Product ID'"):
        sqlite_ws.monitoring.quality(train, served, key="Product ID")


def test_the_diagnosis_finds_skew_when_the_log_carries_the_key(sqlite_ws: Workspace, home: Path, frames,  # type: ignore[no-untyped-def]
                                                               tmp_path: Path) -> None:
    ws = sqlite_ws
    train, served = frames
    train.to_csv(tmp_path / "train.csv", index=False)
    version = ws.data.add("ai4i-keyed", tmp_path / "train.csv")
    encode = ColumnTransformer([("type", OneHotEncoder(handle_unknown="ignore"), ["Type"]), ("id", "drop", ["UDI"])],
                               remainder="passthrough")
    model = Pipeline([("encode", encode), ("model", RandomForestClassifier(n_estimators=20, max_depth=8,
                                                                            random_state=0, n_jobs=1))])
    model.fit(train[INPUTS], train[LABEL])
    with ws.tracking.start_run("train"):
        ws.tracking.log_input(version, "training")
        log_model(ws, model, input_example=train[INPUTS].head(5), registered_model_name="keyed")
    approve(home, ws, "keyed/1")
    ws.serving.apply({"name": "keyed", "variants": [{"name": "stable", "model": "keyed/1", "role": "stable"}]})
    entries = []
    for start in range(0, len(served), 100):
        rows = served.iloc[start:start + 100]
        frame = Frame({c: rows[c].to_numpy(dtype=object if c == "Type" else None) for c in INPUTS}, len(rows))
        entries.append(PayloadEntry(f"k{start}", "keyed", "stable", "keyed", "1", frame, model.predict(rows), 2.0, 200))
    buffer = io.BytesIO()
    table = entries_to_table(entries)
    pq.write_table(table, buffer)
    ws.backend("deploy").record_payload_segment({"deployment": "keyed", "digest": ws.blobs.put_bytes(buffer.getvalue()),
                                                 "rows": table.num_rows, "requests": len(entries), "first_ms": 1,
                                                 "last_ms": 2, "columns": table.column_names})
    found = ws.monitoring.diagnose("keyed")
    quality = found.step("data quality")
    assert quality.status == "problem" and quality.evidence["skew"]["key"] == "UDI"
    assert quality.evidence["skew"]["skewed_columns"] == [TORQUE]
    assert [(f["kind"], f["column"]) for f in quality.evidence["findings"]] == [("skew", TORQUE)]
    assert found.step("input schema").status == "ok" and found.verdict == "feature pipeline fault"
    assert np.isclose(next(c for c in quality.evidence["skew"]["columns"] if c["column"] == TORQUE)["share"], 0.3)


def test_the_quality_command_reports_skew_with_a_key(home: Path, tmp_path: Path, frames, monkeypatch,  # type: ignore[no-untyped-def]
                                                     capsys) -> None:
    train, served = frames
    train.to_parquet(tmp_path / "train.parquet", index=False)
    served.to_parquet(tmp_path / "served.parquet", index=False)
    monkeypatch.setenv("SLIPWAY_HOME", str(home))
    monkeypatch.chdir(home)
    run = in_process_cli(monkeypatch, capsys)
    code, out, _err = run("monitors", "quality", tmp_path / "train.parquet", tmp_path / "served.parquet",
                          "--key", "UDI", "--json")
    report = json.loads(out)
    assert code == 0 and not report["ok"] and report["skew"]["skewed_columns"] == [TORQUE]
    code, out, _err = run("monitors", "quality", tmp_path / "train.parquet", tmp_path / "served.parquet", "--key", "UDI")
    assert code == 0 and "training-serving skew (1000 of 1000 rows joined on UDI)" in out
    code, _out, err = run("monitors", "quality", tmp_path / "train.parquet", tmp_path / "served.parquet", "--key", "Type")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "key 'Type' is not unique" in err
