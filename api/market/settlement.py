"""Settlement: matched fills go to the chain in batches through the outbox, exactly once.

1. ``enqueue_settlements`` groups matched fills into ``settleBatch`` calls (one outbox row of
   kind ``market.settlement``, signed by the relayer) in the same database transaction that
   marks the fills ``settling``.
2. The outbox worker signs, stores, broadcasts and confirms it, surviving any crash.
3. ``SettlementHandler.on_confirmed`` reads each fill's fate from the receipt's events (or,
   after a crash that lost the receipt, from ``Exchange.isSettled``) and posts the ledger:
   a settled fill moves the seller's escrowed credits to the buyer and the buyer's escrowed won
   to the seller; a fill the chain rejected moves nothing, gives its quantity back and cancels
   the order at fault (an invalid signature, a maker who cannot pay or deliver), on chain too.
   A fill that failed for a reason of no maker's own cancels nothing: its orders stay open.
4. A batch the chain refuses whole (``SettlementHandler.on_failed``) is split in two and each
   half retried as its own batch, down to single fills: the honest fills settle and only a fill
   that fails alone fails (its orders staying open). Signatures are ECDSA only on chain, so no
   maker can make a fill revert (see ``contracts/Exchange.sol``); the split is the safety net
   for whatever else refuses a batch (a paused token refuses every half, and each fill then
   fails alone, nothing cancelled).
A fill id settles at most once on chain, so a re-sent batch cannot move anything twice; won
deposits and withdrawals likewise name their transfer by a reference the token accepts once.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import structlog
from hexbytes import HexBytes
from sqlalchemy import select
from sqlalchemy.orm import Session
from web3.types import TxReceipt

from api.chain.addresses import checksum
from api.chain.errors import ChainRevert
from api.chain.gateway import ChainGateway
from api.market import ledger
from api.market.ledger import PLATFORM, Move, lock_market
from api.market.models import (
    AccountKind,
    Asset,
    FillStatus,
    MarketFill,
    MarketOrder,
    MarketSettlement,
    OrderStatus,
    TransferStatus,
    WonTransfer,
)
from api.market.service import cancel_on_chain, order_of, release_if_closed
from api.outbox.models import ChainTransaction
from api.outbox.service import enqueue

log = structlog.get_logger(__name__)

KIND = "market.settlement"
# IExchange.RejectReason
REJECT_REASONS = (
    "None",
    "AlreadySettled",
    "BadFill",
    "BuyOrderInvalid",
    "SellOrderInvalid",
    "BuyerCannotPay",
    "SellerCannotDeliver",
)
GAS_PER_BATCH = 60_000
GAS_PER_FILL = 200_000
_BUY_FAULT = {"BuyOrderInvalid", "BuyerCannotPay"}
_SELL_FAULT = {"SellOrderInvalid", "SellerCannotDeliver"}


def fill_args(session: Session, fill: MarketFill) -> list[Any]:
    """The ``IExchange.Fill`` struct of ``fill``, as the outbox stores it."""
    buy = session.get(MarketOrder, fill.buy_order_id)
    sell = session.get(MarketOrder, fill.sell_order_id)
    assert buy is not None and sell is not None
    return [
        fill.fill_id,
        list(order_of(buy).as_tuple()),
        buy.signature,
        list(order_of(sell).as_tuple()),
        sell.signature,
        fill.price,
        fill.quantity,
    ]


def enqueue_settlements(session: Session, batch_size: int, max_batches: int = 10) -> int:
    """Put matched fills into settlement batches; returns the number of fills enqueued."""
    lock_market(session)
    total = 0
    touched: set[int] = set()
    for _ in range(max_batches):
        fills = list(
            session.scalars(
                select(MarketFill)
                .where(MarketFill.status == FillStatus.matched)
                .order_by(MarketFill.id)
                .limit(batch_size)
            )
        )
        if not fills:
            break
        _enqueue_batch(session, fills, f"{KIND}:{fills[0].fill_id}")
        touched.update(o for f in fills for o in (f.buy_order_id, f.sell_order_id))
        total += len(fills)
    # An order cancelled while a fill of it waited: its on-chain cancel goes after the batches.
    for order_id in sorted(touched):
        order = session.get(MarketOrder, order_id)
        assert order is not None
        cancel_on_chain(session, order)
    return total


def _enqueue_batch(session: Session, fills: list[MarketFill], key: str) -> None:
    """One settlement of ``fills`` (marked ``settling``) and its ``settleBatch`` outbox row."""
    settlement = MarketSettlement(key=key, status=TransferStatus.pending, fill_count=len(fills))
    session.add(settlement)
    session.flush()
    for fill in fills:
        fill.status = FillStatus.settling
        fill.settlement_id = settlement.id
    enqueue(
        session,
        key=settlement.key,
        kind=KIND,
        contract="Exchange",
        function="settleBatch",
        args=[[fill_args(session, f) for f in fills]],
        signer="relayer",
    )


class SettlementHandler:
    """Outbox handler of ``market.settlement`` rows."""

    def __init__(self, gateway: ChainGateway | None = None) -> None:
        self.gateway = gateway

    def gas_limit(self, row: ChainTransaction) -> int:
        """Enough for the batch (a fill costs about 130k gas; the gateway caps at a block)."""
        return GAS_PER_BATCH + GAS_PER_FILL * len(row.args[0])

    def already_applied(self, row: ChainTransaction, error: ChainRevert) -> bool:
        # settleBatch never reverts for a settled fill (it skips it), so a revert is real.
        return False

    def on_confirmed(
        self, session: Session, row: ChainTransaction, receipt: TxReceipt | None
    ) -> None:
        lock_market(session)
        settlement = self._settlement(session, row)
        if settlement.status != TransferStatus.pending:
            return
        fates = self._fates(receipt, settlement, session)
        fills = self._fills(session, settlement)
        # The batch's orders into the session in one query (settle_fills then finds them there);
        # held in a local: the session's identity map keeps only objects someone references.
        order_ids = {f.buy_order_id for f in fills} | {f.sell_order_id for f in fills}
        orders = session.scalars(select(MarketOrder).where(MarketOrder.id.in_(order_ids))).all()
        settled: list[MarketFill] = []
        for fill in fills:
            if fill.status != FillStatus.settling:
                continue  # posted before: never twice
            reason = fates.get(fill.fill_id)
            if reason is None or reason == "AlreadySettled":
                settled.append(fill)
            else:
                reject_fill(session, fill, reason)
        settle_fills(session, settled)
        settlement.status = TransferStatus.confirmed
        settlement.tx_hash = row.tx_hash
        del orders  # referenced until here on purpose (see above)

    def on_failed(self, session: Session, row: ChainTransaction, error: ChainRevert) -> None:
        """The whole batch was refused: nothing moved. Split it in two halves, each a batch of
        its own (keys ``<key>a`` and ``<key>b``), so one fill cannot sink the others; a single
        fill refused fails alone and cancels nothing (no maker is shown at fault)."""
        lock_market(session)
        settlement = self._settlement(session, row)
        settlement.status = TransferStatus.failed
        fills = [f for f in self._fills(session, settlement) if f.status == FillStatus.settling]
        if len(fills) > 1:
            half = len(fills) // 2
            _enqueue_batch(session, fills[:half], settlement.key + "a")
            _enqueue_batch(session, fills[half:], settlement.key + "b")
            log.warning("settlement_split", key=settlement.key, fills=len(fills))
            return
        for fill in fills:
            reject_fill(session, fill, f"batch:{error.error_name}"[:40])

    def _settlement(self, session: Session, row: ChainTransaction) -> MarketSettlement:
        settlement = session.scalar(select(MarketSettlement).where(MarketSettlement.key == row.key))
        assert settlement is not None, f"no settlement for outbox row {row.key}"
        return settlement

    def _fills(self, session: Session, settlement: MarketSettlement) -> list[MarketFill]:
        return list(
            session.scalars(
                select(MarketFill)
                .where(MarketFill.settlement_id == settlement.id)
                .order_by(MarketFill.id)
            )
        )

    def _fates(
        self, receipt: TxReceipt | None, settlement: MarketSettlement, session: Session
    ) -> dict[str, str]:
        """fill id -> reject reason (absent: settled)."""
        if self.gateway is None:
            raise RuntimeError("SettlementHandler needs the chain gateway")
        exchange = self.gateway.contract("Exchange")
        if receipt is not None:
            events = self.gateway.receipt_events("Exchange", "FillRejected", receipt)
            return {
                HexBytes(e["args"]["fillId"]).to_0x_hex(): REJECT_REASONS[e["args"]["reason"]]
                for e in events
            }
        fates: dict[str, str] = {}
        for fill in self._fills(session, settlement):
            if not self.gateway.call(exchange.functions.isSettled(HexBytes(fill.fill_id))):
                fates[fill.fill_id] = "NotSettled"
        return fates


def settle_fills(session: Session, fills: list[MarketFill]) -> None:
    """Post fills the chain settled, one ledger transaction each (posted together): escrowed
    credits to the buyer, escrowed won to the seller."""
    ledger.post_many(
        session,
        "fill",
        [
            (
                fill.fill_id,
                [
                    Move(
                        Asset.credits,
                        (fill.seller, AccountKind.escrow),
                        (fill.buyer, AccountKind.available),
                        fill.quantity,
                    ),
                    Move(
                        Asset.won,
                        (fill.buyer, AccountKind.escrow),
                        (fill.seller, AccountKind.available),
                        fill.won,
                    ),
                ],
            )
            for fill in fills
        ],
    )
    now = datetime.now(UTC)
    for fill in fills:
        buy = session.get(MarketOrder, fill.buy_order_id)
        sell = session.get(MarketOrder, fill.sell_order_id)
        assert buy is not None and sell is not None
        buy.pending -= fill.won
        buy.reserved -= fill.won
        sell.pending -= fill.quantity
        sell.reserved -= fill.quantity
        fill.status = FillStatus.settled
        fill.settled_at = now
        release_if_closed(session, buy)
        release_if_closed(session, sell)


def reject_fill(session: Session, fill: MarketFill, reason: str) -> None:
    """A fill the chain did not settle: nothing moved; give the quantity back to both orders and
    cancel the order at fault, if one is (in the database and on chain). An order whose fill
    failed for a reason not its own stays open."""
    buy = session.get(MarketOrder, fill.buy_order_id)
    sell = session.get(MarketOrder, fill.sell_order_id)
    assert buy is not None and sell is not None
    buy.pending -= fill.won
    sell.pending -= fill.quantity
    for order in (buy, sell):
        order.filled -= fill.quantity
        if order.status == OrderStatus.filled:
            order.status = OrderStatus.open
    at_fault = [buy] if reason in _BUY_FAULT else [sell] if reason in _SELL_FAULT else []
    for order in at_fault:
        if order.status == OrderStatus.open:
            order.status = OrderStatus.cancelled
            order.cancel_reason = f"settlement:{reason}"[:40]
    fill.status = FillStatus.failed
    fill.reject_reason = reason[:40]
    release_if_closed(session, buy)
    release_if_closed(session, sell)
    for order in at_fault:
        cancel_on_chain(session, order)
    log.warning("fill_rejected", fill_id=fill.fill_id, reason=reason)


class CancelHandler:
    """Outbox handler of ``market.cancel`` rows (``Exchange.cancelOrders``): the database closed
    the order already; the chain now refuses it too. ``cancelOrders`` skips an order cancelled
    before, so a re-sent row succeeds and nothing is left to post."""

    def already_applied(self, row: ChainTransaction, error: ChainRevert) -> bool:
        return False

    def on_confirmed(
        self, session: Session, row: ChainTransaction, receipt: TxReceipt | None
    ) -> None:
        log.info("order_cancelled_on_chain", key=row.key)

    def on_failed(self, session: Session, row: ChainTransaction, error: ChainRevert) -> None:
        log.error("order_cancel_refused", key=row.key, error=error.error_name)


class WonHandler:
    """What deposits and withdrawals share: a mint or burn names its transfer by a reference
    the token accepts once (``service.won_reference``), so a re-sent row moves money once."""

    event = ""  # the token's event of this kind (Minted, Burnt)

    def __init__(self, gateway: ChainGateway | None = None) -> None:
        self.gateway = gateway

    def already_applied(self, row: ChainTransaction, error: ChainRevert) -> bool:
        """This row's reference was used on chain to move this row's account and amount: an
        earlier send of the row did it. The refusal is then ``SettlementTokenReferenceUsed``, or
        an undecoded revert when both sends were mined in one block (the gateway replays a
        failed transaction on the state before its block), so the event is the proof, not the
        error. Another use of the reference is a real failure."""
        if self.gateway is None:
            return False  # nothing to prove it with
        account, amount, ref = row.args
        deployment = self.gateway.deployment
        start = deployment.contracts["SettlementToken"].block_number if deployment else 0
        events = self.gateway.events(
            "SettlementToken", self.event, argument_filters={"ref": ref}, from_block=start
        )
        return any(
            checksum(e["args"]["account"]) == checksum(account)
            and int(e["args"]["amount"]) == int(amount)
            for e in events
        )


class DepositHandler(WonHandler):
    """``market.deposit``: the won mint landed, so the ledger credits the holder."""

    event = "Minted"

    def on_confirmed(
        self, session: Session, row: ChainTransaction, receipt: TxReceipt | None
    ) -> None:
        lock_market(session)
        transfer = _transfer(session, row)
        if transfer.status != TransferStatus.pending:
            return
        ledger.post(
            session,
            "deposit",
            f"deposit:{transfer.id}",
            [
                Move(
                    Asset.won,
                    (PLATFORM, AccountKind.external),
                    (transfer.address, AccountKind.available),
                    transfer.amount,
                )
            ],
        )
        transfer.status = TransferStatus.confirmed

    def on_failed(self, session: Session, row: ChainTransaction, error: ChainRevert) -> None:
        transfer = _transfer(session, row)
        transfer.status = TransferStatus.failed


class WithdrawalHandler(WonHandler):
    """``market.withdrawal``: the burn landed (write the won off) or failed (give it back)."""

    event = "Burnt"

    def on_confirmed(
        self, session: Session, row: ChainTransaction, receipt: TxReceipt | None
    ) -> None:
        self._finish(session, row, (PLATFORM, AccountKind.external), TransferStatus.confirmed)

    def on_failed(self, session: Session, row: ChainTransaction, error: ChainRevert) -> None:
        transfer = _transfer(session, row)
        self._finish(session, row, (transfer.address, AccountKind.available), TransferStatus.failed)

    def _finish(
        self,
        session: Session,
        row: ChainTransaction,
        target: tuple[str, AccountKind],
        status: TransferStatus,
    ) -> None:
        lock_market(session)
        transfer = _transfer(session, row)
        if transfer.status != TransferStatus.pending:
            return
        ledger.post(
            session,
            "withdrawal",
            f"withdrawal:{transfer.id}:{status}",
            [Move(Asset.won, (transfer.address, AccountKind.withdrawing), target, transfer.amount)],
        )
        transfer.status = status


def _transfer(session: Session, row: ChainTransaction) -> WonTransfer:
    transfer_id = int(row.key.rsplit(":", 1)[1])
    transfer = session.get(WonTransfer, transfer_id)
    assert transfer is not None, f"no won transfer for outbox row {row.key}"
    return transfer
