"""Every table's model is imported here, so Alembic and the tests see the whole schema.

Each domain keeps its models in its own module (``api/<domain>/models.py``) and adds an
import line below.
"""

from api.db import Base
from api.idempotency import IdempotencyKey
from api.market.models import (
    LedgerAccount,
    LedgerEntry,
    LedgerTransaction,
    MarketFill,
    MarketOrder,
    MarketSettlement,
    MarketState,
    WonTransfer,
)
from api.outbox.models import ChainTransaction

__all__ = [
    "Base",
    "ChainTransaction",
    "IdempotencyKey",
    "LedgerAccount",
    "LedgerEntry",
    "LedgerTransaction",
    "MarketFill",
    "MarketOrder",
    "MarketSettlement",
    "MarketState",
    "WonTransfer",
]
