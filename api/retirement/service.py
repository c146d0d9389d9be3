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
from typing import Any

from eth_account.messages import encode_typed_data
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from hexbytes import HexBytes
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from web3 import Web3
from web3.logs import DISCARD
from web3.types import TxReceipt

from api import idempotency
from api.auth import service as auth_service
from api.auth.models import Account
from api.auth.secrets import envelope
from api.chain.errors import ChainRevert
from api.chain.gateway import ChainGateway
from api.errors import Forbidden, NotFound, problem
from api.market import service as market
from api.outbox.models import ChainTransaction
from api.outbox.service import enqueue
from api.retirement.models import Certificate, CertificateStatus
from api.settings import Settings

RetirementInProgress = problem(
    409, "retirement-in-progress", "A retirement of this holder is still on its way to the chain"
)
NoPlatformWallet = problem(
    409, "no-platform-wallet", "Retiring through the API needs a platform-held wallet"
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


def beneficiary_hash(salt: str, beneficiary: str) -> str:
    """The on-chain commitment to a beneficiary: keccak256 of a versioned salt and the name."""
    payload = f"crda-beneficiary-v1\n{salt.lower()}\n{beneficiary}".encode()
    return "0x" + keccak(payload).hex()


def beneficiary_aad(certificate_id: str) -> bytes:
    return f"certificates/{certificate_id}/beneficiary".encode()


def beneficiary_of(settings: Settings, certificate: Certificate) -> str:
    """The beneficiary's name, decrypted (never logged)."""
    env = envelope(settings)
    data_key = env.unwrap(certificate.beneficiary_data_key)
    plain = env.decrypt(
        data_key, certificate.beneficiary_ciphertext, beneficiary_aad(certificate.id)
    )
    return bytes(plain).decode()


def sign_forward_request(
    chain: ChainGateway, signer: LocalAccount, to: str, data: str, nonce: int, deadline: int
) -> list[Any]:
    """A ``ForwardRequestData`` tuple (as JSON-ready values) signed with EIP-712 by ``signer``."""
    forwarder = chain.contract("Forwarder")
    message = {
        "from": signer.address,
        "to": Web3.to_checksum_address(to),
        "value": 0,
        "gas": FORWARD_GAS,
        "nonce": nonce,
        "deadline": deadline,
        "data": HexBytes(data),
    }
    domain = {
        "name": "CRDA Forwarder",
        "version": "1",
        "chainId": chain.chain_id,
        "verifyingContract": forwarder.address,
    }
    signable = encode_typed_data(
        domain_data=domain, message_types=FORWARD_REQUEST_TYPES, message_data=message
    )
    signature = signer.sign_message(signable).signature
    return [
        signer.address,
        message["to"],
        0,
        FORWARD_GAS,
        deadline,
        HexBytes(data).to_0x_hex(),
        HexBytes(signature).to_0x_hex(),
    ]


def retire(
    session: Session,
    settings: Settings,
    chain: ChainGateway,
    user: Account,
    *,
    idempotency_key: str,
    amount: int,
    beneficiary: str,
    reason: str,
    publish_beneficiary: bool,
) -> tuple[int, dict[str, Any]]:
    """Record a retirement and its chain write; returns (status code, certificate JSON)."""
    from api.retirement.views import certificate_json

    scope = f"retirements:{user.id}"
    params = {
        "amount": amount,
        "beneficiary": beneficiary,
        "reason": reason,
        "publish_beneficiary": publish_beneficiary,
    }
    replay = idempotency.lookup(session, scope, idempotency_key, params)
    if replay is not None:
        return replay.status_code, replay.body
    wallet = auth_service.get_wallet(session, user.id)
    if wallet is None:
        raise NotFound("the account has no wallet yet")
    if wallet.key_ciphertext is None:
        raise NoPlatformWallet("a self-custody wallet retires by calling retire() itself")
    holder = wallet.address.lower()
    in_flight = session.scalar(
        select(Certificate.id).where(
            Certificate.holder == holder, Certificate.status == CertificateStatus.pending.value
        )
    )
    if in_flight is not None:
        raise RetirementInProgress(certificate_id=in_flight)
    salt = "0x" + secrets.token_bytes(32).hex()
    digest = beneficiary_hash(salt, beneficiary)
    token = chain.contract("CRDAToken")
    retire_fn = token.functions.retire(amount, HexBytes(digest), reason)
    # Simulate as the holder: not enough credits, paused, ... answer now, before any signing.
    chain.call(retire_fn, sender=Web3.to_checksum_address(holder))
    signer = auth_service.wallet_signer(session, settings, user.id)
    nonce = int(chain.call(chain.contract("Forwarder").functions.nonces(signer.address)))
    request = sign_forward_request(
        chain,
        signer,
        token.address,
        token.encode_abi("retire", [amount, HexBytes(digest), reason]),
        nonce,
        int(time.time()) + FORWARD_TTL,
    )
    row = enqueue(
        session,
        key=f"retirement:{holder}:{nonce}:{digest}",
        kind=OUTBOX_KIND,
        contract="Forwarder",
        function="execute",
        args=[request],
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
        beneficiary_salt=salt,
        beneficiary_hash=digest,
        publish_beneficiary=publish_beneficiary,
        reason=reason,
        status=CertificateStatus.pending.value,
        forward_nonce=nonce,
        outbox_id=row.id,
    )
    session.add(certificate)
    session.flush()
    # The trading ledger holds the credits until the burn lands (none of them may be reserved
    # by an open sell order, or the order's settlement would fail).
    market.hold_for_retirement(session, holder, amount, f"retirement:{certificate_id}")
    body = certificate_json(session, settings, certificate, include_private=True)
    idempotency.remember(session, scope, idempotency_key, params, 202, body)
    try:
        session.commit()
    except IntegrityError:
        # A concurrent twin with the same key committed first: nothing of ours was kept.
        session.rollback()
        replay = idempotency.lookup(session, scope, idempotency_key, params)
        if replay is None:
            raise
        return replay.status_code, replay.body
    return 202, body


def get_certificate_for(session: Session, user: Account, certificate_id: str) -> Certificate:
    """The holder's own certificate (auditor and operator read any); anyone else gets 403
    whether or not it exists."""
    from api.auth.deps import READ_ALL_ROLES

    certificate = session.get(Certificate, certificate_id)
    reads_all = user.role in READ_ALL_ROLES
    if certificate is None or (certificate.account_id != user.id and not reads_all):
        if not reads_all:
            raise Forbidden("not your certificate")
        raise NotFound("no such certificate")
    return certificate


def certificate_by_serial(session: Session, serial: int) -> Certificate | None:
    return session.scalar(select(Certificate).where(Certificate.serial == serial))


# -- the outbox handler ------------------------------------------------------------------------


class RetirementHandler:
    """Completes a certificate when its forwarded retirement lands (or fails)."""

    def __init__(self, gateway: ChainGateway | None) -> None:
        self.gateway = gateway

    def _certificate(self, session: Session, row: ChainTransaction) -> Certificate | None:
        return session.scalar(select(Certificate).where(Certificate.outbox_id == row.id))

    def already_applied(self, row: ChainTransaction, error: ChainRevert) -> bool:
        """The request's nonce is used: executed before (by an earlier send of this row)."""
        if self.gateway is None or error.error_name != "ERC2771ForwarderInvalidSigner":
            return False
        requested = _request_nonce(row)
        forwarder = self.gateway.contract("Forwarder")
        holder = Web3.to_checksum_address(row.args[0][0])
        used = int(forwarder.functions.nonces(holder).call())
        return requested is not None and used > requested and self._find_event(row) is not None

    def on_confirmed(
        self, session: Session, row: ChainTransaction, receipt: TxReceipt | None
    ) -> None:
        certificate = self._certificate(session, row)
        if certificate is None or self.gateway is None:
            return
        token = self.gateway.contract("CRDAToken")
        found: dict[str, Any] | None = None
        if receipt is not None:
            for event in token.events.Retired().process_receipt(receipt, errors=DISCARD):
                if HexBytes(event["args"]["beneficiaryHash"]).to_0x_hex() == (
                    certificate.beneficiary_hash
                ):
                    found = dict(event)
        else:
            found = self._find_event(row)
        if found is None:
            self._fail(session, certificate, "RetiredEventMissing")
            return
        block = self.gateway.w3.eth.get_block(found["blockNumber"])
        certificate.status = CertificateStatus.confirmed.value
        market.record_retirement(
            session, certificate.holder, certificate.amount, f"retirement:{certificate.id}"
        )
        certificate.serial = int(found["args"]["certificateId"])
        certificate.tx_hash = HexBytes(found["transactionHash"]).to_0x_hex()
        certificate.block_number = int(found["blockNumber"])
        certificate.log_index = int(found["logIndex"])
        certificate.retired_at = int(block["timestamp"])

    def on_failed(self, session: Session, row: ChainTransaction, error: ChainRevert) -> None:
        certificate = self._certificate(session, row)
        if certificate is not None:
            self._fail(session, certificate, error.error_name)

    @staticmethod
    def _fail(session: Session, certificate: Certificate, error_name: str | None) -> None:
        certificate.status = CertificateStatus.failed.value
        certificate.error_name = error_name
        market.release_retirement(
            session, certificate.holder, certificate.amount, f"retirement:{certificate.id}"
        )

    def _find_event(self, row: ChainTransaction) -> dict[str, Any] | None:
        """The Retired event of this row's request, searched on chain by holder and hash."""
        assert self.gateway is not None
        token = self.gateway.contract("CRDAToken")
        holder = Web3.to_checksum_address(row.args[0][0])
        digest = _request_beneficiary_hash(token, row)
        deployment = self.gateway.deployment
        start = deployment.contracts["CRDAToken"].block_number if deployment else 0
        for event in token.events.Retired().get_logs(
            argument_filters={"holder": holder}, from_block=start
        ):
            if HexBytes(event["args"]["beneficiaryHash"]).to_0x_hex() == digest:
                return dict(event)
        return None


def _request_nonce(row: ChainTransaction) -> int | None:
    key = row.key.split(":")
    return int(key[2]) if len(key) == 4 and key[2].isdigit() else None


def _request_beneficiary_hash(token: Any, row: ChainTransaction) -> str:
    _fn, args = token.decode_function_input(row.args[0][5])
    return HexBytes(args["beneficiaryHash"]).to_0x_hex()
