"""The filter language's parser: what it accepts, and errors that name the position."""

from __future__ import annotations

import pytest

from slipway.core.errors import InvalidInput
from slipway.tracking.search import BoolOp, Comparison, OrderKey, parse_filter, parse_order_by


def test_mlflow_syntax_parses() -> None:
    node = parse_filter("metrics.auc > 0.9 and params.model = 'rf'")
    assert node == BoolOp("and", (Comparison("metrics", "auc", ">", 0.9, 0), Comparison("params", "model", "=", "rf", 22)))
    assert parse_filter("tags.`mlflow.user` = \"ann\"") == Comparison("tags", "mlflow.user", "=", "ann", 0)
    assert parse_filter("metrics.`f1 score` <= -1e-3") == Comparison("metrics", "f1 score", "<=", -0.001, 0)
    assert parse_filter("attributes.status IN ('FINISHED', 'FAILED')") == Comparison(
        "attributes", "status", "IN", ("FINISHED", "FAILED"), 0)
    assert parse_filter("run.name NOT LIKE 'x%'") == Comparison("attributes", "run_name", "NOT LIKE", "x%", 0)
    assert parse_filter("params.optimizer.lr = '0.1'") == Comparison("params", "optimizer.lr", "=", "0.1", 0)
    assert parse_filter("params.a = 'it''s'") == Comparison("params", "a", "=", "it's", 0)
    assert parse_filter("  ") is None and parse_filter("") is None


def test_and_binds_tighter_than_or_and_parentheses_group() -> None:
    node = parse_filter("tags.a = '1' or tags.b = '2' and tags.c = '3'")
    assert isinstance(node, BoolOp) and node.op == "or"
    assert isinstance(node.items[1], BoolOp) and node.items[1].op == "and"
    grouped = parse_filter("(tags.a = '1' or tags.b = '2') AND tags.c = '3'")
    assert isinstance(grouped, BoolOp) and grouped.op == "and"
    assert isinstance(grouped.items[0], BoolOp) and grouped.items[0].op == "or"


@pytest.mark.parametrize(
    ("text", "position"),
    [
        ("metrics.auc >> 1", 13),
        ("metrics.auc > 0.9 and", 21),
        ("metrics.auc > 0.9 and (params.model = 'rf'", 42),
        ("metrics.auc 0.9", 12),
        ("bogus.x = 'a'", 0),
        ("metrics.auc > 0.9 params.x = 'a'", 18),
        ("params.x = 'a' $", 15),
        ("params.x IN 'a'", 12),
        ("attributes.nope = 'a'", 0),
    ],
)
def test_syntax_errors_name_the_position(text: str, position: int) -> None:
    with pytest.raises(InvalidInput, match=f"position {position}"):
        parse_filter(text)


@pytest.mark.parametrize(
    "text",
    ["metrics.auc = 'high'", "metrics.auc LIKE '1%'", "params.lr > 0.1", "params.lr = 0.1", "attributes.start_time = 'x'"],
)
def test_meaningless_comparisons_are_refused(text: str) -> None:
    with pytest.raises(InvalidInput):
        parse_filter(text)


def test_order_by() -> None:
    assert parse_order_by(["metrics.auc DESC", "attributes.start_time", "params.`my key` asc"]) == [
        OrderKey("metrics", "auc", True), OrderKey("attributes", "start_time", False), OrderKey("params", "my key", False)]
    with pytest.raises(InvalidInput, match="position"):
        parse_order_by(["metrics.auc DOWN"])
    with pytest.raises(InvalidInput):
        parse_order_by([""])
