"""The platform's background work, composed: every domain's outbox kinds and periodic tasks.

Each domain with background work has a ``tasks`` module with ``outbox_handlers(gateway)`` (the
outbox kinds it owns) and ``periodic_tasks(settings, sessions)`` (run before each outbox round).
This module, like ``api.app``, sits above the domains: the outbox itself knows none of them.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

from sqlalchemy.orm import Session, sessionmaker

from api.chain.gateway import ChainGateway
from api.earning import tasks as earning_tasks
from api.leases import Lease
from api.market import tasks as market_tasks
from api.outbox.runner import PlatformWorker, platform_signers
from api.outbox.worker import OutboxHandler, OutboxWorker
from api.retirement import tasks as retirement_tasks
from api.settings import Settings

WORKER_LEASE = "platform-worker"
DOMAINS: tuple[ModuleType, ...] = (earning_tasks, market_tasks, retirement_tasks)


def outbox_handlers(gateway: ChainGateway | None = None) -> dict[str, OutboxHandler]:
    """Kind -> handler, from every domain (a kind is owned by one domain only)."""
    handlers: dict[str, OutboxHandler] = {}
    for domain in DOMAINS:
        for kind, handler in domain.outbox_handlers(gateway).items():
            assert kind not in handlers, f"outbox kind {kind} registered twice"
            handlers[kind] = handler
    return handlers


def periodic_tasks(settings: Settings, sessions: sessionmaker[Session]) -> list[Callable[[], int]]:
    return [task for domain in DOMAINS for task in domain.periodic_tasks(settings, sessions)]


def make_worker(
    settings: Settings, sessions: sessionmaker[Session], gateway: ChainGateway
) -> PlatformWorker:
    """The one worker loop: the domains' periodic tasks, then an outbox round, run by the one
    process holding the ``platform-worker`` lease (any number of processes may run it)."""
    lease = Lease(sessions, WORKER_LEASE, ttl=settings.lease_ttl)
    outbox = OutboxWorker(
        sessions,
        gateway,
        platform_signers(settings),
        outbox_handlers(gateway),
        confirmations=settings.confirmations,
        lease=lease,
    )
    return PlatformWorker(outbox, periodic_tasks(settings, sessions), lease)
