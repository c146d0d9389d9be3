"""Verifiers, verification (credential + attestation), revocation, status lists, resolution.

Issuing: the database rows are flushed first (the uniqueness key's unique index refuses a
second identity), then the attestation is sent (simulated first: a refusal costs nothing),
then the transaction commits. Revoking: the chain first, then the status list bit, in one
request; the verifier checks both, so a crash between them still reads as revoked.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from eth_account import Account as EthAccount
from eth_account.signers.local import LocalAccount
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.auth.models import Account, Role, Wallet
from api.auth.secrets import envelope, envelope_for
from api.auth.service import create_platform_wallet
from api.chain.addresses import checksum
from api.chain.deploy import VERIFIER_ROLE
from api.chain.gateway import ChainGateway
from api.chain.identity import IdentityReader
from api.credentials.models import Credential, Identity, Verifier
from api.errors import Forbidden, NotFound, problem
from api.i18n import msg
from api.pagination import PageParams, Rows, seek_rows
from api.settings import Settings
from api.timeutil import aware, utcnow
from identity import status_list
from identity.did import parse_pkh_did, pkh_did, verifier_document, web_did
from identity.issue import (
    StatusEntry,
    credential_hash,
    issue_identity_credential,
    issue_status_list_credential,
    signing_key,
)
from identity.verify import OnChainAttestation, VerificationResult, verify_credential

DuplicateIdentity = problem(
    409,
    "duplicate-identity",
    "Another account is already verified for this person",
    when=(
        "The verifier tried to verify a person whose uniqueness key already "
        "belongs to another account (one person, one identity)."
    ),
    show='At the desk: "This person is already verified on another account."',
)
IdentityMismatch = problem(
    409,
    "identity-mismatch",
    "The account is already verified as another person",
    when="The account is already verified as another person (a different uniqueness key).",
    show='At the desk: "This account belongs to someone else."',
)
NotVerifiable = problem(
    409,
    "not-verifiable",
    "This account cannot be verified",
    when="The account cannot be verified (staff accounts, erased accounts, no wallet yet).",
    show="Tell the citizen to finish setting up the account (create the wallet first).",
)
AlreadyRevoked = problem(
    409,
    "already-revoked",
    "The credential is already revoked",
    when="The credential was already revoked.",
    show="Show the credential as revoked.",
)
VerifierInactive = problem(
    403,
    "verifier-inactive",
    "The verifier organisation is not active",
    when="The verifier organisation's accreditation was withdrawn.",
    show='At the desk: "Your organisation can no longer verify."',
)
StatusListFull = problem(
    503,
    "status-list-full",
    "The verifier's status list is full",
    when="The verifier's revocation list has no free index (an operator problem).",
    show='"Temporarily unavailable"; the operator must act.',
)


# -- verifiers -------------------------------------------------------------------------------


def _key_aad(verifier_id: str) -> bytes:
    return f"verifiers/{verifier_id}/key".encode()


def verifier_signer(settings: Settings, verifier: Verifier) -> LocalAccount:
    return _verifier_signer(
        settings.master_key.get_secret_value(),
        verifier.id,
        verifier.key_ciphertext,
        verifier.wrapped_data_key,
    )


@lru_cache(maxsize=256)
def _verifier_signer(
    master_key: str, verifier_id: str, ciphertext: bytes, wrapped: bytes
) -> LocalAccount:
    env = envelope_for(master_key)
    key = env.decrypt(env.unwrap(wrapped), ciphertext, _key_aad(verifier_id))
    signer: LocalAccount = EthAccount.from_key(key)
    return signer


def register_verifier(
    session: Session, settings: Settings, chain: ChainGateway, name: str
) -> Verifier:
    """A verifier organisation: a new key, its did:web, the verifier role and gas money."""
    key = EthAccount.create()
    env = envelope(settings)
    data_key, wrapped = env.new_data_key()
    verifier_id = str(uuid.uuid4())
    verifier = Verifier(
        id=verifier_id,
        name=name,
        did=web_did(settings.public_url, "verifiers", verifier_id),
        address=key.address,
        key_ciphertext=env.encrypt(data_key, bytes(key.key), _key_aad(verifier_id)),
        wrapped_data_key=wrapped,
        active=True,
    )
    operator = EthAccount.from_key(settings.operator_key.get_secret_value())
    registry = chain.contract("IdentityRegistry")
    # The chain first, the row after: no database write is held while the node works (a new
    # key and id cannot clash with a stored verifier).
    chain.transact(registry.functions.grantRole(VERIFIER_ROLE, key.address), operator)
    if settings.verifier_gas_allowance:
        chain.send_value(operator, key.address, settings.verifier_gas_allowance)
    session.add(verifier)
    session.commit()
    return verifier


def get_verifier(session: Session, verifier_id: str) -> Verifier:
    verifier = session.get(Verifier, verifier_id)
    if verifier is None:
        raise NotFound("no such verifier")
    return verifier


def add_member(session: Session, verifier: Verifier, account: Account) -> Account:
    """Make ``account`` a verifier account acting for ``verifier``."""
    if account.erased_at is not None or account.role in (Role.operator.value, Role.auditor.value):
        raise Forbidden("this account cannot act for a verifier")
    if session.scalar(select(Identity).where(Identity.account_id == account.id)):
        raise Forbidden("a verified citizen account cannot act for a verifier")
    account.role = Role.verifier.value
    account.verifier_id = verifier.id
    session.commit()
    return account


def deactivate_verifier(
    session: Session, settings: Settings, chain: ChainGateway, verifier: Verifier
) -> Verifier:
    """Withdraw the accreditation: the role goes on chain, so its attestations stop counting."""
    if not verifier.active:
        return verifier
    operator = EthAccount.from_key(settings.operator_key.get_secret_value())
    registry = chain.contract("IdentityRegistry")
    chain.transact(registry.functions.revokeRole(VERIFIER_ROLE, verifier.address), operator)
    verifier.active = False
    session.commit()
    return verifier


def did_document(verifier: Verifier, settings: Settings, chain_id: int) -> dict[str, Any]:
    signer = verifier_signer(settings, verifier)
    return dict(_document(bytes(signer.key), verifier.did, verifier.address, chain_id))


@lru_cache(maxsize=256)
def _document(private_key: bytes, did: str, address: str, chain_id: int) -> dict[str, Any]:
    key = signing_key(private_key)
    return verifier_document(did, key.public_key(), chain_id, address)


def status_list_url(settings: Settings, verifier_id: str) -> str:
    return f"{settings.public_url.rstrip('/')}/status-lists/{verifier_id}"


# Signed status lists by (verifier, revoked indices): re-signed when a bit changes, or when
# half of the list's lifetime has passed.
_STATUS_TTL = 300
_status_cache: dict[str, tuple[str, float, str]] = {}
_status_lock = threading.Lock()


def status_list_credential(session: Session, settings: Settings, verifier: Verifier) -> str:
    revoked = sorted(
        session.scalars(
            select(Credential.status_index).where(
                Credential.verifier_id == verifier.id, Credential.revoked_at.is_not(None)
            )
        ).all()
    )
    fingerprint = hashlib.sha256(",".join(map(str, revoked)).encode()).hexdigest()
    now = time.monotonic()
    with _status_lock:
        cached = _status_cache.get(verifier.id)
    if cached and cached[0] == fingerprint and now - cached[1] < _STATUS_TTL / 2:
        return cached[2]
    signer = verifier_signer(settings, verifier)
    token = issue_status_list_credential(
        key=signing_key(bytes(signer.key)),
        issuer_did=verifier.did,
        list_url=status_list_url(settings, verifier.id),
        encoded_list=status_list.encode(revoked),
        issued_at=utcnow(),
        ttl_seconds=_STATUS_TTL,
    )
    with _status_lock:
        _status_cache[verifier.id] = (fingerprint, now, token)
    return token


# -- issuing ---------------------------------------------------------------------------------


def _acting_verifier(session: Session, user: Account) -> Verifier:
    if user.verifier_id is None:
        raise Forbidden("the account acts for no verifier")
    verifier = get_verifier(session, user.verifier_id)
    if not verifier.active:
        raise VerifierInactive()
    return verifier


def _free_status_index(session: Session, verifier_id: str) -> int:
    for _ in range(32):
        index = secrets.randbelow(status_list.MIN_SIZE)
        taken = session.scalar(
            select(Credential.id).where(
                Credential.verifier_id == verifier_id, Credential.status_index == index
            )
        )
        if taken is None:
            return index
    raise StatusListFull()


VerificationTimeInvalid = problem(
    422,
    "verification-time-invalid",
    "The verification time is in the future or too long ago",
    when=(
        "verified_at is later than now, or more than 7 days ago: a verifier records a check"
        " made at the desk, not a history."
    ),
    show='"Check the date of the identity check".',
)
BACKDATE_LIMIT = timedelta(days=7)


def _checked_at(verified_at: datetime | None) -> datetime:
    """When the person was checked: now, or a moment of the last 7 days the verifier states."""
    now = utcnow()
    if verified_at is None:
        return now
    if verified_at > now or now - verified_at > BACKDATE_LIMIT:
        raise VerificationTimeInvalid(
            msg(
                "verified_at {verified_at} is not within the 7 days before {now}",
                verified_at=verified_at.isoformat(),
                now=now.isoformat(),
            )
        )
    return verified_at


def issue_credential(
    session: Session,
    settings: Settings,
    chain: ChainGateway,
    user: Account,
    *,
    account_id: str,
    level: int,
    uniqueness_key: str,
    valid_days: int | None = None,
    verified_at: datetime | None = None,
) -> Credential:
    verifier = _acting_verifier(session, user)
    checked = _checked_at(verified_at)
    subject = session.get(Account, account_id)
    if subject is None:
        raise NotFound("no such account")
    if subject.erased_at is not None or subject.role not in (
        Role.citizen.value,
        Role.business.value,
    ):
        raise NotVerifiable("only citizen and business accounts are verified")

    identity = session.scalar(select(Identity).where(Identity.uniqueness_key == uniqueness_key))
    if identity is not None and identity.account_id != subject.id:
        raise DuplicateIdentity()
    own = session.scalar(select(Identity).where(Identity.account_id == subject.id))
    if own is not None and own.uniqueness_key != uniqueness_key:
        raise IdentityMismatch()
    try:
        if own is None:
            own = Identity(account_id=subject.id, uniqueness_key=uniqueness_key)
            session.add(own)
            session.flush()
        wallet = session.get(Wallet, subject.id) or create_platform_wallet(
            session, settings, subject, commit=False
        )
    except IntegrityError as exc:  # a concurrent verification of the same person
        session.rollback()
        raise DuplicateIdentity() from exc

    # The previous live credential of this account is superseded by the new one.
    now = utcnow()
    previous = session.scalars(
        select(Credential).where(
            Credential.account_id == subject.id, Credential.revoked_at.is_(None)
        )
    ).all()
    for old in previous:
        old.revoked_at = now
        old.revocation_reason = "superseded"

    days = valid_days or settings.credential_ttl_days
    valid_from = now.replace(microsecond=0)
    valid_until = valid_from + timedelta(days=days)
    credential_id = str(uuid.uuid4())
    index = _free_status_index(session, verifier.id)
    signer = verifier_signer(settings, verifier)
    subject_did = pkh_did(chain.chain_id, wallet.address)
    token = issue_identity_credential(
        key=signing_key(bytes(signer.key)),
        issuer_did=verifier.did,
        credential_id=f"urn:uuid:{credential_id}",
        subject_did=subject_did,
        level=level,
        valid_from=valid_from,
        valid_until=valid_until,
        status=StatusEntry(status_list_url(settings, verifier.id), index),
    )
    digest = credential_hash(token)
    credential = Credential(
        id=credential_id,
        identity_id=own.id,
        account_id=subject.id,
        verifier_id=verifier.id,
        level=level,
        subject_did=subject_did,
        token=token,
        credential_hash="0x" + digest.hex(),
        status_index=index,
        valid_from=valid_from,
        valid_until=valid_until,
    )
    session.add(credential)
    session.flush()
    registry = chain.contract("IdentityRegistry")
    # The nonce is allocated in this transaction, which has written already (on SQLite, one
    # of its own would wait for this one's write lock).
    attest = registry.functions.attestSince(
        wallet.address, digest, level, int(valid_until.timestamp()), int(checked.timestamp())
    )
    receipt = chain.transact(attest, signer, session=session)
    credential.attest_tx_hash = receipt["transactionHash"].to_0x_hex()
    session.commit()
    return credential


# -- reading and revoking --------------------------------------------------------------------


def get_credential_for(session: Session, user: Account, credential_id: str) -> Credential:
    """The credential, if ``user`` is its holder, a member of its verifier, operator or auditor."""
    credential = session.get(Credential, credential_id)
    if credential is None:
        if user.role in (Role.operator.value, Role.auditor.value):
            raise NotFound("no such credential")
        raise Forbidden("not your credential")
    allowed = (
        credential.account_id == user.id
        or (user.role == Role.verifier.value and user.verifier_id == credential.verifier_id)
        or user.role in (Role.operator.value, Role.auditor.value)
    )
    if not allowed:
        raise Forbidden("not your credential")
    return credential


def list_credentials(session: Session, account_id: str, page: PageParams) -> Rows[Credential]:
    """The account's credentials, newest first."""
    stmt = select(Credential).where(Credential.account_id == account_id)
    return seek_rows(
        session,
        "account-credentials",
        stmt,
        Credential.created_at,
        Credential.id,
        page,
        desc=True,
    )


def revoke_credential(
    session: Session,
    settings: Settings,
    chain: ChainGateway,
    user: Account,
    credential_id: str,
    reason: str,
) -> Credential:
    credential = session.get(Credential, credential_id)
    if user.role == Role.operator.value:
        if credential is None:
            raise NotFound("no such credential")
    elif credential is None or user.verifier_id != credential.verifier_id:
        raise Forbidden("only the issuing verifier or the operator revokes")
    if credential.revoked_at is not None:
        raise AlreadyRevoked()
    verifier = get_verifier(session, credential.verifier_id)
    wallet = session.get(Wallet, credential.account_id)
    assert wallet is not None
    registry = chain.contract("IdentityRegistry")
    on_chain = chain.call(registry.functions.attestationOf(wallet.address))
    if bytes(on_chain[4]).hex() == credential.credential_hash[2:] and not on_chain[3]:
        signer = (
            EthAccount.from_key(settings.operator_key.get_secret_value())
            if user.role == Role.operator.value
            else verifier_signer(settings, verifier)
        )
        receipt = chain.transact(registry.functions.revoke(wallet.address), signer)
        credential.revoke_tx_hash = receipt["transactionHash"].to_0x_hex()
    credential.revoked_at = utcnow()
    credential.revocation_reason = reason
    session.commit()
    return credential


def credential_state(credential: Credential) -> str:
    if credential.revoked_at is not None:
        return "revoked"
    if aware(credential.valid_until) <= utcnow():
        return "expired"
    return "active"


# -- verification by anyone ------------------------------------------------------------------


@dataclass
class LocalResolver:
    """Resolves the did:web of this deployment's verifiers (and only those)."""

    session: Session
    settings: Settings
    chain_id: int

    def resolve(self, did: str) -> dict[str, Any] | None:
        verifier = self.session.scalar(select(Verifier).where(Verifier.did == did))
        if verifier is None:
            return None
        return did_document(verifier, self.settings, self.chain_id)


@dataclass
class LocalStatusLists:
    """Dereferences this deployment's status list URLs."""

    session: Session
    settings: Settings

    def fetch(self, url: str) -> str | None:
        prefix = status_list_url(self.settings, "")
        if not url.startswith(prefix):
            return None
        verifier = self.session.get(Verifier, url[len(prefix) :])
        if verifier is None:
            return None
        return status_list_credential(self.session, self.settings, verifier)


class RegistryReader:
    """The identity registry as credential verification asks it (``identity.verify``'s
    ``ChainReader``), answered by the platform's one identity reader, never cached."""

    def __init__(self, chain: ChainGateway) -> None:
        self._identity = IdentityReader(chain)
        self.chain_id = chain.chain_id
        # Addresses seen holding the role during this verification (no second call for them).
        self._verifiers: set[str] = set()

    def attestation_of(self, address: str) -> OnChainAttestation | None:
        found = self._identity.attestation(address)
        if not found.exists:
            return None
        if found.live:  # isVerified holds only while the attesting address has the verifier role
            self._verifiers.add(found.verifier)
        return OnChainAttestation(
            found.verifier,
            found.level,
            found.expires_at,
            found.revoked,
            found.credential_hash,
            found.live,
        )

    def is_verifier(self, address: str) -> bool:
        address = checksum(address)
        return address in self._verifiers or self._identity.is_verifier(address)


def verify(
    session: Session, settings: Settings, chain: ChainGateway, token: str
) -> VerificationResult:
    return verify_credential(
        token,
        resolver=LocalResolver(session, settings, chain.chain_id),
        status_lists=LocalStatusLists(session, settings),
        chain=RegistryReader(chain),
    )


def subject_address(credential: Credential) -> str:
    return parse_pkh_did(credential.subject_did)[1]
