"""Issuance: batches mint once, commit a Merkle root, and prove each claim."""

from __future__ import annotations

from eth_utils import keccak
from web3.logs import DISCARD

from api.chain.merkle import MerkleTree, claim_leaf
from tests.contracts.conftest import Platform, reverts


def _claims(platform: Platform, n: int) -> dict[str, int]:
    people = [platform.accounts.alice, platform.accounts.bob, platform.accounts.carol]
    return {people[i % 3].address: 1_000 * (i + 1) for i in range(n)}


def test_batch_mints_each_recipient_total_and_records_the_root(platform: Platform) -> None:
    alice, bob = platform.accounts.alice.address, platform.accounts.bob.address
    batch_id, tree, _records = platform.issue({alice: 1_234, bob: 56})
    assert platform.balance(alice) == 1_234
    assert platform.balance(bob) == 56
    root, block, count, total = platform.issuance.functions.batchOf(batch_id).call()
    assert (root, count, total) == (tree.root, 2, 1_290)
    assert block > 0


def test_batch_event_lists_every_claim_id(platform: Platform) -> None:
    alice, bob = platform.accounts.alice.address, platform.accounts.bob.address
    claim_ids = [keccak(text=f"c{i}") for i in range(3)]
    records = [
        (claim_ids[0], alice, 100, keccak(text="m"), keccak(text="e0")),
        (claim_ids[1], alice, 200, keccak(text="m"), keccak(text="e1")),
        (claim_ids[2], bob, 300, keccak(text="m"), keccak(text="e2")),
    ]
    tree = MerkleTree([claim_leaf(*r) for r in records])
    receipt = platform.send(
        platform.issuance.functions.issueBatch(
            keccak(text="b1"), tree.root, claim_ids, [alice, bob], [300, 300]
        ),
        platform.accounts.issuer,
    )
    (event,) = platform.issuance.events.BatchIssued().process_receipt(receipt, errors=DISCARD)
    assert list(event.args.claimIds) == claim_ids
    assert event.args.totalAmount == 600
    for record in records:
        proof = tree.proof(claim_leaf(*record))
        assert platform.issuance.functions.isClaimIssued(keccak(text="b1"), record, proof).call()


def test_revert_when_batch_id_is_reused(platform: Platform) -> None:
    alice = platform.accounts.alice.address
    batch_id, _tree, _records = platform.issue({alice: 500})
    with reverts("IssuanceBatchAlreadyIssued") as caught:
        platform.issue({alice: 500}, batch=batch_id)
    assert caught[0].status == 409
    assert platform.balance(alice) == 500  # the retry minted nothing


def test_merkle_proofs_accepted_for_every_claim(platform: Platform) -> None:
    batch_id, tree, records = platform.issue(_claims(platform, 3))
    leaves = [claim_leaf(*r) for r in records]
    # the contract hashes a record exactly like the Python side
    for record, leaf in zip(records, leaves, strict=True):
        assert platform.issuance.functions.claimLeaf(record).call() == leaf
        assert platform.issuance.functions.isClaimIssued(batch_id, record, tree.proof(leaf)).call()


def test_forged_claims_are_refused(platform: Platform) -> None:
    batch_id, tree, records = platform.issue(_claims(platform, 3))
    record = records[0]
    proof = tree.proof(claim_leaf(*record))
    inflated = (record[0], record[1], record[2] + 1, record[3], record[4])
    redirected = (record[0], platform.accounts.mallory.address, *record[2:])
    check = platform.issuance.functions.isClaimIssued
    assert not check(batch_id, inflated, proof).call()
    assert not check(batch_id, redirected, proof).call()
    assert not check(keccak(text="no such batch"), record, proof).call()
    assert not check(batch_id, record, [keccak(text="forged")] * len(proof)).call()


def test_only_the_issuer_issues(platform: Platform) -> None:
    alice = platform.accounts.alice
    with reverts("AccessControlUnauthorizedAccount"):
        platform.send(
            platform.issuance.functions.issueBatch(
                keccak(text="b"), keccak(text="r"), [keccak(text="c")], [alice.address], [1]
            ),
            alice,
        )


def test_revert_when_batch_is_malformed(platform: Platform) -> None:
    alice = platform.accounts.alice.address
    issue = platform.issuance.functions.issueBatch
    issuer = platform.accounts.issuer
    root, claim = keccak(text="r"), [keccak(text="c")]
    with reverts("IssuanceEmptyBatch"):
        platform.send(issue(keccak(text="b"), root, [], [alice], [1]), issuer)
    with reverts("IssuanceZeroValue"):
        platform.send(issue(b"\0" * 32, root, claim, [alice], [1]), issuer)
    with reverts("IssuanceZeroAmount"):
        platform.send(issue(keccak(text="b"), root, claim, [alice], [0]), issuer)
    with reverts("CRDATokenLengthMismatch"):
        platform.send(issue(keccak(text="b"), root, claim, [alice, alice], [1]), issuer)
