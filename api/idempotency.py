"""Idempotency keys for POSTs that create value (Stripe's rules), small and generic.

The first response to ``(scope, key)`` is stored in the same database transaction as the
business change and replayed for every repeat; the same key with different parameters is a
409 problem. ``scope`` keeps keys of different callers (and different routes) apart.

Usage in a service::

    replay = idempotency.lookup(session, scope, key, params)
    if replay is not None:
        return replay.status_code, replay.body
    ... business change ...
    idempotency.remember(session, scope, key, params, 201, body)
    session.commit()   # an IntegrityError here means a concurrent twin won: look up again
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Integer, String, UniqueConstraint, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from api.db import Base
from api.errors import problem

IdempotencyKeyReused = problem(
    409, "idempotency-key-reused", "The Idempotency-Key was used with different parameters"
)
IdempotencyKeyInvalid = problem(
    422, "idempotency-key-invalid", "The Idempotency-Key header is missing or not valid"
)

MAX_KEY_LENGTH = 200


class IdempotencyRecord(Base):
    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("scope", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    scope: Mapped[str] = mapped_column(String(200))
    key: Mapped[str] = mapped_column(String(MAX_KEY_LENGTH))
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    body: Mapped[Any] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


@dataclass(frozen=True)
class StoredResponse:
    status_code: int
    body: Any


def request_hash(params: Any) -> str:
    canonical = json.dumps(params, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def check_key(key: str | None) -> str:
    if key is None or not 1 <= len(key) <= MAX_KEY_LENGTH or not key.isprintable():
        raise IdempotencyKeyInvalid(f"send an Idempotency-Key header of 1-{MAX_KEY_LENGTH} chars")
    return key


def lookup(session: Session, scope: str, key: str, params: Any) -> StoredResponse | None:
    """The stored response of ``key`` (None: first use); 409 if the parameters differ."""
    row = session.scalar(
        select(IdempotencyRecord).where(
            IdempotencyRecord.scope == scope, IdempotencyRecord.key == key
        )
    )
    if row is None:
        return None
    if row.request_hash != request_hash(params):
        raise IdempotencyKeyReused(key=key)
    return StoredResponse(row.status_code, row.body)


def remember(
    session: Session, scope: str, key: str, params: Any, status_code: int, body: Any
) -> None:
    """Store the first response (commit it with the business change)."""
    session.add(
        IdempotencyRecord(
            scope=scope,
            key=key,
            request_hash=request_hash(params),
            status_code=status_code,
            body=body,
            created_at=datetime.now(UTC),
        )
    )
    session.flush()
