"""``audit prove``: an inclusion proof a regulator checks offline with the public key alone."""

from __future__ import annotations

import base64
from typing import Any

from sqlalchemy import Connection

from slipway.audit.records import InclusionProof
from slipway.core.errors import Conflict, NotFound
from slipway.core.merkle import inclusion_path, node_hash, tree_root
from slipway.core.transparency import PROOF_FORMAT, event_leaf_data
from slipway.store.ledger import event_by_id, iter_leaves


def leaves_up_to(conn: Connection, size: int) -> list[bytes]:
    """The first ``size`` leaves, recomputed from the events; Conflict if any does not fit."""
    leaves: list[bytes] = []
    for seq, _, _, stored, computed in iter_leaves(conn):
        if len(leaves) == size:
            break
        if seq != len(leaves) + 1 or stored != computed:
            raise Conflict(f"audit event {len(leaves) + 1} is missing or altered; run 'slipway audit verify'")
        leaves.append(computed)
    if len(leaves) < size:
        raise Conflict(f"the ledger holds {len(leaves)} events, fewer than the checkpoint's {size}")
    return leaves


def prove(conn: Connection, event: str, checkpoint: dict[str, Any]) -> InclusionProof:
    """Prove that ``event`` (an event id or sequence number) is in the tree ``checkpoint`` signs.

    Raises:
        NotFound: no such event, or the checkpoint was signed before it.
        Conflict: the ledger does not reproduce the checkpoint's root (it was rewritten).
    """
    row = event_by_id(conn, str(event))
    if row is None:
        raise NotFound(f"no audit event {event!r}")
    size = int(checkpoint["tree_size"])
    if row.seq > size:
        raise NotFound(f"event {row.seq} is newer than the checkpoint (size {size}); publish a new checkpoint first")
    leaves = checked_leaves(conn, checkpoint)
    return InclusionProof(row.seq, size, proof_document(row, leaves, checkpoint))


def checked_leaves(conn: Connection, checkpoint: dict[str, Any]) -> list[bytes]:
    """The leaves of the tree ``checkpoint`` signs; Conflict unless they reproduce its root."""
    size = int(checkpoint["tree_size"])
    leaves = leaves_up_to(conn, size)
    if tree_root(leaves).hex() != checkpoint["root_hash"]:
        raise Conflict(f"the ledger does not reproduce the root of the checkpoint of size {size}: it was rewritten; "
                       "run 'slipway audit verify'")
    return leaves


def proof_document(row: Any, leaves: list[bytes], checkpoint: dict[str, Any],
                   path: list[bytes] | None = None) -> dict[str, Any]:
    """The inclusion proof of the event ``row`` (an ``audit_events`` row) among ``leaves``
    (``path``: its inclusion path, when computed already)."""
    return {
        "format": PROOF_FORMAT,
        "event": {"seq": row.seq, "event_id": row.event_id, "ts": row.ts, "actor": row.actor, "action": row.action,
                  "subject_kind": row.subject_kind, "subject_id": row.subject_id, "details_json": row.details},
        "leaf_data": base64.b64encode(event_leaf_data(row.seq, row.event_id, row.ts, row.actor, row.action,
                                                       row.subject_kind, row.subject_id, row.details)).decode(),
        "leaf_index": row.seq - 1,
        "leaf_hash": leaves[row.seq - 1].hex(),
        "inclusion_path": [h.hex() for h in (inclusion_path(leaves, row.seq - 1) if path is None else path)],
        "checkpoint": {k: v for k, v in checkpoint.items() if k != "frontier"},
    }


def inclusion_paths(leaves: list[bytes], indexes: list[int]) -> dict[int, list[bytes]]:
    """The RFC 6962 inclusion path of each leaf in ``indexes``, computed in one pass over the tree.

    Hashing level by level, with a level's lone last node carried up unchanged, builds the same
    tree as RFC 6962's split at the largest power of two; each path is then the sibling at each
    level, bottom up. Costs about 2n hashes in all, where :func:`inclusion_path` costs n per leaf.
    """
    paths: dict[int, list[bytes]] = {i: [] for i in indexes}
    position = {i: i for i in indexes}
    level = leaves
    while len(level) > 1:
        for leaf, at in position.items():
            sibling = at ^ 1
            if sibling < len(level):
                paths[leaf].append(level[sibling])
            position[leaf] = at // 2
        level = [node_hash(level[k], level[k + 1]) if k + 1 < len(level) else level[k]
                 for k in range(0, len(level), 2)]
    return paths
