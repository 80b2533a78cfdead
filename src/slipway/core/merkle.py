"""Merkle trees in the shape of RFC 6962 / RFC 9162 (certificate transparency), over SHA-256.

A leaf hashes as ``SHA-256(0x00 || data)``, an inner node as ``SHA-256(0x01 || left || right)``;
a tree of ``n`` leaves splits at the largest power of two below ``n`` (the RFC's MTH), so the
tree of the first ``m`` leaves is a fixed part of every larger tree. That is what lets a
signed root of size ``m`` (a checkpoint) prove that no earlier leaf was ever changed.

This module uses the standard library only, so a verifier can copy it as it is.

Example::

    leaves = [leaf_hash(b"a"), leaf_hash(b"b"), leaf_hash(b"c")]
    path = inclusion_path(leaves, 2)
    assert verify_inclusion(leaves[2], 2, 3, path, tree_root(leaves))
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly below ``n`` (``n >= 2``)."""
    return 1 << ((n - 1).bit_length() - 1)


class TreeBuilder:
    """Roots of a growing tree, one leaf at a time: amortised one node hash per leaf.

    The frontier holds the roots of the perfect subtrees the leaves so far decompose into (one
    per set bit of the size, biggest first); the root folds them from the right, as MTH does.
    """

    def __init__(self) -> None:
        self._heights: list[int] = []
        self._hashes: list[bytes] = []
        self.size = 0

    @classmethod
    def from_frontier(cls, size: int, hashes: Sequence[bytes]) -> TreeBuilder:
        """Resume a tree of ``size`` leaves from its frontier (see :meth:`frontier`)."""
        heights = [bit for bit in range(size.bit_length() - 1, -1, -1) if size >> bit & 1]
        if len(heights) != len(hashes):
            raise ValueError(f"a tree of {size} leaves has {len(heights)} frontier hashes, not {len(hashes)}")
        builder = cls()
        builder._heights, builder._hashes, builder.size = heights, list(hashes), size
        return builder

    def frontier(self) -> list[bytes]:
        """The roots of the perfect subtrees the leaves decompose into, biggest first."""
        return list(self._hashes)

    def append(self, leaf: bytes) -> None:
        heights, hashes = self._heights, self._hashes
        height, value = 0, leaf
        while heights and heights[-1] == height:
            heights.pop()
            value = node_hash(hashes.pop(), value)
            height += 1
        heights.append(height)
        hashes.append(value)
        self.size += 1

    def extend(self, leaves: Iterable[bytes]) -> None:
        for leaf in leaves:
            self.append(leaf)

    def root(self) -> bytes:
        if not self._hashes:
            return EMPTY_ROOT
        value = self._hashes[-1]
        for left in reversed(self._hashes[:-1]):
            value = node_hash(left, value)
        return value


def tree_root(leaves: Sequence[bytes]) -> bytes:
    """MTH of the leaf hashes ``leaves``."""
    builder = TreeBuilder()
    builder.extend(leaves)
    return builder.root()


def inclusion_path(leaves: Sequence[bytes], index: int) -> list[bytes]:
    """RFC 6962 PATH(index, leaves): the sibling hashes from the leaf up to the root."""
    if not 0 <= index < len(leaves):
        raise ValueError(f"leaf index {index} is outside a tree of {len(leaves)} leaves")
    path: list[bytes] = []
    lo, hi = 0, len(leaves)
    # Walk down from the root, remembering the sibling subtree at each split; reverse at the end.
    while hi - lo > 1:
        k = _split(hi - lo)
        if index - lo < k:
            path.append(tree_root(leaves[lo + k:hi]))
            hi = lo + k
        else:
            path.append(tree_root(leaves[lo:lo + k]))
            lo = lo + k
    return path[::-1]


def consistency_path(leaves: Sequence[bytes], old_size: int) -> list[bytes]:
    """RFC 6962 PROOF(old_size, leaves): proves the tree of ``old_size`` leaves is a prefix."""
    if not 0 < old_size <= len(leaves):
        raise ValueError(f"old size {old_size} must be between 1 and {len(leaves)}")
    proof: list[bytes] = []
    lo, hi, m, complete = 0, len(leaves), old_size, True
    while m != hi - lo:
        k = _split(hi - lo)
        if m <= k:
            proof.append(tree_root(leaves[lo + k:hi]))
            hi = lo + k
        else:
            proof.append(tree_root(leaves[lo:lo + k]))
            lo, m, complete = lo + k, m - k, False
    if not complete:
        proof.append(tree_root(leaves[lo:hi]))
    return proof[::-1]


def verify_inclusion(leaf: bytes, index: int, size: int, path: Sequence[bytes], root: bytes) -> bool:
    """RFC 9162 §2.1.3.2: whether ``leaf`` is leaf ``index`` of the tree of ``size`` with ``root``."""
    if not 0 <= index < size:
        return False
    fn, sn, value = index, size - 1, leaf
    for sibling in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            value = node_hash(sibling, value)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn, sn = fn >> 1, sn >> 1
        else:
            value = node_hash(value, sibling)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and value == root


def verify_consistency(old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]) -> bool:
    """RFC 9162 §2.1.4.2: whether the tree (``new_size``, ``new_root``) extends (``old_size``, ``old_root``)."""
    if old_size == new_size:
        return not proof and old_root == new_root
    if not 0 < old_size < new_size or not proof:
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # a power of two: the old root is itself a node
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return fr == old_root and sr == new_root and sn == 0
