"""``audit verify``: the ledger against its signed checkpoints, then the rows against the ledger.

One pass over the events recomputes every leaf from the event's content and grows the Merkle
tree (one node hash per leaf, amortised), taking the root at each checkpoint's size. It names:

- an event whose content no longer matches its stored leaf hash (edited, hashes not recomputed);
- a gap in the sequence (an event deleted);
- the first event whose leaf differs from the leaf hashes mirrored beside the published
  checkpoints (edited, deleted, inserted or reordered, *even with every hash recomputed*);
- every checkpoint the ledger is not an extension of, and events removed after one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Connection

from slipway.audit.checks import CheckContext, run_checks
from slipway.audit.records import LedgerVerdict, Problem
from slipway.blobs.store import BlobStore
from slipway.core.clock import iso
from slipway.core.merkle import TreeBuilder, tree_root
from slipway.core.settings import Settings
from slipway.core.transparency import ProofError, check_checkpoint
from slipway.store.ledger import head_seq, iter_leaves


def _signed(checkpoints: Sequence[dict[str, Any]], key: Ed25519PublicKey | None,
            problems: list[Problem]) -> list[dict[str, Any]]:
    good = []
    for checkpoint in checkpoints:
        if key is None:
            problems.append(Problem("checkpoint", "no public key to check checkpoint signatures with: set [audit] "
                                    "public_key or give --public-key"))
            return []
        try:
            good.append(check_checkpoint(checkpoint, key))
        except ProofError as err:
            problems.append(Problem("checkpoint", f"checkpoint rejected: {err}"))
    return sorted(good, key=lambda c: int(c["tree_size"]))


def _mirror_is_authentic(mirror: bytes, checkpoints: list[dict[str, Any]], upto: int) -> bool:
    """Whether the mirrored leaves reproduce the signed root of a checkpoint covering ``upto``."""
    for checkpoint in checkpoints:
        size = int(checkpoint["tree_size"])
        if size >= upto and len(mirror) >= 32 * size:
            leaves = [mirror[i:i + 32] for i in range(0, 32 * size, 32)]
            return tree_root(leaves).hex() == checkpoint["root_hash"]
    return False


def _tree_problems(conn: Connection, checkpoints: list[dict[str, Any]], mirror: bytes,
                   problems: list[Problem]) -> tuple[int, TreeBuilder]:
    sizes = {int(c["tree_size"]) for c in checkpoints}
    roots: dict[int, str] = {}
    builder, count, expected = TreeBuilder(), 0, 1
    altered = gap = diverged = None
    mirror_len = len(mirror) // 32
    for seq, _, action, stored, computed in iter_leaves(conn):
        count += 1
        if gap is None and seq != expected:
            gap = expected
            problems.append(Problem("ledger", f"event {expected} is missing (the next event is {seq})", expected))
        if altered is None and stored != computed:
            altered = seq
            problems.append(Problem("ledger", f"event {seq} ({action}) was altered: its content does not "
                                    "match its leaf hash", seq))
        if diverged is None and count <= mirror_len and mirror[32 * (count - 1):32 * count] != computed:
            diverged = count
        builder.append(computed)
        if count in sizes:
            roots[count] = builder.root().hex()
        expected = seq + 1
    if diverged is None and count < mirror_len:
        diverged = count + 1
    matched = 0
    for checkpoint in checkpoints:
        size, when = int(checkpoint["tree_size"]), iso(int(checkpoint["timestamp_ms"]))
        if size > count:
            problems.append(Problem("checkpoint", f"the checkpoint of {when} signed {size} events but the ledger "
                                    f"holds {count}: event {count + 1} and later were removed", count + 1))
        elif roots.get(size) != checkpoint["root_hash"]:
            if diverged is not None and diverged <= size and _mirror_is_authentic(mirror, checkpoints, diverged):
                seq = diverged
                what = f"event {seq} differs from the event published in the checkpoints' leaf mirror"
            else:
                seq = matched + 1
                what = f"an event between {matched + 1} and {size} was changed"
            problems.append(Problem("checkpoint", f"the ledger is not an extension of the checkpoint of {when} "
                                    f"(size {size}): {what} (edited, removed, inserted or reordered)", seq))
        else:
            matched = max(matched, size)
    if checkpoints and diverged is not None and diverged <= max(sizes) and not any(p.seq == diverged for p in problems):
        problems.append(Problem("checkpoint", f"event {diverged} differs from the leaf mirror", diverged))
    head = head_seq(conn)
    last = expected - 1
    if head != last:
        problems.append(Problem("ledger", f"the ledger head records event {head} but the events end at {last}: "
                                "events were removed or the head was moved", min(head, last) + 1))
    return count, builder


def verify_ledger(conn: Connection, settings: Settings, checkpoints: Sequence[dict[str, Any]],
                  key: Ed25519PublicKey | None, mirrors: Sequence[bytes] = (), blobs: BlobStore | None = None,
                  state: bool = True) -> LedgerVerdict:
    """Verify the ledger against ``checkpoints`` (checked with ``key``) and leaf ``mirrors``, then
    (``state``) replay it against the rows it governs. The verdict names the first bad event."""
    problems: list[Problem] = []
    signed = _signed(checkpoints, key, problems)
    mirror = max(mirrors, key=len, default=b"")
    count, builder = _tree_problems(conn, signed, mirror, problems)
    if state:
        problems.extend(run_checks(CheckContext(conn, settings, blobs)))
    warnings = [] if signed else ["no signed checkpoint to compare with: a rewrite that recomputes every hash is "
                                  "only caught against one (publish with 'slipway audit checkpoint')"]
    seqs = sorted(p.seq for p in problems if p.seq is not None)
    first: Problem | None = problems[0] if problems else None
    if seqs:
        first = next(p for p in problems if p.seq == seqs[0])
    reason = "ok" if first is None else first.message
    return LedgerVerdict(not problems, count, seqs[0] if seqs else None, reason, problems, len(signed),
                         builder.size, builder.root().hex(), warnings)

