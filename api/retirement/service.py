"""Retiring credits for a holder without ETH, exactly once, and the certificate it yields.

Design (least privilege): the holder's custodial key signs an ERC-2771 ``ForwardRequest`` for
``CRDAToken.retire(amount, beneficiaryHash, reason)``; the relayer executes it through the
trusted Forwarder and pays the gas. The relayer holds no power over anyone's credits (the
token sees the holder as the caller only with the holder's signature), and the custodial key
never needs ETH or sends a transaction.

Exactly once: the signed request is written to the outbox (kind ``retirement``, signer
``relayer``) in the same database transaction as the certificate row and the idempotency
record. The outbox stores the relayer's signed transaction before broadcasting it, and the
Forwarder's per-holder nonce makes the request executable once at most: a second execution
reverts (``ERC2771ForwarderInvalidSigner``), which the handler recognises as already applied.
One retirement per holder is in flight at a time (the Forwarder's nonces are sequential).
"""

from __future__ import annotations

import secrets
import time
import uuid
from dataclasses import dataclass
from typing import Any

from eth_account.signers.local import LocalAccount
from hexbytes import HexBytes
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.auth import service as auth_service
from api.auth.deps import READ_ALL_ROLES
from api.auth.models import Account
from api.auth.secrets import envelope
from api.chain.addresses import checksum
from api.chain.eip712 import TypedDomain, sign_digest
from api.chain.gateway import ChainGateway
from api.errors import Forbidden, NotFound, problem
from api.market import ledger as market_ledger
from api.outbox.service import enqueue
from api.pagination import Page, PageParams, seek_rows
from api.retirement.certificates import (
    beneficiary_aad,
    beneficiary_hash,
    certificate_json,
    reason_hash,
    reason_salt,
)
from api.retirement.models import Certificate, CertificateStatus
from api.retirement.schemas import MyCertificate
from api.settings import Settings

RetirementInProgress = problem(
    409,
    "retirement-in-progress",
    "A retirement of this holder is still on its way to the chain",
    when=(
        "The holder has a retirement still on its way to the chain (one at a time per holder),"
        " or one was recorded while this one was being signed."
    ),
    show='"Your previous retirement is being recorded"; retry in a few seconds.',
)
NoPlatformWallet = problem(
    409,
    "no-platform-wallet",
    "Retiring through the API needs a platform-held wallet",
    when="The action signs with a platform-held wallet, and this account holds its own keys.",
    show="Ask the user to sign in their own wallet (or get a platform wallet at the desk).",
)

OUTBOX_KIND = "retirement"
# Gas the forwarded call may use (retire costs ~60k) and how long the signed request is valid.
FORWARD_GAS = 300_000
FORWARD_TTL = 24 * 3600

FORWARD_REQUEST_TYPES = {
    "ForwardRequest": [
        {"name": "from", "type": "address"},
        {"name": "to", "type": "address"},
        {"name": "value", "type": "uint256"},
        {"name": "gas", "type": "uint256"},
        {"name": "nonce", "type": "uint256"},
        {"name": "deadline", "type": "uint48"},
        {"name": "data", "type": "bytes"},
    ]
}


def sign_forward_request(
    chain: ChainGateway, signer: LocalAccount, to: str, data: str, nonce: int, deadline: int
) -> list[Any]:
    """A ``ForwardRequestData`` tuple (as JSON-ready values) signed with EIP-712 by ``signer``."""
    message = {
        "from": signer.address,
        "to": checksum(to),
        "value": 0,
        "gas": FORWARD_GAS,
        "nonce": nonce,
        "deadline": deadline,
        "data": HexBytes(data),
    }
    domain = TypedDomain("CRDA Forwarder", "1", chain.chain_id, chain.contract("Forwarder").address)
    signature = sign_digest(domain.digest("ForwardRequest", FORWARD_REQUEST_TYPES, message), signer)
    return [
        signer.address,
        message["to"],
        0,
        FORWARD_GAS,
        deadline,
        HexBytes(data).to_0x_hex(),
        HexBytes(signature).to_0x_hex(),
    ]


@dataclass(frozen=True)
class SignedRetirement:
    """A retirement ready to record: the holder's forward request, signed and simulated."""

    holder: str
    salt: str
    beneficiary_hash: str
    forward_nonce: int
    request: list[Any]


def sign_retirement(
    session: Session,
    settings: Settings,
    chain: ChainGateway,
    user: Account,
    *,
    amount: int,
    beneficiary: str,
    reason: str,
) -> SignedRetirement:
    """The chain part, before anything is written: simulate the burn as the holder and sign
    the forward request with the holder's custodial key (no database lock is held meanwhile)."""
    wallet = auth_service.get_wallet(session, user.id)
    if wallet is None:
        raise NotFound("the account has no wallet yet")
    if wallet.key_ciphertext is None:
        raise NoPlatformWallet("a self-custody wallet retires by calling retire() itself")
    holder = wallet.address.lower()
    salt = "0x" + secrets.token_bytes(32).hex()
    digest = beneficiary_hash(salt, beneficiary)
    # Only a salted commitment to the reason goes on chain (it may name a person).
    committed = reason_hash(reason_salt(salt), reason)
    token = chain.contract("CRDAToken")
    retire_fn = token.functions.retire(amount, HexBytes(digest), committed)
    # Simulate as the holder: not enough credits, paused, ... answer now, before any signing.
    chain.call(retire_fn, sender=checksum(holder))
    signer = auth_service.wallet_signer(session, settings, user.id)
    nonce = int(chain.call(chain.contract("Forwarder").functions.nonces(signer.address)))
    request = sign_forward_request(
        chain,
        signer,
        token.address,
        token.encode_abi("retire", [amount, HexBytes(digest), committed]),
        nonce,
        int(time.time()) + FORWARD_TTL,
    )
    return SignedRetirement(holder, salt, digest, nonce, request)


def retire(
    session: Session,
    settings: Settings,
    user: Account,
    signed: SignedRetirement,
    *,
    amount: int,
    beneficiary: str,
    reason: str,
    publish_beneficiary: bool,
) -> dict[str, Any]:
    """Record a signed retirement and its chain write; returns the pending certificate's JSON.

    Joins the caller's transaction: the endpoint runs it under the holder's Idempotency-Key,
    which commits the certificate, the outbox row, the ledger hold and the key together.
    """
    holder = signed.holder
    # The market lock first (the hold below posts under it anyway): a holder's retirements are
    # then recorded one after the other in any number of processes, and the checks below read
    # what the one before committed.
    market_ledger.lock_market(session)
    in_flight = session.scalar(
        select(Certificate.id).where(
            Certificate.holder == holder, Certificate.status == CertificateStatus.pending.value
        )
    )
    if in_flight is not None:
        raise RetirementInProgress(certificate_id=in_flight)
    # The forward request was signed with the Forwarder's nonce as read before this lock: a
    # retirement recorded meanwhile (already mined) used it, and the Forwarder would refuse
    # this one (ERC2771ForwarderInvalidSigner). Found by `crda chaos`; retry signs afresh.
    used = session.scalar(
        select(Certificate.id).where(
            Certificate.holder == holder,
            Certificate.forward_nonce >= signed.forward_nonce,
            Certificate.status != CertificateStatus.failed.value,
        )
    )
    if used is not None:
        raise RetirementInProgress(
            "a retirement of yours was recorded meanwhile; retry", certificate_id=used
        )
    row = enqueue(
        session,
        key=f"retirement:{holder}:{signed.forward_nonce}:{signed.beneficiary_hash}",
        kind=OUTBOX_KIND,
        contract="Forwarder",
        function="execute",
        args=[signed.request],
        signer="relayer",
    )
    certificate_id = str(uuid.uuid4())
    env = envelope(settings)
    data_key, wrapped = env.new_data_key()
    certificate = Certificate(
        id=certificate_id,
        account_id=user.id,
        holder=holder,
        amount=amount,
        beneficiary_ciphertext=env.encrypt(
            data_key, beneficiary.encode(), beneficiary_aad(certificate_id)
        ),
        beneficiary_data_key=wrapped,
        beneficiary_salt=signed.salt,
        beneficiary_hash=signed.beneficiary_hash,
        publish_beneficiary=publish_beneficiary,
        reason=reason,
        status=CertificateStatus.pending.value,
        forward_nonce=signed.forward_nonce,
        outbox_id=row.id,
    )
    session.add(certificate)
    session.flush()
    # The trading ledger holds the credits until the burn lands (none of them may be reserved
    # by an open sell order, or the order's settlement would fail).
    market_ledger.hold_for_retirement(session, holder, amount, f"retirement:{certificate_id}")
    return certificate_json(session, settings, certificate, include_private=True)


def my_certificates(
    session: Session, settings: Settings, user: Account, page: PageParams
) -> Page[MyCertificate]:
    """The caller's own certificates, newest first."""
    stmt = select(Certificate).where(Certificate.account_id == user.id)
    rows = seek_rows(
        session, "my-retirements", stmt, Certificate.created_at, Certificate.id, page, desc=True
    )
    return rows.page(
        lambda c: MyCertificate.model_validate(
            certificate_json(session, settings, c, include_private=True)
        )
    )


def get_certificate_for(session: Session, user: Account, certificate_id: str) -> Certificate:
    """The holder's own certificate (auditor and operator read any); anyone else gets 403
    whether or not it exists."""
    certificate = session.get(Certificate, certificate_id)
    reads_all = user.role in READ_ALL_ROLES
    if certificate is None or (certificate.account_id != user.id and not reads_all):
        if not reads_all:
            raise Forbidden("not your certificate")
        raise NotFound("no such certificate")
    return certificate


def certificate_by_serial(session: Session, serial: int) -> Certificate | None:
    return session.scalar(select(Certificate).where(Certificate.serial == serial))
