"""Leader election between replicas: a named lease row with an expiry and a fencing token.

Several replicas of a long-running role (the pipeline scheduler, a deployment's canary controller)
run at once so that one can die without stopping the work; exactly one of them acts. Each replica
calls :func:`take` on every tick: the holder renews its lease, the others get ``None`` until it
expires (its holder died or stalled), when the first to ask takes it over. Every take-over adds
one to the lease's ``token``.

The token is a *fencing token*: a replica that acts passes the token it was granted, and the
acting transaction calls :func:`check_fence`, which refuses the write once the lease has passed
to another holder. So a stalled leader that wakes up after its lease expired cannot step a canary
the new leader already stepped: its transaction is refused and changes nothing. The check needs
no clock (a higher token always wins), which keeps it safe against clock skew between hosts;
expiry only decides *when* a replica may take over, using the caller's clock (``now``, injectable
in tests), so the lease's ``ttl`` must be well above the clock skew between the replicas' hosts.

The row is changed with conditional ``UPDATE``\\ s and an ``INSERT`` in a savepoint, which are
atomic on SQLite (writes are serialised) and PostgreSQL (the second of two concurrent updates
re-checks its ``WHERE`` after the first commits), so two replicas never both hold a lease.
:class:`Leadership` is the replica's side: take or renew, know whether it still leads, release.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable

from sqlalchemy import Connection, select
from sqlalchemy.exc import IntegrityError as SqlIntegrityError

from slipway.core.clock import now_ms
from slipway.core.errors import InvalidInput, LeaseLost
from slipway.core.ids import new_id
from slipway.core.records import record
from slipway.store.schema.leases import leases

log = logging.getLogger("slipway.leases")
MAX_NAME = 200


@record
class Lease:
    """A lease held by ``holder`` until ``expires_ms`` (the taker's clock); ``token`` fences its writes."""

    name: str
    holder: str
    token: int
    expires_ms: int


def replica_name() -> str:
    """A holder name for this process among replicas: host, process id and a random suffix."""
    return f"{socket.gethostname()[:100]}:{os.getpid()}:{new_id()[:8]}"


def _check(name: str, holder: str, ttl_ms: int) -> None:
    for what, value in (("lease name", name), ("lease holder", holder)):
        if not isinstance(value, str) or not value or len(value) > MAX_NAME or not value.isprintable():
            raise InvalidInput(f"a {what} is 1 to {MAX_NAME} printable characters, got {value!r}")
    if isinstance(ttl_ms, bool) or not isinstance(ttl_ms, int) or not 100 <= ttl_ms <= 3_600_000:
        raise InvalidInput(f"a lease lasts 0.1 s to 1 h, got {ttl_ms!r} ms")


def take(conn: Connection, name: str, holder: str, ttl_ms: int, now: int | None = None) -> Lease | None:
    """Renew ``holder``'s lease ``name``, or take it if it is free or expired; ``None`` while
    another holder's lease runs. A take-over (a new holder, or the same holder after its lease
    expired) gets the next fencing token; a renewal keeps the token.

    Raises:
        InvalidInput: an empty or over-long name or holder, or a ttl outside 100 ms … 1 h.
    """
    _check(name, holder, ttl_ms)
    now = now_ms() if now is None else now
    expires = now + ttl_ms
    renewed = conn.execute(leases.update().where(
        leases.c.name == name, leases.c.holder == holder, leases.c.expires_ms > now).values(expires_ms=expires)).rowcount
    if not renewed:
        taken = conn.execute(leases.update().where(leases.c.name == name, leases.c.expires_ms <= now).values(
            holder=holder, token=leases.c.token + 1, expires_ms=expires, acquired_ms=now)).rowcount
        if not taken:
            try:
                with conn.begin_nested():
                    conn.execute(leases.insert().values(name=name, holder=holder, token=1, expires_ms=expires,
                                                        acquired_ms=now))
            except SqlIntegrityError:
                return None  # another replica holds it (or took it just now)
    row = conn.execute(select(leases).where(leases.c.name == name)).one()
    if row.holder != holder:
        return None
    return Lease(name, row.holder, int(row.token), int(row.expires_ms))


def release(conn: Connection, name: str, holder: str, token: int) -> bool:
    """End ``holder``'s lease at once (a clean shutdown), so another replica need not wait for it
    to expire; False if it had already passed to another holder."""
    return bool(conn.execute(leases.update().where(
        leases.c.name == name, leases.c.holder == holder, leases.c.token == token).values(expires_ms=0)).rowcount)


def check_fence(conn: Connection, name: str, token: int) -> str:
    """Refuse a write made under lease ``name`` with ``token`` if the lease has passed on since;
    returns the lease's holder.

    Call it inside the acting transaction; on PostgreSQL it locks the lease row until that
    transaction ends, so a take-over waits for the write and the write never follows a take-over.

    Raises:
        LeaseLost: another replica took the lease over (its token is higher), or there is no such lease.
    """
    query = select(leases.c.holder, leases.c.token).where(leases.c.name == name)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    row = conn.execute(query).one_or_none()
    if row is None or int(row.token) != int(token):
        raise LeaseLost(f"lease {name!r} token {token} is no longer current"
                       + (f" ({row.holder} holds token {row.token})" if row is not None else "")
                       + "; another replica took over, so this one does not act")
    return str(row.holder)


class Leadership:
    """One replica's side of a lease: :meth:`refresh` takes or renews it, :attr:`token` is set
    while this replica leads, :meth:`keep_renewing` renews from a thread during long work.

    Args:
        take: takes or renews the lease for ``(holder, ttl_s, now)``, e.g. an endpoint wrapping
            :func:`take` (``ws.pipelines.scheduler_lease``); returns the lease or ``None``.
        release: ends the lease ``(holder, token)``; called by :meth:`release`.
        clock: milliseconds, injectable; the lease is considered lost a quarter of its ttl before
            it expires on this clock, so the replica stops acting before another may start.
    """

    def __init__(self, take: Callable[[str, float, int], Lease | None], release: Callable[[str, int], object],
                 holder: str, ttl_s: float, clock: Callable[[], int] = now_ms,
                 report: Callable[[str], None] | None = None) -> None:
        self._take, self._release = take, release
        self.holder, self.ttl_s, self.clock = holder, ttl_s, clock
        self.report = report or log.info
        self.lease: Lease | None = None
        self._lock = threading.Lock()

    @property
    def token(self) -> int | None:
        """The fencing token while this replica leads (its lease not within a quarter ttl of expiry)."""
        lease = self.lease
        if lease is None or self.clock() >= lease.expires_ms - int(self.ttl_s * 250):
            return None
        return lease.token

    def refresh(self) -> int | None:
        """Take or renew the lease; the token if this replica now leads, else ``None``. A failed
        call (the store is away) counts as not leading."""
        with self._lock:
            before = self.lease
            try:
                self.lease = self._take(self.holder, self.ttl_s, self.clock())
            except Exception as err:  # noqa: BLE001 - an unreachable store means we cannot lead
                self.report(f"{self.holder}: cannot renew the lease: {type(err).__name__}: {err}")
                self.lease = None
            if self.lease is not None and (before is None or before.token != self.lease.token):
                self.report(f"{self.holder}: leading {self.lease.name} (token {self.lease.token})")
            elif self.lease is None and before is not None:
                self.report(f"{self.holder}: lost {before.name}; standing by")
            return self.token

    def keep_renewing(self, stop: threading.Event) -> threading.Thread:
        """Renew every third of the ttl from a daemon thread until ``stop`` is set (long ticks)."""

        def loop() -> None:
            while not stop.wait(self.ttl_s / 3):
                if self.lease is not None:
                    self.refresh()

        thread = threading.Thread(target=loop, name=f"lease-{self.holder}", daemon=True)
        thread.start()
        return thread

    def release(self) -> None:
        """Give the lease up (a clean shutdown) so a standby takes over without waiting for expiry."""
        with self._lock:
            lease, self.lease = self.lease, None
        if lease is not None:
            try:
                self._release(self.holder, lease.token)
            except Exception as err:  # noqa: BLE001 - it expires on its own anyway
                self.report(f"{self.holder}: cannot release the lease: {type(err).__name__}: {err}")
