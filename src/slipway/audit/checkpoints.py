"""Making and publishing signed checkpoints of the ledger's Merkle tree.

A checkpoint signs (origin, tree size, root hash, time). It is computed from the events'
content, never from stored hashes alone, and it is refused when the ledger is not an extension of
the newest checkpoint already published (a log must never sign a rewritten history). With a
folder destination, the newest checkpoint's frontier (the O(log n) subtree roots, checked against
its signed root) lets the next one read only the events appended since.
"""

from __future__ import annotations

import logging
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Connection, func, select

from slipway.audit import destinations
from slipway.audit.keys import destinations as configured_destinations
from slipway.audit.keys import load_signing_key, origin
from slipway.core.clock import now_ms
from slipway.core.errors import Conflict, InvalidInput
from slipway.core.merkle import TreeBuilder
from slipway.core.settings import Settings
from slipway.core.transparency import ProofError, check_checkpoint, event_leaf, sign_checkpoint
from slipway.store.database import Database
from slipway.store.schema.core import audit_events

log = logging.getLogger(__name__)


def _base(targets: list[str], key: Ed25519PrivateKey) -> tuple[TreeBuilder, int]:
    """The tree as of the newest checkpoint we signed at a folder destination (or an empty tree)."""
    for location in targets:
        for checkpoint in reversed(destinations.read_checkpoints(location, newest=3)):
            try:
                check_checkpoint(checkpoint, key.public_key())
                size = int(checkpoint["tree_size"])
                builder = TreeBuilder.from_frontier(size, [bytes.fromhex(h) for h in checkpoint.get("frontier", [])])
            except (ProofError, ValueError, TypeError):
                continue
            if builder.root().hex() == checkpoint["root_hash"]:
                return builder, size
    return TreeBuilder(), 0


def extend_tree(conn: Connection, builder: TreeBuilder, signed: dict[int, str] | None = None) -> bytes:
    """Add every event after ``builder.size`` to ``builder``; returns their leaf hashes.

    Raises:
        Conflict: an event's content does not match its stored leaf hash, events are missing, or
            the tree does not have the root ``signed`` (size -> root hash) says it had.
    """
    signed = signed or {}
    c = audit_events.c
    new = bytearray()
    last = builder.size
    while True:
        rows = conn.execute(select(c.seq, c.event_id, c.ts, c.actor, c.action, c.subject_kind, c.subject_id,
                                   c.details, c.leaf_hash).where(c.seq > last).order_by(c.seq).limit(20_000)).all()
        if not rows:
            return bytes(new)
        for seq, event_id, ts, actor, action, kind, subject, details, stored in rows:
            if seq != last + 1:
                raise Conflict(f"audit event {last + 1} is missing; run 'slipway audit verify' before signing")
            leaf = event_leaf(seq, event_id, ts, actor, action, kind, subject, details)
            if leaf.hex() != stored:
                raise Conflict(f"audit event {seq} ({action}) does not match its leaf hash; run 'slipway audit verify'")
            builder.append(leaf)
            new += leaf
            last = seq
            if seq in signed and builder.root().hex() != signed[seq]:
                raise Conflict(f"the ledger is not an extension of the published checkpoint of size {seq}: an event "
                               "up to it was changed; run 'slipway audit verify'")


def make_checkpoint(db: Database, settings: Settings, key: Ed25519PrivateKey,
                    targets: list[str] | None = None) -> tuple[dict[str, Any], bytes, int]:
    """Sign the current tree. Returns the checkpoint, the new leaf hashes and the first new seq.

    The tree grows from the newest checkpoint's frontier when there is one (so it extends that
    checkpoint by construction); otherwise it is computed from event 1 and must match every
    ``published`` checkpoint signed by ``key``.
    """
    targets = targets or configured_destinations(settings)
    builder, base_size = _base(targets, key)
    signed: dict[int, str] = {}
    if not base_size:
        for checkpoint in [c for t in targets for c in destinations.read_checkpoints(t)]:
            try:
                check_checkpoint(checkpoint, key.public_key())
            except ProofError:
                continue
            signed[int(checkpoint["tree_size"])] = str(checkpoint["root_hash"])
    with db.read() as conn:
        stored = int(conn.execute(select(func.max(audit_events.c.seq))).scalar() or 0)
        leaves = extend_tree(conn, builder, signed)
    newest = max([base_size, *signed])
    if min(builder.size, stored) < newest:
        raise Conflict(f"the ledger holds {builder.size} events but a checkpoint of size {newest} was published: "
                       "events were removed; run 'slipway audit verify'")
    checkpoint = sign_checkpoint(key, origin(settings), builder.size, builder.root().hex(), now_ms())
    checkpoint["frontier"] = [h.hex() for h in builder.frontier()]
    return checkpoint, leaves, base_size + 1


def publish_checkpoint(db: Database, settings: Settings, to: list[str] | None = None,
                       key_path: str | None = None) -> tuple[dict[str, Any], list[str]]:
    """Sign a checkpoint and publish it to ``to`` (default: ``[audit] checkpoints``).

    Raises:
        Conflict: the ledger is not an extension of what was already published (nothing is signed).
        InvalidInput: no destination or no usable signing key.
    """
    targets = to or configured_destinations(settings)
    if not targets:
        raise InvalidInput("no checkpoint destination: give --to LOCATION or set [audit] checkpoints in slipway.toml")
    key = load_signing_key(settings, key_path)
    checkpoint, leaves, first = make_checkpoint(db, settings, key, targets)
    where = [destinations.publish(t, checkpoint, leaves, first) for t in targets]
    return checkpoint, where


def publish_after_decision(db: Database, settings: Settings) -> None:
    """Publish a checkpoint after a governance decision, when destinations are configured.

    A failure is logged, not raised: the decision is already committed, and the next checkpoint
    (or ``slipway audit checkpoint``) covers it.
    """
    if not configured_destinations(settings):
        return
    try:
        publish_checkpoint(db, settings)
    except Exception as err:  # noqa: BLE001 - the committed decision must not fail on publishing
        log.warning("could not publish an audit checkpoint after a governance decision: %s", err)


def _register() -> None:
    from slipway.store.context import AFTER_DECISION

    if publish_after_decision not in AFTER_DECISION:
        AFTER_DECISION.append(publish_after_decision)


_register()
