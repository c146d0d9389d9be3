"""A batch's credits posted at once leave the ledger as posting them one by one would."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select

from api.chain.addresses import checksum
from api.db import make_engine, make_session_factory
from api.market import ledger
from api.market.models import AccountKind, Asset, LedgerAccount, LedgerEntry, LedgerTransaction

ALICE = checksum("0x70997970c51812dc3a010c7d01b50e0d17dc79c8")
BOB = checksum("0x3c44cdddb6a900fa2b585dd299e03d12fa4293bc")
CAROL = checksum("0x90f79bf6eb2c4f870365e785982e1f87e8b6ec00")


def _ledger(url: str) -> tuple[dict[tuple[str, str], int], list[tuple[str, str, str, int, int]]]:
    """Balances by (owner, kind), and every entry (kind, reference, owner, amount, after)."""
    engine = make_engine(url)
    with make_session_factory(engine)() as session:
        balances = {
            (a.owner, a.kind): a.balance
            for a in session.scalars(
                select(LedgerAccount).where(LedgerAccount.asset == Asset.credits)
            )
        }
        entries = [
            (tx.kind, tx.reference, account.owner, entry.amount, entry.balance_after)
            for entry, tx, account in session.execute(
                select(LedgerEntry, LedgerTransaction, LedgerAccount)
                .join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.transaction_id)
                .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
                .order_by(LedgerEntry.id)
            )
        ]
    engine.dispose()
    return balances, entries


def test_credits_issued_to_many_holders_post_as_one_by_one(
    fresh_database: Callable[[], str],
) -> None:
    earlier = [(ALICE, 700, "issuance:0x01:a")]  # Alice holds credits already
    batch = [(ALICE, 250, "issuance:0x02:a"), (BOB, 40, "issuance:0x02:b"), (CAROL, 5, "x:c")]
    at_once, one_by_one = fresh_database(), fresh_database()
    for url, bulk in ((at_once, True), (one_by_one, False)):
        engine = make_engine(url)
        with make_session_factory(engine)() as session:
            ledger.record_credits_issued_to(session, earlier)
            session.commit()
            if bulk:
                ledger.record_credits_issued_to(session, batch)
            else:
                for address, grams, reference in batch:  # as each was posted before
                    ledger.lock_market(session)
                    move = ledger.Move(
                        Asset.credits,
                        (ledger.PLATFORM, AccountKind.external),
                        (address, AccountKind.available),
                        grams,
                    )
                    ledger.post(session, "issuance", reference, [move])
            session.commit()
        engine.dispose()
    balances, entries = _ledger(at_once)
    assert (balances, entries) == _ledger(one_by_one)
    assert balances[(ALICE, AccountKind.available)] == 950
    assert balances[("platform", AccountKind.external)] == -995
    assert entries[-2:] == [
        ("issuance", "x:c", "platform", -5, -995),
        ("issuance", "x:c", CAROL, 5, 5),
    ]
    with make_session_factory(make_engine(at_once))() as session:
        assert ledger.holdings(session, BOB, Asset.credits) == 40
