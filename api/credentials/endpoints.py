"""Credentials endpoints: verifiers and their members; credentials (issue, verify, revoke, QR)
and an account's credentials; DID documents, status lists and the session keys (JWKS). Thin
handlers over ``api.credentials.service``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response, status
from fastapi.responses import JSONResponse

from api.auth import service as accounts
from api.auth.deps import (
    CurrentUser,
    OperatorUser,
    RevokerUser,
    VerifierUser,
    ensure_may_read_account,
)
from api.auth.schemas import AccountPublic
from api.auth.tokens import SessionKeys
from api.credentials import service
from api.credentials.schemas import (
    CredentialPublic,
    IssueRequest,
    MemberAdd,
    RevokeRequest,
    VerifierCreate,
    VerifierPublic,
    VerifyRequest,
    VerifyResponse,
)
from api.credentials.views import credential_public
from api.deps import ChainDep, SessionDep, SettingsDep
from api.errors import Forbidden, NotFound
from api.pagination import Page, PageParams, page_params
from api.qr import QrFormat, qr_response
from identity.did import DIDError, parse_pkh_did

verifiers_router = APIRouter(prefix="/verifiers", tags=["verifiers"])


@verifiers_router.post("", status_code=status.HTTP_201_CREATED)
def register_verifier(
    body: VerifierCreate,
    _operator: OperatorUser,
    session: SessionDep,
    settings: SettingsDep,
    chain: ChainDep,
) -> VerifierPublic:
    """A new verifier: its key (kept encrypted), did:web, and the verifier role on chain."""
    return VerifierPublic.model_validate(
        service.register_verifier(session, settings, chain, body.name)
    )


@verifiers_router.get("/{verifier_id}")
def get_verifier(verifier_id: str, session: SessionDep) -> VerifierPublic:
    """Public: who the verifier is, its DID and its attesting address."""
    return VerifierPublic.model_validate(service.get_verifier(session, verifier_id))


@verifiers_router.post("/{verifier_id}/members")
def add_member(
    verifier_id: str, body: MemberAdd, _operator: OperatorUser, session: SessionDep
) -> AccountPublic:
    """Let an account act for the verifier (it gets the verifier role)."""
    verifier = service.get_verifier(session, verifier_id)
    account = accounts.get_account(session, body.account_id)
    return AccountPublic.model_validate(service.add_member(session, verifier, account))


@verifiers_router.post("/{verifier_id}/deactivate")
def deactivate_verifier(
    verifier_id: str,
    _operator: OperatorUser,
    session: SessionDep,
    settings: SettingsDep,
    chain: ChainDep,
) -> VerifierPublic:
    """Withdraw the accreditation: the verifier role is revoked on chain and every attestation
    the verifier made stops counting at once (the token refuses those holders)."""
    verifier = service.get_verifier(session, verifier_id)
    return VerifierPublic.model_validate(
        service.deactivate_verifier(session, settings, chain, verifier)
    )


@verifiers_router.get(
    "/{verifier_id}/did.json",
    responses={200: {"content": {"application/did+json": {}}}},
)
def did_document(
    verifier_id: str, session: SessionDep, settings: SettingsDep, chain: ChainDep
) -> Any:
    """The verifier's did:web document: its signing key and its address on chain."""
    verifier = service.get_verifier(session, verifier_id)
    return JSONResponse(
        service.did_document(verifier, settings, chain.chain_id), media_type="application/did+json"
    )


router = APIRouter(prefix="/credentials", tags=["credentials"])


@router.post("/issue", status_code=status.HTTP_201_CREATED)
def issue(
    body: IssueRequest,
    user: VerifierUser,
    session: SessionDep,
    settings: SettingsDep,
    chain: ChainDep,
) -> CredentialPublic:
    """Verify a person: a signed credential, a status-list entry and an on-chain attestation."""
    credential = service.issue_credential(
        session,
        settings,
        chain,
        user,
        account_id=body.account_id,
        level=body.assurance_level,
        uniqueness_key=body.uniqueness_key,
        valid_days=body.valid_days,
        verified_at=body.verified_at,
    )
    return credential_public(credential)


@router.post("/verify")
def verify(
    body: VerifyRequest, session: SessionDep, settings: SettingsDep, chain: ChainDep
) -> VerifyResponse:
    """Anyone: is this credential verified? Signature, issuer, expiry, status list, chain."""
    result = service.verify(session, settings, chain, body.verifiableCredential)
    return VerifyResponse(
        verified=result.verified,
        checks=result.checks,
        errors=[e.as_problem() for e in result.errors],
        credential=result.credential if result.verified else None,
    )


@router.get("/{credential_id}")
def get_credential(credential_id: str, user: CurrentUser, session: SessionDep) -> CredentialPublic:
    return credential_public(service.get_credential_for(session, user, credential_id))


@router.post("/{credential_id}/revoke")
def revoke(
    credential_id: str,
    body: RevokeRequest,
    user: RevokerUser,
    session: SessionDep,
    settings: SettingsDep,
    chain: ChainDep,
) -> CredentialPublic:
    """The issuing verifier (or the operator) revokes: on chain and in the status list."""
    credential = service.revoke_credential(
        session, settings, chain, user, credential_id, body.reason
    )
    return credential_public(credential)


@router.get(
    "/{credential_id}/qr",
    response_class=Response,
    responses={200: {"content": {"image/png": {}, "image/svg+xml": {}}}},
)
def credential_qr(
    credential_id: str,
    user: CurrentUser,
    session: SessionDep,
    format: QrFormat = "png",
) -> Response:
    """The holder's credential (vc+jwt) as a QR code, for a verifier to scan and verify."""
    credential = service.get_credential_for(session, user, credential_id)
    if credential.account_id != user.id:
        raise Forbidden("only the holder presents the credential")
    return qr_response(credential.token, format)


identifiers_router = APIRouter(tags=["identifiers"])


@identifiers_router.get(
    "/status-lists/{verifier_id}",
    response_class=Response,
    responses={200: {"content": {"application/vc+jwt": {}}}},
)
def status_list(verifier_id: str, session: SessionDep, settings: SettingsDep) -> Response:
    """The verifier's revocation list (a BitstringStatusListCredential, signed, vc+jwt)."""
    verifier = service.get_verifier(session, verifier_id)
    token = service.status_list_credential(session, settings, verifier)
    return Response(token, media_type="application/vc+jwt", headers={"Cache-Control": "max-age=60"})


@identifiers_router.get("/identifiers/{did}")
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


@identifiers_router.get("/.well-known/jwks.json")
def jwks(settings: SettingsDep) -> dict[str, Any]:
    """Public keys that verify our session tokens (by ``kid``)."""
    return SessionKeys.from_settings(settings).jwks()


# An account's credentials, served under /accounts like the rest of the account.
accounts_router = APIRouter(prefix="/accounts", tags=["accounts"])
CredentialsPage = Annotated[PageParams, Depends(page_params(maximum=100, default=20))]


@accounts_router.get("/{account_id}/credentials")
def list_credentials(
    account_id: str, user: CurrentUser, session: SessionDep, page: CredentialsPage
) -> Page[CredentialPublic]:
    """The account's credentials, newest first."""
    ensure_may_read_account(user, account_id)
    return service.list_credentials(session, account_id, page).page(credential_public)
