"""Drift and quality on the AI4I data: the shifted column is flagged, the others are not."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from pyarrow import csv

from slipway.core.errors import InvalidInput
from slipway.monitoring.choice import default_method
from slipway.monitoring.drift import compare
from slipway.monitoring.quality import check_quality
from slipway.monitoring.reference import Reference
from slipway.monitoring.reference_cache import ReferenceCache
from slipway.monitoring.spec import DriftSpec

AI4I = Path(__file__).resolve().parents[3] / "shared" / "data" / "ai4i2020" / "ai4i2020.csv"
TORQUE = "Torque [Nm]"
FEATURES = ["Type", "Air temperature [K]", "Process temperature [K]", "Rotational speed [rpm]", TORQUE,
            "Tool wear [min]", "Machine failure"]


@pytest.fixture(scope="module")
def halves() -> tuple[pa.Table, pa.Table]:
    table = csv.read_csv(AI4I).select(FEATURES)
    order = np.random.default_rng(7).permutation(table.num_rows)
    shuffled = table.take(pa.array(order))
    return shuffled.slice(0, 5000), shuffled.slice(5000)


def _with(table: pa.Table, name: str, column: pa.ChunkedArray | pa.Array) -> pa.Table:
    return table.set_column(table.column_names.index(name), name, column)


def test_shifted_torque_is_flagged_and_untouched_columns_are_not(halves: tuple[pa.Table, pa.Table]) -> None:
    reference, current = halves
    shifted = _with(current, TORQUE, pc.add(current.column(TORQUE), 8.0))
    report = compare(Reference.of(reference), shifted)
    assert report.drifted_columns == [TORQUE]
    torque = report.column(TORQUE)
    assert (torque.method, torque.threshold) == ("wasserstein", 0.1)
    assert "5000 reference rows > 1000" in torque.reason
    assert not compare(Reference.of(reference), current).drifted_columns


def test_default_choice_follows_the_rule_on_small_and_large_references(halves: tuple[pa.Table, pa.Table]) -> None:
    reference, current = halves
    small = compare(Reference.of(reference.slice(0, 1000)), current.slice(0, 800))
    assert {c.column: c.method for c in small.columns} == {
        "Type": "chisquare", "Air temperature [K]": "ks", "Process temperature [K]": "ks",
        "Rotational speed [rpm]": "ks", TORQUE: "ks", "Tool wear [min]": "ks", "Machine failure": "z"}
    large = compare(Reference.of(reference.slice(0, 1001)), current)
    assert {c.column: c.method for c in large.columns} == {
        "Type": "jensenshannon", "Air temperature [K]": "wasserstein", "Process temperature [K]": "wasserstein",
        "Rotational speed [rpm]": "wasserstein", TORQUE: "wasserstein", "Tool wear [min]": "wasserstein",
        "Machine failure": "jensenshannon"}
    assert default_method("numeric", 1000, 5) == ("chisquare", "default: numeric, 1000 reference rows ≤ 1000, 5 distinct > 2")
    assert default_method("categorical", 10, 2)[0] == "z"


def test_forced_methods_and_corrections_give_p_values_and_verdicts(halves: tuple[pa.Table, pa.Table]) -> None:
    reference, current = halves
    shifted = _with(current, TORQUE, pc.add(current.column(TORQUE), 8.0))
    spec = DriftSpec.build({"numeric": "ks", "Type": "chisquare", TORQUE: "psi"}, correction="bh")
    report = compare(Reference.of(reference), shifted, spec)
    assert report.column(TORQUE).method == "psi" and report.column(TORQUE).p_value is None
    assert report.column(TORQUE).drifted
    ks = report.column("Tool wear [min]")
    assert ks.method == "ks" and ks.p_value is not None and ks.p_value_adjusted is not None
    assert ks.p_value_adjusted >= ks.p_value and not ks.drifted


@pytest.mark.parametrize(("spec", "message"), [
    (DriftSpec.build({"Torque": "ks"}), "unknown column 'Torque'"),
    (DriftSpec.build("kolmogorov"), "unknown drift method 'kolmogorov'"),
    (DriftSpec.build({"Type": "ks"}), "does not apply to categorical column 'Type'"),
    (DriftSpec.build(threshold={TORQUE: "high"}), "must be a positive number, not 'high'"),  # type: ignore[dict-item]
    (DriftSpec.build(columns=["nope"]), "unknown column 'nope'"),
])
def test_a_bad_spec_is_invalid_input_naming_the_value(halves: tuple[pa.Table, pa.Table], spec: DriftSpec,
                                                      message: str) -> None:
    reference, current = halves
    with pytest.raises(InvalidInput, match=message.replace("(", r"\(").replace("[", r"\[")):
        compare(Reference.of(reference), current, spec)


def test_a_zeroed_column_is_caught_by_quality(halves: tuple[pa.Table, pa.Table]) -> None:
    reference, current = halves
    zeroed = _with(current, TORQUE, pa.array(np.zeros(current.num_rows)))
    report = check_quality(reference, zeroed)
    assert not report.ok
    assert TORQUE in report.columns("zeroed") and TORQUE in report.columns("constant")
    assert report.columns("zeroed") == [TORQUE]
    assert check_quality(reference, current).ok


def test_quality_reports_schema_changes(halves: tuple[pa.Table, pa.Table]) -> None:
    reference, current = halves
    changed = current.drop_columns(["Tool wear [min]"]).append_column("extra", pa.array(np.ones(current.num_rows)))
    changed = _with(changed, "Type", pa.array(np.arange(changed.num_rows)))
    kinds = {f.column: f.kind for f in check_quality(reference, changed).findings}
    assert kinds["Tool wear [min]"] == "missing_column"
    assert kinds["extra"] == "extra_column"
    assert kinds["Type"] == "type_changed"


def test_a_stored_reference_gives_the_same_verdicts(tmp_path: Path, halves: tuple[pa.Table, pa.Table]) -> None:
    from slipway.blobs.store import BlobStore

    reference, current = halves
    shifted = _with(current, TORQUE, pc.add(current.column(TORQUE), 8.0))
    cache = ReferenceCache(BlobStore(str(tmp_path / "blobs")), tmp_path / "refs")
    calls: list[int] = []

    def prepare() -> Reference:
        calls.append(1)
        return Reference.of(reference)

    first = compare(cache.get_or_prepare("v1", prepare), shifted).to_json()
    again = cache.get_or_prepare("v1", prepare)
    assert isinstance(again.numeric, np.memmap)
    assert compare(again, shifted).to_json() == first
    assert calls == [1]
