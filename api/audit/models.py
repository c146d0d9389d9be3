"""What the indexer keeps: raw events, the blocks it accepted, a checkpoint, derived state.

Every event row is keyed by ``(block_number, log_index)`` and is also unique on
``(block_hash, log_index)`` and ``(tx_hash, log_index)``: reading a block twice can never count
it twice. The derived tables (balances, supply, identities) are updated in the same
transaction as the rows they derive from, and undone exactly on a reorganisation.

Amounts are uint256 on chain; they are stored exactly (see :class:`UInt256`).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import TypeEngine

from api.db import Base

UINT256_DIGITS = 78  # len(str(2**256 - 1))


class UInt256(TypeDecorator[int]):
    """An exact unsigned 256-bit integer.

    PostgreSQL stores ``NUMERIC(78, 0)``. SQLite's NUMERIC affinity would turn anything above
    2**63 into a float, so there it is zero-padded text of 78 digits: exact, and its text order
    is its numeric order, so ``ORDER BY`` and comparisons work the same on both databases.
    """

    impl = Numeric(UINT256_DIGITS, 0)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(UINT256_DIGITS))
        return dialect.type_descriptor(Numeric(UINT256_DIGITS, 0))

    def process_bind_param(self, value: int | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        value = int(value)
        if value < 0 or value >= 1 << 256:
            raise ValueError(f"{value} is not a uint256")
        if dialect.name == "sqlite":
            return str(value).zfill(UINT256_DIGITS)
        return Decimal(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> int | None:
        return None if value is None else int(value)


Address = String(42)  # 0x-prefixed, lower case
Hash32 = String(66)  # 0x-prefixed, lower case


class Checkpoint(Base):
    """How far the index has read, for one deployment on one chain."""

    __tablename__ = "audit_checkpoints"
    __table_args__ = (UniqueConstraint("chain_id", "deployment_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    chain_id: Mapped[int] = mapped_column(BigInteger)
    # The deployment's contract addresses, "Name=0x..;Name=0x..", in a stable order.
    deployment_key: Mapped[str] = mapped_column(String(1000))
    start_block: Mapped[int] = mapped_column(BigInteger)
    block_number: Mapped[int] = mapped_column(BigInteger)
    block_hash: Mapped[str] = mapped_column(Hash32)
    reorgs: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Block(Base):
    """A block with events the index accepted: its hash, for finding the common ancestor."""

    __tablename__ = "audit_blocks"

    number: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[str] = mapped_column(Hash32, unique=True)
    parent_hash: Mapped[str] = mapped_column(Hash32)
    timestamp: Mapped[int] = mapped_column(BigInteger, index=True)


class _EventKey:
    """Columns every event row has: its place on chain, and the block's time."""

    block_number: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    log_index: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    tx_hash: Mapped[str] = mapped_column(Hash32)
    block_time: Mapped[int] = mapped_column(BigInteger)


class Event(_EventKey, Base):
    """Every log of every contract of the deployment, decoded (``args`` is JSON)."""

    __tablename__ = "audit_events"
    __table_args__ = (
        UniqueConstraint("block_hash", "log_index"),
        UniqueConstraint("tx_hash", "log_index"),
        Index("ix_audit_events_event_block", "event", "block_number"),
    )

    block_hash: Mapped[str] = mapped_column(Hash32)
    contract: Mapped[str] = mapped_column(String(64))
    address: Mapped[str] = mapped_column(Address)
    event: Mapped[str] = mapped_column(String(64))
    # Decoded arguments as JSON: integers as decimal strings, bytes and addresses as 0x-hex.
    args: Mapped[str] = mapped_column(Text)


class Transfer(_EventKey, Base):
    """CRDA ``Transfer``: a mint when ``sender`` is zero, a burn when ``recipient`` is zero."""

    __tablename__ = "audit_transfers"
    __table_args__ = (
        Index("ix_audit_transfers_sender", "sender", "block_number"),
        Index("ix_audit_transfers_recipient", "recipient", "block_number"),
    )

    sender: Mapped[str] = mapped_column(Address)
    recipient: Mapped[str] = mapped_column(Address)
    amount: Mapped[int] = mapped_column(UInt256)


class Retirement(_EventKey, Base):
    """CRDA ``Retired``: one retirement certificate."""

    __tablename__ = "audit_retirements"
    __table_args__ = (Index("ix_audit_retirements_holder", "holder", "block_number"),)

    certificate_id: Mapped[int] = mapped_column(UInt256, unique=True)
    holder: Mapped[str] = mapped_column(Address)
    amount: Mapped[int] = mapped_column(UInt256)
    beneficiary_hash: Mapped[str] = mapped_column(Hash32)
    reason: Mapped[str] = mapped_column(Text)


class IssuedBatch(_EventKey, Base):
    """Issuance ``BatchIssued``: one batch, its Merkle root and total."""

    __tablename__ = "audit_batches"

    batch_id: Mapped[str] = mapped_column(Hash32, unique=True)
    merkle_root: Mapped[str] = mapped_column(Hash32)
    total_amount: Mapped[int] = mapped_column(UInt256)
    claim_count: Mapped[int] = mapped_column(Integer)


class BatchClaim(Base):
    """One claim id of a batch, in the order the batch listed it."""

    __tablename__ = "audit_batch_claims"

    batch_id: Mapped[str] = mapped_column(Hash32, primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    claim_id: Mapped[str] = mapped_column(Hash32, index=True)
    block_number: Mapped[int] = mapped_column(BigInteger, index=True)


class AttestationEvent(_EventKey, Base):
    """IdentityRegistry ``Attested`` and ``Revoked``, in chain order."""

    __tablename__ = "audit_attestations"
    __table_args__ = (Index("ix_audit_attestations_account", "account", "block_number"),)

    kind: Mapped[str] = mapped_column(String(16))  # "attested" | "revoked"
    account: Mapped[str] = mapped_column(Address)
    # The attesting verifier, or who revoked.
    actor: Mapped[str] = mapped_column(Address)
    credential_hash: Mapped[str] = mapped_column(Hash32)
    level: Mapped[int | None] = mapped_column(Integer)
    expires_at: Mapped[int | None] = mapped_column(BigInteger)


class Identity(Base):
    """Derived: each account's attestation as its latest event left it."""

    __tablename__ = "audit_identities"

    account: Mapped[str] = mapped_column(Address, primary_key=True)
    verifier: Mapped[str] = mapped_column(Address)
    level: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[int] = mapped_column(BigInteger)
    credential_hash: Mapped[str] = mapped_column(Hash32)
    revoked: Mapped[bool] = mapped_column(Boolean)
    block_number: Mapped[int] = mapped_column(BigInteger)


class Balance(Base):
    """Derived: each address that ever sent or received credits, its balance and retired total."""

    __tablename__ = "audit_balances"
    __table_args__ = (Index("ix_audit_balances_balance", "balance", "address"),)

    address: Mapped[str] = mapped_column(Address, primary_key=True)
    balance: Mapped[int] = mapped_column(UInt256)
    retired: Mapped[int] = mapped_column(UInt256)


class SupplyPoint(Base):
    """Derived: cumulative minted, burnt and retired after each block that changed them."""

    __tablename__ = "audit_supply"

    block_number: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    block_time: Mapped[int] = mapped_column(BigInteger, index=True)
    minted: Mapped[int] = mapped_column(UInt256)
    burnt: Mapped[int] = mapped_column(UInt256)
    retired: Mapped[int] = mapped_column(UInt256)


# Tables whose rows belong to a block (deleted above the common ancestor on a reorganisation).
EVENT_TABLES: tuple[type[Base], ...] = (
    Event,
    Transfer,
    Retirement,
    IssuedBatch,
    AttestationEvent,
)
# Every table of the index, for resets and for comparing two indexes.
ALL_TABLES: tuple[type[Base], ...] = (
    Checkpoint,
    Block,
    *EVENT_TABLES,
    BatchClaim,
    Identity,
    Balance,
    SupplyPoint,
)
