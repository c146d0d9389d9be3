"""Market services: the business operations, independent of HTTP.

Every function takes the caller's ``Session`` and, where it must see the chain, the
``MarketContext``. Operations the endpoints run under an ``Idempotency-Key`` (placing orders,
deposits, withdrawals) join the transaction that ``idempotent`` commits with the key; the
others commit their own change (``cancel_my_order``), like every domain's services. Other
domains post to the ledger through ``api.market.ledger``, never through this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_abi import encode as abi_encode
from eth_utils import keccak
from sqlalchemy import bindparam, func, or_, select
from sqlalchemy.orm import Session

from api.auth.models import Wallet
from api.auth.service import wallet_signer
from api.chain.addresses import checksum
from api.chain.errors import ERROR_PROBLEMS
from api.errors import Conflict, NotFound, ValidationFailed, problem
from api.i18n import msg
from api.market import ledger
from api.market.context import MarketContext
from api.market.eip712 import LOT_GRAMS, Order, Side, recover, won_of
from api.market.engine import match
from api.market.ledger import Move, lock_market
from api.market.models import (
    AccountKind,
    Asset,
    FillStatus,
    LedgerAccount,
    LedgerEntry,
    LedgerTransaction,
    MarketFill,
    MarketOrder,
    OrderStatus,
    TransferStatus,
    WonTransfer,
)
from api.market.schemas import OrderPublic, TradePublic
from api.outbox.service import enqueue
from api.pagination import Page, PageParams, keyset_page
from api.timeutil import aware

InvalidOrder = problem(
    422,
    "invalid-order",
    "The order is not valid",
    when="The order is not valid (lots, expiry, amounts).",
    show="Mark the order form.",
)
InvalidSignature = problem(
    422,
    "invalid-signature",
    "The signature is not the maker's",
    when="The signature is not the maker's (EIP-712 order or cancel).",
    show='"The signature did not match"; sign again.',
)
UnverifiedAccount = problem(*ERROR_PROBLEMS["CRDATokenUnverifiedAccount"])
DuplicateOrder = problem(
    409,
    "duplicate-order",
    "This signed order was already placed",
    when="This signed order was already placed.",
    show="Show the existing order.",
)
OrderLimitReached = problem(
    409,
    "order-limit-reached",
    "Too many open orders",
    when="The maker has too many open orders.",
    show='"Cancel an open order first".',
)
PriceOutsideBand = problem(
    422,
    "price-outside-band",
    "The price is outside the allowed band",
    when="The price is outside the allowed band around the last trade.",
    show="Show the allowed price range.",
)
OrderClosed = problem(
    409,
    "order-closed",
    "The order is no longer open",
    when="The order is filled, cancelled or expired.",
    show="Refresh the order; it is no longer open.",
)
NotOrderMaker = problem(
    403,
    "not-order-maker",
    "Only the order's maker may cancel it",
    when="Only the order's maker may cancel it.",
    show='"You cannot cancel this order".',
)
SignatureRequired = problem(
    422,
    "signature-required",
    "A self-custody wallet signs its own orders",
    when="A self-custody holder sent an order without the EIP-712 signature from their wallet.",
    show="Ask the wallet to sign the order's typed data, then send it with the signature.",
)

CLOSED = (OrderStatus.filled, OrderStatus.cancelled, OrderStatus.expired)
HOLDER_KINDS = (AccountKind.available, AccountKind.escrow, AccountKind.withdrawing)


# -- orders -------------------------------------------------------------------------------------


def validate_order(order: Order, ctx: MarketContext) -> None:
    """Terms the platform accepts (the contract re-checks what it can)."""
    s = ctx.settings
    now = ctx.now()
    errors: list[str] = []
    for name in ("price", "quantity", "expiry", "nonce"):
        value = getattr(order, name)
        if not isinstance(value, int) or isinstance(value, bool):
            errors.append(f"{name} must be an integer")
    if errors:
        raise InvalidOrder("; ".join(errors), errors=errors)
    if not s.market_min_price <= order.price <= s.market_max_price:
        errors.append(f"price must be {s.market_min_price}..{s.market_max_price} won per kg")
    if not 0 < order.quantity <= s.market_max_order_grams:
        errors.append(f"quantity must be 1..{s.market_max_order_grams} grams")
    elif order.quantity % LOT_GRAMS:
        errors.append(f"quantity must be a whole number of kilograms ({LOT_GRAMS} g lots)")
    if not now < order.expiry <= now + s.market_max_order_lifetime:
        errors.append("expiry must be in the future and within the order lifetime")
    if not 0 <= order.nonce < 2**256:
        errors.append("nonce must fit in 256 bits")
    if errors:
        raise InvalidOrder("; ".join(errors), errors=errors)


@dataclass(frozen=True)
class CheckedOrder:
    """An order whose terms, signature and maker's identity were checked (no lock held)."""

    order: Order
    signature: bytes
    digest: bytes


def check_order(ctx: MarketContext, order: Order, signature: bytes) -> CheckedOrder:
    """The checks that need no lock: terms, the maker's signature, the maker's identity on
    chain (a chain read, made before the market lock is taken).

    Problems: invalid-order (422), invalid-signature (422: tampered, or signed for another
    chain or exchange), unverified-account (403).
    """
    order = Order(
        checksum(order.maker),
        Side(order.side),
        order.price,
        order.quantity,
        order.expiry,
        order.nonce,
    )
    validate_order(order, ctx)
    digest = ctx.domain.order_hash(order)
    if recover(digest, signature) != order.maker:
        raise InvalidSignature("the signature does not recover to the maker for this exchange")
    if not ctx.is_verified(order.maker):
        raise UnverifiedAccount(msg("{maker} has no live identity attestation", maker=order.maker))
    return CheckedOrder(order, signature, digest)


def place_order(
    session: Session,
    ctx: MarketContext,
    order: Order,
    signature: bytes,
    *,
    account_id: str | None = None,
) -> MarketOrder:
    """Check, reserve and match a maker's signed order; returns the stored order."""
    return record_order(session, ctx, check_order(ctx, order, signature), account_id=account_id)


# One round trip, built once: is this signed order known, and how many open orders has its
# maker?
_KNOWN_AND_OPEN = select(
    select(MarketOrder.id)
    .where(MarketOrder.order_hash == bindparam("order_hash"))
    .scalar_subquery(),
    select(func.count())
    .where(MarketOrder.maker == bindparam("maker"), MarketOrder.status == OrderStatus.open)
    .scalar_subquery(),
)


def record_order(
    session: Session, ctx: MarketContext, checked: CheckedOrder, *, account_id: str | None = None
) -> MarketOrder:
    """Reserve and match a checked order under the market lock; returns the stored order.

    Problems: duplicate-order (409: a replayed signature), order-limit-reached (409),
    price-outside-band (422), insufficient-balance (409), self-trade (409).
    """
    order, signature, digest = checked.order, checked.signature, checked.digest
    state = lock_market(session)
    order_hash = "0x" + digest.hex()
    known, open_count = session.execute(
        _KNOWN_AND_OPEN, {"order_hash": order_hash, "maker": order.maker}
    ).one()
    if known is not None:
        raise DuplicateOrder(order_hash=order_hash)
    if (open_count or 0) >= ctx.settings.market_max_open_orders:
        raise OrderLimitReached(
            msg(
                "at most {market_max_open_orders} open orders",
                market_max_open_orders=ctx.settings.market_max_open_orders,
            )
        )
    band = ctx.settings.market_price_band_percent
    if (
        band
        and state.last_price
        and abs(order.price - state.last_price) * 100 > band * (state.last_price)
    ):
        raise PriceOutsideBand(
            msg(
                "price must be within {band}% of the last trade ({last_price} won/kg)",
                band=band,
                last_price=state.last_price,
            ),
            last_price=state.last_price,
        )
    is_buy = order.side == Side.buy
    asset = Asset.won if is_buy else Asset.credits
    reserve = won_of(order.price, order.quantity) if is_buy else order.quantity
    ledger.post(
        session,
        "order",
        order_hash,
        [
            Move(
                asset,
                (order.maker, AccountKind.available),
                (order.maker, AccountKind.escrow),
                reserve,
            )
        ],
    )
    row = MarketOrder(
        order_hash=order_hash,
        account_id=account_id,
        maker=order.maker,
        side="buy" if is_buy else "sell",
        price=order.price,
        quantity=order.quantity,
        expiry=order.expiry,
        nonce=str(order.nonce),
        signature="0x" + signature.hex(),
        status=OrderStatus.open,
        filled=0,
        reserved=reserve,
        pending=0,
        seq=state.seq,
    )
    session.add(row)
    session.flush()
    for _fill, buy, sell in match(session, row, state, ctx.now()):
        release_if_closed(session, buy)
        release_if_closed(session, sell)
    return row


def cancel_order(
    session: Session,
    ctx: MarketContext,
    order_id: int,
    requester: str,
    *,
    reason: str = "maker",
) -> MarketOrder:
    """Cancel an open order on behalf of ``requester``, who must be its maker."""
    lock_market(session)
    row = session.get(MarketOrder, order_id)
    if row is None:
        raise NotFound(msg("no order {order_id}", order_id=order_id))
    if row.maker != checksum(requester):
        raise NotOrderMaker()
    if row.status != OrderStatus.open:
        raise OrderClosed(
            msg("order {order_id} is {status}", order_id=order_id, status=row.status),
            order_status=str(row.status),
        )
    row.status = OrderStatus.cancelled
    row.cancel_reason = reason
    release_if_closed(session, row)
    cancel_on_chain(session, row)
    return row


CANCEL_KIND = "market.cancel"


def cancel_on_chain(session: Session, row: MarketOrder) -> None:
    """Record on chain that the cancelled order ``row`` can never settle (one outbox row of
    kind ``market.cancel``: the relayer's ``Exchange.cancelOrders``), in the caller's
    transaction.

    Its fills matched before the cancel still settle: while one waits to be batched this does
    nothing, and ``settlement.enqueue_settlements`` calls it again after putting the fill into a
    batch, so the cancel's outbox row comes after the batch (the worker sends rows in order).
    Idempotent: one row per order.
    """
    if row.status != OrderStatus.cancelled:
        return
    waiting = session.scalar(
        select(MarketFill.id)
        .where(
            or_(MarketFill.buy_order_id == row.id, MarketFill.sell_order_id == row.id),
            MarketFill.status == FillStatus.matched,
        )
        .limit(1)
    )
    if waiting is not None:
        return
    enqueue(
        session,
        key=f"{CANCEL_KIND}:{row.order_hash}",
        kind=CANCEL_KIND,
        contract="Exchange",
        function="cancelOrders",
        args=[[list(order_of(row).as_tuple())]],
        signer="relayer",
    )


def sign_my_order(
    session: Session, ctx: MarketContext, account_id: str, order: Order, signature: bytes | None
) -> CheckedOrder:
    """The signed-in holder's order, checked: a self-custody wallet sends its own signature;
    for a platform-custody holder the platform signs with that holder's key, only on this,
    their own authenticated request."""
    if signature is None:
        wallet = session.get(Wallet, account_id)
        if wallet is None or wallet.key_ciphertext is None:
            raise SignatureRequired()
        key = wallet_signer(session, ctx.settings, account_id)
        signature = ctx.domain.sign_order(order, key)
    return check_order(ctx, order, signature)


def cancel_my_order(
    session: Session, ctx: MarketContext, order_id: int, requester: str
) -> MarketOrder:
    """Cancel one of the requester's open orders and commit."""
    row = cancel_order(session, ctx, order_id, requester=requester)
    session.commit()
    return row


def cancel_order_signed(
    session: Session, ctx: MarketContext, order_id: int, signature: bytes
) -> MarketOrder:
    """Cancel with the maker's EIP-712 ``Cancel(orderHash)`` signature (no session needed)."""
    row = session.get(MarketOrder, order_id)
    if row is None:
        raise NotFound(msg("no order {order_id}", order_id=order_id))
    signer = ctx.domain.cancel_signer(order_of(row), signature)
    if signer is None:
        raise InvalidSignature()
    return cancel_order(session, ctx, order_id, signer)


def expire_orders(session: Session, now: int) -> int:
    """Close every open order past its expiry and release its escrow; returns how many."""
    lock_market(session)
    rows = list(
        session.scalars(
            select(MarketOrder).where(
                MarketOrder.status == OrderStatus.open, MarketOrder.expiry <= now
            )
        )
    )
    for row in rows:
        row.status = OrderStatus.expired
        release_if_closed(session, row)
    return len(rows)


def release_if_closed(session: Session, row: MarketOrder) -> None:
    """Give a closed order's escrow back, except what its unsettled fills still owe."""
    if row.status not in CLOSED:
        return
    free = row.reserved - row.pending
    if free <= 0:
        return
    asset = Asset.won if row.side == "buy" else Asset.credits
    ledger.post(
        session,
        "release",
        row.order_hash,
        [Move(asset, (row.maker, AccountKind.escrow), (row.maker, AccountKind.available), free)],
    )
    row.reserved -= free


def order_of(row: MarketOrder) -> Order:
    return Order(
        row.maker,
        Side.buy if row.side == "buy" else Side.sell,
        row.price,
        row.quantity,
        row.expiry,
        int(row.nonce),
    )


# -- won in and out, credits in and out ---------------------------------------------------------


def won_reference(kind: str, reference: str) -> bytes:
    """The on-chain reference of a deposit or withdrawal (``kind``), which the settlement
    token accepts once: ``keccak256(abi.encode("CRDA.won.<kind>.v1", reference))`` of the
    bank's reference, unique per kind. An auditor recomputes it from the transfer's record to
    match the ``Minted``/``Burnt`` event, and a mint or burn sent twice moves money once."""
    return keccak(abi_encode(["string", "string"], [f"CRDA.won.{kind}.v1", reference]))


def deposit(
    session: Session, ctx: MarketContext, address: str, amount: int, reference: str
) -> WonTransfer:
    """The operator credits ``amount`` won for a confirmed bank deposit: the mint goes through
    the outbox, naming the deposit by its reference (the token refuses it twice); the ledger
    posts it when the mint is confirmed on chain."""
    address = checksum(address)
    _check_amount(amount)
    if not ctx.is_verified(address):
        raise UnverifiedAccount(msg("{address} has no live identity attestation", address=address))
    lock_market(session)
    transfer = _new_transfer(session, "deposit", address, amount, reference)
    enqueue(
        session,
        key=f"market.deposit:{transfer.id}",
        kind="market.deposit",
        contract="SettlementToken",
        function="mint",
        args=[address, amount, won_reference("deposit", reference)],
        signer="operator",
    )
    return transfer


def withdraw(
    session: Session, ctx: MarketContext, address: str, amount: int, reference: str
) -> WonTransfer:
    """Debit ``amount`` won for a payout: held at once (``withdrawing``), burnt through the
    outbox under the withdrawal's reference (refused twice by the token), and written off the
    ledger when the burn is confirmed (given back if it fails)."""
    address = checksum(address)
    _check_amount(amount)
    lock_market(session)
    transfer = _new_transfer(session, "withdrawal", address, amount, reference)
    ledger.post(
        session,
        "withdrawal",
        f"withdrawal:{transfer.id}",
        [
            Move(
                Asset.won,
                (address, AccountKind.available),
                (address, AccountKind.withdrawing),
                amount,
            )
        ],
    )
    enqueue(
        session,
        key=f"market.withdrawal:{transfer.id}",
        kind="market.withdrawal",
        contract="SettlementToken",
        function="burn",
        args=[address, amount, won_reference("withdrawal", reference)],
        signer="operator",
    )
    return transfer


def move_money(
    session: Session, ctx: MarketContext, kind: str, account_id: str, amount: int, reference: str
) -> WonTransfer:
    """A deposit or withdrawal of won for the account's wallet (``kind``: deposit, withdrawal)."""
    wallet = session.get(Wallet, account_id)
    if wallet is None:
        raise NotFound("no such account with a wallet")
    move = deposit if kind == "deposit" else withdraw
    row = move(session, ctx, wallet.address, amount, reference)
    session.flush()
    return row


def _check_amount(amount: int) -> None:
    if not isinstance(amount, int) or isinstance(amount, bool) or not 0 < amount < 2**62:
        raise ValidationFailed("amount must be a positive whole number of won")


def _new_transfer(
    session: Session, kind: str, address: str, amount: int, reference: str
) -> WonTransfer:
    existing = session.scalar(
        select(WonTransfer).where(WonTransfer.kind == kind, WonTransfer.reference == reference)
    )
    if existing is not None:
        raise Conflict(
            msg("{kind} {reference!r} was already recorded", kind=kind, reference=reference),
            transfer_id=existing.id,
        )
    transfer = WonTransfer(
        kind=kind,
        address=address,
        amount=amount,
        reference=reference,
        status=TransferStatus.pending,
    )
    session.add(transfer)
    session.flush()
    return transfer


# -- reads --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BookLevel:
    price: int
    quantity: int
    orders: int


def order_book(session: Session, now: int, depth: int = 50) -> dict[str, list[BookLevel]]:
    """Open quantity per price level, best first; no identities."""
    book: dict[str, list[BookLevel]] = {}
    for side, best_first in (("buy", MarketOrder.price.desc()), ("sell", MarketOrder.price.asc())):
        rows = session.execute(
            select(
                MarketOrder.price,
                func.sum(MarketOrder.quantity - MarketOrder.filled),
                func.count(),
            )
            .where(
                MarketOrder.status == OrderStatus.open,
                MarketOrder.side == side,
                MarketOrder.expiry > now,
            )
            .group_by(MarketOrder.price)
            .order_by(best_first)
            .limit(depth)
        )
        book[side] = [BookLevel(int(p), int(q), int(n)) for p, q, n in rows]
    return book


def list_orders(
    session: Session, maker: str, page: PageParams, *, status: OrderStatus | None = None
) -> Page[OrderPublic]:
    """The maker's orders, newest first."""
    query = select(MarketOrder).where(MarketOrder.maker == checksum(maker))
    if status is not None:
        query = query.where(MarketOrder.status == status)
    return keyset_page(
        session, "market-orders", query, [MarketOrder.id], page, OrderPublic.of, desc=True
    )


def list_trades(session: Session, address: str, page: PageParams) -> Page[TradePublic]:
    """The holder's settled trades, newest first, each from their side (buy or sell)."""
    me = checksum(address)
    query = (
        select(MarketFill)
        .where((MarketFill.buyer == me) | (MarketFill.seller == me))
        .where(MarketFill.status == FillStatus.settled)
    )

    def trade(fill: MarketFill) -> TradePublic:
        return TradePublic(
            fill_id=fill.fill_id,
            side="buy" if fill.buyer == me else "sell",
            price=fill.price,
            quantity=fill.quantity,
            won=fill.won,
            settled_at=aware(fill.settled_at).isoformat() if fill.settled_at else None,
        )

    return keyset_page(session, "market-trades", query, [MarketFill.id], page, trade, desc=True)


def statement(session: Session, address: str, asset: Asset) -> list[dict[str, Any]]:
    """The holder's movements of ``asset`` with a running balance of everything they hold
    (moves between their own accounts, such as reserving for an order, net to nothing)."""
    address = checksum(address)
    rows = session.execute(
        select(
            LedgerTransaction.id,
            LedgerTransaction.kind,
            LedgerTransaction.reference,
            LedgerTransaction.created_at,
            func.sum(LedgerEntry.amount),
        )
        .join(LedgerEntry, LedgerEntry.transaction_id == LedgerTransaction.id)
        .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
        .where(
            LedgerAccount.owner == address,
            LedgerAccount.asset == asset,
            LedgerAccount.kind.in_(HOLDER_KINDS),
        )
        .group_by(
            LedgerTransaction.id,
            LedgerTransaction.kind,
            LedgerTransaction.reference,
            LedgerTransaction.created_at,
        )
        .order_by(LedgerTransaction.id)
    )
    running = 0
    lines: list[dict[str, Any]] = []
    for tx_id, kind, reference, created_at, amount in rows:
        if not amount:
            continue
        running += int(amount)
        lines.append(
            {
                "transaction_id": tx_id,
                "kind": kind,
                "reference": reference,
                "created_at": aware(created_at).isoformat() if created_at else None,
                "amount": int(amount),
                "balance": running,
            }
        )
    return lines


def balances(session: Session, address: str) -> list[dict[str, Any]]:
    """Per asset: available, reserved by open orders (escrow), on its way out, and the total."""
    holder = checksum(address)
    out = []
    for asset in (Asset.credits, Asset.won):
        parts = {kind: ledger.balance(session, holder, asset, kind) for kind in HOLDER_KINDS}
        out.append(
            {
                "asset": asset,
                "available": parts[AccountKind.available],
                "escrow": parts[AccountKind.escrow],
                "withdrawing": parts[AccountKind.withdrawing],
                "total": sum(parts.values()),
            }
        )
    return out
