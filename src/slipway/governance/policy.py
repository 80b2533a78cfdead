"""Policies as code: a YAML document saying what a version needs before a transition.

Example::

    applies_to: [validated, approved, deployed]   # the default
    metrics:
      accuracy: {min: 0.70}
      log_loss: {max: 0.60}
    fairness:                                    # read from the version's latest fairness report
      disparate_impact_ratio: {min: 0.8}         # every attribute, or name one with `attribute:`
      equalized_odds_difference: {max: 0.2, attribute: sex}
    model_card:
      required_sections: [intended_use, limitations]
    data_validation: required
    approvals: 2                                 # checked when becoming approved or deployed

Parsing is strict: an unknown key or a malformed limit is an InvalidInput naming it, so a typo
cannot silently switch a requirement off.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import yaml

from slipway.core.errors import InvalidInput
from slipway.core.yaml_errors import yaml_problem
from slipway.governance.lifecycle import CHECKED_STATES, check_state

TOP_KEYS = {"applies_to", "metrics", "fairness", "model_card", "data_validation", "approvals", "name"}
FAIRNESS_METRICS = {
    "demographic_parity_difference", "demographic_parity_ratio", "equalized_odds_difference",
    "equalized_odds_ratio", "disparate_impact_ratio",
}


@dataclasses.dataclass(frozen=True)
class Limit:
    key: str
    minimum: float | None
    maximum: float | None
    attribute: str | None = None

    def describe(self) -> str:
        bounds = []
        if self.minimum is not None:
            bounds.append(f">= {self.minimum:g}")
        if self.maximum is not None:
            bounds.append(f"<= {self.maximum:g}")
        return " and ".join(bounds)


@dataclasses.dataclass(frozen=True)
class Policy:
    name: str
    applies_to: tuple[str, ...]
    metrics: tuple[Limit, ...]
    fairness: tuple[Limit, ...]
    card_sections: tuple[str, ...]
    data_validation: bool
    approvals: int


def _limits(section: Any, where: str, allowed: set[str] | None = None) -> tuple[Limit, ...]:
    if section is None:
        return ()
    if not isinstance(section, dict):
        raise InvalidInput(f"policy {where} must be a mapping of name to {{min, max}}, got {section!r}")
    limits = []
    for key, spec in section.items():
        if allowed is not None and key not in allowed:
            raise InvalidInput(f"policy {where}.{key} is not a known fairness metric; use {', '.join(sorted(allowed))}")
        if not isinstance(spec, dict) or not set(spec) <= {"min", "max", "attribute"} or not ({"min", "max"} & set(spec)):
            raise InvalidInput(f"policy {where}.{key} must be {{min: X}} and/or {{max: Y}}, got {spec!r}")
        bounds = {}
        for bound in ("min", "max"):
            value = spec.get(bound)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
                raise InvalidInput(f"policy {where}.{key}.{bound} must be a number, got {value!r}")
            bounds[bound] = None if value is None else float(value)
        limits.append(Limit(str(key), bounds["min"], bounds["max"], spec.get("attribute")))
    return tuple(limits)


def parse_policy(source: str, name: str = "policy") -> Policy:
    """Parse and validate a policy document.

    Raises:
        InvalidInput: not YAML, not a mapping, an unknown key, or a malformed requirement.
    """
    try:
        data = yaml.safe_load(source)
    except yaml.YAMLError as err:
        raise InvalidInput(f"policy is not valid YAML: {yaml_problem(err)}") from err
    if not isinstance(data, dict):
        raise InvalidInput("a policy must be a YAML mapping (e.g. 'metrics: {auc: {min: 0.8}}')")
    unknown = set(data) - TOP_KEYS
    if unknown:
        raise InvalidInput(f"unknown policy keys {sorted(unknown)}; use {', '.join(sorted(TOP_KEYS))}")
    applies = data.get("applies_to", sorted(CHECKED_STATES))
    if isinstance(applies, str):
        applies = [applies]
    applies_to = tuple(check_state(str(s)) for s in applies)
    card = data.get("model_card") or {}
    if not isinstance(card, dict) or not set(card) <= {"required_sections"}:
        raise InvalidInput(f"policy model_card must be {{required_sections: [...]}}, got {card!r}")
    sections = card.get("required_sections") or []
    if not isinstance(sections, list) or not all(isinstance(s, str) for s in sections):
        raise InvalidInput(f"policy model_card.required_sections must be a list of names, got {sections!r}")
    validation = data.get("data_validation", False)
    if validation not in (True, False, "required", "optional", None):
        raise InvalidInput(f"policy data_validation must be 'required' or true/false, got {validation!r}")
    approvals = data.get("approvals", 0)
    if isinstance(approvals, bool) or not isinstance(approvals, int) or approvals < 0:
        raise InvalidInput(f"policy approvals must be a whole number >= 0, got {approvals!r}")
    return Policy(
        name=str(data.get("name") or name), applies_to=applies_to,
        metrics=_limits(data.get("metrics"), "metrics"),
        fairness=_limits(data.get("fairness"), "fairness", FAIRNESS_METRICS),
        card_sections=tuple(sections), data_validation=validation in (True, "required"), approvals=approvals,
    )


def within(value: float, limit: Limit) -> bool:
    if value != value:  # NaN never satisfies a limit
        return False
    if limit.minimum is not None and value < limit.minimum:
        return False
    return not (limit.maximum is not None and value > limit.maximum)
