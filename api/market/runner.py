"""The market's periodic work: expire orders and batch matched fills for settlement.

Runs beside the outbox worker (in the API process, or in ``crda worker``); both are safe to run
in several processes at once, because each step takes the market lock.
"""

from __future__ import annotations

import threading
import time

import structlog
from sqlalchemy.orm import Session, sessionmaker

from api.errors import Problem
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
        with self.sessions() as session, session.begin():
            expire_orders(session, int(time.time()))
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
