"""The outbox table: one row per chain transaction the platform owes."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from api.db import Base
from api.timeutil import utcnow


class OutboxStatus(StrEnum):
    pending = "pending"  # recorded, not yet signed
    sent = "sent"  # signed and stored (raw transaction kept), broadcast at least once
    confirmed = "confirmed"  # mined with success (or found already applied on chain)
    failed = "failed"  # the chain refused it for good; error_name says why


class ChainTransaction(Base):
    """A contract call the platform must make exactly once.

    ``key`` makes the business action idempotent (one row per batch id, per settlement, ...).
    The signed transaction is stored before it is broadcast, so after a crash the same
    transaction (same nonce, same hash) is re-sent rather than a second one signed.
    """

    __tablename__ = "chain_transactions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(50), index=True)
    contract: Mapped[str] = mapped_column(String(100))
    function: Mapped[str] = mapped_column(String(100))
    args: Mapped[list[Any]] = mapped_column(JSON)
    signer: Mapped[str] = mapped_column(String(30))
    status: Mapped[OutboxStatus] = mapped_column(
        String(20), default=OutboxStatus.pending, index=True
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    nonce: Mapped[int | None] = mapped_column(BigInteger)
    sender: Mapped[str | None] = mapped_column(String(42))
    tx_hash: Mapped[str | None] = mapped_column(String(66), index=True)
    raw_tx: Mapped[str | None] = mapped_column(Text)
    block_number: Mapped[int | None] = mapped_column(BigInteger)
    error_name: Mapped[str | None] = mapped_column(String(100))
    error_detail: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )
