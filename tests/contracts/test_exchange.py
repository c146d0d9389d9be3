"""Exchange and settlement token: signed orders settle atomically, and nothing else does."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import pytest
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from web3.contract import Contract
from web3.logs import DISCARD

from api.chain.errors import ChainRevert
from api.market.eip712 import Domain, Order, Side
from api.market.settlement import GAS_PER_BATCH, GAS_PER_FILL
from tests.conftest import block_time, increase_time
from tests.contracts.conftest import Platform, reverts

KG = 1000
_ids = itertools.count(1)


def ref() -> bytes:
    """A fresh deposit or withdrawal reference."""
    return keccak(text=f"ref-{next(_ids)}")


@dataclass
class Market:
    platform: Platform
    won: Contract
    exchange: Contract
    domain: Domain

    def order(self, maker: LocalAccount, side: Side, price: int, kg: int, ttl: int = 3600) -> Order:
        return Order(
            maker.address, side, price, kg * KG, block_time(self.platform.chain) + ttl, next(_ids)
        )

    def fill(
        self,
        buy: Order,
        buyer: LocalAccount,
        sell: Order,
        seller: LocalAccount,
        kg: int,
        price: int | None = None,
        fill_id: bytes | None = None,
    ) -> tuple:
        return (
            fill_id or keccak(text=f"fill-{next(_ids)}"),
            buy.as_tuple(),
            self.domain.sign_order(buy, buyer),
            sell.as_tuple(),
            self.domain.sign_order(sell, seller),
            price if price is not None else sell.price,
            kg * KG,
        )

    def settle_batch(self, fills: list[tuple]):
        relayer = self.platform.accounts.relayer
        return self.platform.send(self.exchange.functions.settleBatch(fills), relayer)

    def won_of(self, who: str) -> int:
        return int(self.won.functions.balanceOf(who).call())

    def rejected(self, receipt) -> list[int]:
        events = self.exchange.events.FillRejected().process_receipt(receipt, errors=DISCARD)
        return [e["args"]["reason"] for e in events]


@pytest.fixture
def market(platform: Platform) -> Market:
    chain = platform.chain
    accounts = platform.accounts
    for who in (accounts.alice, accounts.bob, accounts.carol):
        platform.attest(who.address)
    exchange = chain.contract("Exchange")
    won = chain.contract("SettlementToken")
    m = Market(platform, won, exchange, Domain(chain.chain_id, exchange.address))
    platform.issue({accounts.alice.address: 10 * KG, accounts.carol.address: 5 * KG})
    for who in (accounts.bob.address, accounts.carol.address):
        platform.send(won.functions.mint(who, 100_000, ref()), accounts.operator)
    return m


def test_python_order_hash_matches_the_contract(market: Market, accounts) -> None:
    order = market.order(accounts.alice, Side.sell, 1500, 2)
    assert market.exchange.functions.hashOrder(order.as_tuple()).call() == market.domain.order_hash(
        order
    )


def test_a_fill_swaps_credits_and_won_atomically(market: Market, accounts) -> None:
    sell = market.order(accounts.alice, Side.sell, 1500, 4)
    buy = market.order(accounts.bob, Side.buy, 1600, 3)
    receipt = market.settle_batch([market.fill(buy, accounts.bob, sell, accounts.alice, 3)])
    settled = market.exchange.events.FillSettled().process_receipt(receipt, errors=DISCARD)
    assert [(e["args"]["quantity"], e["args"]["won"]) for e in settled] == [(3 * KG, 4500)]
    assert market.platform.balance(accounts.alice.address) == 7 * KG
    assert market.platform.balance(accounts.bob.address) == 3 * KG
    assert market.won_of(accounts.alice.address) == 4500
    assert market.won_of(accounts.bob.address) == 100_000 - 4500
    assert market.exchange.functions.filledOf(market.domain.order_hash(sell)).call() == 3 * KG


def test_a_resent_fill_never_settles_twice(market: Market, accounts) -> None:
    sell = market.order(accounts.alice, Side.sell, 1000, 4)
    buy = market.order(accounts.bob, Side.buy, 1000, 4)
    fill = market.fill(buy, accounts.bob, sell, accounts.alice, 2)
    market.settle_batch([fill])
    receipt = market.settle_batch([fill])
    assert market.rejected(receipt) == [1]  # AlreadySettled
    assert market.platform.balance(accounts.bob.address) == 2 * KG


def test_a_bad_fill_is_skipped_and_the_rest_of_the_batch_settles(market: Market, accounts) -> None:
    sell = market.order(accounts.alice, Side.sell, 1000, 10)
    buy = market.order(accounts.bob, Side.buy, 1000, 10)
    good = market.fill(buy, accounts.bob, sell, accounts.alice, 2)
    tampered = list(market.fill(buy, accounts.bob, sell, accounts.alice, 1))
    tampered[2] = tampered[2][:-1] + bytes([tampered[2][-1] ^ 1])
    overfill = market.fill(buy, accounts.bob, sell, accounts.alice, 9)
    receipt = market.settle_batch([good, tuple(tampered), overfill])
    assert market.rejected(receipt) == [3, 3]  # BuyOrderInvalid twice
    assert market.platform.balance(accounts.bob.address) == 2 * KG


def test_a_fill_outside_the_limits_or_with_itself_is_refused(market: Market, accounts) -> None:
    sell = market.order(accounts.alice, Side.sell, 1000, 4)
    buy = market.order(accounts.bob, Side.buy, 900, 4)
    own_buy = market.order(accounts.alice, Side.buy, 1000, 4)
    fractional = market.fill(
        market.order(accounts.bob, Side.buy, 1000, 4), accounts.bob, sell, accounts.alice, 1
    )
    receipt = market.settle_batch(
        [
            market.fill(buy, accounts.bob, sell, accounts.alice, 1, price=950),
            market.fill(own_buy, accounts.alice, sell, accounts.alice, 1),
            (*fractional[:6], 500),
        ]
    )
    assert market.rejected(receipt) == [2, 2, 2]  # BadFill


def test_an_order_signed_for_another_chain_or_contract_does_not_settle(
    market: Market, accounts
) -> None:
    sell = market.order(accounts.alice, Side.sell, 1000, 4)
    buy = market.order(accounts.bob, Side.buy, 1000, 4)
    for domain in (
        Domain(market.domain.chain_id + 1, market.exchange.address),
        Domain(market.domain.chain_id, accounts.mallory.address),
    ):
        fill = list(market.fill(buy, accounts.bob, sell, accounts.alice, 1))
        fill[4] = domain.sign_order(sell, accounts.alice)
        assert market.rejected(market.settle_batch([tuple(fill)])) == [4]  # SellOrderInvalid


def test_expired_and_cancelled_orders_never_settle(market: Market, accounts) -> None:
    sell = market.order(accounts.alice, Side.sell, 1000, 4, ttl=60)
    buy = market.order(accounts.bob, Side.buy, 1000, 4)
    increase_time(market.platform.chain, 120)
    assert market.rejected(
        market.settle_batch([market.fill(buy, accounts.bob, sell, accounts.alice, 1)])
    ) == [4]
    live = market.order(accounts.alice, Side.sell, 1000, 4)
    market.platform.send(market.exchange.functions.cancel(live.as_tuple()), accounts.alice)
    assert market.exchange.functions.isCancelled(market.domain.order_hash(live)).call()
    assert market.rejected(
        market.settle_batch([market.fill(buy, accounts.bob, live, accounts.alice, 1)])
    ) == [4]


def test_only_the_maker_cancels_directly_or_by_a_relayed_signature(
    market: Market, accounts
) -> None:
    order = market.order(accounts.alice, Side.sell, 1000, 4)
    with reverts("ExchangeNotMaker"):
        market.platform.send(market.exchange.functions.cancel(order.as_tuple()), accounts.mallory)
    forged = market.domain.sign_cancel(order, accounts.mallory)
    with reverts("ExchangeInvalidSignature"):
        market.platform.send(
            market.exchange.functions.cancelWithSignature(order.as_tuple(), forged),
            accounts.relayer,
        )
    signed = market.domain.sign_cancel(order, accounts.alice)
    market.platform.send(
        market.exchange.functions.cancelWithSignature(order.as_tuple(), signed), accounts.relayer
    )
    assert market.exchange.functions.isCancelled(market.domain.order_hash(order)).call()


def test_a_maker_without_the_money_or_credits_or_identity_is_skipped(
    market: Market, accounts
) -> None:
    sell = market.order(accounts.alice, Side.sell, 1000, 10)
    rich_buy = market.order(accounts.bob, Side.buy, 100_000, 2)  # 200,000 won > 100,000 held
    assert market.rejected(
        market.settle_batch(
            [market.fill(rich_buy, accounts.bob, sell, accounts.alice, 2, price=100_000)]
        )
    ) == [5]
    big_sell = market.order(accounts.carol, Side.sell, 1000, 6)  # carol holds 5 kg
    buy = market.order(accounts.bob, Side.buy, 1000, 6)
    assert market.rejected(
        market.settle_batch([market.fill(buy, accounts.bob, big_sell, accounts.carol, 6)])
    ) == [6]
    market.platform.send(
        market.platform.registry.functions.revoke(accounts.alice.address), accounts.verifier
    )
    assert market.rejected(
        market.settle_batch([market.fill(buy, accounts.bob, sell, accounts.alice, 1)])
    ) == [6]
    assert market.platform.balance(accounts.bob.address) == 0


def test_only_the_settler_submits_fills(market: Market, accounts) -> None:
    sell = market.order(accounts.alice, Side.sell, 1000, 4)
    buy = market.order(accounts.bob, Side.buy, 1000, 4)
    with reverts("AccessControlUnauthorizedAccount"):
        market.platform.send(
            market.exchange.functions.settleBatch(
                [market.fill(buy, accounts.bob, sell, accounts.alice, 1)]
            ),
            accounts.mallory,
        )
    with reverts("ExchangeEmptyBatch"):
        market.settle_batch([])


def test_single_settle_reverts_with_the_reason(market: Market, accounts) -> None:
    sell = market.order(accounts.alice, Side.sell, 1000, 4)
    buy = market.order(accounts.bob, Side.buy, 999, 4)
    with reverts("ExchangeFillRejected") as caught:
        market.platform.send(
            market.exchange.functions.settle(
                market.fill(buy, accounts.bob, sell, accounts.alice, 1)
            ),
            accounts.relayer,
        )
    assert caught[0].error_args["reason"] == 2


def test_settlement_token_is_held_only_by_verified_identities(market: Market, accounts) -> None:
    with reverts("SettlementTokenUnverifiedAccount"):
        market.platform.send(
            market.won.functions.mint(accounts.mallory.address, 10, ref()), accounts.operator
        )
    with reverts("SettlementTokenUnverifiedAccount"):
        market.platform.send(
            market.won.functions.transfer(accounts.mallory.address, 10), accounts.bob
        )
    with reverts("AccessControlUnauthorizedAccount"):
        market.platform.send(
            market.won.functions.mint(accounts.bob.address, 10, ref()), accounts.bob
        )
    with reverts("SettlementTokenZeroAmount"):
        market.platform.send(
            market.won.functions.burn(accounts.bob.address, 0, ref()), accounts.operator
        )
    market.platform.send(
        market.won.functions.burn(accounts.bob.address, 40_000, ref()), accounts.operator
    )
    assert market.won_of(accounts.bob.address) == 60_000
    assert market.won.functions.decimals().call() == 0


def test_RevertWhen_a_mint_reuses_its_reference(market: Market, accounts) -> None:
    deposit = ref()
    assert not market.won.functions.referenceUsed(deposit).call()
    receipt = market.platform.send(
        market.won.functions.mint(accounts.bob.address, 5_000, deposit), accounts.operator
    )
    (minted,) = market.won.events.Minted().process_receipt(receipt, errors=DISCARD)
    assert minted["args"]["account"] == accounts.bob.address
    assert (minted["args"]["amount"], minted["args"]["ref"]) == (5_000, deposit)
    assert market.won.functions.referenceUsed(deposit).call()
    with reverts("SettlementTokenReferenceUsed") as caught:
        market.platform.send(
            market.won.functions.mint(accounts.bob.address, 5_000, deposit), accounts.operator
        )
    assert caught[0].error_args["ref"] == deposit
    # Not for another account or amount either: the reference names the deposit.
    with reverts("SettlementTokenReferenceUsed"):
        market.platform.send(
            market.won.functions.mint(accounts.carol.address, 1, deposit), accounts.operator
        )
    assert market.won_of(accounts.bob.address) == 105_000


def test_RevertWhen_a_burn_reuses_its_reference(market: Market, accounts) -> None:
    withdrawal = ref()
    receipt = market.platform.send(
        market.won.functions.burn(accounts.bob.address, 1_000, withdrawal), accounts.operator
    )
    (burnt,) = market.won.events.Burnt().process_receipt(receipt, errors=DISCARD)
    assert (burnt["args"]["amount"], burnt["args"]["ref"]) == (1_000, withdrawal)
    with reverts("SettlementTokenReferenceUsed") as caught:
        market.platform.send(
            market.won.functions.burn(accounts.bob.address, 1_000, withdrawal), accounts.operator
        )
    assert caught[0].error_args["ref"] == withdrawal
    assert market.won_of(accounts.bob.address) == 99_000


def test_mints_and_burns_share_one_set_of_references(market: Market, accounts) -> None:
    """A reference names one movement of money: a mint's cannot be burnt under, nor back."""
    minted, burnt = ref(), ref()
    market.platform.send(
        market.won.functions.mint(accounts.bob.address, 10, minted), accounts.operator
    )
    market.platform.send(
        market.won.functions.burn(accounts.bob.address, 10, burnt), accounts.operator
    )
    with reverts("SettlementTokenReferenceUsed"):
        market.platform.send(
            market.won.functions.burn(accounts.bob.address, 10, minted), accounts.operator
        )
    with reverts("SettlementTokenReferenceUsed"):
        market.platform.send(
            market.won.functions.mint(accounts.bob.address, 10, burnt), accounts.operator
        )


def test_RevertWhen_a_mint_or_burn_names_no_reference(market: Market, accounts) -> None:
    for fn in (market.won.functions.mint, market.won.functions.burn):
        with reverts("SettlementTokenZeroReference"):
            market.platform.send(fn(accounts.bob.address, 10, bytes(32)), accounts.operator)


def test_nobody_else_moves_won_or_credits_without_an_allowance(market: Market, accounts) -> None:
    for token in (market.won, market.platform.token):
        with pytest.raises(ChainRevert) as info:
            market.platform.send(
                token.functions.transferFrom(accounts.carol.address, accounts.bob.address, 1),
                accounts.operator,
            )
        assert info.value.error_name == "ERC20InsufficientAllowance"


def _batch_gas(fills: int) -> int:
    """The relayer's gas for a batch of ``fills`` (as the settlement handler names it)."""
    return GAS_PER_BATCH + GAS_PER_FILL * fills


def test_a_contract_signer_cannot_sink_a_batch_of_honest_fills(market: Market, accounts) -> None:
    """A maker whose address runs code (an ERC-1271 wallet, or an EIP-7702 delegation of a key
    holder) that burns all the gas of a signature check: signatures are checked with ECDSA only,
    so the wallet's fill is refused alone, the delegated key holder's fill settles, and the
    honest fills of the batch settle, within the relayer's fixed gas per fill."""
    chain = market.platform.chain
    burner, _ = chain.deploy("GasBurningSigner", accounts.operator)
    market.platform.attest(burner)
    market.platform.issue({burner: 2 * KG})
    # carol keeps her key, but her address now runs the burner (as an EIP-7702 delegation would)
    code = chain.w3.eth.get_code(burner)
    chain.w3.provider.make_request("hardhat_setCode", [accounts.carol.address, code.to_0x_hex()])  # type: ignore[arg-type]
    buy = market.order(accounts.bob, Side.buy, 1000, 8)
    wallet_sell = Order(burner, Side.sell, 1000, 2 * KG, block_time(chain) + 3600, next(_ids))
    hostile = (
        keccak(text=f"fill-{next(_ids)}"),
        buy.as_tuple(),
        market.domain.sign_order(buy, accounts.bob),
        wallet_sell.as_tuple(),
        b"\x01" * 65,
        1000,
        2 * KG,
    )
    honest = [
        market.fill(
            buy, accounts.bob, market.order(accounts.alice, Side.sell, 1000, 2), accounts.alice, 2
        )
        for _ in range(2)
    ]
    delegated = market.fill(
        buy, accounts.bob, market.order(accounts.carol, Side.sell, 1000, 2), accounts.carol, 2
    )
    fills = [honest[0], hostile, delegated, honest[1]]
    receipt = market.platform.chain.transact(
        market.exchange.functions.settleBatch(fills), accounts.relayer, gas=_batch_gas(len(fills))
    )
    assert receipt["status"] == 1
    assert market.rejected(receipt) == [4]  # SellOrderInvalid: the wallet's fill alone
    assert market.platform.balance(accounts.bob.address) == 6 * KG
    assert market.platform.balance(burner) == 2 * KG
    assert market.won_of(accounts.carol.address) == 100_000 + 2000


def test_fill_ids_sharing_a_bitmap_word_settle_independently(market: Market, accounts) -> None:
    """Settled fill ids are bits of words of 256: each id is its own bit, and only a fill whose
    own id settled before is refused as already settled. (Gas: test_gas_snapshot.py.)"""
    buy = market.order(accounts.bob, Side.buy, 1000, 4)

    def fill_with_id(number: int) -> tuple:
        sell = market.order(accounts.alice, Side.sell, 1000, 1)
        return market.fill(
            buy, accounts.bob, sell, accounts.alice, 1, fill_id=number.to_bytes(32, "big")
        )

    def settled(number: int) -> bool:
        return bool(market.exchange.functions.isSettled(number.to_bytes(32, "big")).call())

    base = 7 << 8  # word 7
    first = fill_with_id(base + 5)
    assert market.rejected(market.settle_batch([first])) == []
    assert [settled(base + i) for i in (4, 5, 6)] == [False, True, False]
    assert not settled(base + 5 + 256) and not settled(base + 5 - 256)
    # Its neighbours in the word, and its namesake in the next word, still settle; it does not.
    neighbours = [fill_with_id(base + 4), fill_with_id(base + 255), fill_with_id(base + 5 + 256)]
    assert market.rejected(market.settle_batch([*neighbours, first])) == [1]  # AlreadySettled
    assert all(settled(n) for n in (base + 4, base + 5, base + 255, base + 5 + 256))
    assert market.exchange.functions.filledOf(market.domain.order_hash(buy)).call() == 4 * KG


def test_the_settler_cancels_orders_the_platform_closed(market: Market, accounts) -> None:
    closed = market.order(accounts.alice, Side.sell, 1000, 4)
    with reverts("AccessControlUnauthorizedAccount"):
        market.platform.send(
            market.exchange.functions.cancelOrders([closed.as_tuple()]), accounts.mallory
        )
    for _ in range(2):  # a re-sent cancel is harmless
        receipt = market.platform.send(
            market.exchange.functions.cancelOrders([closed.as_tuple()]), accounts.relayer
        )
    assert market.exchange.events.OrderCancelled().process_receipt(receipt, errors=DISCARD) == ()
    assert market.exchange.functions.isCancelled(market.domain.order_hash(closed)).call()
    buy = market.order(accounts.bob, Side.buy, 1000, 4)
    with reverts("ExchangeFillRejected"):
        market.platform.send(
            market.exchange.functions.settle(
                market.fill(buy, accounts.bob, closed, accounts.alice, 1)
            ),
            accounts.relayer,
        )
