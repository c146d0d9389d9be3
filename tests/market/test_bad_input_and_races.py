"""Overdrafts, forged or replayed signatures, unverified traders, foreign cancels, concurrency."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Iterator
from dataclasses import replace

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from api.app import create_app
from api.auth.models import Role
from api.auth.service import create_account, create_platform_wallet
from api.auth.tokens import issue_access_token
from api.chain.errors import ChainRevert
from api.errors import Problem
from api.idempotency import run_idempotent
from api.market import service
from api.market.eip712 import Domain, Side
from api.market.models import Asset, MarketOrder, OrderStatus
from api.settings import Settings
from tests.conftest import full_on_sqlite
from tests.market.conftest import KG, Harness, sql_count
from tests.pages import assert_refuses_cursor_of, walk_in_pages
from tests.people import People


def problem_of(call) -> Problem:
    with pytest.raises(Problem) as info:
        call()
    return info.value


@pytest.fixture
def traders(harness: Harness) -> Harness:
    a = harness.accounts
    harness.attest(a.alice.address, a.bob.address, a.carol.address)
    harness.give_credits({a.alice.address: 5 * KG})
    harness.deposit(a.bob.address, 10_000)
    return harness


def test_selling_more_credits_or_buying_with_more_won_than_held_is_refused(
    traders: Harness,
) -> None:
    a = traders.accounts
    assert problem_of(lambda: traders.place(a.alice, Side.sell, 1000, 6)).slug == (
        "insufficient-balance"
    )
    assert problem_of(lambda: traders.place(a.bob, Side.buy, 1000, 11)).slug == (
        "insufficient-balance"
    )
    assert traders.reconcile().ok


def test_two_concurrent_orders_that_each_fit_alone_cannot_both_reserve(traders: Harness) -> None:
    a = traders.accounts
    signed = [traders.order(a.alice, Side.sell, 1000 + i, 4) for i in range(2)]
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def place(order, signature) -> None:
        barrier.wait()
        try:
            traders.place_signed(order, signature)
            outcomes.append("ok")
        except Problem as exc:
            outcomes.append(exc.slug)

    threads = [threading.Thread(target=place, args=s) for s in signed]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["insufficient-balance", "ok"]
    with traders.sessions() as session:
        assert service.ledger.balance(session, a.alice.address, Asset.credits, "escrow") == 4 * KG
        assert service.ledger.balance(session, a.alice.address, Asset.credits, "available") == KG


def test_tampered_replayed_and_foreign_signatures_are_refused(traders: Harness) -> None:
    a = traders.accounts
    order, signature = traders.order(a.alice, Side.sell, 1000, 1)
    tampered = replace(order, price=1)
    assert problem_of(lambda: traders.place_signed(tampered, signature)).slug == "invalid-signature"
    assert problem_of(lambda: traders.place_signed(order, b"\x00" * 65)).slug == "invalid-signature"
    traders.place_signed(order, signature)
    assert problem_of(lambda: traders.place_signed(order, signature)).slug == "duplicate-order"
    for domain in (
        Domain(traders.ctx.domain.chain_id + 1, traders.ctx.domain.exchange),
        Domain(traders.ctx.domain.chain_id, a.mallory.address),
    ):
        foreign, _ = traders.order(a.alice, Side.sell, 1000, 1)
        wrong = domain.sign_order(foreign, a.alice)
        assert problem_of(lambda f=foreign, w=wrong: traders.place_signed(f, w)).slug == (
            "invalid-signature"
        )
    # someone else signing alice's order is not alice
    other, _ = traders.order(a.alice, Side.sell, 1000, 1)
    forged = traders.ctx.domain.sign_order(other, a.mallory)
    assert problem_of(lambda: traders.place_signed(other, forged)).slug == "invalid-signature"


def test_unverified_and_revoked_identities_cannot_trade(traders: Harness) -> None:
    a = traders.accounts
    problem = problem_of(lambda: traders.place(a.mallory, Side.buy, 1000, 1))
    assert (problem.status, problem.slug) == (403, "unverified-account")
    traders.platform.send(traders.platform.registry.functions.revoke(a.alice.address), a.verifier)
    assert problem_of(lambda: traders.place(a.alice, Side.sell, 1000, 1)).slug == (
        "unverified-account"
    )
    assert problem_of(lambda: traders.deposit(a.mallory.address, 5)).slug == "unverified-account"


def test_a_fill_whose_seller_was_revoked_before_settlement_moves_nothing(
    traders: Harness,
) -> None:
    a = traders.accounts
    sell = traders.place(a.alice, Side.sell, 1000, 3)
    buy = traders.place(a.bob, Side.buy, 1000, 3)
    traders.platform.send(traders.platform.registry.functions.revoke(a.alice.address), a.verifier)
    traders.settle()
    assert traders.credits(a.bob.address) == 0 and traders.won(a.alice.address) == 0
    assert traders.get(MarketOrder, sell.id).status == OrderStatus.cancelled
    bob_order = traders.get(MarketOrder, buy.id)
    assert (bob_order.status, bob_order.filled) == (OrderStatus.open, 0)
    assert traders.reconcile().ok


def test_nobody_cancels_someone_elses_order(traders: Harness) -> None:
    a = traders.accounts
    row = traders.place(a.alice, Side.sell, 1000, 1)
    with traders.sessions() as session:
        problem = problem_of(
            lambda: service.cancel_order(session, traders.ctx, row.id, a.bob.address)
        )
        assert (problem.status, problem.slug) == (403, "not-order-maker")
        forged = traders.ctx.domain.sign_cancel(service.order_of(row), a.mallory)
        problem = problem_of(
            lambda: service.cancel_order_signed(session, traders.ctx, row.id, forged)
        )
        assert problem.slug == "not-order-maker"
        session.rollback()
    with traders.sessions() as session, session.begin():
        mine = traders.ctx.domain.sign_cancel(service.order_of(row), a.alice)
        service.cancel_order_signed(session, traders.ctx, row.id, mine)
    assert traders.get(MarketOrder, row.id).status == OrderStatus.cancelled
    with traders.sessions() as session:
        assert service.ledger.balance(session, a.alice.address, Asset.credits, "available") == (
            5 * KG
        )
        problem = problem_of(
            lambda: service.cancel_order(session, traders.ctx, row.id, a.alice.address)
        )
        assert problem.slug == "order-closed"


def test_a_self_trade_is_refused_and_reserves_nothing(traders: Harness) -> None:
    a = traders.accounts
    traders.deposit(a.alice.address, 5_000)
    traders.place(a.alice, Side.sell, 1000, 2)
    assert problem_of(lambda: traders.place(a.alice, Side.buy, 1000, 1)).slug == "self-trade"
    with traders.sessions() as session:
        assert service.ledger.balance(session, a.alice.address, Asset.won, "escrow") == 0


def test_price_band_and_open_order_limit(traders: Harness, settings: Settings) -> None:
    a = traders.accounts
    traders.ctx.settings = settings.model_copy(
        update={"market_price_band_percent": 10, "market_max_open_orders": 2}
    )
    traders.place(a.alice, Side.sell, 1000, 1)
    traders.place(a.bob, Side.buy, 1000, 1)  # last trade 1000
    assert problem_of(lambda: traders.place(a.alice, Side.sell, 1200, 1)).slug == (
        "price-outside-band"
    )
    traders.place(a.alice, Side.sell, 1100, 1)
    traders.place(a.alice, Side.sell, 1050, 1)
    assert problem_of(lambda: traders.place(a.alice, Side.sell, 1000, 1)).slug == (
        "order-limit-reached"
    )


# -- over HTTP --------------------------------------------------------------------------------


@pytest.fixture
def app(settings: Settings, deployment: object, migrated: str) -> FastAPI:
    return create_app(settings)


@pytest.fixture
def client(app: FastAPI, traders: Harness) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def people(settings: Settings, traders: Harness) -> People:
    return People(settings, traders.sessions)


def order_body(traders: Harness, maker, side: Side, price: int, kg: int) -> dict:
    order, signature = traders.order(maker, side, price, kg)
    return {**order.to_json(), "side": side.name, "signature": "0x" + signature.hex()}


# Every bad value on SQLite; on PostgreSQL too, the ones beyond its integer columns and a
# wrong type (the rest are refused by the same check, before any database).
@pytest.mark.parametrize(
    ("field", "value", "slug"),
    full_on_sqlite(
        [
            ("price", 0, "invalid-order"),
            ("price", -5, "invalid-order"),
            ("price", 1.5, "validation-error"),
            ("price", "100", "validation-error"),
            ("price", 10**40, "invalid-order"),
            ("quantity", 0, "invalid-order"),
            ("quantity", -1000, "invalid-order"),
            ("quantity", 1500, "invalid-order"),
            ("quantity", 2.0, "validation-error"),
            ("quantity", 10**30, "invalid-order"),
            ("expiry", 1, "invalid-order"),
            ("nonce", -1, "invalid-order"),
        ],
        postgres_too=[
            ("price", 10**40, "invalid-order"),
            ("quantity", 10**30, "invalid-order"),
            ("price", "100", "validation-error"),
        ],
    ),
)
def test_a_bad_price_or_quantity_is_a_clear_problem(
    client: TestClient, traders: Harness, people: People, field: str, value: object, slug: str
) -> None:
    body = order_body(traders, traders.accounts.alice, Side.sell, 1000, 1)
    body[field] = value
    response = client.post(
        "/market/orders", json=body, headers=people.holder(traders.accounts.alice.address)
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == f"/problems/{slug}"


def test_placing_and_cancelling_over_http(
    client: TestClient, traders: Harness, people: People
) -> None:
    a = traders.accounts
    alice, bob = people.holder(a.alice.address), people.holder(a.bob.address)
    signed_order, signature = traders.order(a.alice, Side.sell, 1000, 2)
    body = {**signed_order.to_json(), "side": "sell", "signature": "0x" + signature.hex()}
    assert client.post("/market/orders", json=body).status_code == 401
    as_bob = client.post("/market/orders", json=body, headers=bob)
    assert (as_bob.status_code, as_bob.json()["type"]) == (403, "/problems/not-order-maker")
    placed = client.post("/market/orders", json=body, headers=alice)
    assert placed.status_code == 201, placed.text
    order = placed.json()
    book = client.get("/market/book").json()
    assert book == {"buy": [], "sell": [{"price": 1000, "quantity": 2000, "orders": 1}]}
    mine = client.get("/market/orders", headers=alice).json()["items"]
    assert [o["id"] for o in mine] == [order["id"]]
    assert client.get("/market/orders", headers=bob).json()["items"] == []
    refused = client.post(f"/market/orders/{order['id']}/cancel", headers=bob)
    assert (refused.status_code, refused.json()["type"]) == (403, "/problems/not-order-maker")
    cancelled = client.post(f"/market/orders/{order['id']}/cancel", headers=alice)
    assert cancelled.json()["status"] == "cancelled"
    for bad in ("-109867719005", "0", str(2**40)):  # ids beyond PostgreSQL's integer: 422
        assert client.post(f"/market/orders/{bad}/cancel", headers=alice).status_code == 422
    again = client.post(f"/market/orders/{order['id']}/cancel", headers=alice)
    assert again.status_code == 409
    assert (again.json()["type"], again.json()["status"]) == ("/problems/order-closed", 409)
    assert again.json()["order_status"] == "cancelled"
    # The cancel holds on chain: the order's signed form, submitted straight to the contract
    # with a matching buy by the settler itself, does not settle.
    traders.worker().drain()
    exchange = traders.chain.contract("Exchange")
    assert exchange.functions.isCancelled(traders.ctx.domain.order_hash(signed_order)).call()
    buy, buy_signature = traders.order(a.bob, Side.buy, 1000, 2)
    fill = (
        b"\x07" * 32,
        buy.as_tuple(),
        buy_signature,
        signed_order.as_tuple(),
        signature,
        1000,
        2 * KG,
    )
    with pytest.raises(ChainRevert) as refused_on_chain:
        traders.chain.transact(exchange.functions.settle(fill), a.relayer)
    assert refused_on_chain.value.error_name == "ExchangeFillRejected"
    assert refused_on_chain.value.error_args["reason"] == 4  # SellOrderInvalid: cancelled
    assert traders.credits(a.bob.address) == 0
    assert client.get("/market/reconciliation", headers=alice).status_code == 403
    report = client.get("/market/reconciliation", headers=people.staff(Role.auditor))
    assert report.json()["ok"] is True


def test_a_trade_over_http_shows_in_both_statements(
    client: TestClient, traders: Harness, people: People
) -> None:
    a = traders.accounts
    alice, bob = people.holder(a.alice.address), people.holder(a.bob.address)
    sold = client.post(
        "/market/orders", json=order_body(traders, a.alice, Side.sell, 1200, 2), headers=alice
    )
    bought = client.post(
        "/market/orders", json=order_body(traders, a.bob, Side.buy, 1200, 2), headers=bob
    )
    assert sold.status_code == bought.status_code == 201, bought.text
    traders.settle()
    trades = client.get("/market/trades", headers=bob).json()["items"]
    assert [(t["side"], t["quantity"], t["won"]) for t in trades] == [("buy", 2 * KG, 2_400)]
    won = client.get("/market/statement", params={"asset": "KRW"}, headers=bob).json()
    assert won[-1]["balance"] == 10_000 - 2_400
    credits = client.get("/market/statement", params={"asset": "CRDA"}, headers=alice).json()
    assert credits[-1]["balance"] == 3 * KG
    report = client.get("/market/reconciliation", headers=people.operator()).json()
    assert report["ok"] is True


def test_a_wallet_signs_with_the_served_domain_and_balances_show_what_is_reserved(
    client: TestClient, traders: Harness, people: People
) -> None:
    a = traders.accounts
    served = client.get("/market/order-domain").json()
    assert served["domain"]["chainId"] == traders.chain.chain_id
    assert served["domain"]["verifyingContract"] == traders.chain.contract("Exchange").address
    # What a self-custody app does: eth_signTypedData_v4 over the served domain and types.
    message = {
        "maker": a.alice.address,
        "side": int(Side.sell),
        "price": 1100,
        "quantity": 2 * KG,
        "expiry": traders.ctx.now() + 3600,
        "nonce": 777,
    }
    signed = a.alice.sign_typed_data(served["domain"], {"Order": served["types"]["Order"]}, message)
    body = {**message, "side": "sell", "signature": "0x" + signed.signature.hex()}
    alice = people.holder(a.alice.address)
    placed = client.post("/market/orders", json=body, headers=alice)
    assert placed.status_code == 201, placed.text
    balances = {b["asset"]: b for b in client.get("/market/balances", headers=alice).json()}
    # alice holds 5 kg (the traders fixture): 2 kg wait in the order's escrow.
    assert balances["CRDA"] == {
        "asset": "CRDA",
        "available": 3 * KG,
        "escrow": 2 * KG,
        "withdrawing": 0,
        "total": 5 * KG,
    }
    assert balances["CRDA"]["total"] == traders.credits(a.alice.address)
    assert client.get("/market/balances").status_code == 401


def test_a_platform_custody_holder_trades_without_handling_keys(
    client: TestClient, traders: Harness, people: People, settings: Settings
) -> None:
    with traders.sessions() as session:
        account = create_account(
            session,
            settings,
            email=f"{uuid.uuid4().hex[:8]}@example.org",
            password=None,
            role=Role.citizen,
        )
        wallet = create_platform_wallet(session, settings, account)
        address, account_id = wallet.address, account.id
    traders.attest(address)
    traders.give_credits({address: 3 * KG})
    token, _ttl = issue_access_token(settings, account_id, Role.citizen.value)
    body = {
        k: v
        for k, v in order_body(traders, traders.accounts.alice, Side.sell, 900, 1).items()
        if k != "signature"
    }
    body["maker"] = address
    placed = client.post("/market/orders", json=body, headers={"Authorization": f"Bearer {token}"})
    assert placed.status_code == 201, placed.text
    assert placed.json()["maker"] == address
    self_custody = {**body, "maker": traders.accounts.alice.address, "nonce": 12345}
    unsigned = client.post(
        "/market/orders", json=self_custody, headers=people.holder(traders.accounts.alice.address)
    )
    assert (unsigned.status_code, unsigned.json()["type"]) == (422, "/problems/signature-required")


def test_the_operator_credits_deposits_over_http_once_per_key(
    client: TestClient, traders: Harness, people: People
) -> None:
    carol = traders.accounts.carol.address
    people.holder(carol)
    body = {"account_id": people.account_id(carol), "amount": 5_000, "reference": "bank-77"}
    operator = {**people.operator(), "Idempotency-Key": "deposit-bank-77"}
    assert (
        client.post("/market/deposits", json=body, headers=people.holder(carol)).status_code == 403
    )
    first = client.post("/market/deposits", json=body, headers=operator)
    again = client.post("/market/deposits", json=body, headers=operator)
    assert first.status_code == again.status_code == 201, first.text
    assert first.json()["id"] == again.json()["id"]
    traders.settle()
    statement = client.get(
        "/market/statement", params={"asset": "KRW"}, headers=people.holder(carol)
    ).json()
    assert statement[-1]["balance"] == 5_000


def test_one_hundred_concurrent_identical_posts_with_one_key_have_one_effect(
    app: FastAPI, client: TestClient, traders: Harness, people: People
) -> None:
    body = order_body(traders, traders.accounts.alice, Side.sell, 1000, 1)
    headers = {"Idempotency-Key": "order-once", **people.holder(traders.accounts.alice.address)}

    async def burst() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            return await asyncio.gather(
                *(http.post("/market/orders", json=body, headers=headers) for _ in range(100))
            )

    responses = asyncio.run(burst())
    assert {r.status_code for r in responses} == {201}, {r.text for r in responses}
    assert len({r.json()["id"] for r in responses}) == 1
    assert sum(r.headers.get("Idempotent-Replayed") == "true" for r in responses) == 99
    assert sql_count(traders.sessions, "market_orders") == 1
    with traders.sessions() as session:
        escrow = service.ledger.balance(
            session, traders.accounts.alice.address, Asset.credits, "escrow"
        )
    assert escrow == KG

    other = {**body, "price": 999}
    reused = client.post("/market/orders", json=other, headers=headers)
    assert (reused.status_code, reused.json()["type"]) == (409, "/problems/idempotency-key-reused")


def test_idempotency_runs_one_of_many_threads_for_any_domain(traders: Harness) -> None:
    effects: list[int] = []
    barrier = threading.Barrier(20)

    def action(session) -> dict:
        effects.append(1)
        return {"done": len(effects)}

    results = []

    def call() -> None:
        barrier.wait()
        results.append(
            run_idempotent(traders.sessions, scope="test", key="k1", params={"a": 1}, action=action)
        )

    threads = [threading.Thread(target=call) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(effects) == 1
    assert sorted(r.replayed for r in results) == [False] + [True] * 19
    with traders.sessions() as session:
        assert session.scalar(select(func.count()).select_from(MarketOrder)) == 0


def test_own_orders_and_trades_page_by_cursor(
    client: TestClient, traders: Harness, people: People
) -> None:
    a = traders.accounts
    alice, bob = people.holder(a.alice.address), people.holder(a.bob.address)
    for _ in range(3):
        sold = client.post(
            "/market/orders", json=order_body(traders, a.alice, Side.sell, 1000, 1), headers=alice
        )
        bought = client.post(
            "/market/orders", json=order_body(traders, a.bob, Side.buy, 1000, 1), headers=bob
        )
        assert sold.status_code == bought.status_code == 201, bought.text
    traders.settle()

    orders = walk_in_pages(client, "/market/orders", alice, "id")
    assert len(orders) == 3 and orders == sorted(orders, reverse=True)  # newest first
    trades = walk_in_pages(client, "/market/trades", bob, "fill_id")
    assert len(trades) == 3
    assert_refuses_cursor_of(client, "/market/orders", alice, "market-trades")
    assert_refuses_cursor_of(client, "/market/trades", bob, "market-orders")
