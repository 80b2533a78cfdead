"""The wire codec round-trips records and non-finite floats; name and key checks refuse bad input."""

from __future__ import annotations

import math

import pytest

from slipway.core.errors import ERRORS_BY_NAME, InvalidInput, NotFound, error_from_dict
from slipway.core.names import check_key, check_name, check_number
from slipway.core.records import dumps, loads
from slipway.tracking.records import Metric, RunComparison


def test_records_round_trip_over_the_wire() -> None:
    value = {"points": [Metric("loss", math.nan, 1, 2), Metric("auc", math.inf, 0, 1)],
             "cmp": RunComparison(["a"], {"p": ["1"]}, {"m": [None]}, [])}
    back = loads(dumps(value))
    assert isinstance(back["points"][0], Metric) and math.isnan(back["points"][0].value)
    assert back["points"][1].value == math.inf
    assert back["cmp"] == value["cmp"]


def test_errors_round_trip_by_name_and_status() -> None:
    assert isinstance(error_from_dict(NotFound("x").to_dict(), 404), NotFound)
    assert isinstance(error_from_dict({"message": "?"}, 422), InvalidInput)
    assert all(cls.__name__ == name for name, cls in ERRORS_BY_NAME.items())


@pytest.mark.parametrize("bad", ["", " lead", "a/b", "x" * 201, None, 3])
def test_bad_names(bad: object) -> None:
    with pytest.raises(InvalidInput):
        check_name(bad)


@pytest.mark.parametrize("bad", ["", "/abs", "a/../b", "k" * 251, "semi;colon"])
def test_bad_keys(bad: str) -> None:
    with pytest.raises(InvalidInput):
        check_key(bad)


def test_numbers() -> None:
    assert check_key("f1 score/val:0") == "f1 score/val:0"
    assert check_number(3) == 3.0 and math.isnan(check_number(math.nan))
    for bad in (True, "1.0", None):
        with pytest.raises(InvalidInput):
            check_number(bad)
