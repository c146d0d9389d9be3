"""Market endpoints: thin handlers over ``api.market.service``, every one behind sign-in.

- Holders (citizens, businesses) place orders as themselves: a self-custody holder sends the
  EIP-712 signature made in their wallet; for a platform-custody holder the platform signs
  with that holder's key, only on their authenticated request. Nobody can place or cancel an
  order for another address.
- Own orders, trades and statement; the order book is public and aggregated (no identities).
- The operator credits deposits and debits withdrawals; reconciliation is for the operator and
  the auditor.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response, status
from sqlalchemy.orm import Session

from api.auth.deps import CurrentHolder, require_roles
from api.auth.models import Account, Role
from api.chain.addresses import ZERO_ADDRESS, checksum
from api.deps import MAX_ROW_ID, SessionDep, StateDep
from api.httpcache import etag_responses, json_with_etag
from api.idempotency import idempotent
from api.market import book, service
from api.market.context import MarketContext
from api.market.eip712 import Order, Side
from api.market.models import Asset
from api.market.reconcile import reconcile
from api.market.schemas import (
    BalancePublic,
    MoneyMovementCreate,
    MoneyMovementPublic,
    OrderBookPublic,
    OrderCreate,
    OrderDomainPublic,
    OrderPublic,
    StatementLine,
    TradePublic,
)
from api.pagination import Page, PageParams, page_params

router = APIRouter(prefix="/market", tags=["market"])

OperatorUser = Annotated[Account, Depends(require_roles(Role.operator))]
ReconcilerUser = Annotated[Account, Depends(require_roles(Role.operator, Role.auditor))]
IdempotencyKeyHeader = Annotated[str | None, Header(alias="Idempotency-Key")]
MarketPage = Annotated[PageParams, Depends(page_params(maximum=200))]


def get_market(state: StateDep) -> MarketContext:
    return state.context(MarketContext.from_gateway)


MarketDep = Annotated[MarketContext, Depends(get_market)]


@router.post("/orders", status_code=status.HTTP_201_CREATED)
def place_order(
    body: OrderCreate,
    holder: CurrentHolder,
    state: StateDep,
    market: MarketDep,
    response: Response,
    idempotency_key: IdempotencyKeyHeader = None,
) -> OrderPublic:
    """Place a limit order as yourself; it is matched at once (price, then time priority)."""
    if checksum(body.maker) != checksum(holder.address):
        raise service.NotOrderMaker("an order's maker is the signed-in holder's own address")

    def prepare(session: Session) -> service.CheckedOrder:
        return service.sign_my_order(
            session, market, str(holder.account_id), body.order(), body.signature_bytes()
        )

    def action(session: Session, checked: service.CheckedOrder) -> dict[str, Any]:
        return OrderPublic.of(service.record_order(session, market, checked)).model_dump(
            mode="json"
        )

    stored = idempotent(
        state.sessions,
        response,
        scope=f"market.orders:{holder.account_id}",
        key=idempotency_key,
        params=body.model_dump(mode="json"),
        prepare=prepare,
        action=action,
    )
    return OrderPublic.model_validate(stored)


@router.get("/orders")
def my_orders(holder: CurrentHolder, session: SessionDep, page: MarketPage) -> Page[OrderPublic]:
    """Your own orders, newest first."""
    return service.list_orders(session, holder.address, page)


@router.post("/orders/{order_id}/cancel")
def cancel_order(
    order_id: Annotated[int, Path(ge=1, le=MAX_ROW_ID)],
    holder: CurrentHolder,
    session: SessionDep,
    market: MarketDep,
) -> OrderPublic:
    """Cancel one of your open orders (someone else's: 403); the relayer also cancels it on
    chain, so its signed form can never settle."""
    return OrderPublic.of(service.cancel_my_order(session, market, order_id, holder.address))


@router.get("/trades")
def my_trades(holder: CurrentHolder, session: SessionDep, page: MarketPage) -> Page[TradePublic]:
    """Your settled trades, newest first."""
    return service.list_trades(session, holder.address, page)


@router.get("/statement")
def my_statement(
    holder: CurrentHolder,
    session: SessionDep,
    asset: Annotated[Asset, Query(description="CRDA (grams) or KRW (won)")] = Asset.credits,
) -> list[StatementLine]:
    """Every movement of your credits or won, with a running balance."""
    return [StatementLine(**line) for line in service.statement(session, holder.address, asset)]


@router.get("/balances")
def my_balances(holder: CurrentHolder, session: SessionDep) -> list[BalancePublic]:
    """Your credits (grams) and won: available, reserved by open orders, on their way out."""
    return [BalancePublic(**parts) for parts in service.balances(session, holder.address)]


@router.get("/order-domain")
def order_domain(market: MarketDep) -> OrderDomainPublic:
    """The EIP-712 domain (chain id, exchange address) and ``Order`` type wallets sign."""
    typed = market.domain.typed_data(Order(ZERO_ADDRESS, Side.buy, 0, 0, 0, 0))
    return OrderDomainPublic(
        domain=typed["domain"], types=typed["types"], primary_type=typed["primaryType"]
    )


@router.get("/book", response_model=OrderBookPublic, responses=etag_responses("the book"))
def order_book(request: Request, state: StateDep) -> Response:
    """Open quantity per price level, best first; no identities. With the book's `ETag`:
    asked again with `If-None-Match`, an unchanged book is a 304 with no body."""
    # The market context in this thread (what ``MarketDep`` gives), so the request makes one
    # trip to the thread pool; the book is kept per process while exact (api/market/book.py).
    market = get_market(state)
    kept = book.public_book(state.sessions, market.now())
    return json_with_etag(request, kept.body, kept.etag)


def _money_movement(
    kind: str,
    body: MoneyMovementCreate,
    state: StateDep,
    market: MarketContext,
    response: Response,
    idempotency_key: str | None,
) -> MoneyMovementPublic:
    def action(session: Session, _: None) -> dict[str, Any]:
        row = service.move_money(
            session, market, kind, body.account_id, body.amount, body.reference
        )
        return MoneyMovementPublic(
            id=row.id,
            kind=row.kind,
            address=row.address,
            amount=row.amount,
            reference=row.reference,
            status=str(row.status),
        ).model_dump(mode="json")

    stored = idempotent(
        state.sessions,
        response,
        scope=f"market.{kind}",
        key=idempotency_key,
        params=body.model_dump(mode="json"),
        action=action,
    )
    return MoneyMovementPublic.model_validate(stored)


@router.post("/deposits", status_code=status.HTTP_201_CREATED)
def deposit(
    body: MoneyMovementCreate,
    _operator: OperatorUser,
    state: StateDep,
    market: MarketDep,
    response: Response,
    idempotency_key: IdempotencyKeyHeader = None,
) -> MoneyMovementPublic:
    """Credit won for a confirmed bank deposit (minted on chain through the outbox)."""
    return _money_movement("deposit", body, state, market, response, idempotency_key)


@router.post("/withdrawals", status_code=status.HTTP_201_CREATED)
def withdraw(
    body: MoneyMovementCreate,
    _operator: OperatorUser,
    state: StateDep,
    market: MarketDep,
    response: Response,
    idempotency_key: IdempotencyKeyHeader = None,
) -> MoneyMovementPublic:
    """Debit won for a payout (held at once, burnt on chain through the outbox)."""
    return _money_movement("withdrawal", body, state, market, response, idempotency_key)


@router.get("/reconciliation")
def reconciliation(
    _reader: ReconcilerUser, session: SessionDep, market: MarketDep
) -> dict[str, Any]:
    """Every ledger holder's balance against the chain; ``ok`` when they all agree."""
    return reconcile(session, market.chain).to_json()
