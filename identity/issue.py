"""Issuing W3C Verifiable Credentials 2.0 as ``vc+jwt`` (VC-JOSE-COSE), signed ES256K.

The JWS payload is the credential itself (``@context``, ``type``, ``issuer``, ``validFrom``,
``validUntil``, ``credentialSubject``, ``credentialStatus``) plus the registered JWT claims
(``iss``, ``sub``, ``jti``, ``iat``, ``nbf``, ``exp``) that generic JOSE libraries check. The
subject carries no personal data: a DID and an assurance level. Issuing raises on failure.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from eth_utils import keccak

from identity.did import KEY_FRAGMENT

VC_CONTEXT = "https://www.w3.org/ns/credentials/v2"
CRDA_CONTEXT = "https://w3id.org/crda/identity/v1"
CREDENTIAL_TYPE = "VerifiedIdentityCredential"
STATUS_LIST_TYPE = "BitstringStatusListCredential"
ALGORITHM = "ES256K"
MEDIA_TYPE = "vc+jwt"


def signing_key(private_key: bytes) -> ec.EllipticCurvePrivateKey:
    """The secp256k1 key of an Ethereum private key (the same key signs JWS and transactions)."""
    return ec.derive_private_key(int.from_bytes(private_key, "big"), ec.SECP256K1())


def credential_hash(token: str) -> bytes:
    """What the chain records: keccak256 of the compact JWS (ASCII)."""
    return keccak(token.encode("ascii"))


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class StatusEntry:
    list_url: str
    index: int

    def as_json(self) -> dict[str, str]:
        return {
            "id": f"{self.list_url}#{self.index}",
            "type": "BitstringStatusListEntry",
            "statusPurpose": "revocation",
            "statusListIndex": str(self.index),
            "statusListCredential": self.list_url,
        }


def _sign(payload: dict[str, Any], key: ec.EllipticCurvePrivateKey, issuer_did: str) -> str:
    headers = {"kid": f"{issuer_did}#{KEY_FRAGMENT}", "typ": MEDIA_TYPE, "cty": "vc"}
    return jwt.encode(payload, key, algorithm=ALGORITHM, headers=headers)


def issue_identity_credential(
    *,
    key: ec.EllipticCurvePrivateKey,
    issuer_did: str,
    credential_id: str,
    subject_did: str,
    level: int,
    valid_from: datetime,
    valid_until: datetime,
    status: StatusEntry,
) -> str:
    """A signed credential stating that ``subject_did`` is a verified identity at ``level``."""
    if not 1 <= level <= 3:
        raise ValueError("assurance level must be 1, 2 or 3")
    if valid_until <= valid_from:
        raise ValueError("validUntil must be after validFrom")
    payload: dict[str, Any] = {
        "@context": [VC_CONTEXT, CRDA_CONTEXT],
        "id": credential_id,
        "type": ["VerifiableCredential", CREDENTIAL_TYPE],
        "issuer": issuer_did,
        "validFrom": _iso(valid_from),
        "validUntil": _iso(valid_until),
        "credentialSubject": {"id": subject_did, "assuranceLevel": level},
        "credentialStatus": status.as_json(),
        "iss": issuer_did,
        "sub": subject_did,
        "jti": credential_id,
        "iat": int(valid_from.timestamp()),
        "nbf": int(valid_from.timestamp()),
        "exp": int(valid_until.timestamp()),
    }
    return _sign(payload, key, issuer_did)


def issue_status_list_credential(
    *,
    key: ec.EllipticCurvePrivateKey,
    issuer_did: str,
    list_url: str,
    encoded_list: str,
    issued_at: datetime,
    ttl_seconds: int = 300,
) -> str:
    """The signed status list (a ``BitstringStatusListCredential``) of one issuer."""
    payload: dict[str, Any] = {
        "@context": [VC_CONTEXT],
        "id": list_url,
        "type": ["VerifiableCredential", STATUS_LIST_TYPE],
        "issuer": issuer_did,
        "validFrom": _iso(issued_at),
        "credentialSubject": {
            "id": f"{list_url}#list",
            "type": "BitstringStatusList",
            "statusPurpose": "revocation",
            "encodedList": encoded_list,
            "ttl": ttl_seconds * 1000,
        },
        "iss": issuer_did,
        "iat": int(issued_at.timestamp()),
        "exp": int(issued_at.timestamp()) + ttl_seconds,
    }
    return _sign(payload, key, issuer_did)
