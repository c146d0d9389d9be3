"""Every table's model is imported here, so Alembic and the tests see the whole schema.

Each domain keeps its models in its own module (``api/<domain>/models.py``) and adds an
import line below.
"""

from api.audit import models as audit_models
from api.auth import models as auth_models
from api.credentials import models as credential_models
from api.db import Base
from api.idempotency import IdempotencyRecord
from api.outbox.models import ChainTransaction
from api.retirement import models as retirement_models

__all__ = [
    "Base",
    "ChainTransaction",
    "IdempotencyRecord",
    "audit_models",
    "auth_models",
    "credential_models",
    "retirement_models",
]
