"""Idempotency keys for value-creating operations, on Stripe's rules, for any domain.

The first request with a key runs the operation and stores its result in the same database
transaction as the operation's effect; a retry with the same key and the same parameters gets
the stored result back (``replayed``) without a second effect; the same key with other
parameters is a 409 problem. A request that fails with a problem stores nothing, so the client
may retry it with the same key. Concurrent requests with one key are serialised by the key's
unique index: exactly one of them runs the operation.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import JSON, DateTime, Integer, String, UniqueConstraint, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker
from starlette.responses import Response

from api.db import Base
from api.errors import problem
from api.i18n import msg
from api.timeutil import utcnow

MAX_KEY_LENGTH = 255
P = TypeVar("P")

IdempotencyKeyReused = problem(
    409,
    "idempotency-key-reused",
    "The idempotency key was used with other parameters",
    when="The `Idempotency-Key` was used before with other parameters.",
    show="A bug in the app: a new action needs a new key.",
)
InvalidIdempotencyKey = problem(
    422,
    "invalid-idempotency-key",
    "The idempotency key is not valid",
    when="The `Idempotency-Key` header is missing or malformed.",
    show="A bug in the app: send a fresh UUID per user action.",
)


class IdempotencyKey(Base):
    """One stored result per (scope, key)."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("scope", "key", name="uq_idempotency_keys_scope_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scope: Mapped[str] = mapped_column(String(200))
    key: Mapped[str] = mapped_column(String(MAX_KEY_LENGTH))
    request_hash: Mapped[str] = mapped_column(String(64))
    response: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


def idempotent(
    sessions: sessionmaker[Session],
    response: Response,
    *,
    scope: str,
    key: str | None,
    params: Any,
    action: Callable[[Session, P], dict[str, Any]],
    prepare: Callable[[Session], P] = lambda session: None,  # type: ignore[assignment,return-value]
    required: bool = False,
) -> dict[str, Any]:
    """The one entry point for endpoints: run ``action`` once per key (:func:`run_idempotent`)
    and set ``Idempotent-Replayed: true`` on ``response`` when the stored result is replayed.

    A key seen before is answered from the store at once. ``prepare`` runs first, in a
    read-only session of its own, for the slow part that needs no write (chain reads,
    simulations, signing): the key is written, and the database write lock taken, only for
    ``action``, which receives what ``prepare`` returned. ``required``: the operation refuses
    to run without a key (``invalid-idempotency-key``).
    """
    if required or key is not None:
        check_key(key)
    body = _replay(sessions, scope, key, params)
    replayed = body is not None
    if body is None:
        with sessions() as session:
            prepared = prepare(session)
            session.rollback()
        result = run_idempotent(
            sessions,
            scope=scope,
            key=key,
            params=params,
            action=lambda session: action(session, prepared),
        )
        body, replayed = result.response, result.replayed
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return body


def _replay(
    sessions: sessionmaker[Session], scope: str, key: str | None, params: Any
) -> dict[str, Any] | None:
    """The stored result of a key used before (409 if with other parameters), else None."""
    if key is None:
        return None
    with sessions() as session:
        found = _stored(session, scope, key)
        if found is None or found.response is None:
            return None
        if found.request_hash != request_fingerprint(params):
            raise IdempotencyKeyReused(
                msg("key {key!r} was first used with other parameters", key=key),
                idempotency_key=key,
            )
        return found.response


def check_key(key: str | None) -> str:
    """An Idempotency-Key header: 1 to MAX_KEY_LENGTH printable characters."""
    if key is None or not 0 < len(key) <= MAX_KEY_LENGTH or not key.isprintable():
        raise InvalidIdempotencyKey(
            msg(
                "send an Idempotency-Key header of 1-{MAX_KEY_LENGTH} chars",
                MAX_KEY_LENGTH=MAX_KEY_LENGTH,
            )
        )
    return key


@dataclass(frozen=True)
class IdempotentResult:
    response: dict[str, Any]
    replayed: bool


def request_fingerprint(params: Any) -> str:
    """SHA-256 of the parameters' canonical JSON (sorted keys, no whitespace)."""
    canonical = json.dumps(params, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def run_idempotent(
    sessions: sessionmaker[Session],
    *,
    scope: str,
    key: str | None,
    params: Any,
    action: Callable[[Session], dict[str, Any]],
) -> IdempotentResult:
    """Run ``action`` (which must not commit) once per ``(scope, key)``; commit its effect.

    Without a key the action simply runs in its own transaction.
    """
    if key is not None:
        check_key(key)
    fingerprint = request_fingerprint(params)
    with sessions() as session:
        try:
            row: IdempotencyKey | None = None
            if key is not None:
                # Written first: the key's unique index makes concurrent twins wait here.
                row = IdempotencyKey(scope=scope, key=key, request_hash=fingerprint)
                session.add(row)
                session.flush()
            response = action(session)
            if row is not None:
                row.response = response
            session.commit()
            return IdempotentResult(response, replayed=False)
        except IntegrityError:
            session.rollback()
            if key is None:
                raise
            stored = _stored(session, scope, key)
            if stored is None:  # the integrity error was the action's own
                raise
        except BaseException:
            session.rollback()
            raise
    if stored.request_hash != fingerprint:
        raise IdempotencyKeyReused(
            msg("key {key!r} was first used with other parameters", key=key), idempotency_key=key
        )
    assert stored.response is not None
    return IdempotentResult(stored.response, replayed=True)


def _stored(session: Session, scope: str, key: str) -> IdempotencyKey | None:
    return session.scalar(
        select(IdempotencyKey).where(IdempotencyKey.scope == scope, IdempotencyKey.key == key)
    )
