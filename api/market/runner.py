"""The market's periodic work: expire orders and batch matched fills for settlement.

Runs beside the outbox worker (in the API process, or in ``crda worker``); both are safe to run
in several processes at once, because each step takes the market lock.
"""

from __future__ import annotations

import threading
import time

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from api.errors import Problem
from api.market.models import FillStatus, MarketFill, MarketOrder, OrderStatus
from api.market.service import expire_orders
from api.market.settlement import enqueue_settlements
from api.settings import Settings

log = structlog.get_logger(__name__)


class MarketTicker:
    def __init__(self, settings: Settings, sessions: sessionmaker[Session]) -> None:
        self.settings = settings
        self.sessions = sessions

    def run_once(self) -> int:
        """One round; returns the number of fills put into settlement batches."""
        now = int(time.time())
        with self.sessions() as session:
            # Read first: an idle market takes no lock and writes nothing.
            expired = session.scalar(
                select(MarketOrder.id)
                .where(MarketOrder.status == OrderStatus.open, MarketOrder.expiry <= now)
                .limit(1)
            )
            matched = session.scalar(
                select(MarketFill.id).where(MarketFill.status == FillStatus.matched).limit(1)
            )
        if expired is None and matched is None:
            return 0
        with self.sessions() as session, session.begin():
            expire_orders(session, now)
            return enqueue_settlements(session, self.settings.market_settlement_batch_size)

    def run_forever(self, stop: threading.Event, interval: float) -> None:
        while not stop.is_set():
            try:
                busy = self.run_once()
            except Problem as exc:
                log.warning("market_tick_failed", problem=exc.type, detail=exc.detail)
                busy = 0
            if not busy:
                stop.wait(interval)


class BackgroundTicker:
    def __init__(self, ticker: MarketTicker, interval: float) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=ticker.run_forever, args=(self._stop, interval), name="market", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._thread.join(timeout)
