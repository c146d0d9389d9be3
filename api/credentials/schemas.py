"""Request and response bodies of verifiers and credentials (W3C VC API names)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from api import examples as ex
from api.timeutil import UtcDateTime
from identity.uniqueness import UNIQUENESS_KEY_PATTERN


class VerifierCreate(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"name": "Yeonsu-gu Community Centre"}]}
    )

    name: str = Field(min_length=2, max_length=200)


class VerifierPublic(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": ex.VERIFIER_ID,
                    "name": "Yeonsu-gu Community Centre",
                    "did": f"did:web:crda.incheon.go.kr:verifiers:{ex.VERIFIER_ID}",
                    "address": ex.VERIFIER,
                    "active": True,
                }
            ]
        },
        from_attributes=True,
    )

    id: str
    name: str
    did: str
    address: str
    active: bool


class MemberAdd(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"account_id": "7c9e6679-7425-40de-944b-e07fc1f90ae7"}]}
    )

    account_id: str = Field(min_length=1, max_length=36)


class IssueRequest(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "account_id": "3f0c2a9e-5b1d-4c6e-9a7f-2d8e1b4c6a10",
                    "assurance_level": 2,
                    "uniqueness_key": (
                        "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
                    ),
                }
            ]
        }
    )

    account_id: str = Field(min_length=1, max_length=36)
    assurance_level: int = Field(ge=1, le=3)
    # HMAC-SHA256 (platform pepper) of the national identifier, computed at the verifier's desk.
    uniqueness_key: str = Field(pattern=UNIQUENESS_KEY_PATTERN)
    valid_days: int | None = Field(default=None, ge=1, le=5 * 365)
    verified_at: UtcDateTime | None = Field(
        default=None,
        description=(
            "When the verifier checked the person's documents, if before this request (at most"
            " 7 days ago; default: now). Activities earn only from this moment."
        ),
    )


class CredentialPublic(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": ex.CREDENTIAL_ID,
                    "account_id": ex.CITIZEN_ID,
                    "verifier_id": ex.VERIFIER_ID,
                    "assurance_level": 2,
                    "subject_did": f"did:pkh:eip155:{ex.CHAIN_ID}:{ex.CITIZEN}",
                    "status": "active",
                    "valid_from": "2026-11-23T11:41:00Z",
                    "valid_until": "2027-11-23T11:41:00Z",
                    "credential_hash": ex.CREDENTIAL_HASH,
                    "attest_tx_hash": ex.ATTEST_TX,
                    "revoke_tx_hash": None,
                    "revocation_reason": None,
                    "verifiable_credential": ex.CREDENTIAL_JWT,
                }
            ]
        }
    )

    id: str
    account_id: str
    verifier_id: str
    assurance_level: int
    subject_did: str
    status: Literal["active", "revoked", "expired"]
    valid_from: UtcDateTime
    valid_until: UtcDateTime
    credential_hash: str
    attest_tx_hash: str | None
    revoke_tx_hash: str | None
    revocation_reason: str | None
    # The credential itself (compact JWS, media type vc+jwt), for the holder's wallet.
    verifiable_credential: str


class RevokeRequest(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"reason": "holder-request"}]})

    reason: Literal["revoked", "fraud", "deceased", "holder-request"] = "revoked"


class VerifyRequest(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "verifiableCredential": (
                        "eyJhbGciOiJFUzI1NksiLCJ0eXAiOiJ2Yytqd3QifQ.eyJpc3MiOiJkaWQ6d2ViIn0.c2ln"
                    )
                }
            ]
        }
    )

    verifiableCredential: str = Field(min_length=1, max_length=20_000)


class VerifyResponse(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "verified": True,
                    "checks": ["format", "signature", "attestation", "issuer", "expiry", "status"],
                    "errors": [],
                    "credential": {
                        "@context": [
                            "https://www.w3.org/ns/credentials/v2",
                            "https://w3id.org/crda/identity/v1",
                        ],
                        "id": f"urn:uuid:{ex.CREDENTIAL_ID}",
                        "type": ["VerifiableCredential", "VerifiedIdentityCredential"],
                        "issuer": f"did:web:crda.incheon.go.kr:verifiers:{ex.VERIFIER_ID}",
                        "validFrom": "2026-11-23T11:41:00Z",
                        "validUntil": "2027-11-23T11:41:00Z",
                        "credentialSubject": {
                            "id": f"did:pkh:eip155:{ex.CHAIN_ID}:{ex.CITIZEN}",
                            "assuranceLevel": 2,
                        },
                    },
                }
            ]
        }
    )

    verified: bool
    checks: list[str]
    errors: list[dict[str, str]]
    credential: dict[str, Any] | None = None
