"""A batch of postings (a settlement's fills) writes what posting them one by one would write."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from api.market import ledger
from api.market.ledger import PLATFORM, InsufficientBalance, Move
from api.market.models import AccountKind, Asset, LedgerAccount, LedgerEntry, LedgerTransaction

# ruff: noqa: E501  (the postings read best one to a line)
pytestmark = pytest.mark.database

A, B, C = ("0x" + f"{i:040x}" for i in (0xA, 0xB, 0xC))
ESCROW, AVAILABLE, EXTERNAL = AccountKind.escrow, AccountKind.available, AccountKind.external


def _fund(session: Session, owner: str, asset: Asset, amount: int) -> None:
    ledger.post(
        session,
        "deposit",
        f"fund-{owner}-{asset}",
        [Move(asset, (PLATFORM, EXTERNAL), (owner, ESCROW), amount)],
    )


def _postings() -> list[tuple[str, list[Move]]]:
    """Fills between three traders: A's credit escrow only debited (summed: one update), B's
    available credits and the available won of A and C moved both ways (move by move)."""
    credits, won = Asset.credits, Asset.won
    return [
        ("f1", [Move(credits, (A, ESCROW), (B, AVAILABLE), 3_000), Move(won, (B, ESCROW), (A, AVAILABLE), 30)]),
        ("f2", [Move(credits, (A, ESCROW), (C, AVAILABLE), 2_000), Move(won, (C, ESCROW), (A, AVAILABLE), 20)]),
        ("f3", [Move(won, (C, AVAILABLE), (B, AVAILABLE), 5)]),
        ("f4", [Move(won, (A, AVAILABLE), (C, AVAILABLE), 7), Move(credits, (A, ESCROW), (B, AVAILABLE), 0)]),
        ("f5", [Move(credits, (B, AVAILABLE), (C, ESCROW), 1_000)]),
    ]  # fmt: skip


def _written(session: Session) -> list[tuple[str, str, str, str, int, int]]:
    """Every entry of the postings, in id order: (reference, owner, asset, kind, amount, after)."""
    rows = session.execute(
        select(
            LedgerTransaction.reference,
            LedgerAccount.owner,
            LedgerAccount.asset,
            LedgerAccount.kind,
            LedgerEntry.amount,
            LedgerEntry.balance_after,
        )
        .join(LedgerTransaction, LedgerEntry.transaction_id == LedgerTransaction.id)
        .join(LedgerAccount, LedgerEntry.account_id == LedgerAccount.id)
        .where(LedgerTransaction.kind == "fill")
        .order_by(LedgerEntry.id)
    )
    return [(r[0], r[1], str(r[2]), str(r[3]), r[4], r[5]) for r in rows]


def _balances(session: Session) -> dict[tuple[str, str, str], int]:
    return {
        (a.owner, str(a.asset), str(a.kind)): a.balance
        for a in session.scalars(select(LedgerAccount))
    }


def _setup(session: Session) -> None:
    _fund(session, A, Asset.credits, 10_000)
    _fund(session, B, Asset.won, 100)
    _fund(session, C, Asset.won, 100)
    ledger.post(
        session, "deposit", "c-available", [Move(Asset.won, (C, ESCROW), (C, AVAILABLE), 10)]
    )


def test_a_batch_writes_what_one_by_one_writes(sessions: sessionmaker[Session]) -> None:
    with sessions() as session, session.begin():
        _setup(session)
        for reference, moves in _postings():
            ledger.post(session, "fill", reference, moves)
        session.flush()
        one_by_one, balances = _written(session), _balances(session)
        session.rollback()
    with sessions() as session, session.begin():
        _setup(session)
        ledger.post_many(session, "fill", _postings())
        session.flush()
        assert _written(session) == one_by_one
        assert _balances(session) == balances
        session.rollback()


def test_a_batch_that_overdraws_an_account_is_refused(sessions: sessionmaker[Session]) -> None:
    with sessions() as session, session.begin():
        _setup(session)
        overdraw = [
            ("g1", [Move(Asset.credits, (A, ESCROW), (B, AVAILABLE), 6_000)]),
            ("g2", [Move(Asset.credits, (A, ESCROW), (C, AVAILABLE), 6_000)]),  # 12,000 > 10,000
        ]
        with pytest.raises(InsufficientBalance):
            ledger.post_many(session, "fill", overdraw)
        session.rollback()
