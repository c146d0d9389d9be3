"""Which handler applies which kind of chain write; each domain adds its kind here."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session, sessionmaker

from api.chain.gateway import ChainGateway
from api.outbox.worker import OutboxHandler
from api.settings import Settings


def outbox_handlers(gateway: ChainGateway | None = None) -> dict[str, OutboxHandler]:
    """Kind -> handler (e.g. ``"issuance.batch"`` marks its claims issued once it lands)."""
    from api.earning.issuance import KIND as ISSUANCE_BATCH
    from api.earning.issuance import IssuanceBatchHandler
    from api.market.settlement import DepositHandler, SettlementHandler, WithdrawalHandler
    from api.retirement.service import OUTBOX_KIND as RETIREMENT
    from api.retirement.service import RetirementHandler

    return {
        ISSUANCE_BATCH: IssuanceBatchHandler(),
        "market.settlement": SettlementHandler(gateway),
        "market.deposit": DepositHandler(),
        "market.withdrawal": WithdrawalHandler(),
        RETIREMENT: RetirementHandler(gateway),
    }


def worker_tasks(settings: Settings, sessions: sessionmaker[Session]) -> list[Callable[[], int]]:
    """Periodic tasks the worker loop runs before each outbox round (each returns work done)."""
    from api.earning.issuance import Batcher
    from api.market.runner import MarketTicker

    return [Batcher(sessions, settings).run_once, MarketTicker(settings, sessions).run_once]
