"""Recording chain writes: call ``enqueue`` inside the business change's database transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.outbox.models import ChainTransaction, OutboxStatus


def encode_arg(value: Any) -> Any:
    """Contract arguments as JSON: bytes travel as 0x-hex (web3 takes hex for bytesN)."""
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, list | tuple):
        return [encode_arg(v) for v in value]
    return value


def enqueue(
    session: Session,
    *,
    key: str,
    kind: str,
    contract: str,
    function: str,
    args: list[Any],
    signer: str,
) -> ChainTransaction:
    """Record that ``contract.function(*args)`` must be sent by the ``signer`` role.

    Idempotent on ``key``: enqueueing the same key again returns the existing row (the caller
    commits; nothing reaches the chain until it does).
    """
    existing = session.scalar(select(ChainTransaction).where(ChainTransaction.key == key))
    if existing is not None:
        return existing
    row = ChainTransaction(
        key=key,
        kind=kind,
        contract=contract,
        function=function,
        args=[encode_arg(a) for a in args],
        signer=signer,
        status=OutboxStatus.pending,
        attempts=0,
    )
    session.add(row)
    session.flush()
    return row
