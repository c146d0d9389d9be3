"""Which handler applies which kind of chain write; each domain adds its kind here."""

from __future__ import annotations

from api.outbox.worker import OutboxHandler


def outbox_handlers() -> dict[str, OutboxHandler]:
    """Kind -> handler (e.g. ``"issuance.batch"`` marks its claims issued once it lands)."""
    return {}
