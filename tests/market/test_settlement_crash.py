"""A crash of the settlement worker at any step still settles every fill exactly once."""

from __future__ import annotations

import pytest
from hexbytes import HexBytes
from sqlalchemy import func, select

from api.market import service
from api.market.eip712 import Side
from api.market.models import (
    FillStatus,
    LedgerTransaction,
    MarketFill,
    MarketOrder,
    MarketSettlement,
    OrderStatus,
)
from api.market.settlement import SettlementHandler, enqueue_settlements
from api.outbox.models import ChainTransaction, OutboxStatus
from tests.conftest import full_on_postgres
from tests.market.conftest import KG, Harness


class Crash(Exception):
    """The process died here."""


@pytest.fixture
def matched(harness: Harness) -> Harness:
    a = harness.accounts
    harness.attest(a.alice.address, a.bob.address, a.carol.address)
    harness.give_credits({a.alice.address: 6 * KG, a.carol.address: 2 * KG})
    harness.deposit(a.bob.address, 20_000)
    harness.place(a.alice, Side.sell, 1000, 3)
    harness.place(a.carol, Side.sell, 1100, 2)
    harness.place(a.bob, Side.buy, 1100, 5)
    with harness.sessions() as session, session.begin():
        assert enqueue_settlements(session, 100) == 2
    return harness


def settlement_row(h: Harness) -> ChainTransaction:
    with h.sessions() as session:
        row = session.scalars(
            select(ChainTransaction).where(ChainTransaction.kind == "market.settlement")
        ).one()
        session.expunge(row)
        return row


# Every crash point on PostgreSQL; on SQLite too, the one that dies inside the handler's
# transaction (the others differ from it by how far the worker got, not by database).
@pytest.mark.parametrize(
    "step",
    full_on_postgres(["enqueued", "signed", "broadcast", "mined", "posted"], sqlite_too=["posted"]),
)
def test_a_crash_at_any_step_settles_each_fill_exactly_once(
    matched: Harness, step: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    h = matched
    a = h.accounts
    if step != "enqueued":
        crashed = h.worker()
        with h.sessions() as session, session.begin():
            row = session.get(ChainTransaction, settlement_row(h).id)
            assert row is not None
            signed = crashed._sign(session, row)
        assert signed is not None
        if step in ("broadcast", "mined", "posted"):
            h.chain.broadcast(signed)
        if step in ("mined", "posted"):
            h.chain.wait_for_receipt(HexBytes(signed.tx_hash))
        if step == "posted":
            # the receipt was seen but the process died inside the handler's transaction
            def die(*_args: object) -> None:
                raise Crash

            monkeypatch.setattr(SettlementHandler, "on_confirmed", die)
            with pytest.raises(Crash):
                crashed.drain()
            monkeypatch.undo()
            assert settlement_row(h).status == OutboxStatus.sent

    h.worker().drain()
    h.worker().drain()  # and once more, as a restarted process would

    assert settlement_row(h).status == OutboxStatus.confirmed
    assert h.credits(a.bob.address) == 5 * KG
    assert h.won(a.alice.address) == 3 * 1000 and h.won(a.carol.address) == 2 * 1100
    assert h.won(a.bob.address) == 20_000 - 5200
    with h.sessions() as session:
        fills = session.scalars(select(MarketFill)).all()
        assert {f.status for f in fills} == {FillStatus.settled}
        posted = session.scalar(select(func.count()).where(LedgerTransaction.kind == "fill"))
        assert posted == 2
        assert session.scalars(select(MarketSettlement.status)).all() == ["confirmed"]
        assert {o.status for o in session.scalars(select(MarketOrder))} == {OrderStatus.filled}
    assert h.reconcile().ok, h.reconcile().to_json()


def test_a_batch_the_chain_refuses_is_split_and_a_delegated_maker_sinks_nothing(
    matched: Harness,
) -> None:
    """carol's address runs code that burns the gas of any ERC-1271 check (an EIP-7702
    delegation): her order, signed with her key, still settles. A batch the chain refuses whole
    is split and retried: both fills settle, and no order is cancelled."""
    h = matched
    a = h.accounts
    burner, _ = h.chain.deploy("GasBurningSigner", a.operator)
    code = h.chain.w3.eth.get_code(burner).to_0x_hex()
    h.chain.w3.provider.make_request("hardhat_setCode", [a.carol.address, code])  # type: ignore[arg-type]
    won = h.chain.contract("SettlementToken")
    h.platform.send(won.functions.pause(), a.operator)
    h.worker().run_once()  # the batch of two is refused (a paused token) and split in two
    h.platform.send(won.functions.unpause(), a.operator)
    with h.sessions() as session:
        first, *halves = session.scalars(select(MarketSettlement).order_by(MarketSettlement.id))
        assert first.status == "failed"
        assert [(s.key, s.status, s.fill_count) for s in halves] == [
            (first.key + "a", "pending", 1),
            (first.key + "b", "pending", 1),
        ]
    h.worker().drain()
    assert h.credits(a.bob.address) == 5 * KG
    assert h.won(a.carol.address) == 2 * 1100
    with h.sessions() as session:
        assert {f.status for f in session.scalars(select(MarketFill))} == {FillStatus.settled}
        assert {o.status for o in session.scalars(select(MarketOrder))} == {OrderStatus.filled}
    assert h.reconcile().ok, h.reconcile().to_json()


def test_a_fill_the_chain_refuses_alone_fails_and_cancels_no_order(matched: Harness) -> None:
    """A token paused throughout: the batch splits down to single fills, each fails alone; no
    maker is at fault, so every order stays open, its escrow kept, and nothing is cancelled on
    chain."""
    h = matched
    a = h.accounts
    h.platform.send(h.chain.contract("SettlementToken").functions.pause(), a.operator)
    h.worker().drain()
    h.platform.send(h.chain.contract("SettlementToken").functions.unpause(), a.operator)
    with h.sessions() as session:
        assert {f.status for f in session.scalars(select(MarketFill))} == {FillStatus.failed}
        orders = session.scalars(select(MarketOrder)).all()
        assert {(o.status, o.filled, o.pending) for o in orders} == {(OrderStatus.open, 0, 0)}
        kinds = session.scalars(select(ChainTransaction.kind)).all()
        assert "market.cancel" not in kinds
        assert len(session.scalars(select(MarketSettlement)).all()) == 3  # the batch, 2 halves
    assert h.credits(a.bob.address) == 0
    report = h.reconcile()
    assert report.ok, report.to_json()


def test_a_cancel_after_a_match_lets_the_fill_settle_then_holds_on_chain(
    harness: Harness,
) -> None:
    """The fill matched before the cancel settles; the cancel's on-chain row follows its batch,
    and the rest of the order can never settle."""
    h = harness
    a = h.accounts
    h.attest(a.alice.address, a.bob.address)
    h.give_credits({a.alice.address: 5 * KG})
    h.deposit(a.bob.address, 20_000)
    sell = h.place(a.alice, Side.sell, 1000, 5)
    h.place(a.bob, Side.buy, 1000, 2)
    with h.sessions() as session, session.begin():
        service.cancel_order(session, h.ctx, sell.id, a.alice.address)
        kinds = session.scalars(select(ChainTransaction.kind)).all()
        assert "market.cancel" not in kinds  # it waits for the fill's batch
    h.settle()
    with h.sessions() as session:
        kinds = session.scalars(select(ChainTransaction.kind).order_by(ChainTransaction.id))
        assert [k for k in kinds if k.startswith("market.")][-2:] == [
            "market.settlement",
            "market.cancel",
        ]
        assert session.get(MarketOrder, sell.id).status == OrderStatus.cancelled
    assert h.credits(a.bob.address) == 2 * KG
    exchange = h.chain.contract("Exchange")
    assert exchange.functions.isCancelled(HexBytes(sell.order_hash)).call()
    assert h.reconcile().ok
