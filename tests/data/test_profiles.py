"""Profiles are mergeable: profile(A) merged with profile(B) equals profile(A + B) within sketch error."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slipway.core.errors import InvalidInput
from slipway.data.profile import TableProfile, profiles_from_bytes, profiles_to_bytes
from slipway.data.tables import read_table
from tests.support import AI4I, MOVIELENS

AI4I_TABLE = read_table(AI4I, "ai4i.csv")
RATINGS = read_table(MOVIELENS / "ratings.csv", "ratings.csv").slice(0, 40_000)


RANK_ERROR = 0.035  # twice KLL's normalised rank error at k=200 (both sides of a comparison may err)


def _close(merged: dict, whole: dict, table: pa.Table) -> None:
    for name, expected in whole.items():
        got = merged[name]
        assert (got["count"], got["nulls"], got["type"]) == (expected["count"], expected["nulls"], expected["type"])
        assert got["distinct"] == pytest.approx(expected["distinct"], rel=0.05, abs=2)
        if "mean" in expected:
            assert (got["min"], got["max"]) == (expected["min"], expected["max"])
            assert got["mean"] == pytest.approx(expected["mean"], rel=1e-9)
            assert got["std"] == pytest.approx(expected["std"], rel=1e-9)
            values = np.sort(table.column(name).to_numpy().astype(float))
            for q, value in got["quantiles"].items():
                # The merged sketch's quantile must sit at rank q of the real data, within KLL's error.
                low = np.searchsorted(values, value, "left") / len(values)
                high = np.searchsorted(values, value, "right") / len(values)
                assert low - RANK_ERROR <= float(q) <= high + RANK_ERROR, (name, q, value, low, high)
        if "top" in expected:
            assert dict(map(tuple, got["top"])) == dict(map(tuple, expected["top"]))


@settings(max_examples=8, deadline=None)
@given(cut=st.integers(min_value=1, max_value=9_999))
def test_ai4i_partitions_merge_into_the_whole(cut: int) -> None:
    merged = TableProfile.of(AI4I_TABLE.slice(0, cut)).merge(TableProfile.of(AI4I_TABLE.slice(cut)))
    assert merged.rows == 10_000
    _close(merged.summary(), TableProfile.of(AI4I_TABLE).summary(), AI4I_TABLE)


def test_movielens_four_partitions_and_serialisation() -> None:
    parts = [TableProfile.of(RATINGS.slice(i * 10_000, 10_000)) for i in range(4)]
    merged = profiles_from_bytes(profiles_to_bytes({"r.csv": parts[0]}))["r.csv"]
    for part in parts[1:]:
        merged = merged.merge(part)
    _close(merged.summary(), TableProfile.of(RATINGS).summary(), RATINGS)


def test_merging_different_columns_is_refused() -> None:
    with pytest.raises(InvalidInput, match="different columns"):
        TableProfile.of(AI4I_TABLE.slice(0, 10)).merge(TableProfile.of(RATINGS.slice(0, 10)))
    other = pa.table({"UDI": pa.array(["a"])})
    with pytest.raises(InvalidInput, match="'UDI'"):
        TableProfile.of(AI4I_TABLE.select(["UDI"]).slice(0, 1)).merge(TableProfile.of(other))


def test_a_distinct_estimate_never_exceeds_the_values_counted() -> None:
    """HLL overestimates by a percent or two: 610 unique ids (a feature view's entities) showed 611
    or 613 distinct. The summary caps the estimate at the non-null values it counted."""
    summary = TableProfile.of(pa.table({"id": pa.array(range(610)), "big": pa.array(range(20_000, 20_610))})).summary()
    for column in ("id", "big"):
        assert summary[column]["distinct"] <= summary[column]["count"] - summary[column]["nulls"] == 610
