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
from itertools import accumulate, count
from typing import cast

from sqlalchemy import Table, bindparam, insert, inspect, select, update
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

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


# Account ids by (owner, asset, kind), shared by the process's sessions (a posting then needs no
# look-up): an account is never deleted nor re-keyed, and each balance update names the key
# again, so an id that is not (or no longer) that account's (cached from a transaction that was
# rolled back, or reused since by SQLite) updates nothing and the account is looked up anew.
_ACCOUNT_IDS: dict[tuple[str, Asset, AccountKind], int] = {}
_ACCOUNT_IDS_MAX = 100_000

_ACCOUNT_KEY = (
    LedgerAccount.owner == bindparam("k_owner"),
    LedgerAccount.asset == bindparam("k_asset"),
    LedgerAccount.kind == bindparam("k_kind"),
)
# Built once (a statement built per call costs more than the query it sends).
_FIND = select(LedgerAccount.id).where(*_ACCOUNT_KEY)
_CREATE = insert(LedgerAccount).returning(LedgerAccount.id)
_NEW_TRANSACTIONS = insert(LedgerTransaction).returning(
    LedgerTransaction.id, sort_by_parameter_order=True
)
_NEW_ENTRIES = insert(LedgerEntry)
# Add :amount to an account; the holder's debit only while the balance covers it.
_CREDIT = (
    update(LedgerAccount)
    .where(LedgerAccount.id == bindparam("account"), *_ACCOUNT_KEY)
    .values(balance=LedgerAccount.balance + bindparam("amount"))
    .returning(LedgerAccount.balance)
    .execution_options(synchronize_session=False)
)
_DEBIT = _CREDIT.where(LedgerAccount.balance >= bindparam("needed"))


def account_id(session: Session, owner: str, asset: Asset, kind: AccountKind) -> int:
    """The account's id, the account created on first use (callers hold the market lock, so no
    twin is made); not cached: see ``_ACCOUNT_IDS``."""
    found = session.scalar(_FIND, {"k_owner": owner, "k_asset": asset, "k_kind": kind})
    if found is None:
        found = session.scalar(
            _CREATE, {"owner": owner, "asset": asset, "kind": kind, "balance": 0}
        )
    assert found is not None
    if len(_ACCOUNT_IDS) >= _ACCOUNT_IDS_MAX:  # bounded: the active holders come back soon
        _ACCOUNT_IDS.clear()
    _ACCOUNT_IDS[(owner, asset, kind)] = found
    return int(found)


def post(session: Session, kind: str, reference: str, moves: list[Move]) -> int:
    """Record ``moves`` as one balanced transaction (returns its id); raise
    ``InsufficientBalance`` (and change nothing the caller does not roll back) when a holder
    account would go negative."""
    return post_many(session, kind, [(reference, moves)])[0]


def post_many(session: Session, kind: str, postings: list[tuple[str, list[Move]]]) -> list[int]:
    """Record each ``(reference, moves)`` as a balanced transaction of ``kind`` (returns their
    ids, in order): the rows :func:`post` would write one by one, in a few statements (a
    settlement batch's fills, an issuance batch's holders).

    Each account's moves are summed and applied by one conditional ``UPDATE`` when they all go
    the same way (debits only: their sum is covered exactly when each one is, in turn); an
    account moved both ways is applied move by move, in order, as one posting would be. Each
    entry's ``balance_after`` is the account's balance right after it, as if posted alone.
    ``InsufficientBalance`` as :func:`post` (for a summed debit, ``needed`` is the sum).
    """
    if not postings:
        return []
    tx_ids = [
        int(i)
        for i in session.scalars(
            _NEW_TRANSACTIONS, [{"kind": kind, "reference": ref} for ref, _ in postings]
        )
    ]
    # Per account, its (position, transaction, amount) in posting order.
    moved: dict[tuple[str, Asset, AccountKind], list[tuple[int, int, int]]] = {}
    position = count()
    for tx_id, (_, moves) in zip(tx_ids, postings, strict=True):
        for move in moves:
            if move.amount < 0:
                raise ValueError("a move's amount is never negative")
            if move.amount == 0:
                continue
            for (owner, held_as), amount in (
                (move.source, -move.amount),
                (move.target, move.amount),
            ):
                items = moved.setdefault((owner, move.asset, held_as), [])
                items.append((next(position), tx_id, amount))
    entries: list[tuple[int, dict[str, int]]] = []
    for (owner, asset, held_as), items in moved.items():
        amounts = [amount for _, _, amount in items]
        if len(amounts) > 1 and (all(a < 0 for a in amounts) or all(a > 0 for a in amounts)):
            total = sum(amounts)
            acct, after = _add(session, owner, asset, held_as, total)
            afters = list(accumulate(amounts, initial=after - total))[1:]
        else:
            afters = []
            for amount in amounts:
                acct, after = _add(session, owner, asset, held_as, amount)
                afters.append(after)
        for (place, tx_id, amount), after in zip(items, afters, strict=True):
            entry = {"transaction_id": tx_id, "account_id": acct, "amount": amount}
            entries.append((place, {**entry, "balance_after": after}))
    if entries:  # after the balance updates, in posting order
        session.execute(_NEW_ENTRIES, [entry for _, entry in sorted(entries, key=lambda e: e[0])])
    return tx_ids


def _add(
    session: Session, owner: str, asset: Asset, kind: AccountKind, amount: int
) -> tuple[int, int]:
    """Add ``amount`` to the account (a holder's debit only while covered): its id and new
    balance."""
    guarded = amount < 0 and kind != AccountKind.external
    params: dict[str, object] = {
        "k_owner": owner,
        "k_asset": asset,
        "k_kind": kind,
        "amount": amount,
    }
    if guarded:
        params["needed"] = -amount
    cached = _ACCOUNT_IDS.get((owner, asset, kind))
    acct = cached if cached is not None else account_id(session, owner, asset, kind)
    balance = session.scalar(_DEBIT if guarded else _CREDIT, {**params, "account": acct})
    if balance is None and cached is not None:  # short, or a stale id: look it up and retry
        acct = account_id(session, owner, asset, kind)
        balance = session.scalar(_DEBIT if guarded else _CREDIT, {**params, "account": acct})
    if balance is None:
        have = session.scalar(select(LedgerAccount.balance).where(LedgerAccount.id == acct))
        raise InsufficientBalance(
            msg(
                "{owner} holds {have} {asset} ({kind}), needs {needed}",
                owner=owner,
                have=have,
                asset=asset,
                kind=kind,
                needed=-amount,
            ),
            asset=str(asset),
            balance=have,
            needed=-amount,
        )
    return acct, int(balance)


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


# The row as updated, in the same statement (built once): a Core statement on the table, which
# costs about half the ORM's UPDATE ... RETURNING of the entity on this, every order's, path.
_STATE = cast(Table, MarketState.__table__)
_LOCK = (
    update(_STATE)
    .where(_STATE.c.id == 1)
    .values(seq=_STATE.c.seq + 1)
    .returning(_STATE.c.seq, _STATE.c.last_price)
)


def lock_market(session: Session) -> MarketState:
    """Take the market lock: the first write of every market transaction (a row lock on
    PostgreSQL, the database write lock on SQLite), so matching and postings are serial.

    Returns the session's ``MarketState`` as updated, made from the returned row without a
    query (or the one the session holds, refreshed; a ``last_price`` changed but not flushed
    yet in this transaction, which already holds the lock, is kept)."""
    row = session.execute(_LOCK).one_or_none()
    assert row is not None, "market_state has no row: run the migrations"
    state = session.identity_map.get(identity_key(MarketState, 1))
    if not isinstance(state, MarketState):
        state = MarketState(id=1, seq=row.seq, last_price=row.last_price)
        make_transient_to_detached(state)
        session.add(state)
        return state
    set_committed_value(state, "seq", row.seq)
    if not inspect(state).modified:
        set_committed_value(state, "last_price", row.last_price)
    return state


# -- what other domains post ---------------------------------------------------------------------


def record_credits_issued(session: Session, address: str, grams: int, reference: str) -> None:
    """Credits minted to ``address`` on chain (the issuance domain calls this on confirmation)."""
    record_credits_issued_to(session, [(address, grams, reference)])


def record_credits_issued_to(session: Session, issued: Sequence[tuple[str, int, str]]) -> None:
    """Credits minted on chain to several holders (``(address, grams, reference)``): one
    ledger transaction each, posted together under one market lock (a batch confirms up to a
    hundred holders while the confirming transaction holds it)."""
    if any(grams <= 0 for _, grams, _ in issued):
        raise ValueError("credits issued are positive")
    lock_market(session)
    external = (PLATFORM, AccountKind.external)
    post_many(
        session,
        "issuance",
        [
            (reference, [Move(Asset.credits, external, (checksum(a), AccountKind.available), g)])
            for a, g, reference in issued
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
