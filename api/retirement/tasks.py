"""Retirement's background work: completing a certificate when its forwarded retirement lands
(or fails), registered with the outbox as kind ``retirement``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hexbytes import HexBytes
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from web3.types import TxReceipt

from api.chain.addresses import checksum
from api.chain.errors import ChainRevert
from api.chain.gateway import ChainGateway
from api.market import ledger as market_ledger
from api.outbox.models import ChainTransaction
from api.outbox.worker import OutboxHandler
from api.retirement.models import Certificate, CertificateStatus
from api.retirement.service import OUTBOX_KIND
from api.settings import Settings


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
        holder = checksum(row.args[0][0])
        used = int(self.gateway.call(forwarder.functions.nonces(holder)))
        return requested is not None and used > requested and self._find_event(row) is not None

    def on_confirmed(
        self, session: Session, row: ChainTransaction, receipt: TxReceipt | None
    ) -> None:
        certificate = self._certificate(session, row)
        if certificate is None or self.gateway is None:
            return
        found: dict[str, Any] | None = None
        if receipt is not None:
            for event in self.gateway.receipt_events("CRDAToken", "Retired", receipt):
                if HexBytes(event["args"]["beneficiaryHash"]).to_0x_hex() == (
                    certificate.beneficiary_hash
                ):
                    found = dict(event)
        else:
            found = self._find_event(row)
        if found is None:
            self._fail(session, certificate, "RetiredEventMissing")
            return
        block = self.gateway.block(found["blockNumber"])
        certificate.status = CertificateStatus.confirmed.value
        market_ledger.record_retirement(
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
        market_ledger.release_retirement(
            session, certificate.holder, certificate.amount, f"retirement:{certificate.id}"
        )

    def _find_event(self, row: ChainTransaction) -> dict[str, Any] | None:
        """The Retired event of this row's request, searched on chain by holder and hash."""
        assert self.gateway is not None
        token = self.gateway.contract("CRDAToken")
        holder = checksum(row.args[0][0])
        digest = _request_beneficiary_hash(token, row)
        deployment = self.gateway.deployment
        start = deployment.contracts["CRDAToken"].block_number if deployment else 0
        for event in self.gateway.events(
            "CRDAToken", "Retired", argument_filters={"holder": holder}, from_block=start
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


def outbox_handlers(gateway: ChainGateway | None) -> dict[str, OutboxHandler]:
    """The outbox kinds retirement owns, for the platform's worker."""
    return {OUTBOX_KIND: RetirementHandler(gateway)}


def periodic_tasks(settings: Settings, sessions: sessionmaker[Session]) -> list[Callable[[], int]]:
    return []
