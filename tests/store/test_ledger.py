"""The audit ledger's leaves catch an edited, removed or reordered event and name it, even
without a checkpoint (tampering that recomputes hashes is tests/audit's subject)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from slipway.audit.records import LedgerVerdict
from slipway.audit.verify import verify_ledger
from slipway.core.transparency import event_leaf
from slipway.store.database import Database
from slipway.store.ledger import append_event, list_events
from tests.support import make_settings


def _ledger(uri: str, events: int = 6) -> Database:
    db = Database(uri)
    db.upgrade()
    for i in range(events):
        with db.write() as conn:
            append_event(conn, "ann", "run.create", "run", f"r{i}", {"n": i, "name": f"run-{i}"})
    return db


@pytest.fixture
def ledger_db(tmp_path: Path) -> Iterator[Database]:
    db = _ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    yield db
    db.dispose()


def _verify(db: Database, home: Path) -> LedgerVerdict:
    with db.read() as conn:
        return verify_ledger(conn, make_settings(home), [], None, state=False)


def test_intact_ledger_verifies(ledger_db: Database, tmp_path: Path) -> None:
    verdict = _verify(ledger_db, tmp_path)
    assert verdict.ok and verdict.events == 6 and verdict.tree_size == 6
    with ledger_db.read() as conn:
        events = list_events(conn, limit=3)
    assert [e.seq for e in events] == [6, 5, 4]
    e = events[0]
    assert e.leaf_hash == event_leaf(e.seq, e.event_id, e.ts, e.actor, e.action, e.subject_kind, e.subject_id,
                                     '{"n":5,"name":"run-5"}').hex()


@pytest.mark.parametrize("column", ["details", "actor", "subject_id", "action"])
def test_one_changed_byte_is_named(ledger_db: Database, tmp_path: Path, column: str) -> None:
    with ledger_db.write() as conn:
        old = conn.execute(text(f"SELECT {column} FROM audit_events WHERE seq = 3")).scalar_one()
        changed = old[:-1] + chr(ord(old[-1]) ^ 1)  # flip one bit of the last character
        conn.execute(text(f"UPDATE audit_events SET {column} = :v WHERE seq = 3"), {"v": changed})
    verdict = _verify(ledger_db, tmp_path)
    assert not verdict.ok and verdict.first_bad_seq == 3
    assert "event 3" in verdict.reason


def test_removed_event_is_named(ledger_db: Database, tmp_path: Path) -> None:
    with ledger_db.write() as conn:
        conn.execute(text("DELETE FROM audit_events WHERE seq = 4"))
    verdict = _verify(ledger_db, tmp_path)
    assert not verdict.ok and verdict.first_bad_seq == 4
    assert "missing" in verdict.reason


def test_removed_newest_event_is_caught_by_the_head(ledger_db: Database, tmp_path: Path) -> None:
    with ledger_db.write() as conn:
        conn.execute(text("DELETE FROM audit_events WHERE seq = 6"))
    verdict = _verify(ledger_db, tmp_path)
    assert not verdict.ok and "removed" in verdict.reason


def test_swapped_events_are_named(ledger_db: Database, tmp_path: Path) -> None:
    with ledger_db.write() as conn:
        conn.execute(text("UPDATE audit_events SET seq = 100 WHERE seq = 2"))
        conn.execute(text("UPDATE audit_events SET seq = 2 WHERE seq = 3"))
        conn.execute(text("UPDATE audit_events SET seq = 3 WHERE seq = 100"))
    verdict = _verify(ledger_db, tmp_path)
    assert not verdict.ok and verdict.first_bad_seq == 2


def test_event_rolls_back_with_its_transaction(tmp_path: Path) -> None:
    db = _ledger(f"sqlite:///{tmp_path / 'l.db'}", events=2)
    with pytest.raises(RuntimeError), db.write() as conn:
        append_event(conn, "ann", "run.delete", "run", "r0")
        raise RuntimeError("the change failed")
    verdict = _verify(db, tmp_path)
    assert verdict.ok and verdict.events == 2


def test_tampering_is_caught_on_postgres(pg_uri: str, tmp_path: Path) -> None:
    db = _ledger(pg_uri)
    assert _verify(db, tmp_path).ok
    with db.write() as conn:
        conn.execute(text("UPDATE audit_events SET details = replace(details, 'run-2', 'run-Z') WHERE seq = 3"))
    verdict = _verify(db, tmp_path)
    assert not verdict.ok and verdict.first_bad_seq == 3
    db.dispose()
