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
_NEW_TRANSACTION = insert(LedgerTransaction).returning(LedgerTransaction.id)
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
    tx_id = session.scalar(_NEW_TRANSACTION, {"kind": kind, "reference": reference})
    assert tx_id is not None
    entries: list[dict[str, int]] = []
    for move in moves:
        if move.amount < 0:
            raise ValueError("a move's amount is never negative")
        if move.amount == 0:
            continue
        entries.append(_apply(session, tx_id, move.source, move.asset, -move.amount))
        entries.append(_apply(session, tx_id, move.target, move.asset, move.amount))
    if entries:
        session.execute(_NEW_ENTRIES, entries)
    return int(tx_id)


def _apply(
    session: Session, tx_id: int, holder: tuple[str, AccountKind], asset: Asset, amount: int
) -> dict[str, int]:
    """Add ``amount`` to the account; its ledger entry (to insert)."""
    owner, kind = holder
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
    return {"transaction_id": tx_id, "account_id": acct, "amount": amount, "balance_after": balance}


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
