"""Sign-In with Ethereum (EIP-4361): domain, chain, nonce (once), expiry, signature."""

from __future__ import annotations

import time

from eth_account import Account as EthAccount

from api.auth.models import Account, SiweNonce, Wallet
from tests.world import World, assert_problem, sign


def _siwe(world: World, message: str, signature: str):
    return world.client.post("/auth/siwe", json={"message": message, "signature": signature})


def test_siwe_signs_in_a_self_custody_citizen_once_per_nonce(world: World) -> None:
    dave = world.accounts.mallory  # any key: no ETH is needed to sign in
    nonce = world.client.post("/auth/siwe/nonce").json()
    assert nonce["domain"] == world.settings.siwe_domain and nonce["chain_id"] == 31337
    message = world.siwe_message(dave, nonce=nonce["nonce"])
    first = _siwe(world, message, sign(dave, message))
    assert first.status_code == 200, first.text
    account_id = first.json()["account_id"]
    wallet = world.client.get(
        f"/accounts/{account_id}/wallet",
        headers={"Authorization": f"Bearer {first.json()['access_token']}"},
    ).json()
    assert wallet == {**wallet, "address": dave.address, "custody": "self"}

    # The same message again: the nonce is spent.
    accounts_before = world.count(Account)
    replay = _siwe(world, message, sign(dave, message))
    assert assert_problem(replay, 401, "invalid-siwe-message")["reason"] == "nonce"
    assert world.count(Account) == accounts_before

    # A second sign-in with a new nonce reaches the same account.
    again = world.siwe_message(dave)
    assert _siwe(world, again, sign(dave, again)).json()["account_id"] == account_id


def test_siwe_for_another_domain_is_refused(world: World) -> None:
    eve = world.accounts.carol
    message = world.siwe_message(eve, domain="evil.example")
    before = world.count(Wallet)
    assert (
        assert_problem(_siwe(world, message, sign(eve, message)), 401, "invalid-siwe-message")[
            "reason"
        ]
        == "domain"
    )
    assert world.count(Wallet) == before


def test_siwe_for_another_chain_is_refused(world: World) -> None:
    eve = world.accounts.carol
    message = world.siwe_message(eve, chain_id=1)
    body = assert_problem(_siwe(world, message, sign(eve, message)), 401, "invalid-siwe-message")
    assert body["reason"] == "chain"


def test_expired_siwe_message_is_refused_and_its_nonce_stays_unspent(world: World) -> None:
    eve = world.accounts.carol
    nonce = world.client.post("/auth/siwe/nonce").json()["nonce"]
    message = world.siwe_message(eve, nonce=nonce, expires_in=-1)
    body = assert_problem(_siwe(world, message, sign(eve, message)), 401, "invalid-siwe-message")
    assert body["reason"] == "expired"
    assert world.count(SiweNonce, SiweNonce.nonce == nonce, SiweNonce.used_at.is_(None)) == 1


def test_unknown_nonce_and_wrong_signer_are_refused(world: World) -> None:
    eve, mallory = world.accounts.carol, world.accounts.mallory
    invented = world.siwe_message(eve, nonce=f"made{int(time.time())}up")
    assert (
        assert_problem(_siwe(world, invented, sign(eve, invented)), 401, "invalid-siwe-message")[
            "reason"
        ]
        == "nonce"
    )
    message = world.siwe_message(eve)
    body = assert_problem(
        _siwe(world, message, sign(mallory, message)), 401, "invalid-siwe-message"
    )
    assert body["reason"] == "signature"
    garbage = _siwe(world, "hello, sign me in please", sign(eve, "hello"))
    assert assert_problem(garbage, 401, "invalid-siwe-message")["reason"] == "malformed"


def test_a_signed_in_citizen_links_a_wallet_it_controls(world: World) -> None:
    citizen = world.sign_up()
    # A key of its own: the devnet's accounts may hold wallets of other tests' accounts.
    bob = EthAccount.create()
    message = world.siwe_message(bob)
    linked = world.client.post(
        f"/accounts/{citizen.id}/wallet",
        json={"custody": "self", "message": message, "signature": sign(bob, message)},
        headers=citizen.headers,
    )
    assert linked.status_code == 201, linked.text
    assert linked.json()["address"] == bob.address
    second = world.client.post(
        f"/accounts/{citizen.id}/wallet", json={"custody": "platform"}, headers=citizen.headers
    )
    assert_problem(second, 409, "wallet-exists")
    # Another account cannot claim the same address.
    other = world.sign_up()
    message = world.siwe_message(bob)
    taken = world.client.post(
        f"/accounts/{other.id}/wallet",
        json={"custody": "self", "message": message, "signature": sign(bob, message)},
        headers=other.headers,
    )
    assert_problem(taken, 409, "address-taken")
    assert world.count(Wallet, Wallet.account_id == other.id) == 0
