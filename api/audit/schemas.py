"""What the auditor's queries return (``XPublic`` models, ready for the API and the exports).

Amounts are exact integers in Python and decimal strings in JSON (a uint256 does not fit a
JavaScript number); times are unix seconds of the block that recorded the event.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, PlainSerializer

from api import examples as ex
from api.timeutil import UtcDateTime

Amount = Annotated[int, PlainSerializer(str, return_type=str, when_used="json")]


class _Row(BaseModel):
    model_config = ConfigDict(from_attributes=True, frozen=True)


class OnChain(_Row):
    block_number: int
    log_index: int
    tx_hash: str
    block_time: int


class IndexStatus(_Row):
    model_config = ConfigDict(json_schema_extra={"examples": [ex.INDEX_STATUS]})

    chain_id: int
    deployment_key: str
    start_block: int
    block_number: int
    block_hash: str
    reorgs: int
    updated_at: UtcDateTime


class Supply(_Row):
    """Credits at a block: ``circulating = issued - burnt`` (the token's ``totalSupply``)."""

    model_config = ConfigDict(json_schema_extra={"examples": [ex.SUPPLY]})

    block_number: int
    issued: Amount
    burnt: Amount
    retired: Amount
    circulating: Amount


class SupplyPointPublic(_Row):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "block_number": ex.RETIREMENT_BLOCK,
                    "block_time": ex.RETIREMENT_TIME,
                    "issued": "4550",
                    "burnt": "1250",
                    "retired": "1250",
                    "circulating": "3300",
                }
            ]
        }
    )

    block_number: int
    block_time: int
    issued: Amount
    burnt: Amount
    retired: Amount
    circulating: Amount


class HolderPublic(_Row):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"address": ex.CITIZEN, "balance": "1300", "retired": "1250"}]
        }
    )

    address: str
    balance: Amount
    retired: Amount


class TransferPublic(OnChain):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "block_number": 21,
                    "log_index": 0,
                    "tx_hash": ex.SETTLEMENT_TX,
                    "block_time": 1795443858,
                    "sender": ex.CITIZEN,
                    "recipient": ex.BUYER,
                    "amount": "2000",
                }
            ]
        }
    )

    sender: str
    recipient: str
    amount: Amount


class BatchPublic(OnChain):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "block_number": ex.ISSUANCE_BLOCK,
                    "log_index": 2,
                    "tx_hash": ex.ISSUANCE_TX,
                    "block_time": ex.ISSUANCE_TIME,
                    "batch_id": ex.BATCH_ID,
                    "merkle_root": ex.MERKLE_ROOT,
                    "total_amount": "4550",
                    "claim_count": 2,
                }
            ]
        }
    )

    batch_id: str
    merkle_root: str
    total_amount: Amount
    claim_count: int


class BatchClaimPublic(_Row):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "batch_id": ex.BATCH_ID,
                    "position": 0,
                    "claim_id": ex.PURCHASE_CLAIM,
                    "block_number": ex.ISSUANCE_BLOCK,
                }
            ]
        }
    )

    batch_id: str
    position: int
    claim_id: str
    block_number: int


class RetirementPublic(OnChain):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "block_number": ex.RETIREMENT_BLOCK,
                    "log_index": 1,
                    "tx_hash": ex.RETIREMENT_TX,
                    "block_time": ex.RETIREMENT_TIME,
                    "certificate_id": "1",
                    "holder": ex.CITIZEN,
                    "amount": "1250",
                    "beneficiary_hash": ex.BENEFICIARY_HASH,
                    "reason": ex.REASON_HASH,
                }
            ]
        }
    )

    certificate_id: Amount
    holder: str
    amount: Amount
    beneficiary_hash: str
    reason: str


class TradeAudit(BaseModel):
    """A matched fill as the auditor sees it: both sides, the terms, and its settlement."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "fill_id": ex.FILL_ID,
                    "buyer": ex.BUYER,
                    "seller": ex.CITIZEN,
                    "price": 1200,
                    "quantity": "2000",
                    "won": "2400",
                    "status": "settled",
                    "reject_reason": None,
                    "settlement_tx_hash": ex.SETTLEMENT_TX,
                    "created_at": "2026-11-23T14:24:02Z",
                    "settled_at": "2026-11-23T14:24:03Z",
                }
            ]
        }
    )

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
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "block_number": 12,
                    "log_index": 0,
                    "tx_hash": ex.ATTEST_TX,
                    "block_time": 1795433000,
                    "kind": "attested",
                    "account": ex.CITIZEN,
                    "actor": ex.VERIFIER,
                    "credential_hash": ex.CREDENTIAL_HASH,
                    "level": 2,
                    "expires_at": 1826969000,
                }
            ]
        }
    )

    kind: str
    account: str
    actor: str
    credential_hash: str
    level: int | None
    expires_at: int | None


class IdentityPublic(_Row):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "account": ex.CITIZEN,
                    "verifier": ex.VERIFIER,
                    "level": 2,
                    "expires_at": 1826969000,
                    "credential_hash": ex.CREDENTIAL_HASH,
                    "revoked": False,
                    "block_number": 12,
                }
            ]
        }
    )

    account: str
    verifier: str
    level: int
    expires_at: int
    credential_hash: str
    revoked: bool
    block_number: int


class EventPublic(OnChain):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "block_number": ex.RETIREMENT_BLOCK,
                    "log_index": 1,
                    "tx_hash": ex.RETIREMENT_TX,
                    "block_time": ex.RETIREMENT_TIME,
                    "block_hash": ex.BLOCK_HASH,
                    "contract": "CRDAToken",
                    "address": ex.CREDIT_CONTRACT,
                    "event": "Retired",
                    "args": {
                        "certificateId": 1,
                        "holder": ex.CITIZEN,
                        "amount": 1250,
                        "beneficiaryHash": ex.BENEFICIARY_HASH,
                        "reason": ex.REASON_HASH,
                    },
                }
            ]
        }
    )

    block_hash: str
    contract: str
    address: str
    event: str
    args: dict[str, Any]
