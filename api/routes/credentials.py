"""Credentials: issue (verifiers), verify (anyone), read, revoke, and a QR presentation."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from api.auth.deps import CurrentUser, RevokerUser, VerifierUser
from api.credentials import service
from api.credentials.schemas import (
    CredentialPublic,
    IssueRequest,
    RevokeRequest,
    VerifyRequest,
    VerifyResponse,
)
from api.credentials.views import credential_public
from api.deps import ChainDep, SessionDep, SettingsDep
from api.errors import Forbidden
from api.qr import QrFormat, qr_response

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
