"""Issuance: accepted claims -> batches -> one outbox row per batch -> claims issued on chain.

- ``form_batch`` takes up to ``issuance_batch_size`` accepted claims of one credit class
  (activity type and methodology) and vintage (the activity's year), those of the oldest
  accepted claim, once there are that many or the oldest has waited
  ``issuance_batch_max_wait`` seconds; the batch row records its class and vintage. It builds
  the Merkle tree of their claim records, derives the batch id from the claims, and in ONE
  database transaction creates the batch, assigns the claims to it and enqueues the
  ``issuance.batch`` outbox row. The claims
  move ``accepted -> batched`` with a conditional update, so two batchers (the API's and a
  ``crda worker``) can never put a claim in two batches.
- ``IssuanceBatchHandler`` (registered for the outbox) marks the batch and its claims issued in
  the transaction that confirms the row; ``IssuanceBatchAlreadyIssued`` counts as already
  applied (the contract's unique batch id is the last guard). A batch the chain refuses for good
  is ``failed`` and its claims ``held`` until the operator requeues them.
- Credits of a holder whose verification was revoked (or expired) after the claim was accepted
  are held, not minted: ``form_batch`` moves such claims ``accepted -> unverified`` and
  ``release_reverified`` moves them back once the registry verifies the holder again. The
  registry is read when the batch forms; a claim already in a batch on its way still mints.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import structlog
from eth_abi import encode as abi_encode
from eth_utils import keccak
from hexbytes import HexBytes
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker
from web3.types import TxReceipt

from api import metrics
from api.chain.errors import ChainRevert
from api.chain.gateway import ChainGateway
from api.chain.identity import IdentityReader
from api.chain.merkle import MerkleTree, claim_leaf
from api.earning.models import BatchStatus, Claim, ClaimStatus, IssuanceBatch
from api.earning.service import credit_class_of, get_claim
from api.errors import problem
from api.i18n import msg
from api.market.ledger import record_credits_issued_to
from api.outbox.models import ChainTransaction
from api.outbox.service import enqueue
from api.settings import Settings
from api.timeutil import aware

log = structlog.get_logger(__name__)

KIND = "issuance.batch"

ClaimNotIssued = problem(
    409,
    "claim-not-issued",
    "The claim is not in an issued batch yet",
    when="The claim is not in an issued batch yet, so it has no proof.",
    show="Show the claim as pending; retry later.",
)


def _b(hex_value: str) -> bytes:
    return bytes(HexBytes(hex_value))


def claim_record(claim: Claim) -> tuple[bytes, str, int, bytes, bytes]:
    """The claim record as Issuance.ClaimRecord orders it (and as its Merkle leaf hashes it)."""
    return (
        _b(claim.claim_id),
        claim.beneficiary,
        int(claim.amount),
        _b(claim.methodology_hash),
        _b(claim.evidence_hash),
    )


def batch_id_of(claim_ids: list[bytes], attempt: int) -> bytes:
    """Derived from the batch's claims (sorted) and their batching attempt."""
    return keccak(
        abi_encode(
            ["string", "bytes32[]", "uint256"], ["CRDA.batch.v1", sorted(claim_ids), attempt]
        )
    )


def form_batch(
    session: Session,
    *,
    max_size: int,
    max_wait: float,
    now: datetime | None = None,
    force: bool = False,
    verified: Callable[[set[str]], set[str]] | None = None,
) -> IssuanceBatch | None:
    """Form one batch if one is due; commits and returns it (None when nothing is due).

    With ``verified`` (which of these holders the registry verifies now), claims whose holder
    it does not verify are set aside (``unverified``, committed) instead of batched. It is
    asked only once a batch is due, for all the batch's holders at once: a batch waiting to
    fill costs no chain read.
    """
    now = now or datetime.now(UTC)
    while True:
        oldest_class = session.execute(
            select(Claim.kind, Claim.mode, Claim.methodology_version, Claim.activity_day)
            .where(Claim.status == ClaimStatus.accepted)
            .order_by(Claim.id)
            .limit(1)
        ).first()
        if oldest_class is None:
            session.rollback()
            return None
        kind, mode, version, day = oldest_class
        claims = list(
            session.scalars(
                select(Claim)
                .where(
                    Claim.status == ClaimStatus.accepted,
                    Claim.kind == kind,
                    Claim.mode.is_(None) if mode is None else Claim.mode == mode,
                    Claim.methodology_version == version,
                    Claim.activity_day >= date(day.year, 1, 1),
                    Claim.activity_day < date(day.year + 1, 1, 1),
                )
                .order_by(Claim.id)
                .limit(max_size)
                .with_for_update(skip_locked=True)
            )
        )
        if not claims:
            session.rollback()
            return None
        oldest = min(aware(c.created_at) for c in claims)
        if not force and len(claims) < max_size and now - oldest < timedelta(seconds=max_wait):
            session.rollback()
            return None
        if verified is None:
            break
        live = verified({c.beneficiary for c in claims})
        held = [c.id for c in claims if c.beneficiary not in live]
        if not held:
            break
        # Set aside (each round moves at least one claim out of the queue, so this ends).
        session.execute(
            update(Claim)
            .where(Claim.id.in_(held), Claim.status == ClaimStatus.accepted)
            .values(status=ClaimStatus.unverified)
            .execution_options(synchronize_session=False)
        )
        session.commit()
        log.info("issuance_claims_held_unverified", claims=len(held))

    records = [claim_record(c) for c in claims]
    leaves = [claim_leaf(*r) for r in records]
    tree = MerkleTree(leaves)
    attempt = max(c.batch_attempts for c in claims)
    claim_ids = [r[0] for r in records]
    batch_id = batch_id_of(claim_ids, attempt)
    totals: dict[str, int] = {}
    for c in claims:
        totals[c.beneficiary] = totals.get(c.beneficiary, 0) + int(c.amount)
    batch_hex = "0x" + batch_id.hex()
    key = f"{KIND}:{batch_hex}"
    batch = IssuanceBatch(
        batch_id=batch_hex,
        merkle_root="0x" + tree.root.hex(),
        claim_count=len(claims),
        total_amount=sum(totals.values()),
        outbox_key=key,
        status=BatchStatus.pending,
        created_at=now,
        credit_class=credit_class_of(kind, mode, version),
        vintage=day.year,
    )
    session.add(batch)
    session.flush()
    moved = session.execute(
        update(Claim)
        .where(Claim.id.in_([c.id for c in claims]), Claim.status == ClaimStatus.accepted)
        .values(status=ClaimStatus.batched, batch_id=batch.id)
        .execution_options(synchronize_session=False)
    )
    if moved.rowcount != len(claims):  # type: ignore[attr-defined]
        # Another batcher took some of these claims since we read them.
        session.rollback()
        return None
    session.execute(
        update(Claim),
        [
            {"id": c.id, "merkle_proof": ["0x" + p.hex() for p in tree.proof(leaf)]}
            for c, leaf in zip(claims, leaves, strict=True)
        ],
    )
    enqueue(
        session,
        key=key,
        kind=KIND,
        contract="Issuance",
        function="issueBatch",
        args=[batch_id, tree.root, claim_ids, list(totals), list(totals.values())],
        signer="issuer",
    )
    session.commit()
    log.info("issuance_batch_formed", batch_id=batch_hex, claims=len(claims))
    return batch


def release_reverified(session: Session, verified: Callable[[set[str]], set[str]]) -> int:
    """Claims held for an unverified holder go back to the queue once the holder verifies."""
    holders = session.scalars(
        select(Claim.beneficiary).where(Claim.status == ClaimStatus.unverified).distinct()
    ).all()
    back = sorted(verified(set(holders))) if holders else []
    if not back:
        return 0
    released = session.execute(
        update(Claim)
        .where(Claim.beneficiary.in_(back), Claim.status == ClaimStatus.unverified)
        .values(status=ClaimStatus.accepted)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    count: int = released.rowcount  # type: ignore[attr-defined]
    log.info("issuance_claims_released", claims=count)
    return count


class Batcher:
    """The periodic task the worker loop runs: forms every batch that is due.

    Each round first releases the claims of holders verified again, then batches only claims
    whose holder the identity registry verifies now (asked for each due batch: never cached).
    """

    def __init__(
        self,
        sessions: sessionmaker[Session],
        settings: Settings,
        identity: IdentityReader | None = None,
    ) -> None:
        self.sessions = sessions
        self.settings = settings
        self.max_size = settings.issuance_batch_size
        self.max_wait = settings.issuance_batch_max_wait
        self._identity = identity

    @property
    def identity(self) -> IdentityReader:
        if self._identity is None:
            # Views only (no signing): a gateway of its own, connected on first use.
            self._identity = IdentityReader(ChainGateway.connect(self.settings, check=False))
        return self._identity

    def run_once(self, *, force: bool = False) -> int:
        formed = 0
        verified = self.identity.verified
        with self.sessions() as session:
            release_reverified(session, verified)
        while True:
            with self.sessions() as session:
                batch = form_batch(
                    session,
                    max_size=self.max_size,
                    max_wait=self.max_wait,
                    force=force,
                    verified=verified,
                )
            if batch is None:
                return formed
            formed += 1


class IssuanceBatchHandler:
    """What an ``issuance.batch`` outbox row does to the database when it lands or fails."""

    def already_applied(self, row: ChainTransaction, error: ChainRevert) -> bool:
        return error.error_name == "IssuanceBatchAlreadyIssued"

    def on_confirmed(
        self, session: Session, row: ChainTransaction, receipt: TxReceipt | None
    ) -> None:
        batch = session.scalar(select(IssuanceBatch).where(IssuanceBatch.outbox_key == row.key))
        if batch is None:
            log.warning("issuance_batch_missing", key=row.key)
            return
        now = datetime.now(UTC)
        accepted = session.scalars(
            select(Claim.created_at).where(
                Claim.batch_id == batch.id, Claim.status == ClaimStatus.batched
            )
        )
        metrics.observe_issuance_lag((now - aware(at)).total_seconds() for at in accepted)
        batch.status = BatchStatus.issued
        batch.issued_at = now
        if receipt is not None:
            batch.tx_hash = row.tx_hash
            batch.block_number = row.block_number
        # else: an earlier transaction issued it; claim_proof finds it from the chain.
        minted = session.execute(
            select(Claim.beneficiary, func.sum(Claim.amount))
            .where(Claim.batch_id == batch.id, Claim.status == ClaimStatus.batched)
            .group_by(Claim.beneficiary)
            .order_by(Claim.beneficiary)
        ).all()
        session.execute(
            update(Claim)
            .where(Claim.batch_id == batch.id, Claim.status == ClaimStatus.batched)
            .values(status=ClaimStatus.issued, issued_at=now)
            .execution_options(synchronize_session=False)
        )
        # The trading ledger mirrors the chain: the minted credits become the holders' to sell.
        record_credits_issued_to(
            session,
            [(b, int(grams), f"issuance:{batch.batch_id}:{b}") for b, grams in minted],
        )

    def on_failed(self, session: Session, row: ChainTransaction, error: ChainRevert) -> None:
        batch = session.scalar(select(IssuanceBatch).where(IssuanceBatch.outbox_key == row.key))
        if batch is None:
            return
        batch.status = BatchStatus.failed
        batch.error_name = error.error_name
        session.execute(
            update(Claim)
            .where(Claim.batch_id == batch.id, Claim.status == ClaimStatus.batched)
            .values(status=ClaimStatus.held)
            .execution_options(synchronize_session=False)
        )


def requeue_held_claims(session: Session) -> int:
    """Operator: put claims of failed batches back in the queue (a new batch id each time)."""
    held = list(session.scalars(select(Claim).where(Claim.status == ClaimStatus.held)))
    for claim in held:
        claim.status = ClaimStatus.accepted
        claim.batch_id = None
        claim.merkle_proof = None
        claim.batch_attempts += 1
    session.commit()
    return len(held)


# -- proofs ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClaimProof:
    claim_id: str
    batch_id: str
    merkle_root: str
    tx_hash: str | None
    block_number: int | None
    record: dict[str, Any]
    proof: list[str]


def claim_proof(session: Session, claim_id: str, citizen: str | None = None) -> ClaimProof:
    """The claim record, its batch and its Merkle proof (once the claim is batched)."""
    claim = get_claim(session, claim_id, citizen)
    if claim.batch_id is None or claim.merkle_proof is None:
        raise ClaimNotIssued(
            msg("claim {claim_id} is {status}", claim_id=claim.claim_id, status=claim.status)
        )
    batch = session.get(IssuanceBatch, claim.batch_id)
    assert batch is not None
    return ClaimProof(
        claim_id=claim.claim_id,
        batch_id=batch.batch_id,
        merkle_root=batch.merkle_root,
        tx_hash=batch.tx_hash,
        block_number=batch.block_number,
        record={
            "claimId": claim.claim_id,
            "beneficiary": claim.beneficiary,
            "amount": int(claim.amount),
            "methodologyHash": claim.methodology_hash,
            "evidenceHash": claim.evidence_hash,
        },
        proof=list(claim.merkle_proof),
    )


def verify_on_chain(gateway: ChainGateway, proof: ClaimProof) -> bool:
    """Ask Issuance.isClaimIssued whether the record is in the batch's committed tree."""
    r = proof.record
    record = (
        _b(r["claimId"]),
        r["beneficiary"],
        int(r["amount"]),
        _b(r["methodologyHash"]),
        _b(r["evidenceHash"]),
    )
    fn = gateway.contract("Issuance").functions.isClaimIssued(
        _b(proof.batch_id), record, [_b(p) for p in proof.proof]
    )
    return bool(gateway.call(fn))


def find_batch_transaction(session: Session, gateway: ChainGateway, claim_id: str) -> None:
    """Fill in the transaction of a batch found already issued (the outbox row that confirmed
    it was not the one that mined it): from ``batchOf`` and the batch's ``BatchIssued`` event."""
    claim = get_claim(session, claim_id)
    batch = session.get(IssuanceBatch, claim.batch_id) if claim.batch_id else None
    if batch is None or batch.status != BatchStatus.issued or batch.tx_hash is not None:
        return
    issuance = gateway.contract("Issuance")
    batch_id = _b(batch.batch_id)
    block = int(gateway.call(issuance.functions.batchOf(batch_id))[1])
    logs = issuance.events.BatchIssued().get_logs(
        from_block=block, to_block=block, argument_filters={"batchId": batch_id}
    )
    if logs:
        batch.tx_hash = logs[0]["transactionHash"].to_0x_hex()
        batch.block_number = block
        session.commit()


def check_claim_on_chain(
    session: Session, gateway: ChainGateway, claim_id: str, citizen: str | None = None
) -> tuple[ClaimProof, bool]:
    """The claim's proof and whether ``Issuance.isClaimIssued`` accepts it."""
    get_claim(session, claim_id, citizen)  # another citizen's claim is not found
    find_batch_transaction(session, gateway, claim_id)
    proof = claim_proof(session, claim_id, citizen)
    return proof, verify_on_chain(gateway, proof)
