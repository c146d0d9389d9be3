"""Which handler applies which kind of chain write; each domain adds its kind here."""

from __future__ import annotations

from api.chain.gateway import ChainGateway
from api.outbox.worker import OutboxHandler


def outbox_handlers(gateway: ChainGateway | None = None) -> dict[str, OutboxHandler]:
    """Kind -> handler (e.g. ``"issuance.batch"`` marks its claims issued once it lands)."""
    from api.retirement.service import OUTBOX_KIND, RetirementHandler

    return {OUTBOX_KIND: RetirementHandler(gateway)}
