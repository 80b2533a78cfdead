"""The must-hold governance story on German credit: a biased model is blocked by the fairness
policy; a mitigated one needs a second person's approvals before it can become champion."""

from __future__ import annotations

import time

import orjson
import pytest

from slipway.core.errors import Conflict, NotFound, PermissionDenied
from tests.governance.credit import LABEL, german, register_credit

POLICY = """
name: credit-risk
metrics:
  accuracy: {min: 0.65}
fairness:
  disparate_impact_ratio: {min: 0.8, attribute: sex}
model_card:
  required_sections: [intended_use, limitations]
"""


def _setup(people):  # type: ignore[no-untyped-def]
    admin = people()
    admin.identity.create_user("alice", ["developer", "deployer"])
    admin.identity.create_user("bob", ["approver"])
    admin.identity.create_user("carol", ["approver"])
    admin.identity.create_user("vic", ["validator"])  # fairness evidence comes from a validator
    admin.registry.create_model("credit", owner="credit-risk-team", risk_tier="high")
    admin.governance.set_policy(POLICY, tier="high")
    return admin, people("alice"), people("bob"), people("carol")


def _validator(people):  # type: ignore[no-untyped-def]
    return people("vic")


def _describe(ws, ref):  # type: ignore[no-untyped-def]
    ws.governance.edit_card(ref, "intended_use", "Pre-screening of consumer credit applications.")
    ws.governance.edit_card(ref, "limitations", "Trained on 1970s German applicants; not for other markets.")


def test_biased_credit_model_fails_policy_and_cannot_be_champion(people) -> None:  # type: ignore[no-untyped-def]
    admin, alice, _bob, _carol = _setup(people)
    version, _ = register_credit(alice, "credit", mitigated=False)
    ref = f"credit/{version}"
    _describe(alice, ref)
    _, test = german()
    with pytest.raises(PermissionDenied, match="validator or admin"):  # the developer does not grade her own model
        alice.governance.evaluate_fairness(ref, test, label=LABEL, sensitive=["sex"], positive_label=1)
    assert alice.governance.fairness_reports(ref) == []
    report = _validator(people).governance.evaluate_fairness(ref, test, label=LABEL, sensitive=["sex"], positive_label=1)
    assert report["attributes"]["sex"]["disparate_impact_ratio"] < 0.8
    assert report["attributes"]["sex"]["four_fifths_passed"] is False

    with pytest.raises(Conflict) as refused:
        alice.governance.request_approval(ref, "baseline model for Q3")
    assert "fairness.disparate_impact_ratio" in refused.value.message and "sex = 0.6" in refused.value.message
    assert alice.governance.status(ref).state == "registered"
    with pytest.raises(Conflict, match="protected"):
        alice.registry.set_alias("credit", "champion", version)
    with pytest.raises(Conflict):
        alice.governance.promote(ref, "champion")
    with pytest.raises(Conflict, match="only through approvals"):
        admin.governance.transition(ref, "approved")

    card = orjson.loads(alice.governance.card(ref, "json"))
    assert any(issue.startswith("Disparate impact by sex is 0.6") for issue in card["known_issues"])
    check = alice.governance.check(ref)
    assert not check.passed and [o.requirement for o in check.failures] == ["fairness.disparate_impact_ratio >= 0.8 (sex)"]
    assert alice.governance.verify_check(check.id)
    failed = admin.audit.log(action="policy.check")
    assert failed and failed[0].details["passed"] is False
    assert admin.audit.verify().ok


def test_mitigated_model_needs_two_other_people_then_becomes_champion(people) -> None:  # type: ignore[no-untyped-def]
    admin, alice, bob, carol = _setup(people)
    version, data_ref = register_credit(alice, "credit", mitigated=True)
    ref = f"credit/{version}"
    _, test = german()
    with pytest.raises(NotFound, match="german-test"):  # evidence about data that is not stored is refused
        _validator(people).governance.evaluate_fairness(ref, test, label=LABEL, sensitive=["sex"], positive_label=1,
                                                        dataset="german-test@1")
    test_ref = admin.data.add("german-test", test).ref
    report = _validator(people).governance.evaluate_fairness(ref, test, label=LABEL, sensitive=["sex"],
                                                             positive_label=1, dataset=test_ref)
    assert report["stored"].dataset == test_ref
    assert report["attributes"]["sex"]["disparate_impact_ratio"] >= 0.8

    with pytest.raises(Conflict, match=r"model_card\.required_sections"):
        alice.governance.request_approval(ref, "reweighed model")  # the card is still empty
    _describe(alice, ref)
    request = alice.governance.request_approval(ref, "reweighed model, DI >= 0.8")
    assert request.required == 2 and alice.governance.status(ref).state == "pending_approval"

    with pytest.raises(PermissionDenied, match=r"governance\.approve"):
        alice.governance.approve(request.id, "looks fine to me")  # a developer is no approver
    admin.identity.set_roles("alice", ["developer", "approver", "deployer"])
    with pytest.raises(PermissionDenied, match=f"requested approval of {ref} and may not decide"):
        people("alice").governance.approve(request.id, "self-approval")  # not even as an approver
    after_bob = bob.governance.approve(request.id, "fairness report reviewed")
    assert after_bob.status == "open" and after_bob.approvals == 1
    with pytest.raises(Conflict, match="distinct"):
        bob.governance.approve(request.id, "again")
    with pytest.raises(Conflict, match="protected"):
        alice.governance.promote(ref, "champion")  # one approval of two is not enough
    before_promotion = int(time.time() * 1000)
    time.sleep(0.01)

    done = carol.governance.approve(request.id, "second pair of eyes: ok")
    assert done.status == "approved" and done.approvals == 2
    assert alice.governance.status(ref).state == "approved"
    alice.governance.promote(ref, "champion")
    assert alice.registry.resolve("credit@champion").version == version
    time.sleep(0.01)
    after_promotion = int(time.time() * 1000)

    card = orjson.loads(alice.governance.card(ref, "json"))
    assert [d["dataset"] + "@" + str(d["version"]) for d in card["training_data"]] == [data_ref]
    assert card["metrics"]["accuracy"] > 0.65
    assert card["fairness"]["summary"]["sex"]["disparate_impact_ratio"] >= 0.8
    assert {d["approver"] for d in card["approvals"][0]["decisions"]} == {"bob", "carol"}
    markdown = alice.governance.card(ref, "md")
    for expected in (data_ref.replace("@", " version "), "accuracy", "Fairness", "**bob**", "**carol**",
                     "Pre-screening of consumer credit"):
        assert expected in markdown
    assert "<h2>Approvals</h2>" in alice.governance.card(ref, "html")

    (approval,) = [e for e in admin.audit.log(action="model_version.transition") if e.details["to"] == "approved"]
    frozen = orjson.loads(admin.blobs.read_bytes(approval.details["card_digest"]))
    assert frozen["state"] == "approved" and {d["approver"] for d in frozen["approvals"][0]["decisions"]} == {"bob", "carol"}

    assert admin.governance.aliases_at(before_promotion, "credit") == []
    holders = admin.governance.aliases_at(after_promotion, "credit")
    assert [(h["alias"], h["version"]) for h in holders] == [("champion", version)]
    (moved,) = alice.governance.alias_history("credit")
    assert (moved["alias"], moved["version"], moved["set_by"]) == ("champion", version, "alice")
    assert before_promotion <= moved["at_ms"] <= after_promotion
    actions = [e.action for e in admin.audit.log(subject=f"model_version:{ref}", limit=50)]
    assert {e.actor for e in admin.audit.log(actor="carol", limit=50)} == {"carol"}
    assert "approval.approve" in [e.action for e in admin.audit.log(actor="carol", limit=50)]
    assert {"approval.request", "approval.approve", "model_version.transition", "policy.check"} <= set(actions)
    assert admin.audit.verify().ok
