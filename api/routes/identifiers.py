"""Public identity documents: status lists, DID resolution, the session keys' JWK set."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse

from api.auth.tokens import SessionKeys
from api.credentials import service
from api.deps import ChainDep, SessionDep, SettingsDep
from api.errors import NotFound
from identity.did import DIDError, parse_pkh_did

router = APIRouter(tags=["identifiers"])


@router.get(
    "/status-lists/{verifier_id}",
    response_class=Response,
    responses={200: {"content": {"application/vc+jwt": {}}}},
)
def status_list(verifier_id: str, session: SessionDep, settings: SettingsDep) -> Response:
    """The verifier's revocation list (a BitstringStatusListCredential, signed, vc+jwt)."""
    verifier = service.get_verifier(session, verifier_id)
    token = service.status_list_credential(session, settings, verifier)
    return Response(token, media_type="application/vc+jwt", headers={"Cache-Control": "max-age=60"})


@router.get("/identifiers/{did}")
def resolve(did: str, session: SessionDep, settings: SettingsDep, chain: ChainDep) -> Any:
    """DID resolution for our verifiers' did:web and for did:pkh holders on this chain."""
    if did.startswith("did:pkh:"):
        try:
            chain_id, address = parse_pkh_did(did)
        except DIDError as exc:
            raise NotFound(str(exc)) from exc
        if chain_id != chain.chain_id:
            raise NotFound("a did:pkh of another chain")
        document: dict[str, Any] = {
            "@context": ["https://www.w3.org/ns/did/v1"],
            "id": did,
            "verificationMethod": [
                {
                    "id": f"{did}#blockchainAccountId",
                    "type": "EcdsaSecp256k1RecoveryMethod2020",
                    "controller": did,
                    "blockchainAccountId": f"eip155:{chain_id}:{address}",
                }
            ],
            "authentication": [f"{did}#blockchainAccountId"],
            "assertionMethod": [f"{did}#blockchainAccountId"],
        }
    else:
        resolved = service.LocalResolver(session, settings, chain.chain_id).resolve(did)
        if resolved is None:
            raise NotFound("the DID does not resolve here")
        document = resolved
    return JSONResponse(document, media_type="application/did+json")


@router.get("/.well-known/jwks.json")
def jwks(settings: SettingsDep) -> dict[str, Any]:
    """Public keys that verify our session tokens (by ``kid``)."""
    return SessionKeys.from_settings(settings).jwks()
