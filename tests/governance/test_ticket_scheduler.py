"""``slipway scheduler`` polls ServiceNow: the lease holder syncs the open change requests every
``sync_interval_s`` against the loopback ServiceNow, so a ticket approved there makes the version
approved with no one running ``tickets sync``; a standby replica never calls ServiceNow."""

from __future__ import annotations

from slipway.pipelines.scheduler import Scheduler
from tests.governance.test_tickets import _setup, ticketed  # noqa: F401 - the fixture


def test_the_scheduler_lease_holder_polls_tickets_at_its_interval(ticketed) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    server, open_as = ticketed(cab=("carol", "dave"))  # a high-risk model: two approvers
    admin, alice, ref = _setup(open_as)
    # The scheduler's service account: runs pipelines, and relays ticket verdicts (approver role).
    admin.identity.create_user("scheduler", ["developer", "approver"], kind="service")
    request = alice.governance.request_approval(ref, "quarterly refresh")
    number = request.ticket_number
    now = [1_000_000]
    leader_lines: list[str] = []
    standby_lines: list[str] = []
    leader = Scheduler(open_as("scheduler"), clock=lambda: now[0], holder="a", lease_s=600.0,
                       report=leader_lines.append)  # the interval from settings: sync_interval_s
    standby = Scheduler(open_as("scheduler", sync_interval_s=1.0), clock=lambda: now[0], holder="b", lease_s=600.0,
                        report=standby_lines.append)

    def ticket_reads() -> int:
        return sum(1 for method, path, _ in server.requests if method == "GET" and "change_request" in path)

    assert leader.lead_once() == [] and ticket_reads() == 1  # leads, and polls the open ticket at once
    assert server.decide(number, "carol", "approved", "CAB: ok").status_code == 200
    assert server.decide(number, "dave", "approved", "CAB: ok").status_code == 200
    now[0] += 30_000
    assert standby.lead_once() is None  # stands by: never polls, however short its interval
    assert leader.lead_once() == [] and ticket_reads() == 1  # 30 s < sync_interval_s (60 s): not yet
    assert admin.governance.status(ref).state == "pending_approval"

    now[0] += 30_000
    leader.lead_once()
    assert ticket_reads() == 2 and admin.governance.status(ref).state == "approved", leader_lines
    assert f"ticket {number} for {ref}: approved" in " ".join(leader_lines)
    assert not [line for line in standby_lines if "ticket" in line]
    decisions = admin.governance.get_request(request.id).decisions
    assert {(d.approver, d.ticket) for d in decisions} == {("carol", number), ("dave", number)}
    event = admin.audit.log(subject=f"model_version:{ref}", action="approval.approve")[0]
    assert (event.actor, event.details["ticket"]) == ("scheduler", number)

    now[0] += 60_000  # nothing open any more: the poll reads no ticket
    leader.lead_once()
    assert ticket_reads() == 2


def test_polling_off_and_ticketing_off(ticketed, people) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    server, open_as = ticketed(cab=("carol",))
    admin, alice, ref = _setup(open_as)
    admin.identity.create_user("scheduler", ["developer", "approver"], kind="service")
    alice.governance.request_approval(ref, "r")
    before = len(server.requests)
    lines: list[str] = []
    Scheduler(open_as("scheduler"), ticket_sync_s=0, report=lines.append).tick()  # 0: polling off
    assert len(server.requests) == before and not [line for line in lines if "ticket" in line]
    plain = Scheduler(people(), report=lines.append)  # no instance_url: nothing to poll, nothing said
    plain.tick()
    assert not [line for line in lines if "ticket" in line]
