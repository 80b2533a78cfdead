"""Audit ledger: verifying a 1,000,000-event ledger against a signed checkpoint, and append cost.

Baseline: the hash chain Slipway used before the Merkle ledger (its append and verify are kept
below, verbatim in substance, on the old table shape). Both ledgers hold the same events.

- ``verify_1m_events``: Merkle verification (every leaf recomputed from the event's content, the
  tree's root at the checkpoint's size, the leaf mirror compared) against the old chain walk.
  ``ratio`` = chain seconds / Merkle seconds; the goal is seconds, not minutes.
- ``append_per_event``: one event per write transaction, rounds alternating old and new.
  ``ratio`` = old per-event time / new per-event time; the goal is >= 0.91 (within 10 %).

    python benchmarks/audit.py [--quick] [--events 1000000] [--appends 2000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import BigInteger, Column, Connection, Integer, MetaData, String, Table, Text, select

from slipway.audit import destinations
from slipway.audit.checkpoints import make_checkpoint
from slipway.audit.keys import generate_key, load_signing_key
from slipway.audit.verify import verify_ledger
from slipway.core.clock import now_ms
from slipway.core.hashing import hash_bytes
from slipway.core.ids import new_id
from slipway.core.settings import load_settings
from slipway.core.transparency import event_leaf
from slipway.store.database import Database
from slipway.store.ledger import append_event
from slipway.store.schema.core import audit_events, audit_head

# -- the old hash chain (src/slipway/store/ledger.py before the Merkle ledger) ---------------------
OLD = MetaData()
old_events = Table("audit_events", OLD, Column("seq", BigInteger, primary_key=True, autoincrement=False),
                   Column("event_id", String(32), nullable=False, unique=True), Column("ts", BigInteger, nullable=False),
                   Column("actor", String(200), nullable=False), Column("action", String(100), nullable=False),
                   Column("subject_kind", String(50), nullable=False), Column("subject_id", String(300), nullable=False),
                   Column("details", Text, nullable=False), Column("prev_hash", String(64), nullable=False),
                   Column("hash", String(64), nullable=False))
old_head = Table("audit_head", OLD, Column("id", Integer, primary_key=True, autoincrement=False),
                 Column("seq", BigInteger, nullable=False), Column("hash", String(64), nullable=False))
GENESIS = "0" * 64


def _old_hash(seq: int, event_id: str, ts: int, actor: str, action: str, kind: str, subject: str, details: str,
              prev: str) -> str:
    return hash_bytes(orjson.dumps([seq, event_id, ts, actor, action, kind, subject, details, prev]))


def old_append(conn: Connection, actor: str, action: str, kind: str, subject: str, details: dict[str, Any]) -> None:
    head = conn.execute(select(old_head.c.seq, old_head.c.hash).where(old_head.c.id == 1)).first()
    prev_seq, prev_hash = (head.seq, head.hash) if head else (0, GENESIS)
    if head is None:
        conn.execute(old_head.insert().values(id=1, seq=0, hash=GENESIS))
    seq = prev_seq + 1
    event_id, ts = new_id(), now_ms()
    body = orjson.dumps(details, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS).decode()
    digest = _old_hash(seq, event_id, ts, actor, action, kind, subject, body, prev_hash)
    conn.execute(old_events.insert().values(seq=seq, event_id=event_id, ts=ts, actor=actor, action=action,
                                            subject_kind=kind, subject_id=subject, details=body, prev_hash=prev_hash,
                                            hash=digest))
    conn.execute(old_head.update().where(old_head.c.id == 1).values(seq=seq, hash=digest))


def old_verify(conn: Connection) -> int:
    expected_prev, expected_seq, count, last = GENESIS, 1, 0, 0
    while True:
        rows = conn.execute(select(old_events).where(old_events.c.seq > last).order_by(old_events.c.seq)
                            .limit(5000)).all()
        if not rows:
            break
        for row in rows:
            count += 1
            assert row.seq == expected_seq and row.prev_hash == expected_prev
            assert _old_hash(row.seq, row.event_id, row.ts, row.actor, row.action, row.subject_kind, row.subject_id,
                             row.details, row.prev_hash) == row.hash
            expected_prev, expected_seq = row.hash, row.seq + 1
        last = rows[-1].seq
    return count


# -- building both ledgers with the same events ----------------------------------------------------
def _event(seq: int) -> tuple[int, str, int, str, str, str, str, str]:
    details = orjson.dumps({"metrics": {"accuracy": 0.9, "loss": 0.1}, "n": seq, "run": f"run-{seq % 997}"},
                           option=orjson.OPT_SORT_KEYS).decode()
    return (seq, f"{seq:032x}", 1_780_000_000_000 + seq, f"user{seq % 13}", "run.log_batch", "run",
            f"{seq % 10007:032x}", details)


def build(new_db: Database, old_db: Database, events: int) -> None:
    batch, prev = 50_000, GENESIS
    for start in range(1, events + 1, batch):
        new_rows, old_rows = [], []
        for seq in range(start, min(start + batch, events + 1)):
            fields = _event(seq)
            keys = ("seq", "event_id", "ts", "actor", "action", "subject_kind", "subject_id", "details")
            row = dict(zip(keys, fields, strict=True))
            new_rows.append({**row, "leaf_hash": event_leaf(*fields).hex()})
            digest = _old_hash(*fields, prev)
            old_rows.append({**row, "prev_hash": prev, "hash": digest})
            prev = digest
        with new_db.write() as conn:
            conn.execute(audit_events.insert(), new_rows)
        with old_db.write() as conn:
            conn.execute(old_events.insert(), old_rows)
    with new_db.write() as conn:
        conn.execute(audit_head.update().where(audit_head.c.id == 1).values(seq=events, hash=new_rows[-1]["leaf_hash"]))
    with old_db.write() as conn:
        conn.execute(old_head.insert().values(id=1, seq=events, hash=prev))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--appends", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    events = 100_000 if args.quick else args.events
    appends = 500 if args.quick else args.appends
    rounds = 3 if args.quick else args.rounds
    with tempfile.TemporaryDirectory(prefix="slipway-bench-audit-") as tmp:
        root = Path(tmp)
        new_db, old_db = Database(f"sqlite:///{root / 'new.db'}"), Database(f"sqlite:///{root / 'old.db'}")
        new_db.upgrade()
        OLD.create_all(old_db.engine)
        started = time.perf_counter()
        build(new_db, old_db, events)
        print(f"built two ledgers of {events:,} events in {time.perf_counter() - started:.1f} s", flush=True)
        key_path = root / "keys" / "audit.pem"
        generate_key(key_path)
        settings = load_settings(home=root / "home", user="bench")
        settings.sections["audit"] = {"signing_key": str(key_path), "checkpoints": str(root / "published")}
        key = load_signing_key(settings)
        started = time.perf_counter()
        checkpoint, leaves, first = make_checkpoint(new_db, settings, key)
        destinations.publish(str(root / "published"), checkpoint, leaves, first)
        checkpoint_s = time.perf_counter() - started
        mirror = destinations.read_leaves(str(root / "published"))
        new_times, old_times, verdict = [], [], None
        for _ in range(rounds):
            started = time.perf_counter()
            with new_db.read() as conn:
                verdict = verify_ledger(conn, settings, [checkpoint], key.public_key(), [mirror])
            new_times.append(time.perf_counter() - started)
            started = time.perf_counter()
            with old_db.read() as conn:
                old_count = old_verify(conn)
            old_times.append(time.perf_counter() - started)
        assert verdict is not None
        checks = "ok" if verdict.ok and verdict.events == events == old_count and verdict.checkpoints == 1 else "FAILED"
        new_s, old_s = statistics.median(new_times), statistics.median(old_times)
        results = [{"workload": "audit", "case": f"verify_{events // 1_000_000}m_events" if events % 1_000_000 == 0 else f"verify_{events // 1000}k_events",
                    "slipway": round(new_s, 3), "peer": round(old_s, 3), "unit": "s", "ratio": round(old_s / new_s, 3),
                    "peer_version": "slipway hash chain (before the Merkle ledger)", "events": events,
                    "checkpoint_s": round(checkpoint_s, 3), "checks": checks}]
        # Append: fresh small ledgers, one event per transaction, rounds alternating.
        new_append = Database(f"sqlite:///{root / 'append-new.db'}")
        new_append.upgrade()
        old_append_db = Database(f"sqlite:///{root / 'append-old.db'}")
        OLD.create_all(old_append_db.engine)
        details = {"metrics": 100, "steps": 1, "run": "r"}
        new_ms, old_ms = [], []
        for _ in range(rounds + 1):  # the first round warms up
            started = time.perf_counter()
            for i in range(appends):
                with new_append.write() as conn:
                    append_event(conn, "ann", "run.log_batch", "run", f"r{i}", details)
            new_ms.append((time.perf_counter() - started) * 1000 / appends)
            started = time.perf_counter()
            for i in range(appends):
                with old_append_db.write() as conn:
                    old_append(conn, "ann", "run.log_batch", "run", f"r{i}", details)
            old_ms.append((time.perf_counter() - started) * 1000 / appends)
        with new_append.read() as conn:
            appended = verify_ledger(conn, settings, [], None, state=False)
        with old_append_db.read() as conn:
            old_appended = old_verify(conn)
        new_per, old_per = statistics.median(new_ms[1:]), statistics.median(old_ms[1:])
        same = appended.ok and appended.events == old_appended == appends * (rounds + 1)
        results.append({"workload": "audit", "case": "append_per_event", "slipway": round(new_per, 4),
                        "peer": round(old_per, 4), "unit": "ms/event", "ratio": round(old_per / new_per, 3),
                        "peer_version": "slipway hash chain (before the Merkle ledger)",
                        "checks": "ok" if same else "FAILED"})
        for db in (new_db, old_db, new_append, old_append_db):
            db.dispose()
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB", flush=True)
    for result in results:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
