"""The public order book, kept per process while it stays right (``api/readversions.py``).

``GET /market/book`` is public, asked far more often than orders change, and its query groups
every open order. So each process keeps the last book it computed, as the JSON it answers,
with the ``market.book`` version it was computed at (the database bumps it with every write
to an order that changes the book, whichever process wrote) and the earliest expiry among the
open orders (when one expires the book changes with no write). A request reads the version
(one primary-key read) and answers the kept book only while neither moved.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from weakref import WeakKeyDictionary

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from api.market import service
from api.market.models import MarketOrder, OrderStatus
from api.market.schemas import BookLevelPublic, OrderBookPublic
from api.readversions import MARKET_BOOK, VersionedCache


@dataclass(frozen=True)
class Book:
    """The book as the JSON answered, and its entity tag: a hash of those bytes, so every
    process gives one book the same tag and a client's ``If-None-Match`` holds across them."""

    body: bytes
    etag: str

    @classmethod
    def of(cls, body: bytes) -> Book:
        return cls(body, f'"{hashlib.sha256(body).hexdigest()[:32]}"')


# One kept book per database (tests run several apps, each on its own database, in a process).
_books: WeakKeyDictionary[Engine, VersionedCache[Book]] = WeakKeyDictionary()
_lock = threading.Lock()


def _cache(engine: Engine) -> VersionedCache[Book]:
    with _lock:
        cache = _books.get(engine)
        if cache is None:
            cache = _books[engine] = VersionedCache(MARKET_BOOK)
        return cache


def _compute(session: Session, now: int) -> tuple[Book, int | None]:
    book = service.order_book(session, now)
    public = OrderBookPublic(
        buy=[BookLevelPublic(**vars(level)) for level in book["buy"]],
        sell=[BookLevelPublic(**vars(level)) for level in book["sell"]],
    )
    # The first expiry to come among the open orders (deeper levels too: one expiring near
    # the top lets a deeper level in).
    next_expiry = session.scalar(
        select(func.min(MarketOrder.expiry)).where(
            MarketOrder.status == OrderStatus.open, MarketOrder.expiry > now
        )
    )
    book_json = public.model_dump_json().encode()
    return Book.of(book_json), None if next_expiry is None else int(next_expiry)


def public_book(sessions: sessionmaker[Session], now: int) -> Book:
    """The book as of ``now`` (unix seconds), as the JSON ``OrderBookPublic`` answers; a
    session only when it must be computed."""
    return _cache(sessions.kw["bind"]).get(sessions, now, _compute)
