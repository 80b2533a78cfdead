"""Governance inputs are governed: risk tier, policy and the evidence a policy relies on."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from slipway.core.errors import InvalidInput, NotFound, PermissionDenied
from slipway.workspace import Workspace
from tests.governance.credit import register_credit

STRICT = "metrics: {accuracy: {min: 0.5}}\napprovals: 2\n"


def test_a_developer_cannot_lower_the_tier_or_swap_the_policy(people: Callable[..., Workspace]) -> None:
    admin = people()
    admin.identity.create_user("dev", ["developer"])
    admin.identity.create_user("ann", ["approver"])
    admin.registry.create_model("credit", risk_tier="high")
    admin.governance.set_policy(STRICT, model="credit")
    dev = people("dev")
    with pytest.raises(PermissionDenied, match=r"change the risk tier of 'credit'.*approver or admin"):
        dev.registry.update_model("credit", risk_tier="low")
    with pytest.raises(PermissionDenied, match=r"governance\.configure"):
        dev.governance.set_policy("approvals: 0", model="credit")
    with pytest.raises(PermissionDenied, match="set the risk tier"):
        dev.registry.create_model("other", risk_tier="medium")
    assert admin.registry.get_model("credit").risk_tier == "high"
    assert [e.action for e in admin.audit.log(action="registry.update_model")] == []

    version, _ = register_credit(dev, "credit", mitigated=True)
    ref = f"credit/{version}"
    assert admin.governance.get_policy(ref).source == STRICT  # the refused edit changed nothing
    first = dev.governance.request_approval(ref, "release")
    assert first.required == 2
    people("ann").governance.reject(first.id, "needs a second look")
    # An approver lowers the model's tier and loosens its policy later: the version keeps the terms
    # fixed on it when approval was first requested.
    ann = people("ann")
    ann.registry.update_model("credit", risk_tier="low")
    ann.governance.set_policy("metrics: {accuracy: {min: 0.1}}\n", model="credit")
    assert admin.audit.log(action="registry.update_model")[0].details == {"risk_tier": "low"}
    again = dev.governance.request_approval(ref, "tier is low now")
    assert again.required == 2
    assert ann.governance.approve(again.id, "one of two").status == "open"


def test_evidence_comes_from_the_platform_or_a_validator(people: Callable[..., Workspace]) -> None:
    admin = people()
    admin.identity.create_user("dev", ["developer"])
    admin.identity.create_user("vic", ["validator"])
    dev, vic = people("dev"), people("vic")
    version, data_ref = register_credit(dev, "credit", mitigated=True)
    admin.governance.set_policy("data_validation: required", model="credit")
    rows = dev.data.get_version(data_ref).rows
    with pytest.raises(PermissionDenied, match=r"record data validation.*validator or admin"):
        dev.governance._backend.record_data_validation(data_ref, True, rows, [])
    with pytest.raises(NotFound, match="ghost-data"):
        vic.governance._backend.record_data_validation("ghost-data@1", True, 10**9, [])
    with pytest.raises(InvalidInput, match=f"has {rows} rows, not 1000000000"):
        vic.governance._backend.record_data_validation(data_ref, True, 10**9, [])
    with pytest.raises(NotFound, match="schema"):  # the platform validates against the stored schema only
        dev.governance.validate_data(data_ref)
    assert "no data validation result recorded" in dev.governance.check(f"credit/{version}").failures[0].detail
    admin.data.infer_schema(data_ref)
    verdict = dev.governance.validate_data(data_ref)  # computed by the platform from the stored data
    found = dev.data.get_version(data_ref)
    assert verdict["source"] == "platform" and verdict["passed"] and verdict["rows"] == rows
    assert verdict["inputs"]["dataset_digest"] == found.digest
    assert dev.governance.check(f"credit/{version}").passed
