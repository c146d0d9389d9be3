"""Auth endpoints: sign-up, sign-in (password and SIWE) and sessions; accounts, personal data
and wallets. Thin handlers over ``api.auth.service``."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Request, Response, status

from api.auth import service
from api.auth.deps import CurrentUser, ensure_may_change_account, ensure_may_read_account
from api.auth.models import Role
from api.auth.schemas import (
    AccountPublic,
    ErasureOut,
    PersonalDataIn,
    PersonalDataPublic,
    PlatformWalletCreate,
    RefreshIn,
    SignIn,
    SignUp,
    SiweIn,
    SiweNonceOut,
    TokenPair,
    WalletCreate,
    WalletPublic,
)
from api.deps import ChainDep, SessionDep, SettingsDep, throttle
from api.errors import NotFound
from api.qr import QrFormat, qr_response
from api.ratelimit import client_address

router = APIRouter(prefix="/auth", tags=["auth"])


def _pair(tokens: service.Tokens) -> TokenPair:
    return TokenPair(
        access_token=tokens.access_token,
        expires_in=tokens.expires_in,
        refresh_token=tokens.refresh_token,
        account_id=tokens.account_id,
    )


@router.post("/sign-up", status_code=status.HTTP_201_CREATED, dependencies=[throttle("sign_in")])
def sign_up(body: SignUp, session: SessionDep, settings: SettingsDep) -> AccountPublic:
    """Create a citizen or business account (personal data, if given, is encrypted)."""
    account = service.create_account(
        session,
        settings,
        email=body.email,
        password=body.password.get_secret_value(),
        role=Role(body.role),
        personal={"name": body.name, "phone": body.phone, "birth_date": body.birth_date},
    )
    return AccountPublic.model_validate(account)


@router.post(
    "/sign-in",
    dependencies=[throttle("sign_in")],
    responses={
        429: {
            "description": (
                "Too many attempts for this email from this client "
                "(`/problems/too-many-attempts`), or from this address "
                "(`/problems/too-many-requests`); wait `retry_after` seconds."
            )
        }
    },
)
def sign_in(
    body: SignIn, request: Request, session: SessionDep, settings: SettingsDep
) -> TokenPair:
    """Email and password; a short-lived access token and a rotating refresh token."""
    client = client_address(request.client and request.client.host)
    return _pair(
        service.sign_in(session, settings, body.email, body.password.get_secret_value(), client)
    )


@router.post("/refresh")
def refresh(body: RefreshIn, session: SessionDep, settings: SettingsDep) -> TokenPair:
    """Trade a refresh token (once) for a new pair; a second use ends the whole session."""
    return _pair(service.refresh(session, settings, body.refresh_token))


@router.post("/sign-out", status_code=status.HTTP_204_NO_CONTENT)
def sign_out(body: RefreshIn, user: CurrentUser, session: SessionDep) -> Response:
    """End the session the refresh token belongs to."""
    service.sign_out(session, body.refresh_token, user.id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/siwe/nonce", dependencies=[throttle("siwe_nonce")])
def siwe_nonce(session: SessionDep, settings: SettingsDep, chain: ChainDep) -> SiweNonceOut:
    """A single-use nonce for an EIP-4361 message (and the domain and chain it must name)."""
    nonce = service.new_siwe_nonce(session, settings)
    return SiweNonceOut(
        nonce=nonce.nonce,
        expires_at=nonce.expires_at,
        domain=settings.siwe_domain,
        chain_id=chain.chain_id,
    )


@router.post("/siwe", dependencies=[throttle("sign_in")])
def siwe_sign_in(
    body: SiweIn, session: SessionDep, settings: SettingsDep, chain: ChainDep
) -> TokenPair:
    """Sign in with a wallet; a first sign-in creates a self-custody citizen account."""
    return _pair(
        service.siwe_sign_in(session, settings, chain.chain_id, body.message, body.signature)
    )


accounts_router = APIRouter(prefix="/accounts", tags=["accounts"])


@accounts_router.get("/me")
def me(user: CurrentUser) -> AccountPublic:
    return AccountPublic.model_validate(user)


@accounts_router.get("/{account_id}")
def get_account(account_id: str, user: CurrentUser, session: SessionDep) -> AccountPublic:
    ensure_may_read_account(user, account_id)
    return AccountPublic.model_validate(service.get_account(session, account_id))


@accounts_router.get("/{account_id}/personal-data")
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


@accounts_router.put("/{account_id}/personal-data")
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


@accounts_router.delete("/{account_id}/personal-data")
def erase_personal_data(account_id: str, user: CurrentUser, session: SessionDep) -> ErasureOut:
    """Erase the person (crypto-shredding); credits and attestations stay valid."""
    ensure_may_change_account(user, account_id)
    return ErasureOut(erased_at=service.erase_personal_data(session, user))


@accounts_router.get("/{account_id}/wallet")
def get_wallet(account_id: str, user: CurrentUser, session: SessionDep) -> WalletPublic:
    ensure_may_read_account(user, account_id)
    wallet = service.get_wallet(session, account_id)
    if wallet is None:
        raise NotFound("the account has no wallet yet")
    return WalletPublic.model_validate(wallet)


@accounts_router.post("/{account_id}/wallet", status_code=status.HTTP_201_CREATED)
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
    if isinstance(body, PlatformWalletCreate):
        wallet = service.create_platform_wallet(session, settings, user)
    else:
        wallet = service.link_self_custody_wallet(
            session, settings, chain.chain_id, user, body.message, body.signature
        )
    return WalletPublic.model_validate(wallet)


@accounts_router.get(
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
