"""Verifier organisations: registered by the operator; their DID documents are public."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, status
from fastapi.responses import JSONResponse

from api.auth import service as accounts
from api.auth.deps import OperatorUser
from api.auth.schemas import AccountPublic
from api.credentials import service
from api.credentials.schemas import MemberAdd, VerifierCreate, VerifierPublic
from api.deps import ChainDep, SessionDep, SettingsDep

router = APIRouter(prefix="/verifiers", tags=["verifiers"])


@router.post("", status_code=status.HTTP_201_CREATED)
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


@router.get("/{verifier_id}")
def get_verifier(verifier_id: str, session: SessionDep) -> VerifierPublic:
    """Public: who the verifier is, its DID and its attesting address."""
    return VerifierPublic.model_validate(service.get_verifier(session, verifier_id))


@router.post("/{verifier_id}/members")
def add_member(
    verifier_id: str, body: MemberAdd, _operator: OperatorUser, session: SessionDep
) -> AccountPublic:
    """Let an account act for the verifier (it gets the verifier role)."""
    verifier = service.get_verifier(session, verifier_id)
    account = accounts.get_account(session, body.account_id)
    return AccountPublic.model_validate(service.add_member(session, verifier, account))


@router.post("/{verifier_id}/deactivate")
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


@router.get(
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
