"""The gateway's receipt is the receipt web3 gives (read as a plain read, formatted by web3's
own formatter), and the outbox and the handlers decode events from it as before."""

from __future__ import annotations

import pytest

from api.chain.gateway import ChainGateway
from tests.conftest import Accounts

pytestmark = pytest.mark.chain


def test_a_receipt_equals_web3s_and_a_missing_one_is_none(
    chain: ChainGateway, accounts: Accounts
) -> None:
    address, _ = chain.deploy("PlainERC20", accounts.alice)
    token = chain.contract("PlainERC20", address)
    chain.transact(token.functions.mint(accounts.alice.address, 10**6), accounts.alice)
    mined = chain.transact(
        token.functions.transfer(accounts.bob.address, 5), accounts.alice, gas=80_000
    )
    tx_hash = mined["transactionHash"].to_0x_hex()
    ours = chain.receipt(tx_hash)
    assert ours == chain.w3.eth.get_transaction_receipt(mined["transactionHash"])
    assert ours is not None and ours["status"] == 1 and len(ours["logs"]) == 1
    (event,) = token.events.Transfer().process_receipt(ours)
    assert (event["args"]["to"], event["args"]["value"]) == (accounts.bob.address, 5)
    assert chain.receipt("0x" + "ab" * 32) is None
