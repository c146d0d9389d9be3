"""Accounts and what hangs off them: wallets, encrypted personal data, sessions, nonces."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import DateTime, Float, ForeignKey, Integer, LargeBinary, String, func
from sqlalchemy.orm import Mapped, mapped_column

from api.db import Base


def new_id() -> str:
    return str(uuid.uuid4())


class Role(StrEnum):
    citizen = "citizen"
    business = "business"
    verifier = "verifier"
    data_provider = "data_provider"
    auditor = "auditor"
    operator = "operator"


class Custody(StrEnum):
    platform = "platform"  # the platform holds the key, encrypted at rest
    self = "self"  # the holder proved control of the address (SIWE) and keeps the key


class Account(Base):
    __tablename__ = "accounts"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    # Lower-cased; None for an account that only ever signed in with its wallet.
    email: Mapped[str | None] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20))
    # The verifier organisation a verifier account acts for.
    verifier_id: Mapped[str | None] = mapped_column(ForeignKey("verifiers.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    erased_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Wallet(Base):
    """The one address of an account; a platform-held key is stored encrypted, never returned."""

    __tablename__ = "wallets"

    account_id: Mapped[str] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )
    address: Mapped[str] = mapped_column(String(42), unique=True)
    custody: Mapped[str] = mapped_column(String(10))
    # Platform custody: the private key under a per-wallet data key, wrapped by the master key.
    key_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary)
    wrapped_data_key: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class DataKey(Base):
    """A per-record data key, wrapped by the master key. Deleting it erases what it encrypted."""

    __tablename__ = "data_keys"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class PersonalData(Base):
    """Name, phone and birth date, each encrypted on its own (AES-GCM, bound to row and field)."""

    __tablename__ = "personal_data"

    account_id: Mapped[str] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )
    data_key_id: Mapped[str | None] = mapped_column(
        ForeignKey("data_keys.id", ondelete="SET NULL"), index=True
    )
    name: Mapped[bytes | None] = mapped_column(LargeBinary)
    phone: Mapped[bytes | None] = mapped_column(LargeBinary)
    birth_date: Mapped[bytes | None] = mapped_column(LargeBinary)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class RefreshToken(Base):
    """An opaque refresh token (only its SHA-256 is kept); rotated on every use.

    Tokens descending from one sign-in share a ``family_id``: presenting a token that was already
    used revokes the whole family (it was stolen, or the thief used it first).
    """

    __tablename__ = "refresh_tokens"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    account_id: Mapped[str] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    family_id: Mapped[str] = mapped_column(String(36), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class SiweNonce(Base):
    """A Sign-In with Ethereum nonce we handed out; it works once, before it expires.

    Expired nonces are deleted whenever a new one is made, and each client address gets at
    most ``siwe_nonce_max_per_client`` per nonce lifetime (``rate_limit_siwe_nonce``), so the
    table holds a bounded number of rows per active client.
    """

    __tablename__ = "siwe_nonces"

    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


# The ``client_hash`` of the row that counts an email's failures from every client.
EVERY_CLIENT = "*"


class SignInThrottle(Base):
    """Password sign-in attempts for one email from one client address (``auth.service``).

    Both are kept as hashes (no email or address in this table). ``attempts`` counts attempts
    since the client's last success or its last quiet ``sign_in_window``; past the free ones,
    ``blocked_until`` holds the client back, doubling each time. The row with ``client_hash``
    ``"*"`` counts the email's failures from every client (the account's budget). Times are
    seconds since the epoch.
    """

    __tablename__ = "sign_in_throttles"

    subject_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    attempts: Mapped[int] = mapped_column(Integer)
    last_at: Mapped[float] = mapped_column(Float, index=True)
    blocked_until: Mapped[float] = mapped_column(Float)
