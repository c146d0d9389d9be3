"""The matching engine: price, then time priority; partial fills; self-trades refused.

Runs inside the placing request's database transaction, after the market lock is taken, so
two orders never match the same resting quantity. A fill trades at the resting order's price;
its won is ``price x kilograms`` (quantities are whole kilograms), held in the buyer's escrow
until the fill settles on chain.

Fill ids are numbered in sequence from the database's first fill, whose id is random: the
exchange records settled fill ids in a bitmap, 256 to a storage word, so consecutive ids share
a word (a fresh word costs 22,100 gas, an existing one a few hundred), while the random start
keeps the ids of two databases (a test run, a restored copy) apart on one chain, where a
reused id would read as already settled.
"""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import Select, bindparam, func, select
from sqlalchemy.orm import Session

from api.errors import problem
from api.market.eip712 import won_of
from api.market.models import FillStatus, MarketFill, MarketOrder, MarketState, OrderStatus

SelfTrade = problem(
    409,
    "self-trade",
    "The order would trade with the maker's own order",
    when="The order would trade with the maker's own order.",
    show='"This would trade with your own order".',
)


def _best(side: str) -> Select[Any]:
    """The best open, unexpired order of ``side`` that crosses ``:price`` (price, then time)."""
    query = select(MarketOrder).where(
        MarketOrder.status == OrderStatus.open,
        MarketOrder.side == side,
        MarketOrder.expiry > bindparam("now"),
        MarketOrder.id != bindparam("order_id"),
    )
    if side == "sell":
        query = query.where(MarketOrder.price <= bindparam("price")).order_by(
            MarketOrder.price.asc(), MarketOrder.seq.asc()
        )
    else:
        query = query.where(MarketOrder.price >= bindparam("price")).order_by(
            MarketOrder.price.desc(), MarketOrder.seq.asc()
        )
    return query.limit(1)


# Built once: a statement built per call costs more than the query it sends.
_BEST_ASK, _BEST_BID = _best("sell"), _best("buy")


# Built once: the first and the last fill (by primary key) in one round trip.
_FIRST_AND_LAST = select(MarketFill.id, MarketFill.fill_id).where(
    MarketFill.id.in_(
        [
            select(func.min(MarketFill.id)).scalar_subquery(),
            select(func.max(MarketFill.id)).scalar_subquery(),
        ]
    )
)


def next_fill_number(session: Session) -> int:
    """The number of the next fill: the first fill's number plus the fills table's progress.

    Under the market lock (so no other fill is being numbered). A number is never reused: the
    fills made after the first ones have larger primary keys, and the number advances with the
    largest key. The first fill of a database starts at a random multiple of 256 below 2**255.
    """
    rows = session.execute(_FIRST_AND_LAST).all()
    if not rows:
        return secrets.randbits(247) << 8
    first = min(rows, key=lambda r: r.id)
    last = max(r.id for r in rows)
    return int(first.fill_id, 16) + (last - first.id) + 1


def fill_id_of(number: int) -> str:
    """The fill id of fill number ``number``: a 32-byte word in hex."""
    return f"0x{number % 2**256:064x}"


def match(
    session: Session, order: MarketOrder, state: MarketState, now: int
) -> list[tuple[MarketFill, MarketOrder, MarketOrder]]:
    """Match ``order`` against the book until it is filled or nothing crosses: each fill with
    its buy and sell orders (the session's objects, so callers need not load them again)."""
    fills: list[tuple[MarketFill, MarketOrder, MarketOrder]] = []
    number: int | None = None  # numbered at the first fill: most orders make none
    is_buy = order.side == "buy"
    best = _BEST_ASK if is_buy else _BEST_BID
    while order.filled < order.quantity:
        resting: MarketOrder | None = session.scalar(
            best, {"now": now, "order_id": order.id, "price": order.price}
        )
        if resting is None:
            break
        if resting.maker == order.maker:
            raise SelfTrade(
                "the order crosses the maker's own open order; cancel that one first",
                order_id=resting.id,
            )
        quantity = min(order.quantity - order.filled, resting.quantity - resting.filled)
        buy, sell = (order, resting) if is_buy else (resting, order)
        number = next_fill_number(session) if number is None else number + 1
        fill = MarketFill(
            fill_id=fill_id_of(number),
            buy_order_id=buy.id,
            sell_order_id=sell.id,
            buyer=buy.maker,
            seller=sell.maker,
            price=resting.price,
            quantity=quantity,
            won=won_of(resting.price, quantity),
            status=FillStatus.matched,
        )
        session.add(fill)
        for side_order, owed in ((buy, fill.won), (sell, quantity)):
            side_order.filled += quantity
            side_order.pending += owed
            if side_order.filled == side_order.quantity:
                side_order.status = OrderStatus.filled
        state.last_price = resting.price
        fills.append((fill, buy, sell))
    session.flush()
    return fills
