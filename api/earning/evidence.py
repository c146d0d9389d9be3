"""Evidence: partners' records signed as EIP-712 typed data, verified with eth-account.

Why EIP-712 rather than JWS: the platform already speaks secp256k1 (every partner key is an
Ethereum-style key the operator registers by address), the signed struct is the very record
whose hash goes into the claim's Merkle leaf on chain, and the domain binds a signature to this
chain id and this deployment's Issuance contract, so a record signed for a test network or
another deployment never counts here. See ``mobile_api_docs/partners-evidence.md``.

- ``evidence_hash`` is the EIP-712 digest of the record (domain included): what the claim
  record commits to on chain.
- ``nullifier`` identifies the *activity*, not the bytes: keccak256 of (provider, record type,
  the provider's record id). A record re-signed with a changed field, or submitted by another
  citizen, has the same nullifier, and the claims table holds each nullifier once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from eth_abi import encode as abi_encode
from eth_utils import keccak
from pydantic import BaseModel, ConfigDict, Field

from api.chain.eip712 import TypedDomain, Types, recover_digest, sign_digest
from api.errors import problem
from api.fields import JSON_SAFE_INT, Address
from api.i18n import msg

DOMAIN_NAME = "CRDA Evidence"
DOMAIN_VERSION = "1"

UINT32 = 2**32 - 1
INT32 = 2**31 - 1

RECEIPT_TYPES: dict[str, list[dict[str, str]]] = {
    "Receipt": [
        {"name": "receiptId", "type": "string"},
        {"name": "merchant", "type": "address"},
        {"name": "citizen", "type": "address"},
        {"name": "issuedAt", "type": "uint64"},
        {"name": "items", "type": "LineItem[]"},
    ],
    "LineItem": [
        {"name": "productCode", "type": "string"},
        {"name": "category", "type": "string"},
        {"name": "quantity", "type": "uint32"},
        {"name": "labelGrams", "type": "uint32"},
    ],
}

TRIP_TYPES: dict[str, list[dict[str, str]]] = {
    "Trip": [
        {"name": "tripId", "type": "string"},
        {"name": "operator", "type": "address"},
        {"name": "citizen", "type": "address"},
        {"name": "mode", "type": "string"},
        {"name": "startedAt", "type": "uint64"},
        {"name": "endedAt", "type": "uint64"},
        {"name": "fromStation", "type": "string"},
        {"name": "toStation", "type": "string"},
        {"name": "startLat", "type": "int32"},
        {"name": "startLon", "type": "int32"},
        {"name": "endLat", "type": "int32"},
        {"name": "endLon", "type": "int32"},
        {"name": "distanceMeters", "type": "uint32"},
    ],
}

EvidenceSignatureInvalid = problem(
    422,
    "evidence-signature-invalid",
    "The evidence's signature does not match its content (tampered or not signed by its provider)",
    when=(
        "The e-receipt or trip record was changed after the partner signed it, "
        "or was signed for another chain or contract."
    ),
    show='"This receipt could not be verified"; ask the partner for a new one.',
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LineItem(_Strict):
    productCode: str = Field(min_length=1, max_length=64)
    category: str = Field(min_length=1, max_length=64)
    quantity: int = Field(ge=1, le=1000)
    labelGrams: int = Field(ge=0, le=UINT32)


class ReceiptEvidence(_Strict):
    """An e-receipt as the merchant signs it (the EIP-712 ``Receipt`` message)."""

    receiptId: str = Field(min_length=1, max_length=128)
    merchant: Address
    citizen: Address
    issuedAt: int = Field(ge=0, le=JSON_SAFE_INT)
    items: list[LineItem] = Field(min_length=1, max_length=100)


class TripEvidence(_Strict):
    """A trip as the mobility operator signs it (the EIP-712 ``Trip`` message).

    Tap records carry the stations (coordinates 0); rides carry coordinates in micro-degrees
    (stations ""); EV rentals carry the odometer distance. ``distanceMeters`` is always the
    operator's measured distance.
    """

    tripId: str = Field(min_length=1, max_length=128)
    operator: Address
    citizen: Address
    mode: str = Field(min_length=1, max_length=32)
    startedAt: int = Field(ge=0, le=JSON_SAFE_INT)
    endedAt: int = Field(ge=0, le=JSON_SAFE_INT)
    fromStation: str = Field(default="", max_length=32)
    toStation: str = Field(default="", max_length=32)
    startLat: int = Field(default=0, ge=-INT32, le=INT32)
    startLon: int = Field(default=0, ge=-INT32, le=INT32)
    endLat: int = Field(default=0, ge=-INT32, le=INT32)
    endLon: int = Field(default=0, ge=-INT32, le=INT32)
    distanceMeters: int = Field(ge=1, le=UINT32)


EvidenceKind = Literal["purchase", "trip"]


@dataclass(frozen=True)
class Domain:
    """The EIP-712 domain every partner signs under (served at GET /earning/evidence-domain)."""

    chain_id: int
    verifying_contract: str

    @property
    def typed(self) -> TypedDomain:
        return TypedDomain(DOMAIN_NAME, DOMAIN_VERSION, self.chain_id, self.verifying_contract)

    def as_dict(self) -> dict[str, Any]:
        return self.typed.as_dict()


def _typed(evidence: ReceiptEvidence | TripEvidence) -> tuple[str, Types]:
    if isinstance(evidence, ReceiptEvidence):
        return "Receipt", RECEIPT_TYPES
    return "Trip", TRIP_TYPES


def typed_data(domain: Domain, evidence: ReceiptEvidence | TripEvidence) -> dict[str, Any]:
    """The full EIP-712 document of a record (what a partner's signer is given)."""
    primary, types = _typed(evidence)
    return {
        **domain.typed.document(primary, types, evidence.model_dump()),
        "domain": domain.as_dict(),
    }


def evidence_digest(domain: Domain, evidence: ReceiptEvidence | TripEvidence) -> bytes:
    primary, types = _typed(evidence)
    return domain.typed.digest(primary, types, evidence.model_dump())


def sign_evidence(domain: Domain, evidence: ReceiptEvidence | TripEvidence, key: Any) -> str:
    """Sign a record as a partner would (partners' SDKs, tests and the benchmark)."""
    return "0x" + sign_digest(evidence_digest(domain, evidence), key).hex()


@dataclass(frozen=True)
class VerifiedEvidence:
    signer: str  # the address that signed
    evidence_hash: bytes  # EIP-712 digest
    nullifier: bytes


def provider_of(evidence: ReceiptEvidence | TripEvidence) -> str:
    return evidence.merchant if isinstance(evidence, ReceiptEvidence) else evidence.operator


def record_id_of(evidence: ReceiptEvidence | TripEvidence) -> tuple[str, str]:
    if isinstance(evidence, ReceiptEvidence):
        return "receipt", evidence.receiptId
    return "trip", evidence.tripId


def nullifier(evidence: ReceiptEvidence | TripEvidence) -> bytes:
    record_type, record_id = record_id_of(evidence)
    return keccak(
        abi_encode(
            ["string", "address", "string", "string"],
            ["CRDA.nullifier.v1", provider_of(evidence), record_type, record_id],
        )
    )


def verify_evidence(
    domain: Domain, evidence: ReceiptEvidence | TripEvidence, signature: str
) -> VerifiedEvidence:
    """Recover the signer; a signer other than the record's named provider means tampering."""
    digest = evidence_digest(domain, evidence)
    try:
        signer = recover_digest(digest, signature)
    except ValueError as exc:
        raise EvidenceSignatureInvalid(msg("the signature cannot be read: {exc}", exc=exc)) from exc
    if signer != provider_of(evidence):
        raise EvidenceSignatureInvalid(
            "the record was changed after signing, or was not signed by the provider it names",
            signer=signer,
        )
    return VerifiedEvidence(signer, digest, nullifier(evidence))
