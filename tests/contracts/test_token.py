"""CRDAToken: permissioned transfers, pause, minting rights and retirement."""

from __future__ import annotations

import pytest
from eth_utils import keccak
from web3.logs import DISCARD

from api.chain.deploy import MINTER_ROLE, VERIFIER_ROLE
from tests.conftest import increase_time
from tests.contracts.conftest import Platform, reverts

BENEFICIARY = keccak(text="Incheon Green Bakery Co.")


@pytest.fixture
def funded(platform: Platform) -> Platform:
    """Alice and Bob verified; Alice holds 5 kg."""
    platform.attest(platform.accounts.alice.address)
    platform.attest(platform.accounts.bob.address)
    platform.issue({platform.accounts.alice.address: 5_000})
    return platform


def test_token_shows_kilograms_and_names_itself(platform: Platform) -> None:
    assert platform.token.functions.decimals().call() == 3
    assert platform.token.functions.symbol().call() == "CRDA"
    assert platform.token.functions.name().call() == "Carbon Reduction Digital Asset"


def test_transfer_between_verified_accounts(funded: Platform) -> None:
    alice, bob = funded.accounts.alice, funded.accounts.bob
    funded.send(funded.token.functions.transfer(bob.address, 1_250), alice)
    assert funded.balance(alice.address) == 3_750
    assert funded.balance(bob.address) == 1_250


def test_revert_when_receiver_is_unverified(funded: Platform) -> None:
    carol = funded.accounts.carol.address
    with reverts("CRDATokenUnverifiedAccount") as caught:
        funded.send(funded.token.functions.transfer(carol, 1), funded.accounts.alice)
    assert caught[0].error_args["account"] == carol
    assert caught[0].type == "/problems/unverified-account"
    assert funded.balance(carol) == 0


def test_revert_when_sender_is_unverified(funded: Platform) -> None:
    carol = funded.accounts.carol
    funded.issue({carol.address: 1_000})  # minting needs no attestation, transfers do
    with reverts("CRDATokenUnverifiedAccount") as caught:
        funded.send(funded.token.functions.transfer(funded.accounts.bob.address, 1), carol)
    assert caught[0].error_args["account"] == carol.address


def test_revert_when_sender_attestation_expired(funded: Platform) -> None:
    alice = funded.accounts.alice
    increase_time(funded.chain, 366 * 24 * 3600)
    funded.attest(funded.accounts.bob.address)  # Bob renews, Alice does not
    with reverts("CRDATokenUnverifiedAccount"):
        funded.send(funded.token.functions.transfer(funded.accounts.bob.address, 1), alice)


def test_revert_when_receiver_was_revoked(funded: Platform) -> None:
    bob = funded.accounts.bob.address
    funded.send(funded.registry.functions.revoke(bob), funded.accounts.verifier)
    with reverts("CRDATokenUnverifiedAccount"):
        funded.send(funded.token.functions.transfer(bob, 1), funded.accounts.alice)


def test_revert_when_verifier_was_deroled(funded: Platform) -> None:
    funded.send(
        funded.registry.functions.revokeRole(VERIFIER_ROLE, funded.accounts.verifier.address),
        funded.accounts.operator,
    )
    with reverts("CRDATokenUnverifiedAccount"):
        funded.send(
            funded.token.functions.transfer(funded.accounts.bob.address, 1), funded.accounts.alice
        )


def test_transfer_from_respects_permissions(funded: Platform) -> None:
    alice, bob, carol = funded.accounts.alice, funded.accounts.bob, funded.accounts.carol
    funded.send(funded.token.functions.approve(bob.address, 2_000), alice)
    with reverts("CRDATokenUnverifiedAccount"):
        funded.send(funded.token.functions.transferFrom(alice.address, carol.address, 1), bob)
    funded.send(funded.token.functions.transferFrom(alice.address, bob.address, 2_000), bob)
    assert funded.balance(bob.address) == 2_000


def test_revert_when_overdrawing(funded: Platform) -> None:
    with reverts("ERC20InsufficientBalance") as caught:
        funded.send(
            funded.token.functions.transfer(funded.accounts.bob.address, 5_001),
            funded.accounts.alice,
        )
    assert caught[0].status == 409
    assert caught[0].error_args["needed"] == 5_001


def test_only_the_issuance_contract_mints(funded: Platform) -> None:
    operator = funded.accounts.operator
    with reverts("AccessControlUnauthorizedAccount"):
        funded.send(funded.token.functions.mintBatch([operator.address], [1]), operator)
    issuance = funded.issuance.address
    assert funded.token.functions.hasRole(MINTER_ROLE, issuance).call()
    assert not funded.token.functions.hasRole(MINTER_ROLE, operator.address).call()


def test_pause_stops_transfers_mints_and_retirements(funded: Platform) -> None:
    alice, bob, operator = funded.accounts.alice, funded.accounts.bob, funded.accounts.operator
    with reverts("AccessControlUnauthorizedAccount"):
        funded.send(funded.token.functions.pause(), alice)
    funded.send(funded.token.functions.pause(), operator)
    with reverts("EnforcedPause"):
        funded.send(funded.token.functions.transfer(bob.address, 1), alice)
    with reverts("EnforcedPause"):
        funded.issue({bob.address: 1})
    with reverts("EnforcedPause"):
        funded.send(funded.token.functions.retire(1, BENEFICIARY, "offset"), alice)
    funded.send(funded.token.functions.unpause(), operator)
    funded.send(funded.token.functions.transfer(bob.address, 1), alice)
    assert funded.balance(bob.address) == 1


def test_retirement_burns_and_records_a_certificate(funded: Platform) -> None:
    alice = funded.accounts.alice
    supply = funded.token.functions.totalSupply().call()
    receipt = funded.send(
        funded.token.functions.retire(2_000, BENEFICIARY, "2026 bakery ovens"), alice
    )
    (event,) = funded.token.events.Retired().process_receipt(receipt, errors=DISCARD)
    assert event.args.certificateId == 1
    assert (event.args.holder, event.args.amount) == (alice.address, 2_000)
    assert event.args.beneficiaryHash == BENEFICIARY
    assert event.args.reason == "2026 bakery ovens"
    assert funded.balance(alice.address) == 3_000
    assert funded.token.functions.totalSupply().call() == supply - 2_000
    assert funded.token.functions.retiredOf(alice.address).call() == 2_000
    assert funded.token.functions.totalRetired().call() == 2_000
    funded.send(funded.token.functions.retire(1, BENEFICIARY, ""), alice)
    assert funded.token.functions.lastCertificateId().call() == 2


def test_revoked_holder_can_still_retire_own_credits(funded: Platform) -> None:
    alice = funded.accounts.alice
    funded.send(funded.registry.functions.revoke(alice.address), funded.accounts.verifier)
    funded.send(funded.token.functions.retire(5_000, BENEFICIARY, "closing account"), alice)
    assert funded.balance(alice.address) == 0


def test_revert_when_retirement_is_empty_or_too_large(funded: Platform) -> None:
    alice = funded.accounts.alice
    with reverts("CRDATokenZeroRetirement"):
        funded.send(funded.token.functions.retire(0, BENEFICIARY, "x"), alice)
    with reverts("CRDATokenEmptyBeneficiary"):
        funded.send(funded.token.functions.retire(1, b"\0" * 32, "x"), alice)
    with reverts("ERC20InsufficientBalance"):
        funded.send(funded.token.functions.retire(5_001, BENEFICIARY, "x"), alice)
    assert funded.token.functions.totalRetired().call() == 0
