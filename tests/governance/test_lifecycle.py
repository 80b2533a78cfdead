"""The state machine, rejections, policy parsing and signed checks, on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from slipway.core.errors import Conflict, InvalidInput, NotFound
from slipway.workspace import Workspace, open_workspace
from tests.governance.credit import register_credit
from tests.support import make_settings, postgres_database


@pytest.fixture(params=["sqlite", "postgres"])
def store_uri(request: pytest.FixtureRequest, home: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield ""
    else:
        with postgres_database() as uri:
            yield uri


def _open(home: Path, store_uri: str, user: str = "tester") -> Workspace:
    settings = make_settings(home, user=user, store_uri=store_uri or None)
    return open_workspace(dataclasses.replace(settings, sections={"governance": {"risk_tiers": {"high": 2}}}))


def test_transitions_follow_the_table(home: Path, store_uri: str) -> None:
    admin = _open(home, store_uri)
    version, _ = register_credit(admin, "credit", mitigated=True)
    ref = f"credit/{version}"
    admin.governance.set_policy("metrics: {accuracy: {min: 0.99}}\napplies_to: [validated]", model="credit")
    with pytest.raises(Conflict, match=r"metrics.accuracy >= 0.99: accuracy = 0\.\d+"):
        admin.governance.transition(ref, "validated", "first look")
    assert admin.governance.status(ref).state == "registered"
    admin.governance.set_policy("metrics: {accuracy: {min: 0.5}}\napplies_to: [validated]", model="credit")
    assert admin.governance.transition(ref, "validated", "metrics ok").state == "validated"
    with pytest.raises(Conflict, match="cannot go from validated to deployed; allowed from validated: pending_approval, rejected, retired"):
        admin.governance.transition(ref, "deployed")
    with pytest.raises(InvalidInput, match="unknown state 'shipped'"):
        admin.governance.transition(ref, "shipped")
    with pytest.raises(NotFound, match="no version 99"):
        admin.governance.status("credit/99")
    with pytest.raises(InvalidInput, match="names no version or alias"):
        admin.governance.status("credit")
    assert admin.governance.status("credit/latest").version == admin.registry.resolve("credit/latest").version

    request = admin.governance.request_approval(ref, "go")
    admin.identity.create_user("bob", ["approver"])
    bob = _open(home, store_uri, "bob")
    with pytest.raises(InvalidInput, match="needs a comment"):
        bob.governance.reject(request.id, "")
    rejected = bob.governance.reject(request.id, "no monitoring plan")
    assert rejected.status == "rejected" and admin.governance.status(ref).state == "rejected"
    again = admin.governance.request_approval(ref, "monitoring plan added")
    assert again.id != request.id and again.required == 1
    bob.governance.approve(again.id, "fine")
    assert admin.governance.transition(ref, "deployed", "rolled out").state == "deployed"
    assert admin.governance.transition(ref, "retired", "superseded").state == "retired"
    with pytest.raises(Conflict, match="none \\(final state\\)"):
        admin.governance.transition(ref, "deployed")
    moves = [(e.details["from"], e.details["to"]) for e in admin.audit.log(action="model_version.transition", limit=20)]
    assert moves == [("deployed", "retired"), ("approved", "deployed"), ("pending_approval", "approved"),
                     ("pending_approval", "rejected"), ("registered", "validated")]
    assert admin.audit.verify().ok
    for ws in (admin, bob):
        ws.close()


def test_concurrent_approvals_count_once_each(home: Path, store_uri: str) -> None:
    admin = _open(home, store_uri)
    admin.registry.create_model("credit", risk_tier="high")
    version, _ = register_credit(admin, "credit", mitigated=True)
    request = admin.governance.request_approval(f"credit/{version}", "two approvers at once")
    approvers = []
    for name in ("bob", "carol"):
        admin.identity.create_user(name, ["approver"])
        approvers.append(_open(home, store_uri, name))
    errors: list[Exception] = []

    def approve(ws: Workspace) -> None:
        try:
            ws.governance.approve(request.id, "ok")
        except Exception as err:  # collected and asserted below
            errors.append(err)

    threads = [threading.Thread(target=approve, args=(ws,)) for ws in approvers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    final = admin.governance.get_request(request.id)
    assert final.status == "approved" and final.approvals == 2
    assert admin.governance.status(f"credit/{version}").state == "approved"
    for ws in (admin, *approvers):
        ws.close()


def test_bad_policies_are_refused_and_checks_are_tamper_evident(home: Path) -> None:
    admin = _open(home, "")
    for source, message in (
        ("metrics: [auc]", "mapping of name"),
        ("fairness: {disparate_impact: {min: 0.8}}", "not a known fairness metric"),
        ("metrics: {auc: {min: high}}", "must be a number"),
        ("approvals: -1", "whole number"),
        ("colour: blue", "unknown policy keys"),
        ("applies_to: [launched]", "unknown state"),
        (": : :", "not valid YAML"),
    ):
        with pytest.raises(InvalidInput, match=message):
            admin.governance.set_policy(source, tier="high")
    with pytest.raises(InvalidInput, match="exactly one"):
        admin.governance.set_policy("approvals: 1")
    version, _ = register_credit(admin, "credit", mitigated=True)
    admin.governance.set_policy("metrics: {accuracy: {min: 0.5}}", model="credit")
    check = admin.governance.check(f"credit/{version}")
    assert check.passed and admin.governance.verify_check(check.id)
    with admin._transport.db.write() as conn:
        conn.execute(text("UPDATE policy_checks SET passed = :p WHERE id = :i"), {"p": False, "i": check.id})
    assert not admin.governance.verify_check(check.id)
    admin.close()


def test_final_approval_blocked_by_a_tightened_policy_completes_on_recheck(home: Path) -> None:
    admin = _open(home, "")
    version, _ = register_credit(admin, "credit", mitigated=True)
    ref = f"credit/{version}"
    admin.governance.set_policy("metrics: {accuracy: {min: 0.5}}", model="credit")
    request = admin.governance.request_approval(ref, "ship it")
    admin.governance.set_policy("metrics: {accuracy: {min: 0.99}}", model="credit")  # tightened mid-review
    admin.identity.create_user("bob", ["approver"])
    bob = _open(home, "", "bob")
    blocked = bob.governance.approve(request.id, "fine by me")
    assert blocked.status == "open" and "metrics.accuracy >= 0.99" in (blocked.blocked_by or "")
    assert admin.governance.status(ref).state == "pending_approval"
    with pytest.raises(Conflict, match="protected"):
        admin.governance.promote(ref, "champion")
    admin.governance.set_policy("metrics: {accuracy: {min: 0.6}}", model="credit")
    assert bob.governance.recheck(request.id).status == "approved"
    assert admin.governance.promote(ref, "champion").aliases == ["champion"]
    admin.close()
    bob.close()


def test_data_validation_requirement_reads_recorded_validations(home: Path) -> None:
    admin = _open(home, "")
    version, data_ref = register_credit(admin, "credit", mitigated=True)
    ref = f"credit/{version}"
    admin.governance.set_policy("data_validation: required", model="credit")
    with pytest.raises(Conflict, match=f"no data validation result recorded for {data_ref}"):
        admin.governance.request_approval(ref, "ship")
    admin.data.infer_schema(data_ref)
    recorded = admin.governance.validate_data(data_ref)
    assert recorded["passed"] is True and recorded["rows"] > 600
    assert admin.governance.request_approval(ref, "ship").status == "open"
    with pytest.raises(InvalidInput, match="malformed"):
        admin.governance._backend.record_data_validation("german-train", True, 1, [])
    admin.close()


def test_a_disabled_user_can_do_nothing_embedded(home: Path) -> None:
    admin = _open(home, "")
    admin.identity.create_user("dave", ["developer"])
    admin.identity.set_disabled("dave", True)
    from slipway.core.errors import PermissionDenied

    dave = _open(home, "", "dave")
    with pytest.raises(PermissionDenied, match="roles: none"):
        dave.governance.set_policy("approvals: 1", tier="low")
    with pytest.raises(PermissionDenied):
        dave.identity.whoami()
    assert [u.disabled for u in admin.identity.list_users() if u.name == "dave"] == [True]
    admin.close()
    dave.close()


def test_a_refused_transition_records_its_failed_check_over_every_transport(workspace: Workspace) -> None:
    """The failed check is committed before the refusal is raised: embedded, and through a server,
    where the call runs once per idempotency key (a failed call keeps what it committed, as
    embedded, and a retry runs it again)."""
    version, _ = register_credit(workspace, "credit", mitigated=True)
    ref = f"credit/{version}"
    workspace.governance.set_policy("metrics: {accuracy: {min: 0.99}}\napplies_to: [validated]", model="credit")
    for _ in range(2):
        with pytest.raises(Conflict, match=r"metrics.accuracy >= 0.99"):
            workspace.governance.transition(ref, "validated", "first look")
    checks = [e.details for e in workspace.audit.log(action="policy.check", limit=50)]
    assert [c["passed"] for c in checks] == [False, False]
    assert all(c["failed"] == ["metrics.accuracy >= 0.99"] for c in checks)
    assert workspace.governance.status(ref).state == "registered"
