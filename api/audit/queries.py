"""The auditor's read-only queries over the index, all paginated the same way.

Pagination is the API's one keyset (cursor) pagination (:mod:`api.pagination`): each list has a
fixed sort key that ends in a unique column, so pages are stable while the index grows, cost
the same at any depth, and an export walks a whole list page by page in short transactions
(:func:`iterate`) without loading it.

Time filters (``Window``) are on block numbers or block times (unix seconds). Everything is as
of the index's checkpoint; ``supply_at`` answers for any block up to it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from api.audit.errors import BlockNotIndexed, IndexNotStarted
from api.audit.models import (
    AttestationEvent,
    Balance,
    BatchClaim,
    Checkpoint,
    Event,
    Identity,
    IssuedBatch,
    Retirement,
    SupplyPoint,
    Transfer,
)
from api.audit.schemas import (
    AttestationPublic,
    BatchClaimPublic,
    BatchPublic,
    EventPublic,
    HolderPublic,
    IdentityPublic,
    IndexStatus,
    RetirementPublic,
    Supply,
    SupplyPointPublic,
    TradeAudit,
    TransferPublic,
)
from api.i18n import msg
from api.market.models import MarketFill, MarketSettlement
from api.pagination import FIRST_PAGE, Page, PageParams, keyset_page

M = TypeVar("M", bound=BaseModel)


def iterate(
    sessions: sessionmaker[Session],
    list_fn: Callable[..., Page[M]],
    /,
    *args: Any,
    page_size: int = 1000,
    **filters: Any,
) -> Iterator[M]:
    """Every item of a list, page by page, each page in its own short session."""
    cursor: str | None = None
    while True:
        with sessions() as session:
            page = list_fn(session, *args, page=PageParams(page_size, cursor), **filters)
        yield from page.items
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


# -- filters -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    """Which blocks a list covers: by number and/or by block time (unix seconds), inclusive."""

    from_block: int | None = None
    to_block: int | None = None
    from_time: int | None = None
    to_time: int | None = None

    def apply(self, stmt: Select[Any], model: Any) -> Select[Any]:
        if self.from_block is not None:
            stmt = stmt.where(model.block_number >= self.from_block)
        if self.to_block is not None:
            stmt = stmt.where(model.block_number <= self.to_block)
        if self.from_time is not None:
            stmt = stmt.where(model.block_time >= self.from_time)
        if self.to_time is not None:
            stmt = stmt.where(model.block_time <= self.to_time)
        return stmt


ALL = Window()


def _address(value: str) -> str:
    return value.lower()


# -- status and supply ---------------------------------------------------------------------


def index_status(session: Session) -> IndexStatus:
    checkpoint = session.scalars(select(Checkpoint)).first()
    if checkpoint is None:
        raise IndexNotStarted()
    return IndexStatus.model_validate(checkpoint)


def supply_at(session: Session, block_number: int | None = None) -> Supply:
    """Issued, burnt, retired and circulating credits after ``block_number`` (default: the
    checkpoint). Refuses a block the index has not reached."""
    status = index_status(session)
    if block_number is None:
        block_number = status.block_number
    if block_number > status.block_number:
        raise BlockNotIndexed(
            msg("the index is at block {block_number}", block_number=status.block_number),
            indexed_block=status.block_number,
        )
    point = session.scalars(
        select(SupplyPoint)
        .where(SupplyPoint.block_number <= block_number)
        .order_by(SupplyPoint.block_number.desc())
        .limit(1)
    ).first()
    issued, burnt, retired = (point.minted, point.burnt, point.retired) if point else (0, 0, 0)
    return Supply(
        block_number=block_number,
        issued=issued,
        burnt=burnt,
        retired=retired,
        circulating=issued - burnt,
    )


def supply_at_time(session: Session, timestamp: int) -> Supply:
    """Supply as of the last indexed change at or before ``timestamp`` (unix seconds)."""
    status = index_status(session)
    point = session.scalars(
        select(SupplyPoint)
        .where(SupplyPoint.block_time <= timestamp)
        .order_by(SupplyPoint.block_number.desc())
        .limit(1)
    ).first()
    if point is None:
        return Supply(
            block_number=status.start_block - 1, issued=0, burnt=0, retired=0, circulating=0
        )
    return supply_at(session, point.block_number)


def _supply_point(row: SupplyPoint) -> SupplyPointPublic:
    return SupplyPointPublic(
        block_number=row.block_number,
        block_time=row.block_time,
        issued=row.minted,
        burnt=row.burnt,
        retired=row.retired,
        circulating=row.minted - row.burnt,
    )


def list_supply(
    session: Session, *, window: Window = ALL, page: PageParams = FIRST_PAGE
) -> Page[SupplyPointPublic]:
    """Supply after every block that changed it (a time series for the dashboard)."""
    stmt = window.apply(select(SupplyPoint), SupplyPoint)
    return keyset_page(session, "supply", stmt, [SupplyPoint.block_number], page, _supply_point)


# -- holders -------------------------------------------------------------------------------


def list_holders(
    session: Session, *, include_empty: bool = False, page: PageParams = FIRST_PAGE
) -> Page[HolderPublic]:
    """Holders by balance, largest first (``include_empty``: also those holding nothing now)."""
    stmt = select(Balance)
    if not include_empty:
        stmt = stmt.where(Balance.balance > 0)
    return keyset_page(
        session,
        "holders",
        stmt,
        [Balance.balance, Balance.address],
        page,
        HolderPublic.model_validate,
        desc=True,
    )


def holder_count(session: Session) -> int:
    """Addresses holding credits now."""
    return int(
        session.scalar(select(func.count()).select_from(Balance).where(Balance.balance > 0)) or 0
    )


def get_holder(session: Session, address: str) -> HolderPublic:
    """Balance and retired total of ``address`` (zero for an address never seen)."""
    row = session.get(Balance, _address(address))
    if row is None:
        return HolderPublic(address=_address(address), balance=0, retired=0)
    return HolderPublic.model_validate(row)


# -- events by kind ------------------------------------------------------------------------


def list_transfers(
    session: Session,
    *,
    address: str | None = None,
    window: Window = ALL,
    page: PageParams = FIRST_PAGE,
) -> Page[TransferPublic]:
    """Transfers, mints (sender zero) and burns (recipient zero) in chain order."""
    stmt = window.apply(select(Transfer), Transfer)
    if address:
        stmt = stmt.where(
            or_(Transfer.sender == _address(address), Transfer.recipient == _address(address))
        )
    return keyset_page(
        session,
        "transfers",
        stmt,
        [Transfer.block_number, Transfer.log_index],
        page,
        TransferPublic.model_validate,
    )


def list_batches(
    session: Session, *, window: Window = ALL, page: PageParams = FIRST_PAGE
) -> Page[BatchPublic]:
    """Issuance batches with their Merkle roots, in chain order."""
    stmt = window.apply(select(IssuedBatch), IssuedBatch)
    return keyset_page(
        session,
        "batches",
        stmt,
        [IssuedBatch.block_number, IssuedBatch.log_index],
        page,
        BatchPublic.model_validate,
    )


def get_batch(session: Session, batch_id: str) -> BatchPublic | None:
    row = session.scalars(
        select(IssuedBatch).where(IssuedBatch.batch_id == batch_id.lower())
    ).first()
    return None if row is None else BatchPublic.model_validate(row)


def list_batch_claims(
    session: Session, batch_id: str, *, page: PageParams = FIRST_PAGE
) -> Page[BatchClaimPublic]:
    """The claim ids of one batch, in the batch's order."""
    stmt = select(BatchClaim).where(BatchClaim.batch_id == batch_id.lower())
    return keyset_page(
        session,
        "batch-claims",
        stmt,
        [BatchClaim.position],
        page,
        BatchClaimPublic.model_validate,
    )


def find_claim(session: Session, claim_id: str) -> list[BatchClaimPublic]:
    """Where a claim id was issued (normally one batch; a list, since the chain allows more)."""
    rows = session.scalars(
        select(BatchClaim)
        .where(BatchClaim.claim_id == claim_id.lower())
        .order_by(BatchClaim.block_number, BatchClaim.position)
    )
    return [BatchClaimPublic.model_validate(r) for r in rows]


def list_retirements(
    session: Session,
    *,
    holder: str | None = None,
    window: Window = ALL,
    page: PageParams = FIRST_PAGE,
) -> Page[RetirementPublic]:
    """Retirements (certificates) in chain order."""
    stmt = window.apply(select(Retirement), Retirement)
    if holder:
        stmt = stmt.where(Retirement.holder == _address(holder))
    return keyset_page(
        session,
        "retirements",
        stmt,
        [Retirement.block_number, Retirement.log_index],
        page,
        RetirementPublic.model_validate,
    )


def list_trades(
    session: Session,
    *,
    status: str | None = None,
    address: str | None = None,
    page: PageParams = FIRST_PAGE,
) -> Page[TradeAudit]:
    """Every matched fill of the market (the database's record), oldest first, with the
    transaction that settled it."""
    stmt = select(MarketFill)
    if status:
        stmt = stmt.where(MarketFill.status == status)
    if address:
        who = _address(address)
        stmt = stmt.where(
            or_(func.lower(MarketFill.buyer) == who, func.lower(MarketFill.seller) == who)
        )

    def item(fill: MarketFill) -> TradeAudit:
        settlement = (
            session.get(MarketSettlement, fill.settlement_id) if fill.settlement_id else None
        )
        return TradeAudit(
            fill_id=fill.fill_id,
            buyer=fill.buyer,
            seller=fill.seller,
            price=fill.price,
            quantity=fill.quantity,
            won=fill.won,
            status=str(fill.status),
            reject_reason=fill.reject_reason,
            settlement_tx_hash=settlement.tx_hash if settlement else None,
            created_at=fill.created_at,
            settled_at=fill.settled_at,
        )

    return keyset_page(session, "trades", stmt, [MarketFill.id], page, item)


def get_retirement(session: Session, certificate_id: int) -> RetirementPublic | None:
    row = session.scalars(
        select(Retirement).where(Retirement.certificate_id == certificate_id)
    ).first()
    return None if row is None else RetirementPublic.model_validate(row)


def list_attestations(
    session: Session,
    *,
    account: str | None = None,
    window: Window = ALL,
    page: PageParams = FIRST_PAGE,
) -> Page[AttestationPublic]:
    """Attestations and revocations in chain order."""
    stmt = window.apply(select(AttestationEvent), AttestationEvent)
    if account:
        stmt = stmt.where(AttestationEvent.account == _address(account))
    return keyset_page(
        session,
        "attestations",
        stmt,
        [AttestationEvent.block_number, AttestationEvent.log_index],
        page,
        AttestationPublic.model_validate,
    )


def list_identities(session: Session, *, page: PageParams = FIRST_PAGE) -> Page[IdentityPublic]:
    """Each attested account's current attestation (by address)."""
    return keyset_page(
        session,
        "identities",
        select(Identity),
        [Identity.account],
        page,
        IdentityPublic.model_validate,
    )


def get_identity(session: Session, account: str) -> IdentityPublic | None:
    row = session.get(Identity, _address(account))
    return None if row is None else IdentityPublic.model_validate(row)


def _event(row: Event) -> EventPublic:
    return EventPublic(
        block_number=row.block_number,
        log_index=row.log_index,
        tx_hash=row.tx_hash,
        block_time=row.block_time,
        block_hash=row.block_hash,
        contract=row.contract,
        address=row.address,
        event=row.event,
        args=json.loads(row.args),
    )


def list_events(
    session: Session,
    *,
    contract: str | None = None,
    event: str | None = None,
    window: Window = ALL,
    page: PageParams = FIRST_PAGE,
) -> Page[EventPublic]:
    """Every indexed event (role changes, pauses, forwarder requests, ...) in chain order."""
    stmt = window.apply(select(Event), Event)
    if contract:
        stmt = stmt.where(Event.contract == contract)
    if event:
        stmt = stmt.where(Event.event == event)
    return keyset_page(session, "events", stmt, [Event.block_number, Event.log_index], page, _event)


def is_paused(session: Session) -> bool:
    """Whether the token's latest pause event was ``Paused``."""
    latest = session.scalars(
        select(Event.event)
        .where(Event.contract == "CRDAToken", Event.event.in_(("Paused", "Unpaused")))
        .order_by(Event.block_number.desc(), Event.log_index.desc())
        .limit(1)
    ).first()
    return latest == "Paused"
