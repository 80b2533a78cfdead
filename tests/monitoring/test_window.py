"""Current windows as mergeable partials: any split merges into the one-pass result, and a
deployment's window streams from its payload segments (only the segments the window needs)."""

from __future__ import annotations

import datetime as dt
import itertools
import pickle
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from pyarrow import csv

from slipway.core.errors import InvalidInput
from slipway.monitoring.drift import compare
from slipway.monitoring.monitor_run import read_window
from slipway.monitoring.monitor_spec import parse_window
from slipway.monitoring.payload import payload_features, payload_window
from slipway.monitoring.quality import check_quality
from slipway.monitoring.reference import Reference
from slipway.monitoring.spec import DriftSpec
from slipway.monitoring.window import WindowPartial, merge_partials
from slipway.workspace import Workspace
from tests.monitoring.payloads import record_segment
from tests.support import AI4I

TORQUE, SPEED, AIR = "Torque [Nm]", "Rotational speed [rpm]", "Air temperature [K]"
FEATURES = ["Type", AIR, SPEED, TORQUE, "Tool wear [min]"]


@pytest.fixture(scope="module")
def ai4i() -> tuple[pa.Table, pa.Table]:
    table = csv.read_csv(AI4I).select(FEATURES)
    table = table.take(pa.array(np.random.default_rng(5).permutation(table.num_rows)))
    reference, current = table.slice(0, 4000), table.slice(4000)
    current = current.set_column(3, TORQUE, pc.multiply(current.column(TORQUE), 1.1))
    speed = current.column(SPEED).to_numpy().astype(float)
    mask = np.random.default_rng(6).random(len(speed)) < 0.05  # 5 % missing speeds
    current = current.set_column(2, SPEED, pa.array(speed.astype(np.int64), mask=mask))
    return reference, current


def _same(one: object, other: object) -> None:
    first, second = asdict(one), asdict(other)  # type: ignore[call-overload]
    for key in ("score", "p_value", "p_value_adjusted"):
        a, b = first.pop(key), second.pop(key)
        assert (a is None) == (b is None) and (a is None or a == pytest.approx(b, rel=1e-9, abs=1e-12)), key
    first.pop("distribution"), second.pop("distribution")
    assert first == second


def _split(table: pa.Table, parts: int, seed: int) -> list[pa.Table]:
    rng = np.random.default_rng(seed)
    shuffled = table.take(pa.array(rng.permutation(table.num_rows)))
    cuts = np.sort(rng.choice(np.arange(1, table.num_rows), parts - 1, replace=False))
    bounds = [0, *cuts.tolist(), table.num_rows]
    pieces = [shuffled.slice(a, b - a) for a, b in itertools.pairwise(bounds)]
    rng.shuffle(pieces)  # partials merge in any order
    return pieces


@pytest.mark.parametrize("method", [None, "ks", "psi", "anderson", "t_test", "hellinger", "jensenshannon",
                                    {"numeric": "ed", "categorical": "chisquare"}])
def test_split_and_merged_partials_give_the_one_pass_result(ai4i: tuple[pa.Table, pa.Table], method: object) -> None:
    reference, current = ai4i
    prepared = Reference.of(reference)
    spec = DriftSpec.build(method, correction="bh")  # type: ignore[arg-type]
    one_pass = compare(prepared, current, spec)
    # Each partition summarised on its own (pickled, as a Ray task would return it), then merged.
    partials = [pickle.loads(pickle.dumps(WindowPartial.of(piece))) for piece in _split(current, 7, 1)]
    merged = merge_partials(partials)
    assert merged is not None and merged.num_rows == current.num_rows
    split = compare(prepared, merged, spec)
    assert [c.column for c in split.columns] == [c.column for c in one_pass.columns]
    for a, b in zip(split.columns, one_pass.columns, strict=True):
        _same(a, b)
    assert TORQUE in split.drifted_columns and split.dataset_drift == one_pass.dataset_drift


def test_quality_on_the_merged_window_finds_what_one_pass_finds(ai4i: tuple[pa.Table, pa.Table]) -> None:
    reference, current = ai4i
    zeroed = current.set_column(3, TORQUE, pc.multiply(current.column(TORQUE), 0.0))
    merged = merge_partials(WindowPartial.of(piece) for piece in _split(zeroed, 5, 2))
    assert merged is not None
    rebuilt = merged.table()
    assert rebuilt.schema == zeroed.schema  # types survive (the missing speeds stay nulls of int64)
    assert rebuilt.column(SPEED).null_count == current.column(SPEED).null_count
    one_pass, split = check_quality(reference, zeroed), check_quality(reference, rebuilt)
    assert [asdict(f) for f in split.findings] == [asdict(f) for f in one_pass.findings]
    assert "zeroed" in {f.kind for f in split.findings}


def test_a_deployment_window_streams_only_the_segments_it_needs(sqlite_ws: Workspace) -> None:
    digests = [record_segment(sqlite_ws, 500, seed, "1" if seed < 7 else "2", 15.0 if seed >= 6 else 0.0)
               for seed in range(1, 9)]
    seen: list[tuple[int, int]] = []
    window, read = payload_window(sqlite_ws, "failures", None, 1200, lambda done, total: seen.append((done, total)))
    assert read == digests[-3:]  # three of eight segments cover the last 1,200 rows
    assert window.num_rows == 1200 and seen == [(500, 1200), (1000, 1200), (1200, 1200)]
    assert window.labels == {"deployment": "failures", "model": "ai4i", "version": "1,2"}
    whole = payload_features(sqlite_ws.serving.payload_log("failures"))
    tail = whole.slice(whole.num_rows - 1200)
    reference = Reference.of(payload_features(sqlite_ws.serving.payload_log("failures")).slice(0, 2000))
    for a, b in zip(compare(reference, window).columns, compare(reference, tail).columns, strict=True):
        _same(a, b)
    assert compare(reference, window).drifted_columns == [TORQUE]


DAY = 86_400_000


def test_time_windows_read_the_rows_of_their_time_range(sqlite_ws: Workspace, tmp_path: Path) -> None:
    """Eight daily segments; ``last: 2d`` at an injected time reads the last two days only, a
    ``since``/``until`` window its range; the key names the rows' times, not the clock, so a
    monitor re-run later over the same rows records nothing new."""
    digests = [record_segment(sqlite_ws, 500, day, "1", 15.0 if day >= 7 else 0.0, ts_ms=day * DAY)
               for day in range(1, 9)]
    now = 8 * DAY + 60_000
    window, key = read_window(sqlite_ws, "deployment:failures", {"last": "2d"}, now=now)
    assert window.num_rows == 1000 and window.labels["first_ms"] == str(7 * DAY)
    assert read_window(sqlite_ws, "deployment:failures", {"last": "2d"}, now=now + 1000)[1] == key
    assert read_window(sqlite_ws, "deployment:failures", {"last": "2d", "rows": 300}, now=now)[0].num_rows == 300
    ranged, _ = read_window(sqlite_ws, "deployment:failures", {"since": 2 * DAY, "until": 4 * DAY})
    assert ranged.num_rows == 1000 and ranged.labels["last_ms"] == str(3 * DAY)
    streamed, read = payload_window(sqlite_ws, "failures", None, None, since_ms=6 * DAY + 1)
    assert read == digests[-2:] and streamed.num_rows == 1000  # the older segments are not read

    reference = tmp_path / "reference.parquet"
    pq.write_table(payload_features(sqlite_ws.serving.payload_log("failures")).slice(0, 2000)
                   .select([TORQUE, "Type"]), reference)
    sqlite_ws.monitoring.apply({"name": "days", "watch": "deployment:failures", "reference": str(reference),
                                "window": {"last": "2d"}, "checks": [{"name": "drift", "type": "drift",
                                                                      "max_share": 0.0}]})
    first = sqlite_ws.monitoring.run("days", now=now)
    assert first.status == "alert" and first.result["checks"][0]["drifted_columns"] == [TORQUE]
    again = sqlite_ws.monitoring.run("days", now=now + 3_600_000)  # an hour on, the same two days of rows
    assert not again.created and again.id == first.id
    earlier = sqlite_ws.monitoring.run("days", now=5 * DAY + 60_000)  # days 4 and 5: no drift
    assert earlier.created and earlier.result["rows"] == 1000, earlier.result
    assert earlier.status == "ok", earlier.result["checks"]


def test_time_windows_over_a_dataset_use_its_time_column(sqlite_ws: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "week.parquet"
    pq.write_table(pa.table({"x": np.arange(10.0), "ts": pa.array(np.arange(10) * DAY, pa.int64())
                             .cast(pa.timestamp("ms"))}), path)
    table, key = read_window(sqlite_ws, str(path), {"since": 3 * DAY, "until": 6 * DAY, "timestamp": "ts"})
    assert table.column("x").to_pylist() == [3.0, 4.0, 5.0]
    assert read_window(sqlite_ws, str(path), {"since": 3 * DAY, "until": 7 * DAY, "timestamp": "ts"})[1] != key
    with pytest.raises(InvalidInput, match="timestamp column 'when' is not in the data"):
        read_window(sqlite_ws, str(path), {"last": "1d", "timestamp": "when"})


@pytest.mark.parametrize(("window", "message"), [
    ({"last": "7x"}, "window last must be a duration"),
    ({"last": "0d"}, "window last must be a duration"),
    ({"last": "2d", "since": "2026-01-01"}, "'last' or 'since'/'until', not both"),
    ({"since": "2026-01-08", "until": "2026-01-01"}, "must be before until"),
    ({"since": "next tuesday"}, "not a time"),
    ({"rows": 0}, "window rows must be a positive integer"),
    ({"hours": 3}, "window must be"),
])
def test_bad_windows_are_refused(window: dict, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(InvalidInput, match=message):
        parse_window(window, "deployment:failures")
    with pytest.raises(InvalidInput, match="needs 'timestamp'"):
        parse_window({"last": "7d"}, "week@1")
    assert parse_window({"since": dt.date(2026, 1, 1)}, "deployment:x") == {"since": 1767225600000}
