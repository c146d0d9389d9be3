"""What the auditor's queries return (``XPublic`` models, ready for the API and the exports).

Amounts are exact integers in Python and decimal strings in JSON (a uint256 does not fit a
JavaScript number); times are unix seconds of the block that recorded the event.
"""

from __future__ import annotations

from typing import Annotated, Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, PlainSerializer

from api.timeutil import UtcDateTime

Amount = Annotated[int, PlainSerializer(str, return_type=str, when_used="json")]

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """One page of a list; pass ``next_cursor`` back to get the next (None: the last page)."""

    items: list[T]
    next_cursor: str | None = None


class _Row(BaseModel):
    model_config = ConfigDict(from_attributes=True, frozen=True)


class OnChain(_Row):
    block_number: int
    log_index: int
    tx_hash: str
    block_time: int


class IndexStatus(_Row):
    chain_id: int
    deployment_key: str
    start_block: int
    block_number: int
    block_hash: str
    reorgs: int
    updated_at: UtcDateTime


class Supply(_Row):
    """Credits at a block: ``circulating = issued - burnt`` (the token's ``totalSupply``)."""

    block_number: int
    issued: Amount
    burnt: Amount
    retired: Amount
    circulating: Amount


class SupplyPointPublic(_Row):
    block_number: int
    block_time: int
    issued: Amount
    burnt: Amount
    retired: Amount
    circulating: Amount


class HolderPublic(_Row):
    address: str
    balance: Amount
    retired: Amount


class TransferPublic(OnChain):
    sender: str
    recipient: str
    amount: Amount


class BatchPublic(OnChain):
    batch_id: str
    merkle_root: str
    total_amount: Amount
    claim_count: int


class BatchClaimPublic(_Row):
    batch_id: str
    position: int
    claim_id: str
    block_number: int


class RetirementPublic(OnChain):
    certificate_id: Amount
    holder: str
    amount: Amount
    beneficiary_hash: str
    reason: str


class TradeAudit(BaseModel):
    """A matched fill as the auditor sees it: both sides, the terms, and its settlement."""

    fill_id: str
    buyer: str
    seller: str
    price: int  # won per kilogram
    quantity: Amount  # grams
    won: Amount
    status: str  # matched | settling | settled | failed
    reject_reason: str | None
    settlement_tx_hash: str | None
    created_at: UtcDateTime
    settled_at: UtcDateTime | None


class AttestationPublic(OnChain):
    kind: str
    account: str
    actor: str
    credential_hash: str
    level: int | None
    expires_at: int | None


class IdentityPublic(_Row):
    account: str
    verifier: str
    level: int
    expires_at: int
    credential_hash: str
    revoked: bool
    block_number: int


class EventPublic(OnChain):
    block_hash: str
    contract: str
    address: str
    event: str
    args: dict[str, Any]
