"""Sign-up, sign-in (password or Sign-In with Ethereum), token refresh and sign-out."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from api.auth import service
from api.auth.deps import CurrentUser
from api.auth.models import Role
from api.auth.schemas import (
    AccountPublic,
    RefreshIn,
    SignIn,
    SignUp,
    SiweIn,
    SiweNonceOut,
    TokenPair,
)
from api.deps import ChainDep, SessionDep, SettingsDep

router = APIRouter(prefix="/auth", tags=["auth"])


def _pair(tokens: service.Tokens) -> TokenPair:
    return TokenPair(
        access_token=tokens.access_token,
        expires_in=tokens.expires_in,
        refresh_token=tokens.refresh_token,
        account_id=tokens.account_id,
    )


@router.post("/sign-up", status_code=status.HTTP_201_CREATED)
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
    responses={
        429: {"description": "Too many failed sign-ins for this email; wait `retry_after`."}
    },
)
def sign_in(body: SignIn, session: SessionDep, settings: SettingsDep) -> TokenPair:
    """Email and password; a short-lived access token and a rotating refresh token."""
    return _pair(service.sign_in(session, settings, body.email, body.password.get_secret_value()))


@router.post("/refresh")
def refresh(body: RefreshIn, session: SessionDep, settings: SettingsDep) -> TokenPair:
    """Trade a refresh token (once) for a new pair; a second use ends the whole session."""
    return _pair(service.refresh(session, settings, body.refresh_token))


@router.post("/sign-out", status_code=status.HTTP_204_NO_CONTENT)
def sign_out(body: RefreshIn, user: CurrentUser, session: SessionDep) -> Response:
    """End the session the refresh token belongs to."""
    service.sign_out(session, body.refresh_token, user.id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/siwe/nonce")
def siwe_nonce(session: SessionDep, settings: SettingsDep, chain: ChainDep) -> SiweNonceOut:
    """A single-use nonce for an EIP-4361 message (and the domain and chain it must name)."""
    nonce = service.new_siwe_nonce(session, settings)
    return SiweNonceOut(
        nonce=nonce.nonce,
        expires_at=nonce.expires_at,
        domain=settings.siwe_domain,
        chain_id=chain.chain_id,
    )


@router.post("/siwe")
def siwe_sign_in(
    body: SiweIn, session: SessionDep, settings: SettingsDep, chain: ChainDep
) -> TokenPair:
    """Sign in with a wallet; a first sign-in creates a self-custody citizen account."""
    return _pair(
        service.siwe_sign_in(session, settings, chain.chain_id, body.message, body.signature)
    )
