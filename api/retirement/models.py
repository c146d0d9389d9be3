"""A retirement certificate as the platform records it (the chain holds the Retired event)."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from api.db import Base


class CertificateStatus(StrEnum):
    pending = "pending"  # recorded with its outbox row; not yet on chain
    confirmed = "confirmed"  # the Retired event is mined; ``serial`` is the chain's certificateId
    failed = "failed"  # the chain refused it (nothing was burnt); ``error_name`` says why


class Certificate(Base):
    """One retirement: what the holder asked for, the commitment sent to chain, the outcome.

    On chain only ``beneficiary_hash`` is published: keccak256 of a random salt and the
    beneficiary's name, so the name cannot be guessed from the hash. The name and salt are shown
    to the public only when the holder chose to (``publish_beneficiary``); with them anyone can
    recompute the hash and check it against the chain.
    """

    __tablename__ = "certificates"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=lambda: str(uuid.uuid4()))
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    holder: Mapped[str] = mapped_column(String(42), index=True)  # lower case
    amount: Mapped[int] = mapped_column(BigInteger)  # grams
    # The beneficiary's name, encrypted (AES-GCM under a per-certificate data key wrapped by the
    # master key, bound to this row): it may be a person's name.
    beneficiary_ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    beneficiary_data_key: Mapped[bytes] = mapped_column(LargeBinary)
    beneficiary_salt: Mapped[str] = mapped_column(String(66))
    beneficiary_hash: Mapped[str] = mapped_column(String(66))
    publish_beneficiary: Mapped[bool] = mapped_column(Boolean, default=False)
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), index=True)
    # The ERC-2771 request the holder's key signed (nonce of the Forwarder) and its outbox row.
    forward_nonce: Mapped[int] = mapped_column(BigInteger)
    outbox_id: Mapped[int] = mapped_column(ForeignKey("chain_transactions.id"), unique=True)
    serial: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    tx_hash: Mapped[str | None] = mapped_column(String(66))
    block_number: Mapped[int | None] = mapped_column(BigInteger)
    log_index: Mapped[int | None] = mapped_column(Integer)
    retired_at: Mapped[int | None] = mapped_column(BigInteger)  # block time, unix seconds
    error_name: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
