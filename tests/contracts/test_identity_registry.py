"""IdentityRegistry: who may attest and revoke, and when an attestation stops counting."""

from __future__ import annotations

from eth_utils import keccak
from web3.logs import DISCARD

from api.chain.deploy import VERIFIER_ROLE
from tests.conftest import block_time, mine_at
from tests.contracts.conftest import ONE_YEAR, Platform, reverts


def test_attested_account_is_verified_and_holds_no_personal_data(platform: Platform) -> None:
    alice = platform.accounts.alice.address
    assert not platform.is_verified(alice)
    platform.attest(alice, level=3)
    assert platform.is_verified(alice)
    verifier, level, expires, revoked, credential, _since = (
        platform.registry.functions.attestationOf(alice).call()
    )
    assert (verifier, level, revoked) == (platform.accounts.verifier.address, 3, False)
    assert expires > block_time(platform.chain)
    assert len(credential) == 32  # only a hash of the off-chain credential


def test_attest_emits_attested(platform: Platform) -> None:
    platform.add_verifier(platform.accounts.verifier)
    expires = block_time(platform.chain) + ONE_YEAR
    receipt = platform.send(
        platform.registry.functions.attest(
            platform.accounts.bob.address, keccak(b"vc"), 1, expires
        ),
        platform.accounts.verifier,
    )
    (event,) = platform.registry.events.Attested().process_receipt(receipt, errors=DISCARD)
    assert event.args.account == platform.accounts.bob.address
    assert event.args.verifier == platform.accounts.verifier.address
    assert event.args.expiresAt == expires


def test_revert_when_caller_is_not_a_verifier(platform: Platform) -> None:
    expires = block_time(platform.chain) + ONE_YEAR
    with reverts("AccessControlUnauthorizedAccount") as caught:
        platform.send(
            platform.registry.functions.attest(
                platform.accounts.mallory.address, keccak(b"vc"), 2, expires
            ),
            platform.accounts.mallory,
        )
    assert caught[0].status == 403
    assert caught[0].error_args["account"] == platform.accounts.mallory.address


def test_revert_when_level_expiry_or_credential_is_invalid(platform: Platform) -> None:
    platform.add_verifier(platform.accounts.verifier)
    now = block_time(platform.chain)
    alice = platform.accounts.alice.address
    attest = platform.registry.functions.attest
    with reverts("IdentityRegistryInvalidLevel"):
        platform.send(attest(alice, keccak(b"vc"), 4, now + ONE_YEAR), platform.accounts.verifier)
    with reverts("IdentityRegistryInvalidLevel"):
        platform.send(attest(alice, keccak(b"vc"), 0, now + ONE_YEAR), platform.accounts.verifier)
    with reverts("IdentityRegistryInvalidExpiry"):
        platform.send(attest(alice, keccak(b"vc"), 2, now - 1), platform.accounts.verifier)
    with reverts("IdentityRegistryEmptyCredential"):
        platform.send(attest(alice, b"\0" * 32, 2, now + ONE_YEAR), platform.accounts.verifier)
    with reverts("IdentityRegistryZeroAddress"):
        platform.send(
            attest("0x" + "00" * 20, keccak(b"vc"), 2, now + ONE_YEAR), platform.accounts.verifier
        )


def test_attestation_stops_counting_at_expiry(platform: Platform) -> None:
    alice = platform.accounts.alice.address
    platform.attest(alice, ttl=3600)
    expires = platform.registry.functions.attestationOf(alice).call()[2]
    mine_at(platform.chain, expires - 1)
    assert platform.is_verified(alice)
    mine_at(platform.chain, expires)
    assert not platform.is_verified(alice)


def test_revoked_attestation_stops_counting(platform: Platform) -> None:
    alice = platform.accounts.alice.address
    platform.attest(alice)
    receipt = platform.send(platform.registry.functions.revoke(alice), platform.accounts.verifier)
    assert (
        platform.registry.events.Revoked().process_receipt(receipt, errors=DISCARD)[0].args.account
        == alice
    )
    assert not platform.is_verified(alice)
    with reverts("IdentityRegistryNotAttested"):
        platform.send(platform.registry.functions.revoke(alice), platform.accounts.verifier)


def test_only_the_attesting_verifier_or_an_accreditor_may_revoke(platform: Platform) -> None:
    alice = platform.accounts.alice.address
    platform.attest(alice)
    platform.add_verifier(platform.accounts.verifier2)
    with reverts("IdentityRegistryNotAttestingVerifier"):
        platform.send(platform.registry.functions.revoke(alice), platform.accounts.verifier2)
    with reverts("AccessControlUnauthorizedAccount"):
        platform.send(platform.registry.functions.revoke(alice), platform.accounts.mallory)
    platform.send(platform.registry.functions.revoke(alice), platform.accounts.operator)
    assert not platform.is_verified(alice)


def test_another_verifier_cannot_overwrite_a_live_attestation(platform: Platform) -> None:
    alice = platform.accounts.alice.address
    platform.attest(alice)
    with reverts("IdentityRegistryNotAttestingVerifier"):
        platform.attest(alice, verifier=platform.accounts.verifier2)


def test_attestation_stops_counting_when_verifier_loses_its_role(platform: Platform) -> None:
    alice = platform.accounts.alice.address
    platform.attest(alice)
    platform.send(
        platform.registry.functions.revokeRole(VERIFIER_ROLE, platform.accounts.verifier.address),
        platform.accounts.operator,
    )
    assert not platform.is_verified(alice)


def test_the_verification_start_is_recorded_and_kept_across_renewals(platform: Platform) -> None:
    """Issue 14: activities earn from verifiedSince; a renewal does not move it; none ahead."""
    platform.add_verifier(platform.accounts.verifier)
    alice = platform.accounts.alice.address
    verifier = platform.accounts.verifier
    since_of = lambda: platform.registry.functions.attestationOf(alice).call()[5]  # noqa: E731
    now = block_time(platform.chain)
    attest = platform.registry.functions.attestSince
    with reverts("IdentityRegistryInvalidSince"):
        platform.send(attest(alice, keccak(b"vc"), 2, now + ONE_YEAR, now + 3600), verifier)
    platform.send(attest(alice, keccak(b"vc"), 2, now + ONE_YEAR, now - 86_400), verifier)
    assert since_of() == now - 86_400
    # The same verifier renews later: the person stayed verified since the first check.
    platform.send(
        platform.registry.functions.attest(alice, keccak(b"vc2"), 2, now + 2 * ONE_YEAR), verifier
    )
    assert since_of() == now - 86_400
    # After a revocation, a new attestation starts anew.
    platform.send(platform.registry.functions.revoke(alice), verifier)
    platform.send(
        platform.registry.functions.attest(alice, keccak(b"vc3"), 2, now + ONE_YEAR), verifier
    )
    assert since_of() >= now
