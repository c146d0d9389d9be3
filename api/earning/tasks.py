"""Earning's background work, registered with the platform worker (``api.tasks``): the
issuance batcher (accepted claims -> batches) and the ``issuance.batch`` outbox kind (claims
issued when the batch lands, held when it fails), and the closing of claims held for a
corroboration that never came. The logic lives in ``api.earning.issuance`` and
``api.earning.corroboration``."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session, sessionmaker

from api.chain.gateway import ChainGateway
from api.earning.corroboration import Closer
from api.earning.issuance import KIND, Batcher, IssuanceBatchHandler
from api.outbox.worker import OutboxHandler
from api.settings import Settings


def outbox_handlers(gateway: ChainGateway | None) -> dict[str, OutboxHandler]:
    return {KIND: IssuanceBatchHandler()}


def periodic_tasks(settings: Settings, sessions: sessionmaker[Session]) -> list[Callable[[], int]]:
    return [Batcher(sessions, settings).run_once, Closer(sessions).run_once]
