"""Provenance through trades: a retirement by any holder traces each retired gram, first in
first out across transfers, back to the issuance batches (and so to claims and evidence).

The tracing rule is pure logic over the index's rows, so these tests write the rows of a small
history straight into a real (migrated) index database, SQLite or PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from api.audit.models import BatchClaim, Checkpoint, IssuedBatch, Transfer
from api.audit.provenance import retirement_allocation
from api.chain.addresses import ZERO_ADDRESS

ALICE, BOB, SHOP, FIRM = (f"0x{n:040x}" for n in (0xA11CE, 0xB0B, 0x5409, 0xF1A))


class History:
    """Blocks of an index, one event a block, in chain order."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.block = 0

    def _transfer(self, sender: str, recipient: str, amount: int) -> str:
        self.block += 1
        tx = f"0x{self.block:064x}"
        self.session.add(
            Transfer(
                block_number=self.block,
                log_index=0,
                tx_hash=tx,
                block_time=1_795_000_000 + self.block,
                sender=sender,
                recipient=recipient,
                amount=amount,
            )
        )
        return tx

    def mint(self, recipient: str, amount: int, batch: int) -> None:
        tx = self._transfer(ZERO_ADDRESS, recipient, amount)
        batch_id = f"0x{batch:064x}"
        self.session.add(
            IssuedBatch(
                block_number=self.block,
                log_index=1,
                tx_hash=tx,
                block_time=1_795_000_000 + self.block,
                batch_id=batch_id,
                merkle_root="0x" + "ab" * 32,
                total_amount=amount,
                claim_count=1,
            )
        )
        self.session.add(
            BatchClaim(
                batch_id=batch_id,
                position=0,
                claim_id=f"0x{batch + 0xC1A1:064x}",
                block_number=self.block,
            )
        )

    def send(self, sender: str, recipient: str, amount: int) -> None:
        self._transfer(sender, recipient, amount)

    def retire(self, holder: str, amount: int) -> tuple[str, int]:
        tx = self._transfer(holder, ZERO_ADDRESS, amount)
        return tx, self.block

    def indexed(self) -> None:
        self.session.add(
            Checkpoint(
                chain_id=31337,
                deployment_key="test",
                start_block=0,
                block_number=self.block,
                block_hash="0x" + "cd" * 32,
                updated_at=datetime.now(UTC),
            )
        )
        self.session.commit()


def leaves(lot: dict[str, Any]) -> list[tuple[str, int]]:
    """The issuance batches a lot reaches, with grams, in order."""
    if lot["kind"] == "issuance":
        return [(lot["batch_id"], int(lot["amount"]))]
    return [leaf for origin in lot["origins"] for leaf in leaves(origin)]


def test_a_business_retirement_reaches_the_batches_behind_the_trades(new_database) -> None:
    """Alice earns 1,000 then 500; Bob 800. Alice sells 1,200 to a shop (1,000 of batch 1 and
    200 of batch 2); Bob sells it 300. The shop sells 1,400 to a firm, which retires 1,300:
    FIFO at the firm is the shop's sale; FIFO at the shop is Alice's 1,200, then 100 of Bob's
    300, each traced back to its batch."""
    sessions = new_database()
    with sessions() as session:
        h = History(session)
        h.mint(ALICE, 1_000, batch=1)
        h.mint(BOB, 800, batch=3)
        h.mint(ALICE, 500, batch=2)
        h.send(ALICE, SHOP, 1_200)
        h.send(BOB, SHOP, 300)
        h.send(SHOP, FIRM, 1_400)
        tx, block = h.retire(FIRM, 1_300)
        h.indexed()
        allocation = retirement_allocation(session, FIRM, tx, 1_300, block).model_dump()
    assert allocation["complete"] is True
    (lot,) = allocation["lots"]
    assert (lot["kind"], lot["sender"], int(lot["amount"])) == ("transfer", SHOP, 1_300)
    assert lot["origins_complete"] is True
    assert [(o["sender"], int(o["amount"])) for o in lot["origins"]] == [(ALICE, 1_200), (BOB, 100)]
    batch = [f"0x{n:064x}" for n in range(4)]
    assert leaves(lot) == [(batch[1], 1_000), (batch[2], 200), (batch[3], 100)]
    # Each leaf names its batch's claims: the trail reaches the claims and their evidence.
    alice_lots = lot["origins"][0]["origins"]
    assert alice_lots[0]["batch_claim_ids"] == [f"0x{1 + 0xC1A1:064x}"]


def test_a_later_retirement_takes_the_units_after_the_earlier_ones(new_database) -> None:
    """Two retirements of one transfer's units: the second starts where the first stopped."""
    sessions = new_database()
    with sessions() as session:
        h = History(session)
        h.mint(ALICE, 600, batch=1)
        h.mint(ALICE, 600, batch=2)
        h.send(ALICE, FIRM, 1_200)
        h.retire(FIRM, 700)
        tx, block = h.retire(FIRM, 500)
        h.indexed()
        allocation = retirement_allocation(session, FIRM, tx, 500, block).model_dump()
    (lot,) = allocation["lots"]
    assert leaves(lot) == [(f"0x{2:064x}", 500)]  # units 700..1,200 of the sale: batch 2


def test_an_untraceable_sender_is_said_so(new_database) -> None:
    """Credits a sender holds without an indexed inflow (not expected) are flagged, not
    invented."""
    sessions = new_database()
    with sessions() as session:
        h = History(session)
        h.mint(ALICE, 100, batch=1)
        h.send(BOB, FIRM, 300)  # Bob never received anything in the index
        tx, block = h.retire(FIRM, 300)
        h.indexed()
        allocation = retirement_allocation(session, FIRM, tx, 300, block).model_dump()
    (lot,) = allocation["lots"]
    assert lot["origins"] == [] and lot["origins_complete"] is False


def test_a_retirements_classes_say_the_assurance_of_the_grams_it_retired() -> None:
    """Grams 500..800 of a mint whose first claim (600 g) was corroborated and second (400 g)
    was not: 100 corroborated, 200 single-source, both of one class and vintage."""
    from api.audit.provenance import ClaimShare, Lot, _classes, _sum_classes

    claims = [
        ClaimShare(
            claim_id="0x01",
            amount=600,
            credit_class="trip:ev_carshare@2026.3",
            vintage=2026,
            assurance="corroborated",
        ),
        ClaimShare(
            claim_id="0x02",
            amount=400,
            credit_class="trip:ev_carshare@2026.3",
            vintage=2026,
            assurance="single-source",
        ),
    ]
    shares = _classes(claims, 500, 300)
    lot = Lot(kind="issuance", amount=300, tx_hash="0x", block_number=1, block_time=1)
    lot.classes = shares
    summed = _sum_classes([lot, lot])
    assert [(s.assurance, int(s.amount)) for s in shares] == [
        ("corroborated", 100),
        ("single-source", 200),
    ]
    assert [(s.credit_class, s.vintage, s.assurance, int(s.amount)) for s in summed] == [
        ("trip:ev_carshare@2026.3", 2026, "corroborated", 200),
        ("trip:ev_carshare@2026.3", 2026, "single-source", 400),
    ]
