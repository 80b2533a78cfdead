"""Materialisation into the online store and lookups: statuses at read time, the same values as the
offline join, incremental runs from the watermark, and a run interrupted midway resumed without
writing a row twice."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from slipway.core.errors import InvalidInput
from slipway.features.online.base import open_online_store
from slipway.workspace import Workspace, open_workspace
from tests.features.conftest import yaml_view
from tests.features.pit_fixture import FEATURES, t
from tests.support import make_settings, user_env


def ms(value: object) -> int:
    return int(pd.Timestamp(value).timestamp() * 1000)


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def online_ws(request: pytest.FixtureRequest, home: Path) -> Iterator[Workspace]:
    store = "" if request.param == "sqlite" else "redis://127.0.0.1:6379/0"
    ws = open_workspace(make_settings(home, online_store=store, store_uri=f"sqlite:///{home}/{uuid.uuid4().hex}.db"))
    yield ws
    if request.param == "redis":
        online = open_online_store(ws.settings)
        for key in online.client.scan_iter(online.prefix + "*"):  # type: ignore[attr-defined]
            online.client.delete(key)  # type: ignore[attr-defined]
    ws.close()


def test_online_values_carry_their_status_and_match_the_offline_join(online_ws: Workspace, repo: Path) -> None:
    ws = online_ws
    ws.features.apply(repo)
    end = t(3, 10)
    [run] = ws.features.materialize(end=end)
    assert (run.view, run.rows, run.end_ms, run.resumed) == ("txn", 2, ms(end), False)
    keys = [{"customer_id": 1, "amount": 60.0}, {"customer_id": 2, "amount": 1.0}, {"customer_id": 3, "amount": 1.0}]
    found = ws.features.online("fraud", keys, at_ms=ms(end))
    assert found.features == ["amount_sum", "txn_count", "amount_ratio"]
    assert found.values["amount_sum"] == [30.0, None, None] and found.values["txn_count"] == [4, None, None]
    assert found.status["amount_sum"] == ["present", "expired", "missing"]  # customer 2's value is 2 d 10 h old
    assert found.values["amount_ratio"][0] == 2.0  # the on-demand view, the same code as offline
    offline = ws.features.snapshot(["txn"], end).to_pandas().set_index("customer_id")
    assert offline.loc[1, "amount_sum"] == 30.0 and pd.isna(offline.loc[2, "amount_sum"])
    earlier = ws.features.online(["txn:amount_sum"], {"customer_id": [2]}, at_ms=ms(t(2)))
    assert earlier.values == {"amount_sum": [5.0]} and earlier.status == {"amount_sum": ["present"]}


def test_incremental_runs_start_at_the_watermark(online_ws: Workspace, repo: Path) -> None:
    ws = online_ws
    ws.features.apply(repo)
    ws.features.materialize(end=t(3, 10))
    later = pd.DataFrame({"customer_id": [2, 4], "event_timestamp": [t(4), t(4, 1)], "created": [t(4), t(4, 1)],
                          "amount_sum": [7.0, 8.0], "txn_count": [2, 1]})
    pd.concat([FEATURES, later]).to_parquet(repo / "data" / "txn.parquet")
    [run] = ws.features.materialize(end=t(5))
    assert (run.start_ms, run.rows, run.total_rows) == (ms(t(3, 10)), 2, 4)
    found = ws.features.online(["txn"], [{"customer_id": c} for c in (1, 2, 4)], at_ms=ms(t(5)))
    assert found.values["txn_count"] == [4, 2, 1] and set(found.status["txn_count"]) == {"present"}
    [status] = ws.features.status()
    assert status.watermark_ms == ms(t(5)) and status.max_event_ms == ms(t(4, 1))
    assert "feature_view.materialize" in [e.action for e in ws.audit.log(limit=50)]


def test_a_crash_between_chunks_records_nothing_and_the_rerun_resumes(sqlite_ws: Workspace, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    ws = sqlite_ws
    repo = _big_repo(tmp_path, keys=5_000)
    ws.features.apply(repo)
    store = open_online_store(ws.settings)
    original, calls = store.write, []

    def failing(*args: object, **kwargs: object) -> None:
        calls.append(len(args[1]))  # type: ignore[arg-type]
        if len(calls) == 4:
            raise OSError("disk gone")
        original(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(store, "write", failing)
    with pytest.raises(OSError):
        ws.features.materialize(["spend"], end=t(28), chunk_rows=1000)
    assert ws.features.status()[0].watermark_ms is None  # nothing recorded
    monkeypatch.setattr(store, "write", original)
    [run] = ws.features.materialize(["spend"], end=t(20), chunk_rows=1000)  # the interrupted window wins
    assert run.resumed and run.resumed_after == 3000 and run.rows == 5000 and run.end_ms == ms(t(28))
    assert store.count("spend@1") == 5000 and store.cursor("spend@1") is None


def _big_repo(tmp_path: Path, keys: int) -> Path:
    rng = np.random.default_rng(3)
    rows = keys * 3
    frame = pd.DataFrame({"customer_id": np.tile(np.arange(keys), 3),
                          "event_timestamp": pd.Timestamp("2024-01-01", tz="UTC")
                          + pd.to_timedelta(rng.integers(0, 27 * 86400, rows), unit="s"),
                          "amount_sum": rng.normal(size=rows)})
    (tmp_path / "repo").mkdir()
    frame.to_parquet(tmp_path / "repo" / "spend.parquet")
    (tmp_path / "repo" / "defs.yaml").write_text(yaml_view("spend", "spend.parquet", "30d", "{amount_sum: float64}"))
    return tmp_path / "repo"


def test_a_killed_materialisation_resumes_and_writes_every_row_once(home: Path, tmp_path: Path) -> None:
    keys = 150_000
    repo = _big_repo(tmp_path, keys)
    env = {**os.environ, **user_env(home)}
    slipway = [sys.executable, "-m", "slipway.cli.main"]
    subprocess.run([*slipway, "features", "apply", str(repo)], env=env, check=True, capture_output=True, timeout=300)
    online = home / "features" / "online.db"
    worker = subprocess.Popen([*slipway, "features", "materialize", "--end", "2024-02-01", "--chunk-rows", "500"],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    written = 0
    deadline = time.monotonic() + 240
    while written < 5_000 and time.monotonic() < deadline and worker.poll() is None:
        time.sleep(0.01)
        if online.exists():
            with sqlite3.connect(online, timeout=30) as conn:
                row = conn.execute("SELECT body FROM online_cursors").fetchone() if _has_cursors(conn) else None
            written = 0 if row is None else int(json.loads(row[0])["rows"])
    assert worker.poll() is None, "the run ended before it could be killed"
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=60)
    with sqlite3.connect(online) as conn:
        at_kill = int(json.loads(conn.execute("SELECT body FROM online_cursors").fetchone()[0])["rows"])
        assert conn.execute("SELECT count(*) FROM online_values").fetchone()[0] == at_kill  # whole chunks only
    assert 0 < at_kill < keys
    done = subprocess.run([*slipway, "features", "materialize", "--json"], env=env, capture_output=True, timeout=300,
                          check=True)
    [run] = json.loads(done.stdout)
    assert run["resumed"] and run["resumed_after"] == at_kill and run["rows"] == keys
    with sqlite3.connect(online) as conn:
        assert conn.execute("SELECT count(*) FROM online_values").fetchone()[0] == keys
        assert conn.execute("SELECT count(*) FROM online_cursors").fetchone()[0] == 0


def _has_cursors(conn: sqlite3.Connection) -> bool:
    return conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'online_cursors'").fetchone() is not None


def test_lookups_check_their_input(sqlite_ws: Workspace, repo: Path) -> None:
    sqlite_ws.features.apply(repo)
    with pytest.raises(InvalidInput, match="join key"):
        sqlite_ws.features.online(["txn"], [{"customer": 1}])
    with pytest.raises(InvalidInput, match="chunk_rows"):
        sqlite_ws.features.materialize(["txn"], chunk_rows=0)
