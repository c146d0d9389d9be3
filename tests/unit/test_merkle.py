"""Merkle trees: proofs verify, and tampering with a leaf, a proof or the root is caught."""

from __future__ import annotations

import pytest
from eth_utils import keccak
from hypothesis import given
from hypothesis import strategies as st

from api.chain.merkle import MerkleTree, claim_leaf, verify


def _leaves(n: int) -> list[bytes]:
    return [keccak(text=f"leaf {i}") for i in range(n)]


@given(st.integers(min_value=1, max_value=70))
def test_every_leaf_has_a_proof_that_verifies(n: int) -> None:
    tree = MerkleTree(_leaves(n))
    for leaf in _leaves(n):
        assert verify(tree.proof(leaf), tree.root, leaf)


@given(st.integers(min_value=2, max_value=40), st.data())
def test_a_proof_does_not_verify_another_leaf(n: int, data: st.DataObject) -> None:
    leaves = _leaves(n)
    tree = MerkleTree(leaves)
    i = data.draw(st.integers(0, n - 1))
    j = data.draw(st.integers(0, n - 1).filter(lambda x: x != i))
    assert not verify(tree.proof(leaves[i]), tree.root, leaves[j])


def test_root_does_not_depend_on_leaf_order() -> None:
    leaves = _leaves(9)
    assert MerkleTree(leaves).root == MerkleTree(list(reversed(leaves))).root


def test_single_leaf_tree_is_its_leaf() -> None:
    (leaf,) = _leaves(1)
    tree = MerkleTree([leaf])
    assert tree.root == leaf
    assert tree.proof(leaf) == []


def test_empty_and_duplicate_leaves_are_refused() -> None:
    with pytest.raises(ValueError, match="at least one"):
        MerkleTree([])
    with pytest.raises(ValueError, match="duplicate"):
        MerkleTree(_leaves(2) * 2)


def test_claim_leaf_changes_with_every_field() -> None:
    base = (keccak(text="c"), "0x" + "11" * 20, 1_000, keccak(text="m"), keccak(text="e"))
    leaf = claim_leaf(*base)
    for i, other in enumerate(
        (keccak(text="d"), "0x" + "22" * 20, 1_001, keccak(text="n"), keccak(text="f"))
    ):
        changed = list(base)
        changed[i] = other
        assert claim_leaf(*changed) != leaf
