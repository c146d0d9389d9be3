"""DIDs: ``did:pkh`` for holders (their address), ``did:web`` for verifiers (our server).

A verifier's DID document names its secp256k1 public key (``publicKeyJwk``, used for the
ES256K signatures of its credentials) and its on-chain address (``blockchainAccountId``,
the address that records attestations), so one resolution links a credential to the chain.
"""

from __future__ import annotations

import json
from typing import Any, Protocol
from urllib.parse import quote, unquote, urlsplit

from cryptography.hazmat.primitives.asymmetric import ec
from eth_utils import is_address, to_checksum_address
from jwt.algorithms import ECAlgorithm

DID_CONTEXT = ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/suites/jws-2020/v1"]
KEY_FRAGMENT = "key-1"


class DIDError(ValueError):
    """A DID that is malformed or not of the expected method."""


def pkh_did(chain_id: int, address: str) -> str:
    """``did:pkh:eip155:<chain id>:<checksummed address>``."""
    return f"did:pkh:eip155:{chain_id}:{to_checksum_address(address)}"


def parse_pkh_did(did: str) -> tuple[int, str]:
    """(chain id, checksummed address) of a ``did:pkh:eip155`` DID."""
    parts = did.split(":")
    if len(parts) != 5 or parts[:3] != ["did", "pkh", "eip155"] or not parts[3].isdigit():
        raise DIDError("not a did:pkh:eip155 DID")
    if not is_address(parts[4]):
        raise DIDError("not an Ethereum address")
    return int(parts[3]), to_checksum_address(parts[4])


def web_did(public_url: str, *path: str) -> str:
    """``did:web`` of a document served at ``<public_url>/<path...>/did.json``."""
    host = urlsplit(public_url).netloc
    if not host:
        raise DIDError(f"public URL {public_url!r} has no host")
    return ":".join(["did", "web", quote(host, safe=""), *path])


def web_did_url(did: str, scheme: str = "https") -> str:
    """Where a ``did:web`` document lives (did:web spec: ``/path/did.json``)."""
    parts = did.split(":")
    if len(parts) < 3 or parts[:2] != ["did", "web"]:
        raise DIDError("not a did:web DID")
    host = unquote(parts[2])
    path = "/".join(parts[3:]) or ".well-known"
    return f"{scheme}://{host}/{path}/did.json"


def public_jwk(public_key: ec.EllipticCurvePublicKey) -> dict[str, Any]:
    """The public key as a JWK (``kty: EC``, ``crv: secp256k1`` for our verifiers)."""
    jwk: dict[str, Any] = json.loads(ECAlgorithm.to_jwk(public_key))
    return {k: jwk[k] for k in ("kty", "crv", "x", "y")}


def verifier_document(
    did: str, public_key: ec.EllipticCurvePublicKey, chain_id: int, address: str
) -> dict[str, Any]:
    """The DID document of a verifier: its signing key and its attesting address."""
    key_id = f"{did}#{KEY_FRAGMENT}"
    account_id = f"{did}#{'account'}"
    return {
        "@context": DID_CONTEXT,
        "id": did,
        "verificationMethod": [
            {
                "id": key_id,
                "type": "JsonWebKey2020",
                "controller": did,
                "publicKeyJwk": public_jwk(public_key),
            },
            {
                "id": account_id,
                "type": "EcdsaSecp256k1RecoveryMethod2020",
                "controller": did,
                "blockchainAccountId": f"eip155:{chain_id}:{to_checksum_address(address)}",
            },
        ],
        "assertionMethod": [key_id, account_id],
        "authentication": [key_id],
    }


class Resolver(Protocol):
    """Resolves a DID to its DID document, or None when it does not exist."""

    def resolve(self, did: str) -> dict[str, Any] | None: ...


def assertion_key(document: dict[str, Any], kid: str) -> dict[str, Any] | None:
    """The ``publicKeyJwk`` of verification method ``kid`` if it may assert (sign) claims."""
    assertion = set(document.get("assertionMethod", []))
    for method in document.get("verificationMethod", []):
        if method.get("id") == kid and kid in assertion and "publicKeyJwk" in method:
            jwk: dict[str, Any] = method["publicKeyJwk"]
            return jwk
    return None


def blockchain_account(document: dict[str, Any]) -> tuple[int, str] | None:
    """(chain id, address) named by the document's ``blockchainAccountId``, if any."""
    for method in document.get("verificationMethod", []):
        account = method.get("blockchainAccountId")
        if isinstance(account, str):
            parts = account.split(":")
            if (
                len(parts) == 3
                and parts[0] == "eip155"
                and parts[1].isdigit()
                and is_address(parts[2])
            ):
                return int(parts[1]), to_checksum_address(parts[2])
    return None
