"""The Merkle tree matches RFC 6962's MTH, and its inclusion and consistency proofs verify exactly
when they should (RFC 9162 verification algorithms)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from slipway.core.merkle import (
    EMPTY_ROOT,
    TreeBuilder,
    consistency_path,
    inclusion_path,
    leaf_hash,
    node_hash,
    tree_root,
    verify_consistency,
    verify_inclusion,
)


def _mth(leaves: list[bytes]) -> bytes:
    """RFC 6962 section 2.1, written as the RFC writes it."""
    if not leaves:
        return EMPTY_ROOT
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return node_hash(_mth(leaves[:k]), _mth(leaves[k:]))


def _leaves(n: int) -> list[bytes]:
    return [leaf_hash(i.to_bytes(4, "big")) for i in range(n)]


def test_known_vectors() -> None:
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    # RFC 6962 leaf of the empty string: SHA-256(0x00).
    assert leaf_hash(b"").hex() == "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=1, max_value=70), st.data())
def test_roots_and_proofs(n: int, data: st.DataObject) -> None:
    leaves = _leaves(n)
    root = tree_root(leaves)
    assert root == _mth(leaves)
    index = data.draw(st.integers(0, n - 1))
    path = inclusion_path(leaves, index)
    assert verify_inclusion(leaves[index], index, n, path, root)
    assert not verify_inclusion(leaf_hash(b"forged"), index, n, path, root)
    if n > 1:
        assert not verify_inclusion(leaves[index], (index + 1) % n, n, path, root)
    old = data.draw(st.integers(1, n))
    proof = consistency_path(leaves, old)
    assert verify_consistency(old, n, _mth(leaves[:old]), root, proof)
    if old < n:
        changed = list(leaves)
        changed[data.draw(st.integers(0, old - 1))] = leaf_hash(b"edited")
        assert not verify_consistency(old, n, _mth(changed[:old]), root, proof)


def test_builder_resumes_from_its_frontier() -> None:
    builder = TreeBuilder()
    builder.extend(_leaves(37))
    resumed = TreeBuilder.from_frontier(37, builder.frontier())
    for leaf in _leaves(50)[37:]:
        resumed.append(leaf)
    assert resumed.root() == _mth(_leaves(50))
