"""The wire codec's fast path gives the same bytes and values as the full codec."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from slipway.core.records import dumps, dumps_fast, loads, loads_fast
from slipway.tracking.records import Metric, RunInput

_scalars = st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats() | st.text(max_size=8)
_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.tuples(inner, inner) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=20,
)


def _same(value: Any) -> None:
    assert dumps_fast(value) == dumps(value)
    encoded = dumps(value)
    assert repr(loads_fast(encoded)) == repr(loads(encoded))


@given(st.dictionaries(st.text(max_size=6), _values, max_size=5))
def test_arguments_encode_identically(arguments: dict[str, Any]) -> None:
    _same(arguments)


@given(_values)
def test_any_plain_value_encodes_identically(value: Any) -> None:
    _same(value)


def test_metric_batches_records_and_special_values() -> None:
    points = [("loss", 0.5, 1, 1700000000000), ("odd", math.nan, 2, 1), ("big", math.inf, 3, 2)]
    _same({"run_id": "r" * 32, "metrics": points, "params": None, "tags": {"a": "b"}})
    _same({"metrics": [("loss", 0.5, 1, 1)], "params": {"nullable": "null"}})
    _same({"m": Metric("k", math.nan, 0, 1), "inputs": [RunInput("d", None, "0" * 64, "training")]})
    _same({"s": {1, 2}, "n": np.array([1.0, 2.0]), "f": np.float64(-math.inf)})
    _same({1: "int key"})
    _same({"text": 'a "$r" inside a string'})
    assert loads_fast(dumps_fast({"x": math.nan}))["x"] != loads_fast(dumps_fast({"x": math.nan}))["x"]  # NaN survives
    assert loads_fast(dumps_fast(Metric("k", 1.0, 2, 3))) == Metric("k", 1.0, 2, 3)
