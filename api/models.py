"""Every table's model is imported here, so Alembic and the tests see the whole schema.

Each domain keeps its models in its own module (``api/<domain>/models.py``) and adds an
import line below.
"""

from api.audit import models as audit_models
from api.auth import models as auth_models
from api.chain.models import SignerNonce
from api.credentials import models as credential_models
from api.db import Base
from api.earning import models as earning_models
from api.idempotency import IdempotencyKey
from api.leases import LoopLease
from api.market import models as market_models
from api.outbox.models import ChainTransaction
from api.ratelimit import RateLimitCounter
from api.readversions import ReadVersion
from api.retirement import models as retirement_models

__all__ = [
    "Base",
    "ChainTransaction",
    "IdempotencyKey",
    "LoopLease",
    "RateLimitCounter",
    "ReadVersion",
    "SignerNonce",
    "audit_models",
    "auth_models",
    "credential_models",
    "earning_models",
    "market_models",
    "retirement_models",
]
