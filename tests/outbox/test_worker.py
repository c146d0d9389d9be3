"""The outbox worker finishes every chain write exactly once, whatever step a crash stopped at."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from eth_utils import keccak
from fastapi.testclient import TestClient
from hexbytes import HexBytes
from sqlalchemy.orm import Session, sessionmaker
from web3.types import TxReceipt

from api.app import create_app
from api.chain.errors import ChainRevert
from api.chain.gateway import ChainGateway, NonceManager, SignedTx
from api.db import make_engine, make_session_factory
from api.outbox.models import ChainTransaction, OutboxStatus
from api.outbox.service import enqueue
from api.outbox.worker import OutboxWorker
from api.settings import Settings
from tests.conftest import Accounts


@dataclass
class RecordingHandler:
    """Marks what a real handler would do: the business effect, once."""

    confirmed: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def already_applied(self, row: ChainTransaction, error: ChainRevert) -> bool:
        return error.error_name == "IssuanceBatchAlreadyIssued"

    def on_confirmed(
        self, session: Session, row: ChainTransaction, receipt: TxReceipt | None
    ) -> None:
        self.confirmed.append(row.key)

    def on_failed(self, session: Session, row: ChainTransaction, error: ChainRevert) -> None:
        self.failed.append(row.key)


@pytest.fixture
def sessions(migrated: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(migrated)
    yield make_session_factory(engine)
    engine.dispose()


@pytest.fixture
def handler() -> RecordingHandler:
    return RecordingHandler()


def make_worker(
    chain: ChainGateway,
    accounts: Accounts,
    sessions: sessionmaker[Session],
    handler: RecordingHandler,
) -> OutboxWorker:
    """A worker as a freshly started process has it: its own nonce counters."""
    chain.nonces = NonceManager(chain.w3)
    return OutboxWorker(
        sessions,
        chain,
        {"issuer": accounts.issuer, "operator": accounts.operator},
        {"test.batch": handler},
    )


def enqueue_batch(
    sessions: sessionmaker[Session],
    recipient: str,
    amount: int,
    *,
    batch: bytes | None = None,
    signer: str = "issuer",
) -> str:
    key = f"test-{uuid.uuid4().hex}"
    batch_id = batch or keccak(text=key)
    with sessions() as session, session.begin():
        enqueue(
            session,
            key=key,
            kind="test.batch",
            contract="Issuance",
            function="issueBatch",
            args=[batch_id, keccak(text="root"), [keccak(text="claim")], [recipient], [amount]],
            signer=signer,
        )
    return key


def row(sessions: sessionmaker[Session], key: str) -> ChainTransaction:
    with sessions() as session:
        found = session.query(ChainTransaction).filter_by(key=key).one()
        session.expunge(found)
        return found


def balance(chain: ChainGateway, account: str) -> int:
    return int(chain.contract("CRDAToken").functions.balanceOf(account).call())


def test_enqueued_write_is_sent_and_confirmed(
    chain: ChainGateway,
    accounts: Accounts,
    sessions: sessionmaker[Session],
    handler: RecordingHandler,
) -> None:
    key = enqueue_batch(sessions, accounts.alice.address, 700)
    make_worker(chain, accounts, sessions, handler).drain()
    done = row(sessions, key)
    assert done.status == OutboxStatus.confirmed
    assert done.tx_hash and done.block_number
    assert handler.confirmed == [key]
    assert balance(chain, accounts.alice.address) == 700


def test_enqueue_is_idempotent_on_its_key(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        first = enqueue(
            session, key="same", kind="k", contract="C", function="f", args=[b"\x01"], signer="x"
        )
        second = enqueue(
            session, key="same", kind="k", contract="C", function="f", args=[2], signer="x"
        )
        assert first.id == second.id
        assert second.args == ["0x01"]
        session.rollback()


@pytest.mark.parametrize(
    ("contract", "function", "args"),
    [
        ("NoSuch", "f", []),  # no such contract
        ("Issuance", "issueBatch", ["0x01"]),  # arguments that do not fit the function
    ],
)
def test_a_row_no_transaction_can_come_from_fails_without_blocking_the_queue(
    chain: ChainGateway,
    accounts: Accounts,
    sessions: sessionmaker[Session],
    handler: RecordingHandler,
    contract: str,
    function: str,
    args: list[Any],
) -> None:
    key = f"bad-{uuid.uuid4().hex}"
    with sessions() as session, session.begin():
        enqueue(
            session,
            key=key,
            kind="test.batch",
            contract=contract,
            function=function,
            args=args,
            signer="issuer",
        )
    good = enqueue_batch(sessions, accounts.alice.address, 10)
    make_worker(chain, accounts, sessions, handler).drain()
    assert (row(sessions, key).status, row(sessions, key).error_name) == (
        OutboxStatus.failed,
        "InvalidOutboxRow",
    )
    assert row(sessions, good).status == OutboxStatus.confirmed


def test_crash_after_signing_before_broadcast_sends_the_stored_transaction(
    chain: ChainGateway,
    accounts: Accounts,
    sessions: sessionmaker[Session],
    handler: RecordingHandler,
) -> None:
    key = enqueue_batch(sessions, accounts.alice.address, 300)
    crashed = make_worker(chain, accounts, sessions, handler)
    with sessions() as session, session.begin():  # sign and store, then "crash"
        pending = session.query(ChainTransaction).filter_by(key=key).one()
        crashed._sign(session, pending)
    stored_hash = row(sessions, key).tx_hash
    assert balance(chain, accounts.alice.address) == 0

    make_worker(chain, accounts, sessions, handler).drain()
    done = row(sessions, key)
    assert (done.status, done.tx_hash, done.attempts) == (OutboxStatus.confirmed, stored_hash, 1)
    assert balance(chain, accounts.alice.address) == 300


def test_crash_after_broadcast_before_receipt_is_not_sent_twice(
    chain: ChainGateway,
    accounts: Accounts,
    sessions: sessionmaker[Session],
    handler: RecordingHandler,
) -> None:
    key = enqueue_batch(sessions, accounts.alice.address, 400)
    crashed = make_worker(chain, accounts, sessions, handler)
    with sessions() as session, session.begin():
        pending = session.query(ChainTransaction).filter_by(key=key).one()
        signed = crashed._sign(session, pending)
    assert signed is not None
    chain.broadcast(signed)  # it left the process; the receipt was never recorded

    make_worker(chain, accounts, sessions, handler).drain()
    done = row(sessions, key)
    assert (done.status, done.tx_hash, done.attempts) == (OutboxStatus.confirmed, signed.tx_hash, 1)
    assert balance(chain, accounts.alice.address) == 400
    assert handler.confirmed == [key]


def test_a_stored_transaction_whose_nonce_was_taken_is_signed_again(
    chain: ChainGateway,
    accounts: Accounts,
    sessions: sessionmaker[Session],
    handler: RecordingHandler,
) -> None:
    key = enqueue_batch(sessions, accounts.alice.address, 500)
    crashed = make_worker(chain, accounts, sessions, handler)
    with sessions() as session, session.begin():
        pending = session.query(ChainTransaction).filter_by(key=key).one()
        lost = crashed._sign(session, pending)
    assert lost is not None
    # Another transaction of the same key takes that nonce before ours is ever broadcast.
    chain.nonces = NonceManager(chain.w3)
    token = chain.contract("CRDAToken")
    chain.transact(token.functions.approve(accounts.bob.address, 1), accounts.issuer)

    make_worker(chain, accounts, sessions, handler).drain()
    done = row(sessions, key)
    assert done.status == OutboxStatus.confirmed
    assert done.tx_hash != lost.tx_hash
    assert done.attempts == 2
    assert balance(chain, accounts.alice.address) == 500


def test_the_contract_guard_turns_a_duplicate_into_already_applied(
    chain: ChainGateway,
    accounts: Accounts,
    sessions: sessionmaker[Session],
    handler: RecordingHandler,
) -> None:
    batch = keccak(text=uuid.uuid4().hex)
    first = enqueue_batch(sessions, accounts.alice.address, 250, batch=batch)
    duplicate = enqueue_batch(sessions, accounts.alice.address, 250, batch=batch)
    make_worker(chain, accounts, sessions, handler).drain()
    assert row(sessions, first).status == OutboxStatus.confirmed
    again = row(sessions, duplicate)
    assert (again.status, again.error_name) == (
        OutboxStatus.confirmed,
        "IssuanceBatchAlreadyIssued",
    )
    assert balance(chain, accounts.alice.address) == 250


def test_a_write_the_chain_refuses_for_good_is_failed_with_its_reason(
    chain: ChainGateway,
    accounts: Accounts,
    sessions: sessionmaker[Session],
    handler: RecordingHandler,
) -> None:
    key = enqueue_batch(sessions, accounts.alice.address, 100, signer="operator")
    make_worker(chain, accounts, sessions, handler).drain()
    failed = row(sessions, key)
    assert (failed.status, failed.error_name) == (
        OutboxStatus.failed,
        "AccessControlUnauthorizedAccount",
    )
    assert handler.failed == [key]
    assert balance(chain, accounts.alice.address) == 0


def test_the_api_process_runs_the_worker_by_default(
    settings: Settings,
    deployment: object,
    chain: ChainGateway,
    accounts: Accounts,
    sessions: sessionmaker[Session],
) -> None:
    key = enqueue_batch(sessions, accounts.carol.address, 900)
    embedded = settings.model_copy(update={"run_workers": True, "worker_interval": 0.05})
    with TestClient(create_app(embedded)):
        deadline = time.monotonic() + 30
        while row(sessions, key).status != OutboxStatus.confirmed:
            assert time.monotonic() < deadline, "the embedded worker did not send the row"
            time.sleep(0.1)
    assert balance(chain, accounts.carol.address) == 900


def test_a_block_landing_between_the_receipt_and_nonce_reads_is_not_a_reason_to_resign(
    chain: ChainGateway,
    accounts: Accounts,
    sessions: sessionmaker[Session],
    handler: RecordingHandler,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The worker reads "no receipt yet", then the sender's mined nonce; when the row's own
    transaction is mined between those two reads, the nonce is taken by *it*: the worker must
    confirm that transaction, not sign a second one (which, for a write the contract does not
    deduplicate, would run twice)."""
    key = enqueue_batch(sessions, accounts.alice.address, 300)
    worker = make_worker(chain, accounts, sessions, handler)
    with sessions() as session, session.begin():
        stored = session.query(ChainTransaction).filter_by(key=key).one()
        assert worker._sign(session, stored) is not None
    signed = row(sessions, key)
    sent_before = chain.transaction_count(accounts.issuer.address)
    real_count = chain.transaction_count

    def count_after_a_block(address: str, block: str = "latest") -> int:
        # Between the worker's two reads, the stored transaction reaches a block.
        monkeypatch.setattr(chain, "transaction_count", real_count)
        assert signed.raw_tx and signed.tx_hash and signed.nonce is not None
        chain.broadcast(
            SignedTx(bytes.fromhex(signed.raw_tx[2:]), signed.tx_hash, signed.nonce, address, {})
        )
        assert chain.wait_for_receipt(HexBytes(signed.tx_hash)) is not None
        return real_count(address, block)

    monkeypatch.setattr(chain, "transaction_count", count_after_a_block)
    worker.drain()

    done = row(sessions, key)
    assert done.status == OutboxStatus.confirmed
    assert done.tx_hash == signed.tx_hash and done.attempts == 1
    assert handler.confirmed == [key]
    assert chain.transaction_count(accounts.issuer.address) == sent_before + 1
    assert balance(chain, accounts.alice.address) == 300


def test_with_database_nonces_a_crash_before_commit_spends_no_nonce_and_after_sends_once(
    settings: Settings,
    chain: ChainGateway,
    accounts: Accounts,
    sessions: sessionmaker[Session],
    handler: RecordingHandler,
) -> None:
    """The nonce is allocated in the row's own transaction: rolled back with it, stored with it."""
    platform = ChainGateway.connect(settings, sessions=sessions)
    signers = {"issuer": accounts.issuer}
    key = enqueue_batch(sessions, accounts.alice.address, 600)
    start = chain.transaction_count(accounts.issuer.address, "pending")

    class Crash(Exception):
        pass

    crashed = OutboxWorker(sessions, platform, signers, {"test.batch": handler})
    with pytest.raises(Crash), sessions() as session, session.begin():
        crashed._sign(session, session.query(ChainTransaction).filter_by(key=key).one())
        raise Crash  # the process dies before the commit: nothing stored, nothing allocated
    assert row(sessions, key).status == OutboxStatus.pending
    with sessions() as session, session.begin():  # sign and store, then "crash"
        crashed._sign(session, session.query(ChainTransaction).filter_by(key=key).one())
    stored = row(sessions, key)
    assert stored.nonce == start

    OutboxWorker(sessions, platform, signers, {"test.batch": handler}).drain()
    done = row(sessions, key)
    assert (done.status, done.tx_hash, done.attempts) == (OutboxStatus.confirmed, stored.tx_hash, 1)
    assert balance(chain, accounts.alice.address) == 600
