"""The public book is kept per process (api/market/book.py) and stays exact: two apps on one
database stand for two API processes; whatever one writes (or the engine, or SQL), the other's
next read shows, and an order that expires leaves the book with no write at all."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from api.app import create_app
from api.market import service
from api.market.context import MarketContext
from api.market.eip712 import Side
from api.market.models import MarketOrder
from api.settings import Settings
from tests.market.conftest import KG, Harness
from tests.market.test_bad_input_and_races import order_body
from tests.people import People


@pytest.fixture
def traders(harness: Harness) -> Harness:
    a = harness.accounts
    harness.attest(a.alice.address, a.bob.address)
    harness.give_credits({a.alice.address: 20 * KG})
    harness.deposit(a.bob.address, 100_000)
    return harness


@pytest.fixture
def two(
    settings: Settings, deployment: object, migrated: str, traders: Harness
) -> Iterator[tuple[TestClient, TestClient]]:
    """Two apps on one database: each keeps its own book, like two processes."""
    with TestClient(create_app(settings)) as one, TestClient(create_app(settings)) as other:
        yield one, other


def _fresh(traders: Harness) -> dict[str, list[dict[str, int]]]:
    """The book computed now, with nothing kept."""
    with traders.sessions() as session:
        book = service.order_book(session, traders.ctx.now())
    return {side: [vars(level) for level in levels] for side, levels in book.items()}


def test_a_write_through_another_process_shows_in_the_next_read(
    two: tuple[TestClient, TestClient], traders: Harness, settings: Settings
) -> None:
    reader, writer = two
    a = traders.accounts
    alice = People(settings, traders.sessions).holder(a.alice.address)
    assert reader.get("/market/book").json() == {"buy": [], "sell": []}
    placed = writer.post(
        "/market/orders", json=order_body(traders, a.alice, Side.sell, 1000, 2), headers=alice
    )
    assert placed.status_code == 201, placed.text
    sell = [{"price": 1000, "quantity": 2 * KG, "orders": 1}]
    assert reader.get("/market/book").json() == {"buy": [], "sell": sell}
    assert reader.get("/market/book").json() == {"buy": [], "sell": sell}  # kept
    # The engine (a fill) and plain SQL move it too.
    traders.place(a.bob, Side.buy, 1000, 1)
    assert reader.get("/market/book").json() == _fresh(traders)
    assert reader.get("/market/book").json()["sell"] == [
        {"price": 1000, "quantity": 1 * KG, "orders": 1}
    ]
    with traders.sessions() as session, session.begin():
        session.execute(update(MarketOrder).values(price=1100).where(MarketOrder.side == "sell"))
    assert reader.get("/market/book").json()["sell"][0]["price"] == 1100
    cancelled = writer.post(f"/market/orders/{placed.json()['id']}/cancel", headers=alice)
    assert cancelled.status_code == 200, cancelled.text
    assert reader.get("/market/book").json() == {"buy": [], "sell": []}


def test_an_order_leaves_the_kept_book_when_it_expires(
    two: tuple[TestClient, TestClient], traders: Harness
) -> None:
    reader, _writer = two
    a = traders.accounts
    soon = traders.place(a.alice, Side.sell, 1000, 1, ttl=60)
    traders.place(a.alice, Side.sell, 1200, 1, ttl=3600)
    assert [level["price"] for level in reader.get("/market/book").json()["sell"]] == [1000, 1200]
    market = reader.app.state.crda.context(MarketContext.from_gateway)  # type: ignore[attr-defined]
    market.clock = lambda: soon.expiry  # no write: only time passed
    assert [level["price"] for level in reader.get("/market/book").json()["sell"]] == [1200]


def test_reads_racing_writes_end_on_the_exact_book(
    two: tuple[TestClient, TestClient], traders: Harness
) -> None:
    """Reads on one app while orders are placed on the database: the last read after the
    writes equals the book computed afresh."""
    reader, _writer = two
    a = traders.accounts
    done = threading.Event()

    def read() -> None:
        while not done.is_set():
            assert reader.get("/market/book").status_code == 200

    readers = [threading.Thread(target=read) for _ in range(2)]
    for thread in readers:
        thread.start()
    try:
        for i in range(8):
            traders.place(a.alice, Side.sell, 1000 + 10 * i, 1)
    finally:
        done.set()
        for thread in readers:
            thread.join()
    assert reader.get("/market/book").json() == _fresh(traders)
    assert len(reader.get("/market/book").json()["sell"]) == 8


def test_the_book_has_an_entity_tag_and_an_unchanged_book_is_a_304(
    two: tuple[TestClient, TestClient], traders: Harness, settings: Settings
) -> None:
    """A client polling the book sends back its ``ETag``: 304 with no body while the book is
    the same (in whichever process answers), the new book and a new tag once it changed."""
    reader, writer = two
    a = traders.accounts
    first = reader.get("/market/book")
    tag = first.headers["etag"]
    assert first.headers["cache-control"] == "no-cache"
    assert writer.get("/market/book").headers["etag"] == tag  # one book, one tag, any process
    for sent in (tag, f"W/{tag}", f'"other", {tag}', "*"):
        again = reader.get("/market/book", headers={"If-None-Match": sent})
        assert again.status_code == 304, sent
        assert again.content == b"" and again.headers["etag"] == tag
    assert reader.get("/market/book", headers={"If-None-Match": '"other"'}).status_code == 200

    alice = People(settings, traders.sessions).holder(a.alice.address)
    placed = writer.post(
        "/market/orders", json=order_body(traders, a.alice, Side.sell, 1000, 2), headers=alice
    )
    assert placed.status_code == 201, placed.text
    changed = reader.get("/market/book", headers={"If-None-Match": tag})
    assert changed.status_code == 200
    assert changed.json()["sell"] == [{"price": 1000, "quantity": 2 * KG, "orders": 1}]
    assert changed.headers["etag"] != tag
    assert (
        writer.get("/market/book", headers={"If-None-Match": changed.headers["etag"]}).status_code
        == 304
    )
