"""Where credits came from, as far as the chain (the audit index) knows, plus an extension point.

On chain a batch mints each recipient's total once and lists its claim ids; which claim paid
which recipient lives in the off-chain claim records (earning). So:

- :func:`claim_provenance` returns the on-chain part of a claim (batch, Merkle root, position,
  transaction, block, time) and asks a :class:`ClaimRecordSource` for the off-chain record
  (evidence hash, provider, factor-set version, inputs, amount, Merkle proof, recomputation).
  Until earning lands the source is :class:`NoClaimRecords`; the lead plugs the real one in with
  :func:`set_claim_record_source`.
- :func:`retirement_allocation` says which credits a retirement used, with a stated rule:
  **first in, first out over the holder's own inflows in chain order** (each mint is a lot of
  its batch; each transfer in is a lot of its sender and transaction), net of the holder's
  earlier outflows (transfers out, earlier retirements). A batch lot is split into claims when
  the claim record source knows the holder's claims in that batch (by batch position).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from api import examples as ex
from api.audit.models import BatchClaim, IssuedBatch, Transfer
from api.audit.queries import index_status
from api.audit.schemas import Amount
from api.chain.addresses import ZERO_ADDRESS


class ClaimShare(BaseModel):
    claim_id: str
    amount: Amount
    credit_class: str | None = None  # activity type and methodology: trip:subway@2026.2
    vintage: int | None = None  # the activity's year
    assurance: str | None = None  # single-source | corroborated


class ClassShare(BaseModel):
    """Grams of one credit class and vintage."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"credit_class": "trip:subway@2026.2", "vintage": 2026, "amount": "513"}]
        }
    )

    credit_class: str
    vintage: int
    amount: Amount
    # A retirement's grams also by the assurance of their claims (single-source, corroborated);
    # None in the supply by class (a claim's assurance can rise after it issued).
    assurance: str | None = None


class ClaimRecordSource(Protocol):
    """The off-chain claim records (earning): what the chain cannot say about a claim."""

    def claim_record(self, session: Session, claim_id: str) -> dict[str, Any] | None:
        """Evidence hash, provider, factor-set version, inputs, amount, Merkle proof, and a
        recomputation check, as JSON-ready values; None when the claim is unknown."""
        ...

    def claims_of(self, session: Session, batch_id: str, beneficiary: str) -> list[ClaimShare]:
        """The beneficiary's claims in a batch, in batch order (empty: unknown)."""
        ...

    def issued_by_class(self, session: Session) -> list[ClassShare]:
        """Credits issued by class and vintage (empty: unknown)."""
        ...


class NoClaimRecords:
    """The default until earning lands: no off-chain records."""

    def claim_record(self, session: Session, claim_id: str) -> dict[str, Any] | None:
        return None

    def claims_of(self, session: Session, batch_id: str, beneficiary: str) -> list[ClaimShare]:
        return []

    def issued_by_class(self, session: Session) -> list[ClassShare]:
        return []


_source: ClaimRecordSource = NoClaimRecords()


def set_claim_record_source(source: ClaimRecordSource) -> None:
    global _source
    _source = source


def claim_record_source() -> ClaimRecordSource:
    return _source


# -- a claim ---------------------------------------------------------------------------------


class ClaimIssuance(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "batch_id": ex.BATCH_ID,
                    "position": 0,
                    "merkle_root": ex.MERKLE_ROOT,
                    "batch_total": "4550",
                    "claim_count": 2,
                    "tx_hash": ex.ISSUANCE_TX,
                    "block_number": ex.ISSUANCE_BLOCK,
                    "block_time": ex.ISSUANCE_TIME,
                }
            ]
        }
    )

    batch_id: str
    position: int
    merkle_root: str
    batch_total: Amount
    claim_count: int
    tx_hash: str
    block_number: int
    block_time: int


class ClaimProvenance(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "claim_id": ex.PURCHASE_CLAIM,
                    "issued": True,
                    "issuances": [
                        {
                            "batch_id": ex.BATCH_ID,
                            "position": 0,
                            "merkle_root": ex.MERKLE_ROOT,
                            "batch_total": "4550",
                            "claim_count": 2,
                            "tx_hash": ex.ISSUANCE_TX,
                            "block_number": ex.ISSUANCE_BLOCK,
                            "block_time": ex.ISSUANCE_TIME,
                        }
                    ],
                    "record": ex.PROOF["record"],
                    "record_source": "platform",
                }
            ]
        }
    )

    claim_id: str
    issued: bool
    issuances: list[ClaimIssuance]
    # The off-chain record (evidence, methodology, inputs, proof); None until earning plugs in.
    record: dict[str, Any] | None
    record_source: str


def claim_provenance(session: Session, claim_id: str) -> ClaimProvenance:
    # Each batch that listed the claim, with the claim's place in it: one query (the
    # auditor's most asked read by a parameter, issue 18).
    rows = session.execute(
        select(BatchClaim.position, IssuedBatch)
        .join(IssuedBatch, IssuedBatch.batch_id == BatchClaim.batch_id)
        .where(BatchClaim.claim_id == claim_id.lower())
        .order_by(BatchClaim.block_number, BatchClaim.position)
    ).all()
    issuances = [
        ClaimIssuance(
            batch_id=batch.batch_id,
            position=position,
            merkle_root=batch.merkle_root,
            batch_total=batch.total_amount,
            claim_count=batch.claim_count,
            tx_hash=batch.tx_hash,
            block_number=batch.block_number,
            block_time=batch.block_time,
        )
        for position, batch in rows
    ]
    source = claim_record_source()
    return ClaimProvenance(
        claim_id=claim_id.lower(),
        issued=bool(issuances),
        issuances=issuances,
        record=source.claim_record(session, claim_id.lower()),
        record_source=type(source).__name__,
    )


# -- a retirement ----------------------------------------------------------------------------


class Lot(BaseModel):
    """Credits a retirement used, from one inflow of the holder."""

    kind: str  # "issuance" | "transfer"
    amount: Amount
    tx_hash: str
    block_number: int
    block_time: int
    batch_id: str | None = None
    merkle_root: str | None = None
    # The holder's claims in the batch when the claim records know them, else every claim id
    # of the batch (``claims_complete`` false: the batch's claims, not only the holder's).
    claims: list[ClaimShare] = []
    batch_claim_ids: list[str] = []
    sender: str | None = None
    # A transfer lot's own lots in the sender's history (the same rule, applied to the units of
    # that transfer the holder used), down to issuance batches, their claims and evidence.
    origins: list[Lot] = []
    origins_complete: bool = True
    # An issuance lot's grams by credit class and vintage (its claims, in batch order).
    classes: list[ClassShare] = []


class Allocation(BaseModel):
    rule: str
    complete: bool
    detail: str | None = None
    lots: list[Lot] = []
    # What the retirement retired, by credit class and vintage (where the claims are known).
    classes: list[ClassShare] = []


FIFO_RULE = (
    "first in, first out over the holder's inflows in chain order (mints by batch, transfers "
    "in by sender), net of earlier outflows; a transfer's units are traced the same way "
    "through the sender's history, back to issuance"
)
MAX_HOPS = 32  # transfers followed back from a retirement; beyond, origins_complete is false


def retirement_allocation(
    session: Session, holder: str, tx_hash: str, amount: int, block_number: int
) -> Allocation:
    """The lots a retirement (its burn in ``tx_hash``) consumed, first in first out, each
    transfer lot traced back through its senders to the issuance batches it came from."""
    holder = holder.lower()
    status = index_status(session)
    if status.block_number < block_number:
        return Allocation(
            rule=FIFO_RULE,
            complete=False,
            detail=f"the index is at block {status.block_number}, the retirement at {block_number}",
        )
    burn = session.scalars(
        select(Transfer)
        .where(
            Transfer.sender == holder,
            Transfer.recipient == ZERO_ADDRESS,
            Transfer.tx_hash == tx_hash.lower(),
            Transfer.amount == amount,
        )
        .order_by(Transfer.block_number, Transfer.log_index)
    ).first()
    if burn is None:
        return Allocation(
            rule=FIFO_RULE, complete=False, detail="the retirement's burn is not in the index"
        )
    tracer = _Tracer(session)
    taken, missing = tracer.sources(holder, burn)
    lots = [tracer.lot(holder, used, offset, source, 0) for used, offset, source in taken]
    return Allocation(rule=FIFO_RULE, complete=missing == 0, lots=lots, classes=_sum_classes(lots))


def class_totals(grams: Iterable[tuple[str, int, str | None, int]]) -> list[ClassShare]:
    """(credit class, vintage, assurance, grams) summed per class, vintage and assurance, in that
    order: the one way a list of :class:`ClassShare` is totalled (a lot, a retirement, the supply).
    """
    totals: dict[tuple[str, int, str | None], int] = {}
    for credit_class, vintage, assurance, amount in grams:
        key = (credit_class, vintage, assurance)
        totals[key] = totals.get(key, 0) + amount
    return [
        ClassShare(credit_class=c, vintage=v, assurance=a, amount=g)
        for (c, v, a), g in sorted(
            totals.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2] or "")
        )
    ]


def _sum_classes(lots: list[Lot]) -> list[ClassShare]:
    """The classes of lots and of their origins, all the way down."""
    shares: list[ClassShare] = []
    stack = list(lots)
    while stack:
        lot = stack.pop()
        stack.extend(lot.origins)
        shares.extend(lot.classes)
    return class_totals((s.credit_class, s.vintage, s.assurance, int(s.amount)) for s in shares)


def _classes(claims: list[ClaimShare], offset: int, used: int) -> list[ClassShare]:
    """The grams [offset, offset + used) of a mint, over the holder's claims in batch order,
    by class, vintage and assurance."""
    grams: list[tuple[str, int, str | None, int]] = []
    position = 0
    for claim in claims:
        low, high = max(offset, position), min(offset + used, position + int(claim.amount))
        if low < high and claim.credit_class is not None and claim.vintage is not None:
            grams.append((claim.credit_class, claim.vintage, claim.assurance, high - low))
        position += int(claim.amount)
    return class_totals(grams)


def _key(transfer: Transfer) -> tuple[str, int]:
    return transfer.tx_hash, transfer.log_index


class _Tracer:
    """First in, first out over one holder's transfers, remembered per outflow, so a chain of
    trades is read once per holder however often its units are traced."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._taken: dict[tuple[str, int], tuple[list[tuple[int, int, Transfer]], int]] = {}

    def sources(
        self, holder: str, outflow: Transfer
    ) -> tuple[list[tuple[int, int, Transfer]], int]:
        """The inflows ``outflow`` consumed, as (units, offset into the inflow, inflow), in
        order, and the units no inflow covered."""
        if _key(outflow) not in self._taken:
            self._replay(holder, outflow)
        return self._taken[_key(outflow)]

    def _replay(self, holder: str, until: Transfer) -> None:
        rows = self.session.scalars(
            select(Transfer)
            .where(
                or_(Transfer.sender == holder, Transfer.recipient == holder),
                Transfer.block_number <= until.block_number,
            )
            .order_by(Transfer.block_number, Transfer.log_index)
        ).all()
        queue: deque[list[Any]] = deque()  # [remaining, offset, Transfer]
        for row in rows:
            if row.sender == row.recipient:  # to oneself: moves nothing
                continue
            if row.recipient == holder:
                queue.append([row.amount, 0, row])
                continue
            need = row.amount
            taken: list[tuple[int, int, Transfer]] = []
            while need and queue:
                head = queue[0]
                used = min(need, head[0])
                taken.append((used, head[1], head[2]))
                head[0] -= used
                head[1] += used
                need -= used
                if head[0] == 0:
                    queue.popleft()
            self._taken[_key(row)] = (taken, need)
            if _key(row) == _key(until):
                return
        self._taken[_key(until)] = ([], until.amount)

    def lot(self, holder: str, used: int, offset: int, source: Transfer, hops: int) -> Lot:
        found = _lot(self.session, holder, used, source)
        if found.kind != "transfer":
            found.classes = _classes(found.claims, offset, used)
            return found
        if hops >= MAX_HOPS:
            found.origins_complete = False
            return found
        sender = source.sender
        taken, missing = self.sources(sender, source)
        # The units [offset, offset + used) of the transfer, in the sender's order.
        start, end, position = offset, offset + used, 0
        for units, inner_offset, inflow in taken:
            low, high = max(start, position), min(end, position + units)
            if low < high:
                part = self.lot(sender, high - low, inner_offset + low - position, inflow, hops + 1)
                found.origins.append(part)
                found.origins_complete &= part.origins_complete
            position += units
        if missing and end > position:
            found.origins_complete = False
        return found


def _lot(session: Session, holder: str, used: int, source: Transfer) -> Lot:
    if source.sender != ZERO_ADDRESS:
        return Lot(
            kind="transfer",
            amount=used,
            tx_hash=source.tx_hash,
            block_number=source.block_number,
            block_time=source.block_time,
            sender=source.sender,
        )
    batch = session.scalars(
        select(IssuedBatch).where(IssuedBatch.tx_hash == source.tx_hash)
    ).first()
    if batch is None:  # a mint outside the issuance contract (not expected)
        return Lot(
            kind="issuance",
            amount=used,
            tx_hash=source.tx_hash,
            block_number=source.block_number,
            block_time=source.block_time,
        )
    claims = claim_record_source().claims_of(session, batch.batch_id, holder)
    claim_ids = list(
        session.scalars(
            select(BatchClaim.claim_id)
            .where(BatchClaim.batch_id == batch.batch_id)
            .order_by(BatchClaim.position)
        )
    )
    return Lot(
        kind="issuance",
        amount=used,
        tx_hash=source.tx_hash,
        block_number=source.block_number,
        block_time=source.block_time,
        batch_id=batch.batch_id,
        merkle_root=batch.merkle_root,
        claims=claims,
        batch_claim_ids=[] if claims else claim_ids,
    )
