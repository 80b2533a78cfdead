"""The wire format's fast encoder and decoder give exactly the normal one's bytes and values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from slipway.core import fastpaths
from slipway.core.records import dumps, dumps_fast, loads, loads_fast
from slipway.data.records import StatusReport
from tests.fastpaths.conftest import Switch

VALUES = [
    {"run_id": "abc", "points": [("loss", 0.5, 1, 1700000000000), ("acc", 0.25, 2, 1700000000001)]},
    {"nested": {"a": None, "b": [1, 2.5, "x"]}, "flag": True, "none": None},
    {"nan": float("nan"), "inf": [float("inf"), -float("inf")], "tuple": (1, 2)},
    {"record": StatusReport("d", 3, ["a"], [], ["c"]), "records": [StatusReport("e", 1, [], [], [])]},
    {"set": {1, 2, 3}, "numpy": np.float64(1.5), "array": np.arange(3)},
    {"text": 'a "$r" inside a string', "$key": "dollar key", "unicode": "ünïcödé ✓"},
    {1: "non-string key"},
    [1, "two", None, {"three": 3.0}],
    StatusReport("solo", 7, [], ["gone"], []),
    "plain", 42, 1.25, None, True,
]


@pytest.mark.fast_path
@pytest.mark.parametrize("value", VALUES, ids=range(len(VALUES)))
def test_fast_wire_equals_the_normal_wire(value: object, switch: Switch) -> None:
    switch(True)
    encoded = dumps(value)
    assert dumps_fast(value) == encoded
    fast_value, normal_value = loads_fast(encoded), loads(encoded)
    assert repr(fast_value) == repr(normal_value)  # repr: NaN != NaN, and the types must agree too
    assert loads_fast(encoded.decode()) == normal_value or _has_nan(normal_value)
    assert fastpaths.taken().get("records.dumps_fast")  # the fast encoder itself answered
    switch(False)
    assert dumps_fast(value) == encoded
    assert repr(loads_fast(encoded)) == repr(normal_value)
    assert fastpaths.taken() == {}


def _has_nan(value: object) -> bool:
    if isinstance(value, float):
        return math.isnan(value)
    if isinstance(value, dict):
        return any(_has_nan(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_has_nan(v) for v in value)
    return False
