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

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import bindparam, case, insert, select, tuple_, update
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
    tx = LedgerTransaction(kind=kind, reference=reference)
    session.add(tx)
    session.flush()
    _load_accounts(
        session,
        {(side[0], move.asset, side[1]) for move in moves for side in (move.source, move.target)},
    )
    entries: list[LedgerEntry] = []
    for move in moves:
        if move.amount < 0:
            raise ValueError("a move's amount is never negative")
        if move.amount == 0:
            continue
        source = account(session, move.source[0], move.asset, move.source[1])
        target = account(session, move.target[0], move.asset, move.target[1])
        entries.append(_apply(session, tx, source, -move.amount))
        entries.append(_apply(session, tx, target, move.amount))
    session.add_all(entries)  # after the balance updates: inserted together, at the next flush
    return tx


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


def _apply(
    session: Session, tx: LedgerTransaction, acct: LedgerAccount, amount: int
) -> LedgerEntry:
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
    return LedgerEntry(
        transaction_id=tx.id, account_id=acct.id, amount=amount, balance_after=balance
    )


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
    record_credits_issued_to(session, [(address, grams, reference)])


def record_credits_issued_to(session: Session, issued: Sequence[tuple[str, int, str]]) -> None:
    """Credits minted on chain to several holders (``(address, grams, reference)``): one
    ledger transaction each, as :func:`post` records it, written in a few statements for them
    all (a batch confirms up to a hundred holders while the confirming transaction holds the
    market lock): the transactions and the entries inserted in bulk, the platform's external
    account debited once, the holders' accounts credited in one ``UPDATE .. RETURNING``."""
    lock_market(session)
    rows = [(checksum(address), grams, reference) for address, grams, reference in issued]
    if any(grams <= 0 for _, grams, _ in rows):
        raise ValueError("credits issued are positive")
    _load_accounts(
        session,
        {(PLATFORM, Asset.credits, AccountKind.external)}
        | {(holder, Asset.credits, AccountKind.available) for holder, _, _ in rows},
    )
    external = account(session, PLATFORM, Asset.credits, AccountKind.external)
    targets = [account(session, h, Asset.credits, AccountKind.available) for h, _, _ in rows]
    tx_ids = session.scalars(
        insert(LedgerTransaction).returning(LedgerTransaction.id, sort_by_parameter_order=True),
        [{"kind": "issuance", "reference": reference} for _, _, reference in rows],
    ).all()
    credited: dict[int, int] = {}
    for target, (_, grams, _) in zip(targets, rows, strict=True):
        credited[target.id] = credited.get(target.id, 0) + grams
    external_after = session.scalar(
        _CREDIT, {"account": external.id, "amount": -sum(credited.values())}
    )
    balances: dict[int, int] = {
        account_id: balance
        for account_id, balance in session.execute(
            update(LedgerAccount)
            .where(LedgerAccount.id.in_(credited))
            .values(balance=LedgerAccount.balance + case(credited, value=LedgerAccount.id))
            .returning(LedgerAccount.id, LedgerAccount.balance)
            .execution_options(synchronize_session=False)
        )
    }
    assert external_after is not None and len(balances) == len(credited)
    set_committed_value(external, "balance", external_after)
    for target in targets:
        set_committed_value(target, "balance", balances[target.id])
    # Each entry's balance_after as the one-by-one postings would have left it.
    running = {target.id: balances[target.id] - credited[target.id] for target in targets}
    left = external_after + sum(credited.values())
    entries: list[dict[str, int]] = []
    for tx_id, target, (_, grams, _) in zip(tx_ids, targets, rows, strict=True):
        left -= grams
        running[target.id] += grams
        entries += [
            {
                "transaction_id": tx_id,
                "account_id": external.id,
                "amount": -grams,
                "balance_after": left,
            },
            {
                "transaction_id": tx_id,
                "account_id": target.id,
                "amount": grams,
                "balance_after": running[target.id],
            },
        ]
    session.execute(insert(LedgerEntry), entries)


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
