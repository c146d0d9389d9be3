"""What the day produced, as the API reported it (``summary`` prints it)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Certificate:
    """A retirement's certificate, checked through the public verification endpoint."""

    serial: int
    amount: int
    holder_name: str
    verification_url: str
    qr_url: str
    page_url: str
    verified: bool
    business: bool = False


@dataclass
class Report:
    """What the day produced, as the API reported it."""

    base_url: str
    tag: str
    seed: int
    citizens_verified: int = 0
    businesses_verified: int = 0
    verifiers: int = 0
    providers: int = 0
    duplicate_identities_refused: int = 0
    submitted: int = 0
    accepted: Counter[str] = field(default_factory=Counter)  # by mode or "purchase"
    refused: Counter[str] = field(default_factory=Counter)  # by problem slug
    fraud_attempts: int = 0
    fraud_refused: int = 0
    claims_issued: int = 0
    claims_pending: int = 0
    credits_issued_g: int = 0
    sell_orders: int = 0
    buy_orders: int = 0
    market_refused: Counter[str] = field(default_factory=Counter)
    trades: int = 0
    traded_g: int = 0
    traded_won: int = 0
    retirements: int = 0
    business_retirements: int = 0
    retired_g: int = 0
    certificates: list[Certificate] = field(default_factory=list)
    supply: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    def featured(self) -> Certificate | None:
        """The certificate the summary shows: a business's, the largest."""
        return max(self.certificates, key=lambda c: (c.business, c.amount), default=None)
