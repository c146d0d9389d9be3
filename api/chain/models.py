"""The chain's own table: the next nonce of each platform signer, shared by every process."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, String
from sqlalchemy.orm import Mapped, mapped_column

from api.db import Base
from api.timeutil import utcnow


class SignerNonce(Base):
    """The next nonce one signer may use on one chain (``api.chain.nonces.DatabaseNonces``).

    Every process that signs with the key allocates from this row while holding it locked, so
    no two transactions get the same nonce, whatever process signs them.
    """

    __tablename__ = "signer_nonces"

    chain_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    # The chain's genesis block: a devnet restarted with the same chain id is another chain,
    # whose nonces start again from zero (its rows never mix with the old chain's).
    genesis: Mapped[str] = mapped_column(String(66), primary_key=True)
    address: Mapped[str] = mapped_column(String(42), primary_key=True)
    next_nonce: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )
