"""``CurrentUser`` and role dependencies, and the object-level checks every route uses."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from api.auth.models import Account, Role, Wallet
from api.auth.schemas import Holder
from api.auth.tokens import InvalidAccessToken, decode_access_token
from api.db import HotRead
from api.deps import SessionDep, SettingsDep, StateDep
from api.errors import Forbidden, problem
from api.i18n import msg
from api.ratelimit import client_address
from api.settings import Settings
from api.state import AppState

InvalidToken = problem(
    401,
    "invalid-token",
    "The access token is not valid",
    when=(
        "The access token is missing, malformed, expired, signed by an unknown "
        "key, or its account was erased; `reason` says which."
    ),
    show="Refresh the tokens once (`/auth/refresh`); if that fails, go to sign-in.",
)

bearer = HTTPBearer(auto_error=False, description="An access token from /auth/sign-in")
BearerCredentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]

# Who may read any account's records (read-only for the auditor).
READ_ALL_ROLES = frozenset({Role.operator.value, Role.auditor.value})


def current_user(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    state: StateDep,
    credentials: BearerCredentials,
) -> Account:
    """The signed-in account (:func:`signed_in`), the read transaction ended so the
    connection goes back to the pool before the handler runs (sessions keep objects loaded on
    commit): a request never holds a connection while it waits for a worker thread or for a
    second connection (idempotency keys)."""
    account = signed_in(request, session, settings, state, credentials)
    session.commit()
    return account


def signed_in(
    request: Request,
    session: Session,
    settings: Settings,
    state: AppState,
    credentials: HTTPAuthorizationCredentials | None,
) -> Account:
    """The account the bearer token names (:func:`token_subject`), read on every request (one
    primary-key read), so an erasure or a role change made by any process counts from the
    next request. Plain code, not a dependency of its own: a dependency that also reads the
    database calls it in the same worker thread and session (one hop per request, not one per
    dependency)."""
    subject = token_subject(request, settings, state, credentials)
    account = session.get(Account, subject)
    if account is None or account.erased_at is not None:
        raise InvalidToken(reason="unknown-account")
    return account


_ROLE = HotRead(select(Account.role, Account.erased_at).where(Account.id == bindparam("id")))


def signed_in_role(
    request: Request,
    settings: Settings,
    state: AppState,
    credentials: HTTPAuthorizationCredentials | None,
) -> str:
    """The role of the account the bearer token names, checked exactly as :func:`signed_in`
    checks it (read on every request, erased or missing refused), without a session: for a
    read kept per process, whose whole request is then two or three primary-key reads."""
    subject = token_subject(request, settings, state, credentials)
    rows = _ROLE.rows(state.engine, id=subject)
    if not rows or rows[0][1] is not None:
        raise InvalidToken(reason="unknown-account")
    return str(rows[0][0])


def token_subject(
    request: Request,
    settings: Settings,
    state: AppState,
    credentials: HTTPAuthorizationCredentials | None,
) -> str:
    """The account id the bearer token names, the request counted against its limit
    (``rate_limit_account``: signed-in routes are limited per account, not per address, so
    phones behind one carrier address do not share a budget). A request without a valid token
    counts against its address's public limit, like any unauthenticated request.

    The token's signature is checked once per process (``api.auth.tokens``: remembered, its
    expiry checked every time); what can end a token early (the account erased, its role
    changed) is for the caller to read from the database, on every request."""
    anonymous = client_address(request.client and request.client.host)
    if credentials is None or credentials.scheme.lower() != "bearer":
        # Without a valid token the caller is anonymous: the public limit of its address.
        state.limiter.hit("public", anonymous)
        raise InvalidToken("no bearer token", reason="missing")
    try:
        claims = decode_access_token(settings, credentials.credentials)
    except InvalidAccessToken as exc:
        state.limiter.hit("public", anonymous)
        raise InvalidToken(reason=exc.reason) from exc
    state.limiter.hit("account", claims.subject)
    return claims.subject


CurrentUser = Annotated[Account, Depends(current_user)]


def require_roles(*roles: Role) -> Callable[[Account], Account]:
    allowed = frozenset(r.value for r in roles)

    def check(user: CurrentUser) -> Account:
        if user.role not in allowed:
            raise Forbidden(msg("needs the role {roles}", roles=" or ".join(sorted(allowed))))
        return user

    return check


OperatorUser = Annotated[Account, Depends(require_roles(Role.operator))]
VerifierUser = Annotated[Account, Depends(require_roles(Role.verifier))]
RevokerUser = Annotated[Account, Depends(require_roles(Role.verifier, Role.operator))]


def ensure_may_read_account(user: Account, account_id: str) -> None:
    """The account itself, the operator or the auditor; 403 otherwise (existence not revealed)."""
    if user.id != account_id and user.role not in READ_ALL_ROLES:
        raise Forbidden("not your account")


def ensure_may_change_account(user: Account, account_id: str) -> None:
    """Only the account itself changes its own records."""
    if user.id != account_id:
        raise Forbidden("not your account")


NoWallet = problem(
    409,
    "no-wallet",
    "The account has no wallet yet",
    when="The account has no wallet yet.",
    show="Offer to create the wallet (`POST /accounts/{id}/wallet`).",
)
HolderRoles = (Role.citizen, Role.business)


def current_holder(
    user: Annotated[Account, Depends(require_roles(*HolderRoles))], session: SessionDep
) -> Holder:
    """A citizen or business with its wallet address: who earns, holds, trades and retires."""
    wallet = session.get(Wallet, user.id)
    if wallet is None:
        raise NoWallet("get verified (or register a self-custody wallet) first")
    holder = Holder(address=wallet.address, account_id=user.id)
    session.commit()  # the connection goes back to the pool (see current_user)
    return holder


CurrentHolder = Annotated[Holder, Depends(current_holder)]
