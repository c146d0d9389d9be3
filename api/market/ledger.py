"""The double-entry ledger: every movement is a balanced transaction; balances never go negative.

This is the market's public interface for the other domains: earning posts credits issued
(:func:`record_credits_issued`), retirement holds, burns and releases credits
(:func:`hold_for_retirement`, :func:`record_retirement`, :func:`release_retirement`). Each joins
the caller's transaction (they are posted together with the caller's own change).

Each holder (chain address) has per asset an ``available``, an ``escrow`` and a ``withdrawing``
account; the ``external`` account of the platform stands for the world outside the ledger
(won deposited or withdrawn, credits issued or retired) and is the only one that may go
negative. A debit is one conditional ``UPDATE ... WHERE balance >= amount``: two concurrent
debits can never both pass on a balance that covers only one, on SQLite or PostgreSQL, and a
CHECK constraint backs it up.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import accumulate

from sqlalchemy import bindparam, select, tuple_, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from api.chain.addresses import checksum
from api.errors import problem
from api.i18n import msg
from api.market.models import (
    AccountKind,
    Asset,
    LedgerAccount,
    LedgerEntry,
    LedgerTransaction,
    MarketState,
)

PLATFORM = "platform"

InsufficientBalance = problem(
    409,
    "insufficient-balance",
    "Not enough balance",
    when="Not enough credits for the transfer, order or retirement.",
    show='"Not enough credits" with the current balance.',
)


@dataclass(frozen=True)
class Move:
    """``amount`` of ``asset`` from one account to another (both named by owner and kind)."""

    asset: Asset
    source: tuple[str, AccountKind]
    target: tuple[str, AccountKind]
    amount: int


def account(session: Session, owner: str, asset: Asset, kind: AccountKind) -> LedgerAccount:
    """The account, created on first use (callers hold the market lock, so no twin is made)."""
    cache: dict[tuple[str, str, str], LedgerAccount] = session.info.setdefault("ledger", {})
    cached = cache.get((owner, asset, kind))
    if cached is not None and cached in session:  # gone after a rollback: look it up again
        return cached
    found = session.scalar(
        select(LedgerAccount).where(
            LedgerAccount.owner == owner, LedgerAccount.asset == asset, LedgerAccount.kind == kind
        )
    )
    if found is None:
        found = LedgerAccount(owner=owner, asset=asset, kind=kind, balance=0)
        session.add(found)
        session.flush()
    cache[(owner, asset, kind)] = found
    return found


def _load_accounts(session: Session, keys: set[tuple[str, Asset, AccountKind]]) -> None:
    """Put the existing accounts among ``keys`` into the session's cache in one query (what
    :func:`account` then finds there; the missing ones it creates)."""
    cache: dict[tuple[str, str, str], LedgerAccount] = session.info.setdefault("ledger", {})
    wanted = [k for k in keys if (c := cache.get(k)) is None or c not in session]
    if len(wanted) < 2:
        return  # one look-up: account() makes it
    for found in session.scalars(
        select(LedgerAccount).where(
            tuple_(LedgerAccount.owner, LedgerAccount.asset, LedgerAccount.kind).in_(wanted)
        )
    ):
        cache[(found.owner, found.asset, found.kind)] = found


def post(session: Session, kind: str, reference: str, moves: list[Move]) -> LedgerTransaction:
    """Record ``moves`` as one balanced transaction; raise ``InsufficientBalance`` (and change
    nothing the caller does not roll back) when a holder account would go negative."""
    return post_many(session, kind, [(reference, moves)])[0]


def post_many(
    session: Session, kind: str, postings: list[tuple[str, list[Move]]]
) -> list[LedgerTransaction]:
    """Record each ``(reference, moves)`` as a balanced transaction of ``kind``, in order: the
    rows :func:`post` would write one by one, in a few statements (a settlement batch's fills).

    Each account's moves are summed and applied by one conditional ``UPDATE`` when they all go
    the same way (debits only: their sum is covered exactly when each one is, in turn); an
    account moved both ways is applied move by move, in order, as one posting would be. Each
    entry's ``balance_after`` is the account's balance right after that entry, as if posted
    alone. ``InsufficientBalance`` as :func:`post`.
    """
    txs = [LedgerTransaction(kind=kind, reference=reference) for reference, _ in postings]
    session.add_all(txs)
    session.flush()
    _load_accounts(
        session,
        {
            (side[0], move.asset, side[1])
            for _, moves in postings
            for move in moves
            for side in (move.source, move.target)
        },
    )
    # Per account, its (position, transaction, amount) in posting order.
    moved: dict[int, tuple[LedgerAccount, list[tuple[int, LedgerTransaction, int]]]] = {}
    position = 0
    for tx, (_, moves) in zip(txs, postings, strict=True):
        for move in moves:
            if move.amount < 0:
                raise ValueError("a move's amount is never negative")
            if move.amount == 0:
                continue
            for (owner, kind_of), amount in (
                (move.source, -move.amount),
                (move.target, move.amount),
            ):
                acct = account(session, owner, move.asset, kind_of)
                moved.setdefault(acct.id, (acct, []))[1].append((position, tx, amount))
                position += 1
    entries: list[tuple[int, LedgerEntry]] = []
    for acct, items in moved.values():
        amounts = [amount for _, _, amount in items]
        if len(items) > 1 and (all(a < 0 for a in amounts) or all(a > 0 for a in amounts)):
            total = sum(amounts)
            afters = list(accumulate(amounts, initial=_apply(session, acct, total) - total))[1:]
        else:
            afters = [_apply(session, acct, amount) for amount in amounts]
        for (place, tx, amount), after in zip(items, afters, strict=True):
            entry = LedgerEntry(
                transaction_id=tx.id, account_id=acct.id, amount=amount, balance_after=after
            )
            entries.append((place, entry))
    # After the balance updates, in posting order: inserted together, at the next flush.
    session.add_all([entry for _, entry in sorted(entries, key=lambda e: e[0])])
    return txs


# Built once (a statement built per call costs more than the query it sends): add :amount to
# an account; the holder's debit only while the balance covers it.
_CREDIT = (
    update(LedgerAccount)
    .where(LedgerAccount.id == bindparam("account"))
    .values(balance=LedgerAccount.balance + bindparam("amount"))
    .returning(LedgerAccount.balance)
    .execution_options(synchronize_session=False)
)
_DEBIT = _CREDIT.where(LedgerAccount.balance >= bindparam("needed"))


def _apply(session: Session, acct: LedgerAccount, amount: int) -> int:
    """Add ``amount`` to the account (a holder's debit only while covered); its new balance."""
    guarded = amount < 0 and acct.kind != AccountKind.external
    balance = session.scalar(
        _DEBIT if guarded else _CREDIT,
        {"account": acct.id, "amount": amount, "needed": -amount}
        if guarded
        else {"account": acct.id, "amount": amount},
    )
    if balance is None:
        have = session.scalar(select(LedgerAccount.balance).where(LedgerAccount.id == acct.id))
        raise InsufficientBalance(
            msg(
                "{owner} holds {have} {asset} ({kind}), needs {needed}",
                owner=acct.owner,
                have=have,
                asset=acct.asset,
                kind=acct.kind,
                needed=-amount,
            ),
            asset=str(acct.asset),
            balance=have,
            needed=-amount,
        )
    set_committed_value(acct, "balance", balance)
    return int(balance)


def balance(session: Session, owner: str, asset: Asset, kind: AccountKind) -> int:
    value = session.scalar(
        select(LedgerAccount.balance).where(
            LedgerAccount.owner == owner, LedgerAccount.asset == asset, LedgerAccount.kind == kind
        )
    )
    return int(value or 0)


def holdings(session: Session, owner: str, asset: Asset) -> int:
    """Everything the ledger says ``owner`` holds of ``asset`` on chain (all its accounts)."""
    return sum(
        balance(session, owner, asset, kind)
        for kind in (AccountKind.available, AccountKind.escrow, AccountKind.withdrawing)
    )


# The row as updated, in the same statement (built once).
_LOCK = (
    update(MarketState)
    .where(MarketState.id == 1)
    .values(seq=MarketState.seq + 1)
    .returning(MarketState)
)


def lock_market(session: Session) -> MarketState:
    """Take the market lock: the first write of every market transaction (a row lock on
    PostgreSQL, the database write lock on SQLite), so matching and postings are serial."""
    state = session.scalar(
        _LOCK, execution_options={"populate_existing": True, "synchronize_session": False}
    )
    assert state is not None, "market_state has no row: run the migrations"
    return state


# -- what other domains post ---------------------------------------------------------------------


def record_credits_issued(session: Session, address: str, grams: int, reference: str) -> None:
    """Credits minted to ``address`` on chain (the issuance domain calls this on confirmation)."""
    lock_market(session)
    post(
        session,
        "issuance",
        reference,
        [
            Move(
                Asset.credits,
                (PLATFORM, AccountKind.external),
                (checksum(address), AccountKind.available),
                grams,
            )
        ],
    )


def hold_for_retirement(session: Session, address: str, grams: int, reference: str) -> None:
    """Set ``grams`` of the holder's free credits aside for a retirement on its way to the
    chain (credits reserved by open sell orders cannot be retired: ``insufficient-balance``)."""
    holder = checksum(address)
    _move_credits(
        session,
        "retirement.hold",
        reference,
        grams,
        (holder, AccountKind.available),
        (holder, AccountKind.withdrawing),
    )


def record_retirement(session: Session, address: str, grams: int, reference: str) -> None:
    """The held credits were burnt on chain: they leave the ledger."""
    holder = checksum(address)
    _move_credits(
        session,
        "retirement",
        reference,
        grams,
        (holder, AccountKind.withdrawing),
        (PLATFORM, AccountKind.external),
    )


def release_retirement(session: Session, address: str, grams: int, reference: str) -> None:
    """The retirement failed on chain: the held credits are free again."""
    holder = checksum(address)
    _move_credits(
        session,
        "retirement.release",
        reference,
        grams,
        (holder, AccountKind.withdrawing),
        (holder, AccountKind.available),
    )


def _move_credits(
    session: Session,
    kind: str,
    reference: str,
    grams: int,
    source: tuple[str, AccountKind],
    target: tuple[str, AccountKind],
) -> None:
    lock_market(session)
    post(session, kind, reference, [Move(Asset.credits, source, target, grams)])
