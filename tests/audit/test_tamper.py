"""Tampering with the ledger is caught against a checkpoint published before it, naming the first
bad event, even when every hash was recomputed; untouched events still prove offline."""

from __future__ import annotations

import base64
from pathlib import Path

import orjson
import pytest
from sqlalchemy import text

from slipway.core.errors import Conflict
from slipway.core.transparency import ProofError, check_inclusion_proof, event_leaf
from slipway.store.database import Database
from slipway.workspace import Workspace
from tests.audit.conftest import AuditSetup


def _db(ws: Workspace) -> Database:
    return ws.backend("audit").ctx.db  # type: ignore[no-any-return]


def _seed(ws: Workspace, users: int = 7, prefix: str = "user") -> None:
    for i in range(users):
        ws.identity.create_user(f"{prefix}{i}", ["viewer"])


def _rehash_from(db: Database, first: int) -> None:
    """What an attacker with the package does: recompute every stored leaf hash from ``first`` on."""
    with db.write() as conn:
        rows = conn.execute(text("SELECT seq, event_id, ts, actor, action, subject_kind, subject_id, details "
                                 "FROM audit_events WHERE seq >= :f ORDER BY seq"), {"f": first}).all()
        for row in rows:
            conn.execute(text("UPDATE audit_events SET leaf_hash = :h WHERE seq = :s"),
                         {"h": event_leaf(*row).hex(), "s": row.seq})
        last = conn.execute(text("SELECT max(seq), count(*) FROM audit_events")).one()
        conn.execute(text("UPDATE audit_head SET seq = :s WHERE id = 1"), {"s": last[0]})


def _published_then(ws: Workspace) -> int:
    _seed(ws)
    published = ws.audit.checkpoint()
    assert ws.audit.verify().ok
    _seed_more = ws.identity.create_user("late", ["viewer"])  # after the checkpoint: not covered by it
    assert _seed_more.name == "late"
    return int(published["checkpoint"]["tree_size"])


def test_edit_with_hashes_recomputed_is_named(audited_ws: Workspace) -> None:
    size = _published_then(audited_ws)
    db = _db(audited_ws)
    with db.write() as conn:  # give user3 the admin role in its creation event, then hide the edit
        conn.execute(text("UPDATE audit_events SET details = :d WHERE action = 'user.create' AND subject_id = 'user3'"),
                     {"d": '{"kind":"user","roles":["admin"]}'})
        conn.execute(text("UPDATE users SET roles = '[\"admin\"]' WHERE name = 'user3'"))
        seq = conn.execute(text("SELECT seq FROM audit_events WHERE subject_id = 'user3'")).scalar_one()
    _rehash_from(db, 1)
    verdict = audited_ws.audit.verify()
    assert not verdict.ok and verdict.first_bad_seq == seq <= size
    assert f"event {seq} differs" in verdict.reason


def test_plain_edit_is_named_by_its_leaf(audited_ws: Workspace) -> None:
    _published_then(audited_ws)
    with _db(audited_ws).write() as conn:
        conn.execute(text("UPDATE audit_events SET actor = 'mallory' WHERE seq = 4"))
    verdict = audited_ws.audit.verify()
    assert not verdict.ok and verdict.first_bad_seq == 4 and "altered" in verdict.reason


def test_delete_with_renumbering_is_named(audited_ws: Workspace) -> None:
    _published_then(audited_ws)
    db = _db(audited_ws)
    with db.write() as conn:  # remove event 3 and close the gap, as if it never happened
        conn.execute(text("DELETE FROM audit_events WHERE seq = 3"))
        for seq in range(4, 20):
            conn.execute(text("UPDATE audit_events SET seq = :n WHERE seq = :o"), {"n": seq - 1, "o": seq})
    _rehash_from(db, 1)
    verdict = audited_ws.audit.verify()
    assert not verdict.ok and verdict.first_bad_seq == 3


def test_deleting_the_newest_events_is_named(audited_ws: Workspace) -> None:
    size = _published_then(audited_ws)
    db = _db(audited_ws)
    with db.write() as conn:
        conn.execute(text("DELETE FROM audit_events WHERE seq >= :s"), {"s": size - 1})
    _rehash_from(db, 1)
    verdict = audited_ws.audit.verify()
    assert not verdict.ok and verdict.first_bad_seq == size - 1 and "removed" in verdict.reason
    with pytest.raises(Conflict, match="events were removed"):  # and no checkpoint blesses the shorter ledger
        audited_ws.audit.checkpoint()


def test_reordering_is_named(audited_ws: Workspace) -> None:
    _published_then(audited_ws)
    db = _db(audited_ws)
    with db.write() as conn:  # swap events 5 and 6, keeping each one's own seq inside its content
        conn.execute(text("UPDATE audit_events SET seq = 1000 WHERE seq = 5"))
        conn.execute(text("UPDATE audit_events SET seq = 5 WHERE seq = 6"))
        conn.execute(text("UPDATE audit_events SET seq = 6 WHERE seq = 1000"))
    verdict = audited_ws.audit.verify()
    assert not verdict.ok and verdict.first_bad_seq == 5


def test_rewrite_from_a_point_is_caught_by_a_bare_checkpoint_file(audited_ws: Workspace, audit_setup: AuditSetup,
                                                                  tmp_path: Path) -> None:
    """Without the configured folder (its leaf mirror), a checkpoint file alone still catches it."""
    _seed(audited_ws, 3)
    first = audited_ws.audit.checkpoint(to=[str(tmp_path / "elsewhere")])["checkpoint"]
    _seed(audited_ws, 2, prefix="later")
    db = _db(audited_ws)
    with db.write() as conn:
        conn.execute(text("UPDATE audit_events SET actor = 'mallory' WHERE seq = 2"))
    _rehash_from(db, 2)
    verdict = audited_ws.audit.verify(checkpoints=[first], public_key=audit_setup.public_key.read_text(), state=False)
    assert not verdict.ok and verdict.first_bad_seq is not None and verdict.first_bad_seq <= 3


def test_checkpoint_refuses_to_sign_a_rewritten_history(audited_ws: Workspace) -> None:
    _published_then(audited_ws)
    db = _db(audited_ws)
    with db.write() as conn:
        conn.execute(text("UPDATE audit_events SET actor = 'mallory' WHERE seq = 2"))
    _rehash_from(db, 1)
    # The new checkpoint grows from the published frontier, so it still commits to the true event 2.
    audited_ws.audit.checkpoint()
    verdict = audited_ws.audit.verify()
    assert not verdict.ok and verdict.first_bad_seq == 2


def test_inclusion_proof_checks_offline_with_the_public_key(audited_ws: Workspace, audit_setup: AuditSetup) -> None:
    _published_then(audited_ws)
    seq = min(e.seq for e in audited_ws.audit.log(action="user.create", limit=1000))
    proof = audited_ws.audit.prove(str(seq)).document
    public = audit_setup.public_key.read_bytes()
    event = check_inclusion_proof(orjson.loads(orjson.dumps(proof)), public)
    assert event["seq"] == seq and event["action"] == "user.create"
    forged = orjson.loads(orjson.dumps(proof))
    forged["event"]["actor"] = "someone-else"
    with pytest.raises(ProofError, match=f"does not hold event {seq}"):
        check_inclusion_proof(forged, public)
    forged["leaf_data"] = base64.b64encode(orjson.dumps(["slipway-audit-event/1", *forged["event"].values()])).decode()
    with pytest.raises(ProofError, match="not included"):
        check_inclusion_proof(forged, public)
    other_key = Path(str(audit_setup.key) + "-other")
    from slipway.audit.keys import generate_key

    with pytest.raises(ProofError, match="signed by key"):
        check_inclusion_proof(proof, generate_key(other_key).read_bytes())


def test_untouched_event_still_proves_after_tampering_elsewhere(audited_ws: Workspace, audit_setup: AuditSetup) -> None:
    _published_then(audited_ws)
    proof = audited_ws.audit.prove("2").document
    with _db(audited_ws).write() as conn:
        conn.execute(text("UPDATE audit_events SET actor = 'mallory' WHERE seq = 5"))
    assert check_inclusion_proof(proof, audit_setup.public_key.read_text())["seq"] == 2


def test_governance_decision_publishes_a_checkpoint(audited_ws: Workspace, audit_setup: AuditSetup) -> None:
    audited_ws.governance.set_policy("metrics: {}\n", tier="low")
    files = sorted(audit_setup.published.glob("checkpoint-*.json"))
    assert files, "a checkpoint is published after policy.set"
    assert orjson.loads(files[-1].read_bytes())["tree_size"] == audited_ws.audit.verify().events


def test_rewrite_is_caught_on_postgres(audited_pg_ws: Workspace) -> None:
    _published_then(audited_pg_ws)
    db = _db(audited_pg_ws)
    with db.write() as conn:
        conn.execute(text("UPDATE audit_events SET details = replace(details, 'viewer', 'admin') WHERE seq = 4"))
    _rehash_from(db, 1)
    verdict = audited_pg_ws.audit.verify()
    assert not verdict.ok and verdict.first_bad_seq == 4
