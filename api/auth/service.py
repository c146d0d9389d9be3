"""Accounts, password and SIWE sign-in, refresh-token rotation, wallets, personal data.

Services commit their own transactions; every failure is a Problem raised before any write
(rate-limit bookkeeping and the revocation of a stolen refresh-token family excepted: those
writes are the defence).
"""

from __future__ import annotations

import hashlib
import math
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import siwe
from eth_account import Account as EthAccount
from eth_account.signers.local import LocalAccount
from sqlalchemy import case, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

import api.models  # noqa: F401  (every mapper, so accounts.verifier_id resolves alone)
from api.auth.models import (
    EVERY_CLIENT,
    Account,
    Custody,
    DataKey,
    PersonalData,
    RefreshToken,
    Role,
    SignInThrottle,
    SiweNonce,
    Wallet,
    new_id,
)
from api.auth.secrets import envelope, password_hasher
from api.auth.tokens import issue_access_token
from api.db import dialect_insert
from api.errors import NotFound, problem
from api.settings import Settings
from api.timeutil import aware, utcnow

InvalidCredentials = problem(
    401,
    "invalid-credentials",
    "The email or the password is wrong",
    when="Sign-in with an unknown email or a wrong password (the API does not say which).",
    show='"Email or password is wrong"; each failure counts towards the limit.',
)
TooManyAttempts = problem(
    429,
    "too-many-attempts",
    "Too many failed sign-ins; try again later",
    when=(
        "Too many sign-in attempts for this email from this client: each one past the free "
        "few waits twice as long as the last; `retry_after` (and `Retry-After`) in seconds. "
        "Another device is not held back by this one's attempts."
    ),
    show='"Too many attempts, try again in N seconds" (N from `retry_after`); keep the form.',
)
EmailTaken = problem(
    409,
    "email-taken",
    "An account with this email exists",
    when="Sign-up with an email that already has an account.",
    show='"This email already has an account" and offer sign-in.',
)
InvalidRefreshToken = problem(
    401,
    "invalid-refresh-token",
    "The refresh token is not valid",
    when="The refresh token is unknown, expired or its session ended (sign-out).",
    show="Go to sign-in.",
)
RefreshTokenReused = problem(
    401,
    "refresh-token-reused",
    "The refresh token was already used; every session of it ended",
    when="A refresh token was used twice: every session of that family is ended (possible theft).",
    show="Go to sign-in; say the session ended for safety.",
)
InvalidSiweMessage = problem(
    401,
    "invalid-siwe-message",
    "The Sign-In with Ethereum message is not valid",
    when=(
        "The Sign-In with Ethereum message or signature does not verify: wrong "
        "domain or chain, expired, nonce unknown or used; `reason` says which."
    ),
    show="Ask for a new nonce and let the wallet sign again.",
)
WalletExists = problem(
    409,
    "wallet-exists",
    "The account already has a wallet",
    when="The account already has a wallet.",
    show="Show the existing wallet (`GET /accounts/{id}/wallet`).",
)
AddressTaken = problem(
    409,
    "address-taken",
    "The address belongs to another account",
    when="The self-custody address is already linked to another account.",
    show='"This wallet belongs to another account."',
)
AccountErased = problem(
    409,
    "account-erased",
    "The account's personal data was erased",
    when="The account's personal data was erased; it cannot be changed or used to sign in.",
    show='"This account was closed."',
)

SELF_SERVICE_ROLES = (Role.citizen, Role.business)
# The sign-in throttle's clock, in seconds since the epoch (tests move it instead of waiting).
clock: Callable[[], float] = time.time
_DUMMY_HASH: str | None = None


@dataclass(frozen=True)
class Tokens:
    access_token: str
    expires_in: int
    refresh_token: str
    account_id: str


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _subject_hash(email: str) -> str:
    return hashlib.sha256(f"sign-in:{email}".encode()).hexdigest()


def normalise_email(email: str) -> str:
    return email.strip().lower()


# -- accounts --------------------------------------------------------------------------------


def create_account(
    session: Session,
    settings: Settings,
    *,
    email: str | None,
    password: str | None,
    role: Role,
    personal: dict[str, str | date | None] | None = None,
    verifier_id: str | None = None,
) -> Account:
    account = Account(
        id=new_id(),
        email=normalise_email(email) if email else None,
        password_hash=password_hasher().hash(password) if password else None,
        role=role.value,
        verifier_id=verifier_id,
    )
    session.add(account)
    try:
        session.flush()
    except IntegrityError as exc:
        session.rollback()
        raise EmailTaken() from exc
    if personal and any(v is not None for v in personal.values()):
        set_personal_data(session, settings, account, personal, commit=False)
    session.commit()
    return account


def staff_with_password(session: Session, password: str) -> list[str]:
    """The emails of the operator and auditor accounts that sign in with ``password`` (a
    published one, such as the demo's, must never guard staff outside local development)."""
    hasher = password_hasher()
    staff = session.scalars(
        select(Account).where(
            Account.role.in_((Role.operator.value, Role.auditor.value)),
            Account.password_hash.is_not(None),
        )
    )
    return [a.email or a.id for a in staff if hasher.verify(password, a.password_hash or "")]


def get_account(session: Session, account_id: str) -> Account:
    account = session.get(Account, account_id)
    if account is None:
        raise NotFound("no such account")
    return account


# -- sessions --------------------------------------------------------------------------------


def _issue_tokens(
    session: Session, settings: Settings, account: Account, family_id: str | None = None
) -> Tokens:
    access, ttl = issue_access_token(settings, account.id, account.role)
    refresh = secrets.token_urlsafe(32)
    session.add(
        RefreshToken(
            account_id=account.id,
            family_id=family_id or new_id(),
            token_hash=_hash_token(refresh),
            expires_at=utcnow() + timedelta(seconds=settings.refresh_token_ttl),
        )
    )
    session.commit()
    return Tokens(access, ttl, refresh, account.id)


def _client_hash(client: str) -> str:
    return hashlib.sha256(f"sign-in-client:{client}".encode()).hexdigest()


def sign_in(session: Session, settings: Settings, email: str, password: str, client: str) -> Tokens:
    """Email and password from ``client`` (its address, ``api.ratelimit.client_address``).

    Throttled per (email, client), never per email alone, so nobody can lock the owner of the
    right password out: see :func:`_admit_attempt`. Whether the password is right is checked
    only after the attempt was admitted (a refused attempt tells nothing).
    """
    global _DUMMY_HASH
    email = normalise_email(email)
    subject, client_hash = _subject_hash(email), _client_hash(client)
    now = clock()
    _admit_attempt(session, settings, subject, client_hash, now)
    account = session.scalar(select(Account).where(Account.email == email))
    # End the read before the slow hash: what follows writes first (SQLite refuses to turn a
    # stale read into a write while other sign-ins commit).
    session.commit()
    hasher = password_hasher()
    if account is None or account.password_hash is None or account.erased_at is not None:
        # Same work as a real check, so timing does not tell which emails exist.
        _DUMMY_HASH = _DUMMY_HASH or hasher.hash(secrets.token_hex(16))
        hasher.verify(password, _DUMMY_HASH)
        ok = False
    else:
        ok, new_hash = hasher.verify_and_update(password, account.password_hash)
        if ok and new_hash:
            account.password_hash = new_hash
    if not ok or account is None:
        _count_account_failure(session, settings, subject, now)
        session.commit()
        raise InvalidCredentials()
    session.execute(
        delete(SignInThrottle).where(
            SignInThrottle.subject_hash == subject, SignInThrottle.client_hash == client_hash
        )
    )
    return _issue_tokens(session, settings, account)


def _admit_attempt(
    session: Session, settings: Settings, subject: str, client_hash: str, now: float
) -> None:
    """Count an attempt of (email, client) before its password is checked, or refuse it.

    One conditional upsert counts it unless the client is held back (``blocked_until``), so
    attempts sent together are admitted one at a time: exactly ``sign_in_max_failures`` of
    a burst get through. From the free allowance on, each admitted attempt holds the client
    back ``sign_in_backoff_base * 2**(attempts - free)`` seconds (at most
    ``sign_in_backoff_max``). While the email's failures from every client exceed
    ``sign_in_account_budget`` (a spread-out guessing attack), a client that already tried
    gets one free attempt instead: it slows the attacker, and the owner, trying from a client
    of their own, is still let in (their first attempt is always admitted).
    """
    column = SignInThrottle.__table__.c
    quiet = column.last_at < now - settings.sign_in_window
    counted = session.execute(
        dialect_insert(session)(SignInThrottle)
        .values(
            subject_hash=subject, client_hash=client_hash, attempts=1, last_at=now, blocked_until=0
        )
        .on_conflict_do_update(
            index_elements=[column.subject_hash, column.client_hash],
            set_={
                "attempts": case((quiet, 1), else_=column.attempts + 1),
                "last_at": now,
                "blocked_until": case((quiet, 0.0), else_=column.blocked_until),
            },
            where=column.blocked_until <= now,
        )
        .returning(column.attempts)
    ).scalar_one_or_none()
    if counted is None:
        blocked_until = session.scalar(
            select(SignInThrottle.blocked_until).where(
                SignInThrottle.subject_hash == subject, SignInThrottle.client_hash == client_hash
            )
        )
        session.rollback()
        raise TooManyAttempts(retry_after=max(1, math.ceil((blocked_until or now) - now)))
    free = settings.sign_in_max_failures
    if counted > 1 and _account_failures(session, settings, subject, now) >= (
        settings.sign_in_account_budget
    ):
        free = 1
    if counted >= free:
        wait = min(
            settings.sign_in_backoff_max, settings.sign_in_backoff_base * 2 ** (counted - free)
        )
        session.execute(
            update(SignInThrottle)
            .where(
                SignInThrottle.subject_hash == subject, SignInThrottle.client_hash == client_hash
            )
            .values(blocked_until=now + wait)
        )
    session.commit()


def _account_failures(session: Session, settings: Settings, subject: str, now: float) -> int:
    failures = session.scalar(
        select(SignInThrottle.attempts).where(
            SignInThrottle.subject_hash == subject,
            SignInThrottle.client_hash == EVERY_CLIENT,
            SignInThrottle.last_at >= now - settings.sign_in_window,
        )
    )
    return int(failures or 0)


def _count_account_failure(session: Session, settings: Settings, subject: str, now: float) -> None:
    """One more failure of the email from any client; rows quiet for a window are deleted."""
    column = SignInThrottle.__table__.c
    quiet = column.last_at < now - settings.sign_in_window
    session.execute(
        dialect_insert(session)(SignInThrottle)
        .values(
            subject_hash=subject, client_hash=EVERY_CLIENT, attempts=1, last_at=now, blocked_until=0
        )
        .on_conflict_do_update(
            index_elements=[column.subject_hash, column.client_hash],
            set_={"attempts": case((quiet, 1), else_=column.attempts + 1), "last_at": now},
        )
    )
    session.execute(
        delete(SignInThrottle).where(
            SignInThrottle.last_at < now - settings.sign_in_window,
            SignInThrottle.blocked_until < now,
        )
    )


def refresh(session: Session, settings: Settings, refresh_token: str) -> Tokens:
    row = session.scalar(
        select(RefreshToken).where(RefreshToken.token_hash == _hash_token(refresh_token))
    )
    now = utcnow()
    if row is None or row.revoked_at is not None or aware(row.expires_at) <= now:
        raise InvalidRefreshToken()
    # Mark it used only if nobody did: a second use (even a concurrent one) is a reuse.
    used = session.execute(
        update(RefreshToken)
        .where(RefreshToken.id == row.id, RefreshToken.used_at.is_(None))
        .values(used_at=now)
    )
    if used.rowcount != 1:  # type: ignore[attr-defined]
        session.rollback()
        _revoke_family(session, row.family_id)
        session.commit()
        raise RefreshTokenReused()
    account = session.get(Account, row.account_id)
    if account is None or account.erased_at is not None:
        session.rollback()
        raise InvalidRefreshToken()
    return _issue_tokens(session, settings, account, family_id=row.family_id)


def _revoke_family(session: Session, family_id: str) -> None:
    session.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


def sign_out(session: Session, refresh_token: str, account_id: str) -> None:
    row = session.scalar(
        select(RefreshToken).where(RefreshToken.token_hash == _hash_token(refresh_token))
    )
    if row is None or row.account_id != account_id:
        raise InvalidRefreshToken()
    _revoke_family(session, row.family_id)
    session.commit()


# -- Sign-In with Ethereum -------------------------------------------------------------------


def new_siwe_nonce(session: Session, settings: Settings) -> SiweNonce:
    """A fresh nonce; expired ones are deleted on the way (the endpoint caps how many one
    client address gets, ``rate_limit_siwe_nonce`` and ``siwe_nonce_max_per_client``)."""
    now = utcnow()
    session.execute(delete(SiweNonce).where(SiweNonce.expires_at <= now))
    nonce = SiweNonce(
        nonce=siwe.generate_nonce(), expires_at=now + timedelta(seconds=settings.siwe_nonce_ttl)
    )
    session.add(nonce)
    session.commit()
    return nonce


def verify_siwe(
    session: Session, settings: Settings, chain_id: int, message: str, signature: str
) -> str:
    """The address that signed a valid message; the message's nonce is spent."""
    try:
        parsed = siwe.SiweMessage.from_message(message)
    except Exception as exc:
        raise InvalidSiweMessage(
            "the message is not an EIP-4361 message", reason="malformed"
        ) from exc
    if parsed.domain != settings.siwe_domain:
        raise InvalidSiweMessage("the message is for another domain", reason="domain")
    if parsed.chain_id != chain_id:
        raise InvalidSiweMessage("the message is for another chain", reason="chain")
    if parsed.expiration_time is None:
        raise InvalidSiweMessage("the message needs an expiration time", reason="expiry")
    now = utcnow()
    try:
        parsed.verify(signature, domain=settings.siwe_domain, timestamp=now)
    except siwe.ExpiredMessage as exc:
        raise InvalidSiweMessage("the message has expired", reason="expired") from exc
    except siwe.NotYetValidMessage as exc:
        raise InvalidSiweMessage("the message is not valid yet", reason="not-yet-valid") from exc
    except siwe.VerificationError as exc:
        raise InvalidSiweMessage(
            "the signature does not match the address", reason="signature"
        ) from exc
    spent = session.execute(
        update(SiweNonce)
        .where(
            SiweNonce.nonce == parsed.nonce,
            SiweNonce.used_at.is_(None),
            SiweNonce.expires_at > now,
        )
        .values(used_at=now)
    )
    if spent.rowcount != 1:  # type: ignore[attr-defined]
        session.rollback()
        raise InvalidSiweMessage("the nonce is unknown, expired or already used", reason="nonce")
    return str(parsed.address)


def siwe_sign_in(
    session: Session, settings: Settings, chain_id: int, message: str, signature: str
) -> Tokens:
    address = verify_siwe(session, settings, chain_id, message, signature)
    wallet = session.scalar(select(Wallet).where(Wallet.address == address))
    if wallet is not None:
        account = session.get(Account, wallet.account_id)
        assert account is not None
        if account.erased_at is not None:
            session.rollback()
            raise AccountErased()
    else:
        account = Account(id=new_id(), role=Role.citizen.value)
        session.add(account)
        session.flush()
        session.add(Wallet(account_id=account.id, address=address, custody=Custody.self.value))
    return _issue_tokens(session, settings, account)


# -- wallets ---------------------------------------------------------------------------------


def get_wallet(session: Session, account_id: str) -> Wallet | None:
    return session.get(Wallet, account_id)


def create_platform_wallet(
    session: Session, settings: Settings, account: Account, *, commit: bool = True
) -> Wallet:
    if session.get(Wallet, account.id) is not None:
        raise WalletExists()
    key = EthAccount.create()
    env = envelope(settings)
    data_key, wrapped = env.new_data_key()
    wallet = Wallet(
        account_id=account.id,
        address=key.address,
        custody=Custody.platform.value,
        key_ciphertext=env.encrypt(data_key, bytes(key.key), f"wallets/{account.id}/key".encode()),
        wrapped_data_key=wrapped,
    )
    session.add(wallet)
    session.flush()
    if commit:
        session.commit()
    return wallet


def link_self_custody_wallet(
    session: Session,
    settings: Settings,
    chain_id: int,
    account: Account,
    message: str,
    signature: str,
) -> Wallet:
    if session.get(Wallet, account.id) is not None:
        raise WalletExists()
    address = verify_siwe(session, settings, chain_id, message, signature)
    if session.scalar(select(Wallet).where(Wallet.address == address)) is not None:
        session.rollback()
        raise AddressTaken()
    wallet = Wallet(account_id=account.id, address=address, custody=Custody.self.value)
    session.add(wallet)
    session.commit()
    return wallet


def wallet_signer(session: Session, settings: Settings, account_id: str) -> LocalAccount:
    """The key of a platform-custody wallet, for the relayer flows (never leaves the process)."""
    wallet = session.get(Wallet, account_id)
    if wallet is None or wallet.key_ciphertext is None or wallet.wrapped_data_key is None:
        raise NotFound("no platform-held wallet")
    env = envelope(settings)
    data_key = env.unwrap(wallet.wrapped_data_key)
    key = env.decrypt(data_key, wallet.key_ciphertext, f"wallets/{account_id}/key".encode())
    signer: LocalAccount = EthAccount.from_key(key)
    return signer


# -- personal data ---------------------------------------------------------------------------

PERSONAL_FIELDS = ("name", "phone", "birth_date")


def _aad(account_id: str, field: str) -> bytes:
    return f"personal_data/{account_id}/{field}".encode()


def set_personal_data(
    session: Session,
    settings: Settings,
    account: Account,
    values: dict[str, str | date | None],
    *,
    commit: bool = True,
) -> None:
    if account.erased_at is not None:
        raise AccountErased()
    env = envelope(settings)
    row = session.get(PersonalData, account.id)
    data_key_row = session.get(DataKey, row.data_key_id) if row and row.data_key_id else None
    if data_key_row is None:
        data_key, wrapped = env.new_data_key()
        data_key_row = DataKey(id=new_id(), wrapped=wrapped)
        session.add(data_key_row)
        session.flush()
    else:
        data_key = env.unwrap(data_key_row.wrapped)
    if row is None:
        row = PersonalData(account_id=account.id)
        session.add(row)
    row.data_key_id = data_key_row.id
    for field in PERSONAL_FIELDS:
        value = values.get(field)
        if value is None:
            continue
        text = value.isoformat() if isinstance(value, date) else value
        setattr(row, field, env.encrypt(data_key, text.encode(), _aad(account.id, field)))
    row.updated_at = utcnow()
    if commit:
        session.commit()


def get_personal_data(
    session: Session, settings: Settings, account: Account
) -> dict[str, str | None]:
    row = session.get(PersonalData, account.id)
    empty: dict[str, str | None] = dict.fromkeys(PERSONAL_FIELDS)
    if row is None or row.data_key_id is None:
        return empty
    data_key_row = session.get(DataKey, row.data_key_id)
    if data_key_row is None:
        return empty
    env = envelope(settings)
    data_key = env.unwrap(data_key_row.wrapped)
    out = empty
    for field in PERSONAL_FIELDS:
        blob = getattr(row, field)
        if blob is not None:
            out[field] = env.decrypt(data_key, blob, _aad(account.id, field)).decode()
    return out


def erase_personal_data(session: Session, account: Account) -> datetime:
    """Crypto-shredding: delete the data key. Credits, wallet and attestations stay valid."""
    row = session.get(PersonalData, account.id)
    if row is not None and row.data_key_id is not None:
        session.execute(delete(DataKey).where(DataKey.id == row.data_key_id))
        row.data_key_id = None
    account.email = None
    account.password_hash = None
    account.erased_at = account.erased_at or utcnow()
    session.execute(
        update(RefreshToken)
        .where(RefreshToken.account_id == account.id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    session.commit()
    return account.erased_at
