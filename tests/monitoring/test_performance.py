"""Realised metrics equal scikit-learn's, their bootstrap intervals cover them, chunks follow
NannyML's rules, DLE tracks a regression model's error, and bad input is refused."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from pyarrow import csv
from sklearn import metrics as skm
from sklearn.ensemble import HistGradientBoostingRegressor

from slipway.core.errors import InvalidInput
from slipway.monitoring.chunks import Chunking
from slipway.monitoring.performance import performance
from slipway.monitoring.realised import realised
from tests.support import AI4I


def _binary(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    score = np.round(rng.random(n), 2)  # ties, as real scores have
    y = (rng.random(n) < score).astype(np.float64)
    return y, (score >= 0.5).astype(np.float64), score


def test_realised_classification_metrics_equal_scikit_learn() -> None:
    y, yhat, score = _binary(3000, 1)
    got = realised(["accuracy", "precision", "recall", "f1", "roc_auc", "log_loss"], y, yhat, score, replicates=300)
    expected = {"accuracy": skm.accuracy_score(y, yhat), "precision": skm.precision_score(y, yhat),
                "recall": skm.recall_score(y, yhat), "f1": skm.f1_score(y, yhat),
                "roc_auc": skm.roc_auc_score(y, score), "log_loss": skm.log_loss(y, score)}
    for name, value in expected.items():
        assert got[name].value == pytest.approx(value, abs=1e-12), name
        lower, upper = got[name].lower, got[name].upper
        assert lower is not None and upper is not None and lower < value < upper, name
    # The interval's width is what the sampling error of a proportion says (sqrt(p(1-p)/n)).
    p = expected["accuracy"]
    width = got["accuracy"].upper - got["accuracy"].lower  # type: ignore[operator]
    assert width == pytest.approx(2 * 1.96 * np.sqrt(p * (1 - p) / 3000), rel=0.25)


def test_realised_regression_metrics_equal_scikit_learn() -> None:
    rng = np.random.default_rng(2)
    y = rng.normal(40, 10, 2000)
    yhat = y + rng.normal(0, 3, 2000)
    got = realised(["mae", "rmse", "mape", "r2"], y, yhat, None, replicates=100)
    assert got["mae"].value == pytest.approx(skm.mean_absolute_error(y, yhat), abs=1e-12)
    assert got["rmse"].value == pytest.approx(np.sqrt(skm.mean_squared_error(y, yhat)), abs=1e-12)
    assert got["mape"].value == pytest.approx(skm.mean_absolute_percentage_error(y, yhat), abs=1e-12)
    assert got["r2"].value == pytest.approx(skm.r2_score(y, yhat), abs=1e-12)
    assert got["rmse"].lower < got["rmse"].value < got["rmse"].upper  # type: ignore[operator]


def test_the_bootstrap_is_deterministic_and_bounded_in_memory() -> None:
    y, yhat, score = _binary(50_000, 3)
    first = realised(["roc_auc"], y, yhat, score, replicates=200, seed=7)["roc_auc"]
    again = realised(["roc_auc"], y, yhat, score, replicates=200, seed=7)["roc_auc"]
    assert first == again and first.lower < first.value < first.upper  # type: ignore[operator]


def test_chunks_follow_nannyml() -> None:
    by_size = Chunking.build(size=400).split(1000)
    assert by_size.keys == ["[0:399]", "[400:799]", "[800:999]"]  # the incomplete chunk is kept
    by_number = Chunking.build(number=3).split(1000)
    assert by_number.sizes.tolist() == [333, 333, 333, 1]
    assert len(Chunking.build().split(1000)) == 10  # NannyML's default: 10 chunks
    day = 86_400_000
    stamps = np.array([0, 1, day + 5, day + 6, 3 * day], dtype=np.int64)
    by_day = Chunking.build(period="1d").split(5, stamps)
    assert by_day.starts.tolist() == [0, 2, 4] and by_day.keys[1] == "1970-01-02T00:00:00"
    for bad in ({"size": 0}, {"period": "fortnight"}, {"size": 10, "number": 2}):
        with pytest.raises(InvalidInput):
            Chunking.build(**bad)  # type: ignore[arg-type]


def test_realised_only_by_time_window_without_a_reference() -> None:
    y, yhat, score = _binary(600, 4)
    hour = 3_600_000
    table = pa.table({"target": y, "prediction": yhat, "score": score, "ts": np.arange(600) * (hour // 100)})
    report = performance(None, table, timestamp="ts", chunk_period="1h", estimate=False, replicates=50)
    assert report.estimator is None and [c.rows for c in report.metric("accuracy")] == [100] * 6
    assert all(c.lower_threshold is None and not c.alert for c in report.chunks)
    first = report.metric("accuracy")[0]
    assert first.realised == pytest.approx(float(np.mean(y[:100] == yhat[:100])))


def test_dle_tracks_a_regression_models_error_on_ai4i() -> None:
    """Torque from the other sensors, trained on slow spindles only: when the current rows move to
    fast spindles (where the reference shows large errors), DLE's estimate rises with the realised
    error, and alerts."""
    table = csv.read_csv(AI4I)
    inputs = ["Air temperature [K]", "Process temperature [K]", "Rotational speed [rpm]", "Tool wear [min]"]
    order = np.random.default_rng(0).permutation(table.num_rows)
    x = np.column_stack([table[c].to_numpy().astype(float) for c in inputs])[order]
    y = table["Torque [Nm]"].to_numpy().astype(float)[order]
    slow = np.flatnonzero(x[:4000, 2] < 1500)
    model = HistGradientBoostingRegressor(max_iter=60, random_state=0).fit(x[slow], y[slow])

    def frame(rows: np.ndarray) -> pa.Table:
        return pa.table({**{c: x[rows, i] for i, c in enumerate(inputs)}, "target": y[rows],
                         "prediction": model.predict(x[rows])})

    fast = 7000 + np.flatnonzero(x[7000:, 2] > 1600)
    current = pa.concat_tables([frame(np.arange(7000, 8500)), frame(fast[:1500])])
    report = performance(frame(np.arange(4000, 7000)), current, problem="regression", chunk_size=500,
                         replicates=0)
    assert report.estimator == "dle"
    for metric in ("mae", "rmse", "mape"):
        chunks = report.metric(metric)
        assert all(c.within_band for c in chunks), metric  # the realised error lies in the estimate's band
        assert [c.alert_estimated for c in chunks] == [False, False, False, True, True], metric
    assert all(c.estimated is None for c in report.metric("r2"))  # realised only


@pytest.mark.parametrize("change, message", [
    ({"metrics": ["auc"]}, "unknown classification metric"),
    ({"problem": "ranking"}, "problem must be"),
    ({"prediction": "nope"}, "no column"),
    ({"chunk_period": "1d"}, "needs timestamp"),
])
def test_bad_arguments_are_refused_with_the_offending_value(change: dict, message: str) -> None:
    y, yhat, score = _binary(200, 5)
    table = pa.table({"target": y, "prediction": yhat, "score": score})
    with pytest.raises(InvalidInput, match=message):
        performance(table, table, **change)


def test_labels_that_are_not_binary_are_refused() -> None:
    y, yhat, score = _binary(200, 6)
    reference = pa.table({"target": y * 3, "prediction": yhat, "score": score})
    with pytest.raises(InvalidInput, match="0/1 labels"):
        performance(reference, reference.drop_columns(["target"]))
    unlabelled = pa.table({"prediction": yhat, "score": score})
    with pytest.raises(InvalidInput, match="label in 'target' on every row"):
        performance(unlabelled.append_column("target", pa.nulls(200, pa.float64())), unlabelled)
