"""Migration 0009 turns a store's hash-chained events into Merkle leaves without losing any."""

from __future__ import annotations

from pathlib import Path

import blake3
import orjson
import pytest
from alembic import command
from sqlalchemy import text

from slipway.audit.verify import verify_ledger
from slipway.core.transparency import event_leaf
from slipway.store.database import Database
from slipway.store.migrate import alembic_config
from tests.support import make_settings


def _old_chain(db: Database, events: int) -> list[tuple[object, ...]]:
    """Events as the 0001-0008 ledger wrote them: each hash covers the fields and the previous hash."""
    prev, rows = "0" * 64, []
    with db.write() as conn:
        for seq in range(1, events + 1):
            fields = (seq, f"{seq:032x}", 1_700_000_000_000 + seq, "ann", "run.create", "run", f"r{seq}",
                      orjson.dumps({"n": seq, "name": f"run-{seq}"}, option=orjson.OPT_SORT_KEYS).decode())
            digest = blake3.blake3(orjson.dumps([*fields, prev])).hexdigest()
            conn.execute(text("INSERT INTO audit_events (seq, event_id, ts, actor, action, subject_kind, subject_id, "
                              "details, prev_hash, hash) VALUES (:s, :e, :t, :a, :ac, :k, :i, :d, :p, :h)"),
                         dict(zip(("s", "e", "t", "a", "ac", "k", "i", "d"), fields, strict=True), p=prev, h=digest))
            prev = digest
            rows.append(fields)
        conn.execute(text("UPDATE audit_head SET seq = :s, hash = :h WHERE id = 1"), {"s": events, "h": prev})
    return rows


def _migrate(uri: str, tmp_path: Path) -> None:
    db = Database(uri)
    command.upgrade(alembic_config(db.engine), "0008")
    old = _old_chain(db, 25)
    db.upgrade()
    with db.read() as conn:
        rows = conn.execute(text("SELECT seq, event_id, ts, actor, action, subject_kind, subject_id, details, "
                                 "leaf_hash FROM audit_events ORDER BY seq")).all()
        columns = set(conn.execute(text("SELECT * FROM audit_events LIMIT 1")).keys())
        verdict = verify_ledger(conn, make_settings(tmp_path), [], None, state=False)
    assert [tuple(r[:8]) for r in rows] == old, "every event kept, in order, unchanged"
    assert [r.leaf_hash for r in rows] == [event_leaf(*r[:8]).hex() for r in rows]
    assert "prev_hash" not in columns and "hash" not in columns
    assert verdict.ok and verdict.events == 25
    command.downgrade(alembic_config(db.engine), "0008")  # and back: the old chain is rebuilt
    with db.read() as conn:
        first = conn.execute(text("SELECT prev_hash FROM audit_events WHERE seq = 1")).scalar_one()
    assert first == "0" * 64
    db.dispose()


def test_sqlite_store_with_chained_events_migrates(tmp_path: Path) -> None:
    _migrate(f"sqlite:///{tmp_path / 'old.db'}", tmp_path)


def test_postgres_store_with_chained_events_migrates(pg_uri: str, tmp_path: Path) -> None:
    _migrate(pg_uri, tmp_path)


@pytest.mark.parametrize("events", [0, 1])
def test_small_stores_migrate(tmp_path: Path, events: int) -> None:
    db = Database(f"sqlite:///{tmp_path / 'small.db'}")
    command.upgrade(alembic_config(db.engine), "0008")
    _old_chain(db, events)
    db.upgrade()
    with db.read() as conn:
        assert verify_ledger(conn, make_settings(tmp_path), [], None, state=False).events == events
    db.dispose()
