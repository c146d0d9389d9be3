"""Market routes: thin handlers over ``api.market.service``.

Until accounts and sign-in exist (issue 4), a trader is whoever signed: placing takes the
maker's EIP-712 order signature, cancelling the maker's EIP-712 cancel signature. Deposits,
withdrawals, own orders, own trades and statements are services waiting for the
``CurrentUser`` / operator dependencies.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Response, status

from api.deps import SessionDep, StateDep
from api.idempotency import run_idempotent
from api.market import service
from api.market.context import MarketContext
from api.market.reconcile import reconcile
from api.market.schemas import (
    BookLevelPublic,
    OrderBookPublic,
    OrderCancel,
    OrderCreate,
    OrderPublic,
)

router = APIRouter(prefix="/market", tags=["market"])


def get_market(state: StateDep) -> MarketContext:
    return MarketContext(state.settings, state.chain_gateway())


MarketDep = Annotated[MarketContext, Depends(get_market)]
IdempotencyKeyHeader = Annotated[str | None, Header(alias="Idempotency-Key")]


@router.post("/orders", status_code=status.HTTP_201_CREATED)
def place_order(
    body: OrderCreate,
    state: StateDep,
    market: MarketDep,
    response: Response,
    idempotency_key: IdempotencyKeyHeader = None,
) -> OrderPublic:
    """Place a signed limit order; it is matched at once (price, then time priority)."""

    def action(session: Any) -> dict[str, Any]:
        row = service.place_order(session, market, body.order(), body.signature_bytes())
        return OrderPublic.of(row).model_dump(mode="json")

    result = run_idempotent(
        state.sessions,
        scope=f"market.orders:{body.maker.lower()}",
        key=idempotency_key,
        params=body.model_dump(mode="json"),
        action=action,
    )
    if result.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return OrderPublic.model_validate(result.response)


@router.post("/orders/{order_id}/cancel")
def cancel_order(
    order_id: int, body: OrderCancel, session: SessionDep, market: MarketDep
) -> OrderPublic:
    """Cancel an open order with its maker's signed cancellation."""
    row = service.cancel_order_signed(session, market, order_id, body.signature_bytes())
    public = OrderPublic.of(row)
    session.commit()
    return public


@router.get("/book")
def order_book(session: SessionDep, market: MarketDep) -> OrderBookPublic:
    """Open quantity per price level, best first; no identities."""
    book = service.order_book(session, market.now())
    return OrderBookPublic(
        buy=[BookLevelPublic(**vars(level)) for level in book["buy"]],
        sell=[BookLevelPublic(**vars(level)) for level in book["sell"]],
    )


@router.get("/reconciliation")
def reconciliation(session: SessionDep, market: MarketDep) -> dict[str, Any]:
    """Every ledger holder's balance against the chain; ``ok`` when they all agree."""
    return reconcile(session, market.chain).to_json()
