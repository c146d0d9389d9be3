"""An account's own records: profile, personal data, wallet, credentials.

Every route takes an account id and checks it: the account itself (or, for reads, the operator
and the auditor); anyone else gets 403 whether or not the id exists.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from api.auth import service
from api.auth.deps import CurrentUser, ensure_may_change_account, ensure_may_read_account
from api.auth.schemas import (
    AccountPublic,
    ErasureOut,
    PersonalDataIn,
    PersonalDataPublic,
    WalletCreate,
    WalletPublic,
)
from api.credentials import service as credentials
from api.credentials.schemas import CredentialPublic
from api.credentials.views import credential_public
from api.deps import ChainDep, SessionDep, SettingsDep
from api.errors import NotFound
from api.qr import QrFormat, qr_response

router = APIRouter(prefix="/accounts", tags=["accounts"])


@router.get("/me")
def me(user: CurrentUser) -> AccountPublic:
    return AccountPublic.model_validate(user)


@router.get("/{account_id}")
def get_account(account_id: str, user: CurrentUser, session: SessionDep) -> AccountPublic:
    ensure_may_read_account(user, account_id)
    return AccountPublic.model_validate(service.get_account(session, account_id))


@router.get("/{account_id}/personal-data")
def get_personal_data(
    account_id: str, user: CurrentUser, session: SessionDep, settings: SettingsDep
) -> PersonalDataPublic:
    """Only the person reads their own personal data."""
    ensure_may_change_account(user, account_id)
    values = service.get_personal_data(session, settings, user)
    birth = values["birth_date"]
    return PersonalDataPublic(
        name=values["name"],
        phone=values["phone"],
        birth_date=date.fromisoformat(birth) if birth else None,
        erased=user.erased_at is not None,
    )


@router.put("/{account_id}/personal-data")
def put_personal_data(
    account_id: str,
    body: PersonalDataIn,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
) -> PersonalDataPublic:
    ensure_may_change_account(user, account_id)
    service.set_personal_data(session, settings, user, body.model_dump())
    return get_personal_data(account_id, user, session, settings)


@router.delete("/{account_id}/personal-data")
def erase_personal_data(account_id: str, user: CurrentUser, session: SessionDep) -> ErasureOut:
    """Erase the person (crypto-shredding); credits and attestations stay valid."""
    ensure_may_change_account(user, account_id)
    return ErasureOut(erased_at=service.erase_personal_data(session, user))


@router.get("/{account_id}/wallet")
def get_wallet(account_id: str, user: CurrentUser, session: SessionDep) -> WalletPublic:
    ensure_may_read_account(user, account_id)
    wallet = service.get_wallet(session, account_id)
    if wallet is None:
        raise NotFound("the account has no wallet yet")
    return WalletPublic.model_validate(wallet)


@router.post("/{account_id}/wallet", status_code=status.HTTP_201_CREATED)
def create_wallet(
    account_id: str,
    body: WalletCreate,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    chain: ChainDep,
) -> WalletPublic:
    """A platform-held wallet, or a self-custody address proven with a signed SIWE message."""
    ensure_may_change_account(user, account_id)
    if body.custody == "platform":
        wallet = service.create_platform_wallet(session, settings, user)
    else:
        assert body.message and body.signature
        wallet = service.link_self_custody_wallet(
            session, settings, chain.chain_id, user, body.message, body.signature
        )
    return WalletPublic.model_validate(wallet)


@router.get(
    "/{account_id}/wallet/qr",
    response_class=Response,
    responses={200: {"content": {"image/png": {}, "image/svg+xml": {}}}},
)
def wallet_qr(
    account_id: str,
    user: CurrentUser,
    session: SessionDep,
    chain: ChainDep,
    format: QrFormat = "png",
) -> Response:
    """The receiving address as an EIP-681 URI (``ethereum:<address>@<chain id>``)."""
    ensure_may_change_account(user, account_id)
    wallet = service.get_wallet(session, account_id)
    if wallet is None:
        raise NotFound("the account has no wallet yet")
    return qr_response(f"ethereum:{wallet.address}@{chain.chain_id}", format)


@router.get("/{account_id}/credentials")
def list_credentials(
    account_id: str,
    user: CurrentUser,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=10_000)] = 0,
) -> list[CredentialPublic]:
    ensure_may_read_account(user, account_id)
    return [
        credential_public(c)
        for c in credentials.list_credentials(session, account_id, limit, offset)
    ]
