"""``audit at``: alias holders replayed from the ledger; and tampering with any audit row is caught."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import text

from tests.governance.credit import register_credit


def _now() -> int:
    time.sleep(0.005)
    stamp = int(time.time() * 1000)
    time.sleep(0.005)
    return stamp


def _approved(admin, approver, mitigated: bool) -> int:  # type: ignore[no-untyped-def]
    version, _ = register_credit(admin, "credit", mitigated=mitigated)
    request = admin.governance.request_approval(f"credit/{version}", "release")
    approver.governance.approve(request.id, "ok")
    return version


def test_aliases_at_replays_registry_and_governance_moves(people) -> None:  # type: ignore[no-untyped-def]
    admin = people()
    admin.identity.create_user("bob", ["approver"])
    bob = people("bob")
    first = _approved(admin, bob, mitigated=False)
    second = _approved(admin, bob, mitigated=True)
    t0 = _now()
    admin.registry.set_alias("credit", "champion", first)  # the registry's own move
    admin.registry.set_alias("credit", "challenger", second)
    t1 = _now()
    admin.governance.promote(f"credit/{second}", "champion")  # governance's policy-checked move
    t2 = _now()
    admin.registry.delete_alias("credit", "challenger")
    t3 = _now()
    at = admin.governance.aliases_at
    assert at(t0) == []
    assert [(h["alias"], h["version"]) for h in at(t1)] == [("challenger", second), ("champion", first)]
    assert [(h["alias"], h["version"]) for h in at(t2)] == [("challenger", second), ("champion", second)]
    assert [(h["alias"], h["version"]) for h in at(t3, "credit")] == [("champion", second)]
    assert at(t3, "other-model") == []
    iso = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t1 / 1000)) + f".{t1 % 1000:03d}Z"
    assert [h["version"] for h in at(iso) if h["alias"] == "champion"] == [first]


@pytest.mark.parametrize("column", ["details", "actor", "ts", "action"])
def test_editing_any_audit_row_fails_verification(people, column: str) -> None:  # type: ignore[no-untyped-def]
    admin = people()
    for name in ("alice", "bob", "carol"):
        admin.identity.create_user(name, ["viewer"])
    admin.governance.add_webhook("http://127.0.0.1:9/hook", ["alert"])
    db = admin._transport.db
    with db.read() as conn:
        rows = conn.execute(text(f"SELECT seq, {column} FROM audit_events ORDER BY seq")).all()
    assert len(rows) >= 4 and admin.audit.verify().ok
    new_value = {"details": "{}", "actor": "mallory", "ts": 0, "action": "user.delete"}[column]
    for seq, original in rows:
        with db.write() as conn:
            conn.execute(text(f"UPDATE audit_events SET {column} = :v WHERE seq = :s"), {"v": new_value, "s": seq})
        verdict = admin.audit.verify()
        assert not verdict.ok and verdict.first_bad_seq == seq
        with db.write() as conn:
            conn.execute(text(f"UPDATE audit_events SET {column} = :v WHERE seq = :s"), {"v": original, "s": seq})
    assert admin.audit.verify().ok
