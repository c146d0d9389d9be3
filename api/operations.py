"""``/metrics``: what an operations centre watches, in the Prometheus text format.

Composition (like ``api.app``): the figures come from the platform (``api.metrics``: requests,
problems, chain RPCs, heartbeats, the last reconciliation) and, read at scrape time from the
database and the node, from the domains' tables: outbox rows waiting and the age of the oldest
per kind, claims awaiting issuance, the indexer's lag in blocks, readiness. Read at scrape
time, these are exact however many processes run, and never stale.

Who may read it: with ``CRDA_METRICS_TOKEN`` set, only a scraper presenting it as a bearer
token (Prometheus ``authorization: {credentials_file: ...}``); unset, anyone in development
and test (the embedded setup listens on 127.0.0.1), no one in production. README "Operations"
says why.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from datetime import datetime

import structlog
from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.core import GaugeMetricFamily, Metric
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from api import metrics
from api.audit.models import Checkpoint
from api.deps import StateDep
from api.earning.models import Claim, ClaimStatus
from api.errors import Forbidden, Problem, Unauthorized
from api.health import readiness
from api.outbox.models import ChainTransaction, OutboxStatus
from api.settings import Environment, Settings
from api.state import AppState
from api.tasks import outbox_handlers
from api.timeutil import aware, utcnow

log = structlog.get_logger(__name__)

router = APIRouter(tags=["operations"])

# Outbox rows the chain has not confirmed yet (failed rows are counted apart: they wait for a
# person, not for the worker).
_WAITING = (OutboxStatus.pending, OutboxStatus.sent)
_AWAITING_ISSUANCE = (ClaimStatus.accepted, ClaimStatus.batched)

# What StateCollector yields (the alert rules may name these and api.metrics' metrics only).
STATE_METRICS = (
    "crda_ready",
    "crda_ready_check",
    "crda_outbox_rows",
    "crda_outbox_oldest_age_seconds",
    "crda_claims_awaiting_issuance",
    "crda_claims_awaiting_issuance_oldest_age_seconds",
    "crda_indexer_checkpoint_block",
    "crda_chain_head_block",
    "crda_indexer_lag_blocks",
)


def authorise_scrape(request: Request, settings: Settings) -> None:
    token = settings.metrics_token.get_secret_value()
    if not token:
        if settings.environment is Environment.production:
            raise Forbidden("/metrics is served in production only with CRDA_METRICS_TOKEN set")
        return
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.encode(), token.encode()):
        raise Unauthorized("/metrics needs the metrics bearer token")


@router.get("/metrics", include_in_schema=False)
def scrape(request: Request, state: StateDep) -> Response:
    """Every metric, as Prometheus scrapes it."""
    authorise_scrape(request, state.settings)
    body = metrics.exposition([metrics.process_collector(), StateCollector(state)])
    return Response(body, media_type=CONTENT_TYPE_LATEST)


class StateCollector:
    """The figures the database and the node hold, read at each scrape."""

    def __init__(self, state: AppState) -> None:
        self.state = state

    def collect(self) -> Iterator[Metric]:
        ready, checks, _chain_id = readiness(self.state)
        yield _gauge("crda_ready", "1 when /readyz answers ready, else 0.", value=int(ready))
        check = GaugeMetricFamily(
            "crda_ready_check", "Each readiness check: 1 ok, 0 failing.", labels=["check"]
        )
        for name, verdict in checks.items():
            check.add_metric([name], int(verdict == "ok"))
        yield check
        try:
            yield from self._from_database(head=self._head() if ready else None)
        except SQLAlchemyError as exc:
            log.warning("metrics_database_unavailable", error=type(exc).__name__)

    def _head(self) -> int | None:
        try:
            return self.state.chain_gateway().block_number()
        except Problem:
            return None

    def _from_database(self, head: int | None) -> Iterator[Metric]:
        now = utcnow()
        with self.state.sessions() as session:
            outbox = session.execute(
                select(
                    ChainTransaction.kind,
                    ChainTransaction.status,
                    func.count(),
                    func.min(ChainTransaction.created_at),
                )
                .where(ChainTransaction.status.in_([*_WAITING, OutboxStatus.failed]))
                .group_by(ChainTransaction.kind, ChainTransaction.status)
            ).all()
            claims = session.execute(
                select(func.count(), func.min(Claim.created_at)).where(
                    Claim.status.in_(_AWAITING_ISSUANCE)
                )
            ).one()
            checkpoint = session.scalar(select(func.max(Checkpoint.block_number)))

        rows = GaugeMetricFamily(
            "crda_outbox_rows",
            "Outbox rows by kind and status: pending (not signed), sent (not confirmed),"
            " failed (refused by the chain for good).",
            labels=["kind", "status"],
        )
        age = GaugeMetricFamily(
            "crda_outbox_oldest_age_seconds",
            "Age of the oldest outbox row of a kind not yet confirmed (0: none waiting).",
            labels=["kind"],
        )
        counts = {(kind, str(status)): 0 for kind in outbox_handlers() for status in _statuses()}
        oldest: dict[str, datetime | None] = {kind: None for kind in outbox_handlers()}
        for kind, status, count, created in outbox:
            counts[(kind, str(status))] = int(count)
            if status in _WAITING:
                seen = oldest.get(kind)
                oldest[kind] = created if seen is None else min(seen, created)
        for (kind, state), number in sorted(counts.items()):
            rows.add_metric([kind, state], number)
        for kind, since in sorted(oldest.items()):
            age.add_metric([kind], _age(now, since))
        yield rows
        yield age

        waiting, first = claims
        yield _gauge(
            "crda_claims_awaiting_issuance",
            "Accepted claims not yet minted (waiting for a batch, or in one being sent).",
            value=int(waiting),
        )
        yield _gauge(
            "crda_claims_awaiting_issuance_oldest_age_seconds",
            "Age of the oldest accepted claim not yet minted (0: none waiting).",
            value=_age(now, first),
        )
        if checkpoint is not None:
            yield _gauge(
                "crda_indexer_checkpoint_block",
                "The last block the audit index has read.",
                value=int(checkpoint),
            )
        if head is not None:
            yield _gauge("crda_chain_head_block", "The node's latest block.", value=head)
        if head is not None and checkpoint is not None:
            yield _gauge(
                "crda_indexer_lag_blocks",
                "Blocks between the node's head and the audit index's checkpoint (the indexer"
                " stays CRDA_INDEXER_CONFIRMATIONS behind on purpose).",
                value=max(0, head - int(checkpoint)),
            )


def _statuses() -> tuple[str, ...]:
    return (*map(str, _WAITING), str(OutboxStatus.failed))


def _gauge(name: str, documentation: str, *, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


def _age(now: datetime, created: datetime | None) -> float:
    if created is None:
        return 0.0
    return max(0.0, (now - aware(created)).total_seconds())
