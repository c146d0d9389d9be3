"""The market's periodic work: expire orders and batch matched fills for settlement.

A task of the platform worker (registered below for ``api.tasks``), run before each outbox
round in the API process or in ``crda worker``; safe in several processes at once, because each
step takes the market lock.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from api.chain.gateway import ChainGateway
from api.market.models import FillStatus, MarketFill, MarketOrder, OrderStatus
from api.market.service import CANCEL_KIND, expire_orders
from api.market.settlement import (
    CancelHandler,
    DepositHandler,
    SettlementHandler,
    WithdrawalHandler,
    enqueue_settlements,
)
from api.outbox.worker import OutboxHandler
from api.settings import Settings


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


def outbox_handlers(gateway: ChainGateway | None) -> dict[str, OutboxHandler]:
    """The outbox kinds the market owns: settlement batches, on-chain cancels, won deposits and
    withdrawals."""
    return {
        "market.settlement": SettlementHandler(gateway),
        CANCEL_KIND: CancelHandler(),
        "market.deposit": DepositHandler(gateway),
        "market.withdrawal": WithdrawalHandler(gateway),
    }


def periodic_tasks(settings: Settings, sessions: sessionmaker[Session]) -> list[Callable[[], int]]:
    """Run before each outbox round: expire orders, batch matched fills for settlement."""
    return [MarketTicker(settings, sessions).run_once]
