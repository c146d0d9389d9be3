"""Two verified citizens and a business trade; credits and won move atomically; all agree."""

from __future__ import annotations

from api.audit import dashboard, queries
from api.market import service
from api.market.eip712 import Side
from api.market.models import Asset, FillStatus, MarketFill, MarketOrder, OrderStatus
from api.pagination import PageParams
from tests.market.conftest import KG, Harness


def test_citizens_and_a_business_trade_and_ledger_statement_and_chain_agree(
    harness: Harness,
) -> None:
    a = harness.accounts
    alice, bob, business = a.alice, a.bob, a.carol
    harness.attest(alice.address, bob.address, business.address)
    harness.give_credits({alice.address: 10 * KG, bob.address: 4 * KG})
    harness.deposit(business.address, 50_000)

    sell_a = harness.place(alice, Side.sell, 1200, 6)
    sell_b = harness.place(bob, Side.sell, 1100, 4)
    buy = harness.place(business, Side.buy, 1250, 8)  # takes bob's 4 @1100, then 4 of alice's

    assert harness.get(MarketOrder, buy.id).status == OrderStatus.filled
    assert harness.settle() == 2
    assert harness.credits(business.address) == 8 * KG
    assert harness.credits(alice.address) == 6 * KG
    assert harness.won(bob.address) == 4 * 1100
    assert harness.won(alice.address) == 4 * 1200
    assert harness.won(business.address) == 50_000 - 4 * 1100 - 4 * 1200
    assert harness.get(MarketOrder, sell_b.id).status == OrderStatus.filled
    open_sell = harness.get(MarketOrder, sell_a.id)
    assert (open_sell.status, open_sell.filled, open_sell.reserved) == ("open", 4 * KG, 2 * KG)
    # the buyer's unused limit (1250 vs fill prices) went back to available
    assert harness.get(MarketOrder, buy.id).reserved == 0

    report = harness.reconcile()
    assert report.ok, report.to_json()
    with harness.sessions() as session:
        lines = service.statement(session, business.address, Asset.won)
        fills = session.query(MarketFill).all()
        book = service.order_book(session, harness.ctx.now())
    assert [line["balance"] for line in lines] == [50_000, 45_600, 40_800]
    assert lines[-1]["balance"] == harness.won(business.address)
    assert {f.status for f in fills} == {FillStatus.settled}
    assert [(lvl.price, lvl.quantity) for lvl in book["sell"]] == [(1200, 2 * KG)]
    assert book["buy"] == []

    # What the auditor sees: both fills with their settlement, and the day's volume and price.
    with harness.sessions() as session:
        trades = queries.list_trades(session, page=PageParams(10, None)).items
        market = dashboard.market_per_day(session)
        mine = queries.list_trades(session, address=bob.address.lower(), page=PageParams(10, None))
    assert [(t.seller, t.price, t.quantity, t.won) for t in trades] == [
        (bob.address, 1100, 4 * KG, 4 * 1100),
        (alice.address, 1200, 4 * KG, 4 * 1200),
    ]
    assert all(t.status == "settled" and t.settlement_tx_hash for t in trades)
    receipt = harness.chain.w3.eth.get_transaction_receipt(trades[0].settlement_tx_hash)
    assert receipt["status"] == 1
    assert [t.fill_id for t in mine.items] == [trades[0].fill_id]
    (day,) = market.days
    assert (day.trades, day.quantity, day.won) == (2, 8 * KG, 9_200)
    assert (day.vwap, day.low, day.high) == (1150, 1100, 1200)
    assert market.last_price == 1200


def test_the_market_ticker_batches_matched_fills_and_expires_orders(harness: Harness) -> None:
    from api.market.tasks import MarketTicker

    a = harness.accounts
    harness.attest(a.alice.address, a.bob.address)
    harness.give_credits({a.alice.address: 3 * KG})
    harness.deposit(a.bob.address, 10_000)
    ticker = MarketTicker(harness.ctx.settings, harness.sessions)
    assert ticker.run_once() == 0  # idle: nothing to do
    harness.place(a.alice, Side.sell, 1000, 2)
    harness.place(a.bob, Side.buy, 1000, 2)
    assert ticker.run_once() == 1
    harness.worker().drain()
    assert harness.credits(a.bob.address) == 2 * KG
    assert harness.reconcile().ok
