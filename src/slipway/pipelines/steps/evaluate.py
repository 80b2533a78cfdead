"""``evaluate_and_bless``: the evaluation gate as a step (see :mod:`slipway.pipelines.gates`)."""

from __future__ import annotations

from typing import Any

from slipway.core.errors import NotFound
from slipway.pipelines.context import StepContext
from slipway.pipelines.dsl import step
from slipway.pipelines.gates import Blessing, evaluate_gate, parse_thresholds


def run_of(candidate: Any) -> str | None:
    """The tracking run a logged model came from (a ModelInfo, a mapping or ``runs:/<id>/…``)."""
    if hasattr(candidate, "run_id"):
        return str(candidate.run_id)
    if isinstance(candidate, dict):
        return candidate.get("run_id")
    if isinstance(candidate, str) and candidate.startswith("runs:/"):
        return candidate.removeprefix("runs:/").partition("/")[0]
    return None


def _champion(context: StepContext, model_name: str, alias: str, candidate: Any) -> Any:
    """The version at ``alias``, unless it is the candidate itself (then there is nothing to
    compare against: the candidate is judged as it was when it was first blessed)."""
    try:
        champion = context.workspace.registry.resolve(f"{model_name}@{alias}")
    except NotFound:
        return None
    if candidate is not None and champion.run_id is not None and champion.run_id == run_of(candidate):
        return None
    return champion


def _champion_state(context: StepContext, metrics: Any = None, model_name: str = "", thresholds: Any = None,
                    champion_alias: str = "champion", candidate: Any = None, **_: Any) -> Any:
    """The gate's verdict depends on the champion, which lives outside the DAG: key on it."""
    champion = _champion(context, model_name, champion_alias, candidate)
    return None if champion is None else {"champion": champion.ref, "metrics": champion.metrics}


@step(local=True, cache_key_extra=_champion_state)
def evaluate_and_bless(metrics: Any, model_name: str, thresholds: Any, champion_alias: str = "champion",
                       candidate: Any = None, context: StepContext = None) -> Blessing:  # type: ignore[assignment]
    """Bless the candidate whose ``metrics`` (a dict, or anything with ``.metrics``) pass
    ``thresholds`` against the version of ``model_name`` at ``champion_alias``.

    Pass the logged model as ``candidate`` so a rerun after the candidate itself became champion
    is recognised (and cached) rather than compared with itself. The verdict is this step's
    output; give it as ``when=`` to the register or deploy step.
    """
    parse_thresholds(thresholds)  # a malformed threshold fails the step with a clear message
    values = metrics.metrics if hasattr(metrics, "metrics") else metrics
    champion = _champion(context, model_name, champion_alias, candidate)
    verdict = evaluate_gate(dict(values or {}), thresholds, champion.metrics if champion else None,
                            champion.ref if champion else None)
    for check in verdict.checks:
        print(("PASS " if check.passed and not check.skipped else "SKIP " if check.skipped else "FAIL ") + check.message)
    print(verdict.reason)
    return verdict
