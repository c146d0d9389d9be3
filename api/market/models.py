"""Market tables: orders, fills, settlements, won transfers and the double-entry ledger.

All amounts are integers: credits in grams (``CRDA``), money in whole won (``KRW``).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from api.db import Base
from api.timeutil import utcnow


class Asset(StrEnum):
    credits = "CRDA"  # grams of CO2e
    won = "KRW"  # whole won of the settlement token


class AccountKind(StrEnum):
    available = "available"  # the holder's free balance
    escrow = "escrow"  # reserved for the holder's open orders and unsettled fills
    withdrawing = "withdrawing"  # won on its way out (burn not yet confirmed)
    external = "external"  # the world outside the ledger: deposits, issuance, withdrawals


class OrderStatus(StrEnum):
    open = "open"
    filled = "filled"
    cancelled = "cancelled"
    expired = "expired"


class FillStatus(StrEnum):
    matched = "matched"  # made by the engine, not yet in a settlement
    settling = "settling"  # in a settlement batch on its way to the chain
    settled = "settled"
    failed = "failed"  # the chain refused it; nothing moved


class TransferStatus(StrEnum):
    pending = "pending"
    confirmed = "confirmed"
    failed = "failed"


class MarketState(Base):
    """The one market row: its update is the lock that serialises matching and postings."""

    __tablename__ = "market_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, default=0)
    last_price: Mapped[int | None] = mapped_column(BigInteger)


class LedgerAccount(Base):
    __tablename__ = "ledger_accounts"
    __table_args__ = (
        UniqueConstraint("owner", "asset", "kind", name="uq_ledger_accounts_owner_asset_kind"),
        CheckConstraint("balance >= 0 OR kind = 'external'", name="nonnegative"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner: Mapped[str] = mapped_column(String(42), index=True)  # chain address or "platform"
    asset: Mapped[Asset] = mapped_column(String(8))
    kind: Mapped[AccountKind] = mapped_column(String(16))
    balance: Mapped[int] = mapped_column(BigInteger, default=0)


class LedgerTransaction(Base):
    """One balanced set of entries (their amounts sum to zero per asset)."""

    __tablename__ = "ledger_transactions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(30))
    reference: Mapped[str] = mapped_column(String(200), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class LedgerEntry(Base):
    __tablename__ = "ledger_entries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    transaction_id: Mapped[int] = mapped_column(ForeignKey("ledger_transactions.id"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"), index=True)
    amount: Mapped[int] = mapped_column(BigInteger)  # + credit to the account, - debit
    balance_after: Mapped[int] = mapped_column(BigInteger)


class MarketOrder(Base):
    __tablename__ = "market_orders"
    __table_args__ = (
        Index("ix_market_orders_book", "status", "side", "price", "seq"),
        CheckConstraint("filled >= 0 AND filled <= quantity", name="filled_in_range"),
        CheckConstraint("reserved >= 0 AND pending >= 0 AND pending <= reserved", name="reserve"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_hash: Mapped[str] = mapped_column(String(66), unique=True)
    # The platform account that placed it (a plain column, like earning's claims).
    account_id: Mapped[str | None] = mapped_column(String(64), index=True)
    maker: Mapped[str] = mapped_column(String(42), index=True)
    side: Mapped[str] = mapped_column(String(4))
    price: Mapped[int] = mapped_column(BigInteger)  # won per kilogram
    quantity: Mapped[int] = mapped_column(BigInteger)  # grams
    expiry: Mapped[int] = mapped_column(BigInteger)  # unix seconds
    nonce: Mapped[str] = mapped_column(String(78))  # uint256 in decimal
    signature: Mapped[str] = mapped_column(String(132))
    status: Mapped[OrderStatus] = mapped_column(String(12), default=OrderStatus.open)
    filled: Mapped[int] = mapped_column(BigInteger, default=0)  # grams matched (incl. unsettled)
    reserved: Mapped[int] = mapped_column(BigInteger, default=0)  # held in escrow for it
    pending: Mapped[int] = mapped_column(BigInteger, default=0)  # of reserved, owed to fills
    seq: Mapped[int] = mapped_column(BigInteger)  # time priority
    cancel_reason: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )


class MarketSettlement(Base):
    """One settlement batch: one outbox row, one ``settleBatch`` transaction."""

    __tablename__ = "market_settlements"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(100), unique=True)
    status: Mapped[TransferStatus] = mapped_column(String(12), default=TransferStatus.pending)
    fill_count: Mapped[int] = mapped_column(Integer)
    tx_hash: Mapped[str | None] = mapped_column(String(66))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class MarketFill(Base):
    __tablename__ = "market_fills"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    fill_id: Mapped[str] = mapped_column(String(66), unique=True)
    buy_order_id: Mapped[int] = mapped_column(ForeignKey("market_orders.id"), index=True)
    sell_order_id: Mapped[int] = mapped_column(ForeignKey("market_orders.id"), index=True)
    buyer: Mapped[str] = mapped_column(String(42), index=True)
    seller: Mapped[str] = mapped_column(String(42), index=True)
    price: Mapped[int] = mapped_column(BigInteger)
    quantity: Mapped[int] = mapped_column(BigInteger)
    won: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[FillStatus] = mapped_column(String(12), default=FillStatus.matched, index=True)
    settlement_id: Mapped[int | None] = mapped_column(
        ForeignKey("market_settlements.id"), index=True
    )
    reject_reason: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    settled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class WonTransfer(Base):
    """A deposit (mint) or withdrawal (burn) of won, by the operator."""

    __tablename__ = "market_won_transfers"
    __table_args__ = (
        UniqueConstraint("kind", "reference", name="uq_market_won_transfers_kind_reference"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(12))  # deposit | withdrawal
    address: Mapped[str] = mapped_column(String(42), index=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    reference: Mapped[str] = mapped_column(String(200))  # the bank's reference
    status: Mapped[TransferStatus] = mapped_column(String(12), default=TransferStatus.pending)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )
