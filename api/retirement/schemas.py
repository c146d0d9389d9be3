"""Request and response shapes of retirements and certificates (``XCreate`` / ``XPublic``)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from api import examples as ex
from api.fields import JSON_SAFE_INT, json_int

HASH = r"^0x[0-9a-fA-F]{64}$"
ADDRESS = r"^0x[0-9a-fA-F]{40}$"

# POST /retirements refuses to run without a key (``idempotent(required=True)`` answers
# ``/problems/invalid-idempotency-key``). The handler reads the header itself, so the problem
# stays that one; the document declares the parameter required (api/openapi.py states the
# schema of every Idempotency-Key).
IDEMPOTENCY_KEY_REQUIRED: dict[str, Any] = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": True,
    "description": (
        "A fresh UUID per user action: a retry with the same key and body answers the first "
        "result (`Idempotent-Replayed: true`) and retires nothing twice."
    ),
    "schema": {"type": "string"},
}


class RetirementCreate(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "amount": 1250,
                    "beneficiary": "Songdo Primary School",
                    "reason": "School trip 2026",
                    "publish_beneficiary": False,
                }
            ]
        }
    )

    amount: int = Field(gt=0, le=JSON_SAFE_INT, description="grams of CO2e (credits)")
    beneficiary: str = Field(min_length=1, max_length=200)
    reason: str = Field(min_length=1, max_length=500)
    publish_beneficiary: bool = Field(
        default=False, description="show the beneficiary's name on the public certificate"
    )


class CertificatePublic(BaseModel):
    """A retirement certificate as anyone may see it (the beneficiary's name and salt only
    when the holder published them)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{**ex.CERTIFICATE, "beneficiary": None, "beneficiary_salt": None}]
        }
    )

    status: str = Field(description="pending, confirmed or failed (nothing was burnt)")
    serial: int | None = Field(description="the chain's certificate id, once confirmed")
    amount: int = Field(description="grams of CO2e retired")
    unit: str
    holder: str
    beneficiary: str | None
    beneficiary_salt: str | None
    beneficiary_published: bool
    beneficiary_hash: str = Field(description="keccak256(salt, name), as on chain")
    reason: str
    reason_salt: str = Field(description="keccak256 of a tag and the beneficiary salt")
    reason_hash: str = Field(
        description="the chain's reason: keccak256(abi.encode('CRDA.reason.v1', reason_salt, "
        "reason)); the text itself stays off chain"
    )
    retired_at: str | None = Field(description="block time, RFC 3339 UTC")
    tx_hash: str | None
    block_number: int | None
    error_name: str | None = Field(description="why the chain refused it, when failed")
    verification_url: str | None = Field(description="what the QR code carries")
    allocation: dict[str, Any] | None = Field(
        description="the credits retired, first in first out: lots, batches and claims"
    )


class MyCertificate(CertificatePublic):
    """The holder's own view: with the certificate's id and private fields."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"id": ex.RETIREMENT_ID, **ex.CERTIFICATE}]}
    )

    id: str


class Check(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"name": "amount", "ok": True, "detail": "claimed 1250 g, on chain 1250 g"}
            ]
        }
    )

    name: str
    ok: bool
    detail: str


class Verification(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [ex.CERTIFICATE_VERIFICATION]})

    verified: bool
    serial: int
    reasons: list[str]
    checks: list[Check]
    on_chain: dict[str, Any] | None = None


class CertificateClaim(BaseModel):
    """A certificate as the holder shows it (the JSON this API serves), to check."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "serial": 1,
                    "amount": 1250,
                    "beneficiary_hash": ex.BENEFICIARY_HASH,
                    "tx_hash": ex.RETIREMENT_TX,
                    "holder": ex.CITIZEN,
                    "beneficiary": "Songdo Primary School",
                    "beneficiary_salt": ex.BENEFICIARY_SALT,
                    "reason": "School trip 2026",
                    "reason_salt": ex.REASON_SALT,
                }
            ]
        }
    )

    serial: json_int(ge=1)  # type: ignore[valid-type]
    # A certificate's amount is grams in 64 bits (the table's BIGINT); a bound of 2**255
    # (uint256) is beyond what JSON number readers (and the fuzzer) compare exactly.
    amount: json_int(ge=0) | None = None  # type: ignore[valid-type]
    beneficiary_hash: str | None = Field(default=None, pattern=HASH)
    tx_hash: str | None = Field(default=None, pattern=HASH)
    holder: str | None = Field(default=None, pattern=ADDRESS)
    beneficiary: str | None = Field(default=None, max_length=200)
    beneficiary_salt: str | None = Field(default=None, pattern=HASH)
    reason: str | None = Field(default=None, max_length=500)
    reason_salt: str | None = Field(default=None, pattern=HASH)
