"""Merkle trees compatible with OpenZeppelin's ``MerkleProof`` (sorted-pair keccak256).

Leaves are hashed the way OpenZeppelin's StandardMerkleTree hashes them,
``keccak256(bytes.concat(keccak256(abi.encode(values))))``, so a leaf can never be mistaken
for an inner node. No maintained Python package implements this exact layout, so it is written
here (about forty lines) and tested against the contract's own ``MerkleProof`` verification.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eth_abi import encode as abi_encode
from eth_utils import keccak


def standard_leaf(types: Sequence[str], values: Sequence[Any]) -> bytes:
    return keccak(keccak(abi_encode(list(types), list(values))))


def _hash_pair(a: bytes, b: bytes) -> bytes:
    return keccak(a + b) if a < b else keccak(b + a)


class MerkleTree:
    """A complete binary tree over sorted leaves, laid out in one array as OpenZeppelin does."""

    def __init__(self, leaves: Sequence[bytes]) -> None:
        if not leaves:
            raise ValueError("a Merkle tree needs at least one leaf")
        if len(set(leaves)) != len(leaves):
            raise ValueError("duplicate leaves")
        ordered = sorted(leaves)
        size = 2 * len(ordered) - 1
        self._tree: list[bytes] = [b""] * size
        self._index: dict[bytes, int] = {}
        for i, leaf in enumerate(ordered):
            position = size - 1 - i
            self._tree[position] = leaf
            self._index[leaf] = position
        for i in range(size - 1 - len(ordered), -1, -1):
            self._tree[i] = _hash_pair(self._tree[2 * i + 1], self._tree[2 * i + 2])

    @property
    def root(self) -> bytes:
        return self._tree[0]

    def proof(self, leaf: bytes) -> list[bytes]:
        try:
            i = self._index[leaf]
        except KeyError:
            raise KeyError("leaf is not in the tree") from None
        path: list[bytes] = []
        while i > 0:
            sibling = i + 1 if i % 2 == 1 else i - 1
            path.append(self._tree[sibling])
            i = (i - 1) // 2
        return path


def verify(proof: Sequence[bytes], root: bytes, leaf: bytes) -> bool:
    node = leaf
    for sibling in proof:
        node = _hash_pair(node, sibling)
    return node == root


# Field order of Issuance.ClaimRecord; Issuance.claimLeaf hashes the same way.
CLAIM_RECORD_TYPES: tuple[str, ...] = ("bytes32", "address", "uint256", "bytes32", "bytes32")


def claim_leaf(
    claim_id: bytes, beneficiary: str, amount: int, methodology_hash: bytes, evidence_hash: bytes
) -> bytes:
    """The leaf of one claim record in its batch's tree."""
    return standard_leaf(
        CLAIM_RECORD_TYPES, (claim_id, beneficiary, amount, methodology_hash, evidence_hash)
    )
