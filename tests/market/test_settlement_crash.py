"""A crash of the settlement worker at any step still settles every fill exactly once."""

from __future__ import annotations

import pytest
from hexbytes import HexBytes
from sqlalchemy import func, select

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


@pytest.mark.parametrize("step", ["enqueued", "signed", "broadcast", "mined", "posted"])
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


def test_a_batch_the_chain_refuses_whole_moves_nothing_and_frees_the_escrow(
    matched: Harness,
) -> None:
    h = matched
    a = h.accounts
    h.platform.send(h.chain.contract("SettlementToken").functions.pause(), a.operator)
    h.worker().drain()
    assert settlement_row(h).status == OutboxStatus.failed
    h.platform.send(h.chain.contract("SettlementToken").functions.unpause(), a.operator)
    with h.sessions() as session:
        assert {f.status for f in session.scalars(select(MarketFill))} == {FillStatus.failed}
        assert {o.status for o in session.scalars(select(MarketOrder))} == {OrderStatus.cancelled}
    assert h.credits(a.bob.address) == 0
    report = h.reconcile()
    assert report.ok, report.to_json()
