"""A won deposit or withdrawal moves money once on chain, even when its outbox row is re-signed.

The settlement token refuses a mint or burn reference used before, and the outbox handlers take
that refusal (of this row's own reference, account and amount) as "already applied".
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import func, select

from api.market import service
from api.market.models import LedgerTransaction, TransferStatus, WonTransfer
from api.market.service import won_reference
from api.outbox.models import ChainTransaction, OutboxStatus
from tests.market.conftest import Harness


def outbox_row(h: Harness, kind: str) -> ChainTransaction:
    with h.sessions() as session:
        row = session.scalars(select(ChainTransaction).where(ChainTransaction.kind == kind)).one()
        session.expunge(row)
        return row


def re_sign(h: Harness, kind: str) -> None:
    """What the worker does when it wrongly concludes its transaction can never be mined."""
    with h.sessions() as session, session.begin():
        row = session.get(ChainTransaction, outbox_row(h, kind).id)
        assert row is not None
        row.status = OutboxStatus.pending
        row.tx_hash = row.raw_tx = None


def transfer(h: Harness, kind: str) -> WonTransfer:
    with h.sessions() as session:
        found = session.scalars(select(WonTransfer).where(WonTransfer.kind == kind)).one()
        session.expunge(found)
        return found


def ledger_postings(h: Harness, kind: str) -> int:
    with h.sessions() as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(LedgerTransaction)
                .where(LedgerTransaction.kind == kind)
            )
            or 0
        )


@contextmanager
def manual_mining(h: Harness) -> Iterator[None]:
    """Blocks are mined only when the test says so (transactions wait in the node's pool)."""
    w3 = h.chain.w3
    w3.provider.make_request("evm_setAutomine", [False])  # type: ignore[arg-type]
    try:
        yield
    finally:
        w3.provider.make_request("evm_setAutomine", [True])  # type: ignore[arg-type]


def mine(h: Harness) -> None:
    h.chain.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]


def test_a_deposit_re_signed_after_its_mint_was_mined_mints_once(harness: Harness) -> None:
    h, bob = harness, harness.accounts.bob.address
    h.attest(bob)
    h.deposit(bob, 50_000)
    first = outbox_row(h, "market.deposit")
    assert first.status == OutboxStatus.confirmed

    re_sign(h, "market.deposit")
    h.worker().drain()

    row = outbox_row(h, "market.deposit")
    assert row.status == OutboxStatus.confirmed
    assert row.error_name == "SettlementTokenReferenceUsed"
    assert h.won(bob) == 50_000
    assert transfer(h, "deposit").status == TransferStatus.confirmed
    assert ledger_postings(h, "deposit") == 1
    report = h.reconcile()
    assert report.ok, report.to_json()


def test_a_withdrawal_re_signed_after_its_burn_was_mined_burns_once(harness: Harness) -> None:
    h, bob = harness, harness.accounts.bob.address
    h.attest(bob)
    h.deposit(bob, 50_000)
    h.withdraw(bob, 20_000)
    assert outbox_row(h, "market.withdrawal").status == OutboxStatus.confirmed

    re_sign(h, "market.withdrawal")
    h.worker().drain()

    row = outbox_row(h, "market.withdrawal")
    assert row.status == OutboxStatus.confirmed
    assert h.won(bob) == 30_000
    assert transfer(h, "withdrawal").status == TransferStatus.confirmed
    report = h.reconcile()
    assert report.ok, report.to_json()


def test_both_sends_of_a_re_signed_deposit_mined_mint_once(harness: Harness) -> None:
    """The issue's race: the first transaction lands after the row was re-signed with the next
    nonce, so both are mined; the second reverts on chain and the row still confirms."""
    h, bob = harness, harness.accounts.bob.address
    h.attest(bob)
    h.deposit(bob, 50_000, drain=False)
    worker = h.worker()
    with manual_mining(h):
        worker.run_once()  # signed and broadcast; waiting in the pool
        first = outbox_row(h, "market.deposit")
        assert first.status == OutboxStatus.sent

        re_sign(h, "market.deposit")
        worker.run_once()  # signed again with the next nonce: both wait in the pool
        second = outbox_row(h, "market.deposit")
        assert second.tx_hash != first.tx_hash and second.nonce == (first.nonce or 0) + 1
        mine(h)
    worker.drain()

    assert h.chain.receipt(first.tx_hash or "")["status"] == 1
    assert h.chain.receipt(second.tx_hash or "")["status"] == 0
    row = outbox_row(h, "market.deposit")
    assert row.status == OutboxStatus.confirmed
    assert h.won(bob) == 50_000
    assert ledger_postings(h, "deposit") == 1
    report = h.reconcile()
    assert report.ok, report.to_json()


def test_a_reference_used_by_another_movement_is_a_real_failure(harness: Harness) -> None:
    """A used reference confirms the row only if its event moved this row's account and
    amount: the same bank reference minted elsewhere before fails the deposit, crediting nothing.
    """
    h, a = harness, harness.accounts
    h.attest(a.bob.address, a.carol.address)
    won = h.chain.contract("SettlementToken")
    h.platform.send(
        won.functions.mint(a.carol.address, 7, won_reference("deposit", "bank-used-before")),
        a.operator,
    )
    with h.sessions() as session, session.begin():
        service.deposit(session, h.ctx, a.bob.address, 50_000, "bank-used-before")
    h.worker().drain()

    row = outbox_row(h, "market.deposit")
    assert row.status == OutboxStatus.failed
    assert row.error_name == "SettlementTokenReferenceUsed"
    assert transfer(h, "deposit").status == TransferStatus.failed
    assert h.won(a.bob.address) == 0
    assert ledger_postings(h, "deposit") == 0


def test_the_reference_is_the_transfers_kind_and_bank_reference() -> None:
    deposit = won_reference("deposit", "bank-1")
    assert len(deposit) == 32
    assert deposit == won_reference("deposit", "bank-1")
    assert deposit != won_reference("withdrawal", "bank-1")
    assert deposit != won_reference("deposit", "bank-2")
