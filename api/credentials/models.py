"""Verifiers, identities and the credentials verifiers issued to them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from api.auth.models import new_id
from api.db import Base


class Verifier(Base):
    """An accredited organisation: its did:web, its address on chain and its signing key."""

    __tablename__ = "verifiers"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    did: Mapped[str] = mapped_column(String(300), unique=True)
    address: Mapped[str] = mapped_column(String(42), unique=True)
    # secp256k1 key (signs credentials and attestations), under a data key wrapped by the master.
    key_ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    wrapped_data_key: Mapped[bytes] = mapped_column(LargeBinary)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Identity(Base):
    """One person or organisation: one uniqueness key, one account."""

    __tablename__ = "identities"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), unique=True)
    # HMAC-SHA256 (secret pepper) of the national identifier; the identifier is never stored.
    uniqueness_key: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Credential(Base):
    """A verifiable credential (vc+jwt) and its attestation on chain."""

    __tablename__ = "credentials"
    __table_args__ = (UniqueConstraint("verifier_id", "status_index"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    identity_id: Mapped[str] = mapped_column(ForeignKey("identities.id"), index=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    verifier_id: Mapped[str] = mapped_column(ForeignKey("verifiers.id"), index=True)
    level: Mapped[int] = mapped_column(Integer)
    subject_did: Mapped[str] = mapped_column(String(120))
    token: Mapped[str] = mapped_column(Text)
    credential_hash: Mapped[str] = mapped_column(String(66), unique=True)
    status_index: Mapped[int] = mapped_column(Integer)
    valid_from: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    valid_until: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    attest_tx_hash: Mapped[str | None] = mapped_column(String(66))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revocation_reason: Mapped[str | None] = mapped_column(String(20))
    revoke_tx_hash: Mapped[str | None] = mapped_column(String(66))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
