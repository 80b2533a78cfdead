"""Leader leases: one holder at a time, take-over after expiry with a higher fencing token, a stale
token refused; on SQLite and PostgreSQL, with an injected clock (no sleeping)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from slipway.core.errors import InvalidInput, LeaseLost
from slipway.store import leases
from slipway.store.database import Database
from slipway.store.leases import Leadership, Lease


@pytest.fixture(params=["sqlite", "postgres"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "sqlite":
        database = Database(f"sqlite:///{tmp_path / 'leases.db'}")
        database.upgrade()
        yield database
        database.dispose()
    else:
        uri = request.getfixturevalue("pg_uri")
        database = Database(uri)
        database.upgrade()
        yield database
        database.dispose()


def _take(db: Database, holder: str, now: int, ttl_ms: int = 10_000, name: str = "scheduler") -> Lease | None:
    with db.write() as conn:
        return leases.take(conn, name, holder, ttl_ms, now)


def test_one_holder_then_take_over_with_a_higher_token(db: Database) -> None:
    first = _take(db, "a", 1_000)
    assert first == Lease("scheduler", "a", 1, 11_000)
    assert _take(db, "b", 2_000) is None  # a's lease runs
    renewed = _take(db, "a", 9_000)
    assert renewed == Lease("scheduler", "a", 1, 19_000)  # a renewal keeps the token
    assert _take(db, "b", 18_999) is None
    taken = _take(db, "b", 19_000)  # a stopped renewing: expired
    assert taken == Lease("scheduler", "b", 2, 29_000)
    assert _take(db, "a", 19_500) is None  # a came back: it stands by now
    with db.write() as conn:
        assert leases.check_fence(conn, "scheduler", 2) == "b"
        with pytest.raises(LeaseLost, match="token 1 is no longer current"):
            leases.check_fence(conn, "scheduler", 1)
    # names are independent
    assert _take(db, "a", 19_500, name="canary:maint") == Lease("canary:maint", "a", 1, 29_500)


def test_release_lets_a_standby_take_over_at_once(db: Database) -> None:
    lease = _take(db, "a", 1_000)
    assert lease is not None
    with db.write() as conn:
        assert not leases.release(conn, "scheduler", "b", lease.token)  # only the holder releases
        assert leases.release(conn, "scheduler", "a", lease.token)
    assert _take(db, "b", 1_001) == Lease("scheduler", "b", 2, 11_001)
    with db.write() as conn:
        assert not leases.release(conn, "scheduler", "a", lease.token)  # already passed on


def test_bad_names_and_ttls_are_refused(db: Database) -> None:
    for name, holder, ttl in (("", "a", 1000), ("scheduler", "", 1000), ("x" * 201, "a", 1000),
                              ("scheduler", "a", 10), ("scheduler", "a", 10**9)):
        with pytest.raises(InvalidInput), db.write() as conn:
            leases.take(conn, name, holder, ttl, 0)
    with db.read() as conn, pytest.raises(LeaseLost, match="no longer current"):
        leases.check_fence(conn, "nobody-took-this", 1)


def _race(db: Database, now: int) -> list[Lease]:
    winners: list[Lease] = []
    barrier = threading.Barrier(8)

    def ask(holder: str) -> None:
        barrier.wait(30)
        lease = _take(db, holder, now)
        if lease is not None:
            winners.append(lease)

    threads = [threading.Thread(target=ask, args=(f"h{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return winners


def test_racing_takers_get_exactly_one_lease(db: Database) -> None:
    """Eight threads (eight connections) ask at once, twice over (free, then expired): one wins each time."""
    first = _race(db, 1_000)
    assert len(first) == 1 and first[0].token == 1, first
    second = _race(db, 100_000)
    assert len(second) == 1 and second[0].token == 2, second


def test_leadership_stops_leading_before_its_lease_expires(db: Database) -> None:
    now = [1_000]

    def take(holder: str, ttl_s: float, at: int) -> Lease | None:
        return _take(db, holder, at, int(ttl_s * 1000))

    def release(holder: str, token: int) -> bool:
        with db.write() as conn:
            return leases.release(conn, "scheduler", holder, token)

    lines: list[str] = []
    a = Leadership(take, release, "a", 10.0, lambda: now[0], lines.append)
    b = Leadership(take, release, "b", 10.0, lambda: now[0], lines.append)
    assert a.refresh() == 1 and b.refresh() is None
    now[0] = 8_500  # 7.5 s into a 10 s lease: a no longer acts (a quarter ttl of margin) ...
    assert a.token is None
    assert b.refresh() is None  # ... and b cannot take it yet either
    now[0] = 11_000
    assert b.refresh() == 2 and a.refresh() is None
    b.release()
    assert a.refresh() == 3
    assert "a: leading scheduler (token 1)" in lines and "a: lost scheduler; standing by" in lines
