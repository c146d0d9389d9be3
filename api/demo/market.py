"""The market session: citizens sell part of what they earned, businesses buy above every ask.

Orders are placed over HTTP; settlement on chain is asynchronous (the market ticker and the
outbox), so the session ends by polling each business's trades.
"""

from __future__ import annotations

import secrets
import time

from api.demo.day import KG, Day, Person
from api.demo.people import Businesses
from crda_client import Client, ProblemError


def market_session(
    day: Day, citizens: list[Person], businesses: Businesses, issued: dict[str, int]
) -> dict[str, int]:
    """Citizens sell part of what they earned; businesses buy at a bid above every ask.

    Returns the grams each business bought (by account id).
    """
    s = day.sizes
    candidates = [c for c in citizens if issued.get(c.account_id, 0) >= 2 * KG]
    sellers = day.rng.sample(
        candidates, len(candidates) * s.sellers_percent // 100 or min(1, len(candidates))
    )
    task = day.progress.add_task(
        "market: orders, settlement", total=len(sellers) + 2 * len(businesses.members)
    )
    expiry = int(time.time()) + 24 * 3600
    asks = [
        (p, day.rng.randint(105, 130), max(1, issued[p.account_id] // KG // 2)) for p in sellers
    ]

    def sell(ask: tuple[Person, int, int]) -> int:
        person, price, kg = ask
        try:
            person.call(
                Client.place_order,
                person.address,
                "sell",
                price=price,
                quantity=kg * KG,
                expiry=expiry,
                nonce=secrets.randbits(64),
                idempotency_key=f"sell-{day.tag}-{person.account_id}",
            )
        except ProblemError as exc:
            with day.report_lock:
                day.report.market_refused[exc.slug] += 1
            return 0
        with day.report_lock:
            day.report.sell_orders += 1
        return kg

    offered_kg = sum(day.parallel(asks, sell, lambda: day.progress.advance(task)))
    if day.report.market_refused.get("insufficient-balance"):
        day.report.notes.append(
            "sell orders were refused for insufficient balance: the market ledger does not "
            "yet record credits issued by earning (api.market.service.record_credits_issued)"
        )

    # Businesses wait for their won to land (minted through the outbox), then bid.
    def funded(business: Person) -> bool:
        lines = business.call(Client.statement, "KRW")
        return bool(lines) and lines[-1]["balance"] >= businesses.deposits[business.account_id]

    day.wait("deposits", lambda: all(funded(b) for b in businesses.members), 60)
    shares = [day.rng.randint(20, 35) for _ in businesses.members]
    bids: list[tuple[Person, int]] = []
    for business, share in zip(businesses.members, shares, strict=True):
        # Each business bids for its share of what is offered (at least a kilogram).
        kg = max(1, offered_kg * share // 100) if offered_kg else 0
        budget = businesses.deposits[business.account_id] // 135
        kg = min(kg, budget)
        if kg > 0:
            try:
                business.call(
                    Client.place_order,
                    business.address,
                    "buy",
                    price=135,
                    quantity=kg * KG,
                    expiry=expiry,
                    nonce=secrets.randbits(64),
                    idempotency_key=f"buy-{day.tag}-{business.account_id}",
                )
                day.report.buy_orders += 1
                bids.append((business, kg))
            except ProblemError as exc:
                day.report.market_refused[exc.slug] += 1
        day.progress.advance(task)

    # Settlement on chain is asynchronous (the market ticker and the outbox).
    def settled(business: Person) -> bool:
        filled = sum(o["filled"] for o in business.call(Client.my_orders, limit=200)["items"])
        traded = sum(t["quantity"] for t in business.call(Client.my_trades, limit=200)["items"])
        return traded >= filled

    day.wait("settlement", lambda: all(settled(b) for b, _kg in bids))
    bought: dict[str, int] = {}
    for business in businesses.members:
        trades = business.call(Client.my_trades, limit=200)["items"]
        bought[business.account_id] = sum(t["quantity"] for t in trades if t["side"] == "buy")
        day.report.trades += len(trades)
        day.report.traded_g += sum(t["quantity"] for t in trades)
        day.report.traded_won += sum(t["won"] for t in trades)
        day.progress.advance(task)
    return bought
