"""The evidence pack's one-pass inclusion paths equal RFC 6962's PATH for every leaf of every tree
size up to 70, and verify against the root."""

from __future__ import annotations

from slipway.audit.proofs import inclusion_paths
from slipway.core.merkle import inclusion_path, leaf_hash, tree_root, verify_inclusion


def test_one_pass_paths_match_rfc_6962() -> None:
    for size in range(1, 71):
        leaves = [leaf_hash(f"event {i}".encode()) for i in range(size)]
        root = tree_root(leaves)
        paths = inclusion_paths(leaves, list(range(size)))
        for index in range(size):
            assert paths[index] == inclusion_path(leaves, index), (size, index)
            assert verify_inclusion(leaves[index], index, size, paths[index], root)
    assert inclusion_paths([leaf_hash(b"x")], [0]) == {0: []}
