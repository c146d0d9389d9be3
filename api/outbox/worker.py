"""The outbox worker: sign, store, broadcast, confirm; finishing correctly after any crash.

Each row moves ``pending -> sent -> confirmed | failed``:
1. pending: simulate and sign, then store the raw transaction and its hash *before*
   broadcasting. The nonce is allocated in the same database transaction (with the gateway's
   database source), so a crash before that commit leaves the row pending, nothing sent and
   no nonce spent.
2. sent: broadcast the stored transaction (again, if need be: same nonce and hash, so it can
   be mined once at most), then look for its receipt. If the sender's nonce moved past ours
   without our hash being mined, the transaction can never be mined: sign it afresh.
3. mined: the kind's handler applies the business effect (e.g. marks claims issued) in the
   same database transaction that marks the row confirmed. A revert the handler recognises as
   "already applied" (a unique batch id used before) also confirms the row: the contract is
   the last guard against a double write.

Several processes may run the worker: one holds the loop's lease (``api/leases.py``) and
works, the others stand by. Every step's transaction renews the lease just before it commits
(``claim``), so a holder that lost it while paused rolls the step back instead of racing the
new holder (what it may have re-broadcast is its stored transaction: same hash, mined once).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any, Protocol

import structlog
from eth_account.signers.local import LocalAccount
from hexbytes import HexBytes
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker
from web3.exceptions import MismatchedABI, Web3ValidationError
from web3.types import TxReceipt

from api.chain.deployments import DeploymentMissing
from api.chain.errors import ChainRevert
from api.chain.gateway import ChainGateway, SignedTx
from api.db import durable
from api.errors import Problem
from api.leases import Lease, LeaseLost
from api.outbox.models import ChainTransaction, OutboxStatus

log = structlog.get_logger(__name__)


class OutboxHandler(Protocol):
    """What a kind of chain write does to the database when it lands or fails."""

    def already_applied(self, row: ChainTransaction, error: ChainRevert) -> bool: ...

    def on_confirmed(
        self, session: Session, row: ChainTransaction, receipt: TxReceipt | None
    ) -> None: ...

    def on_failed(self, session: Session, row: ChainTransaction, error: ChainRevert) -> None: ...


class PollingLoop:
    """``run_once`` until there is nothing to do (``drain``) or until stopped, resting
    ``interval`` seconds whenever a round found nothing."""

    unavailable_event = "worker_unavailable"

    def run_once(self) -> int:
        raise NotImplementedError

    def drain(self, max_rounds: int = 1000) -> None:
        """Run until nothing is due or open (tests and one-shot CLI runs)."""
        for _ in range(max_rounds):
            if self.run_once() == 0:
                return

    def run_forever(self, stop: threading.Event, interval: float = 0.2) -> None:
        while not stop.is_set():
            try:
                busy = self.run_once()
            except Problem as exc:  # chain or database away: try again later
                log.warning(self.unavailable_event, problem=exc.type, detail=exc.detail)
                busy = 0
            except OperationalError as exc:  # the database away, or a lock wait that ended
                log.warning(self.unavailable_event, error=type(exc.orig or exc).__name__)
                busy = 0
            if not busy:
                stop.wait(interval)

    def release(self) -> None:
        """A clean stop: give up whatever the loop holds (its lease)."""


class OutboxWorker(PollingLoop):
    unavailable_event = "outbox_unavailable"

    def __init__(
        self,
        sessions: sessionmaker[Session],
        gateway: ChainGateway,
        signers: Mapping[str, LocalAccount],
        handlers: Mapping[str, OutboxHandler] | None = None,
        *,
        confirmations: int = 0,
        batch_size: int = 50,
        lease: Lease | None = None,
    ) -> None:
        self.sessions = sessions
        self.gateway = gateway
        self.signers = signers
        self.handlers = dict(handlers or {})
        self.confirmations = confirmations
        self.batch_size = batch_size
        # When several processes run the worker: the lease each step's transaction renews.
        self.lease = lease

    def run_once(self) -> int:
        """Advance every open row one step as far as it goes now; returns rows touched."""
        with self.sessions() as session:
            ids = list(
                session.scalars(
                    select(ChainTransaction.id)
                    .where(ChainTransaction.status.in_([OutboxStatus.pending, OutboxStatus.sent]))
                    .order_by(ChainTransaction.id)
                    .limit(self.batch_size)
                )
            )
        try:
            for row_id in ids:
                self._advance(row_id)
        except LeaseLost:
            log.warning("outbox_lease_lost", holder=self.lease.holder if self.lease else None)
            return 0
        return len(ids)

    def _fence(self, session: Session) -> None:
        """Renew the lease in this step's transaction, or give the step up."""
        if self.lease is not None and not self.lease.claim(session):
            raise LeaseLost(self.lease.name)

    # -- one row -------------------------------------------------------------------------------

    def _advance(self, row_id: int) -> None:
        # Each step renews the lease as its last statement before committing (``_fence``):
        # no database lock is taken before the chain calls (the simulation, the receipt).
        with self.sessions() as session, session.begin():
            # The signed transaction, once committed, survives a power cut before it leaves.
            durable(session)
            row = session.get(ChainTransaction, row_id, with_for_update=True)
            if row is None:
                return
            if row.status == OutboxStatus.pending:
                signed = self._sign(session, row)
                self._fence(session)
                if signed is None:
                    return
        # Committed: the signed transaction is on disk before it leaves the process.
        with self.sessions() as session, session.begin():
            row = session.get(ChainTransaction, row_id, with_for_update=True)
            if row is None or row.status != OutboxStatus.sent:
                return
            self._follow(session, row)
            self._fence(session)

    def _sign(self, session: Session, row: ChainTransaction) -> SignedTx | None:
        try:
            signer = self.signers[row.signer]
            fn = self._function(row)
        except (
            KeyError,
            ValueError,
            TypeError,
            Web3ValidationError,
            MismatchedABI,
            DeploymentMissing,
        ) as exc:
            # A row no transaction can come from: fail it rather than block the queue.
            self._refused(session, row, ChainRevert("InvalidOutboxRow", detail=str(exc)), None)
            return None
        # A handler may name the gas (e.g. per fill of a batch): the write is then simulated once
        # with eth_call instead of the node's estimate, which runs it many times.
        gas_limit = getattr(self.handlers.get(row.kind), "gas_limit", None)
        gas = gas_limit(row) if callable(gas_limit) else None
        try:
            # The nonce is allocated in this transaction: it commits with the stored one.
            signed = self.gateway.sign(fn, signer, gas=gas, session=session)
        except ChainRevert as error:
            self._refused(session, row, error, None)
            return None
        row.status = OutboxStatus.sent
        row.sender = signed.sender
        row.nonce = signed.nonce
        row.tx_hash = signed.tx_hash
        row.raw_tx = "0x" + signed.raw.hex()
        row.attempts += 1
        log.info("outbox_signed", key=row.key, tx_hash=row.tx_hash, nonce=row.nonce)
        return signed

    def _follow(self, session: Session, row: ChainTransaction) -> None:
        assert row.tx_hash and row.raw_tx and row.sender is not None and row.nonce is not None
        receipt = self.gateway.receipt(row.tx_hash)
        if receipt is None:
            mined_nonce = self.gateway.transaction_count(row.sender, "latest")
            if mined_nonce > row.nonce:
                # Our nonce is used: by our own transaction (a block landed between the two
                # reads) or by another one. Re-sign only when ours provably cannot be mined.
                receipt = self.gateway.receipt(row.tx_hash)
                if receipt is None:
                    if self.gateway.transaction(row.tx_hash) is not None:
                        return  # the node has ours: its receipt will come
                    log.warning("outbox_resign", key=row.key, tx_hash=row.tx_hash)
                    row.status = OutboxStatus.pending
                    row.tx_hash = row.raw_tx = None
                    return
        if receipt is None:
            self.gateway.broadcast(
                SignedTx(bytes(HexBytes(row.raw_tx)), row.tx_hash, row.nonce, row.sender, {})
            )
            receipt = self.gateway.receipt(row.tx_hash)
            if receipt is None:
                return
        if receipt["blockNumber"] + self.confirmations > self.gateway.block_number():
            return
        row.block_number = receipt["blockNumber"]
        if receipt["status"] == 1:
            row.status = OutboxStatus.confirmed
            handler = self.handlers.get(row.kind)
            if handler is not None:
                handler.on_confirmed(session, row, receipt)
            log.info("outbox_confirmed", key=row.key, tx_hash=row.tx_hash)
            return
        error = self.gateway.revert_reason(receipt, self._function(row), row.sender)
        self._refused(session, row, error, receipt)

    def _refused(
        self,
        session: Session,
        row: ChainTransaction,
        error: ChainRevert,
        receipt: TxReceipt | None,
    ) -> None:
        handler = self.handlers.get(row.kind)
        row.error_name = error.error_name
        row.error_detail = error.detail
        if handler is not None and handler.already_applied(row, error):
            row.status = OutboxStatus.confirmed
            handler.on_confirmed(session, row, None)
            log.info("outbox_already_applied", key=row.key, error=error.error_name)
            return
        row.status = OutboxStatus.failed
        if handler is not None:
            handler.on_failed(session, row, error)
        log.warning("outbox_failed", key=row.key, error=error.error_name)

    def _function(self, row: ChainTransaction) -> Any:
        contract = self.gateway.contract(row.contract)
        return contract.functions[row.function](*row.args)
