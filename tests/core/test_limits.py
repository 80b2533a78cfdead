"""Argument limits hold in every transport: embedded calls meet the same limits as remote ones, and
a call refused for its size writes nothing."""

from __future__ import annotations

from typing import Any

import pytest

from slipway.core.errors import InvalidInput
from slipway.core.limits import BATCH_PARAMS, BATCH_TAGS, MAX_DEPTH, TAG_VALUE, TEXT, whole_number
from slipway.workspace import Workspace


def _run(workspace: Workspace) -> str:
    run = workspace.backend("tracking").create_run(experiment="limits")
    return str(run.id)


def test_a_batch_over_its_param_or_tag_count_is_refused_and_writes_nothing(workspace: Workspace) -> None:
    tracking = workspace.backend("tracking")
    run_id = _run(workspace)
    with pytest.raises(InvalidInput, match=f"params.*{BATCH_PARAMS}"):
        tracking.log_batch(run_id, params={f"p{i}": i for i in range(BATCH_PARAMS + 1)})
    with pytest.raises(InvalidInput, match="tags has"):
        tracking.log_batch(run_id, tags={f"t{i}": "x" for i in range(BATCH_TAGS + 1)})
    run = tracking.get_run(run_id)
    assert run.params == {} and not any(key.startswith("t") and key[1:].isdigit() for key in run.tags)


def test_tag_values_are_bounded_at_8000_characters(workspace: Workspace) -> None:
    tracking = workspace.backend("tracking")
    run_id = _run(workspace)
    tracking.log_batch(run_id, tags={"fits": "x" * TAG_VALUE})
    with pytest.raises(InvalidInput, match="tags"):
        tracking.log_batch(run_id, tags={"too.long": "x" * (TAG_VALUE + 1)})
    tags = tracking.get_run(run_id).tags
    assert len(tags["fits"]) == TAG_VALUE and "too.long" not in tags


def test_a_huge_approval_reason_is_refused_before_anything_else(workspace: Workspace) -> None:
    # The reason is checked before the model version is looked up, so no version is needed.
    with pytest.raises(InvalidInput, match="reason"):
        workspace.backend("governance").request_approval("churn/1", "x" * 10_000_000)
    with pytest.raises(InvalidInput, match="description"):
        workspace.backend("registry").create_model("limits-model", description="d" * (TEXT + 1))
    assert not workspace.backend("registry").search_models(name_like="limits-model")


@pytest.mark.parametrize(("arguments", "problem"), [
    ({"description": "nul\x00inside"}, "NUL"),
    ({"description": "lone \ud800 surrogate"}, "surrogate|Unicode|string"),
])
def test_texts_no_database_can_store_are_refused(workspace: Workspace, arguments: dict[str, Any],
                                                 problem: str) -> None:
    with pytest.raises(InvalidInput, match=problem):
        workspace.backend("tracking").create_experiment("limits-text", **arguments)
    assert "limits-text" not in [e.name for e in workspace.backend("tracking").list_experiments()]


def test_integers_beyond_64_bits_and_deep_nesting_are_refused(workspace: Workspace) -> None:
    tracking = workspace.backend("tracking")
    run_id = _run(workspace)
    with pytest.raises(InvalidInput, match="64-bit"):
        tracking.log_batch(run_id, metrics=[("loss", 0.5, 2**70, 0)])
    deep: Any = "leaf"
    for _ in range(MAX_DEPTH + 5):
        deep = [deep]
    with pytest.raises(InvalidInput, match=r"nested|deep"):
        workspace.backend("pipelines").create_schedule("deep", "flows.py:train", "0 * * * *", params={"x": deep})
    assert tracking.count_metric_points(run_id) == 0


def test_whole_number_takes_ascii_digits_within_64_bits_only() -> None:
    assert whole_number("42") == 42
    for text in ("²", "٣", "", "-1", "1.0", " 1", "9" * 20, str(2**63)):
        assert whole_number(text) is None, text
