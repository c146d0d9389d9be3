"""Earning tables: data providers, submissions (accepted or rejected), claims, issuance batches.

Citizens are identified by their chain address; ``account_id`` is the opaque id of the
platform account (kept as a plain column: claims outlive an erased account).
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from api.db import Base
from api.timeutil import utcnow


class ProviderKind(StrEnum):
    merchant = "merchant"  # e-receipts
    mobility = "mobility"  # transit taps, shared bikes and scooters, EV car-sharing
    # Corroborators: they sign second records of activities a mobility operator reported
    # (``api/earning/corroboration.py``); the methodology says which modes each corroborates.
    clearing_house = "clearing_house"  # the transit card clearing house
    dock = "dock"  # a bike or scooter dock
    telematics = "telematics"  # a vehicle's connected-car service
    charging = "charging"  # an EV charging network


class ProviderStatus(StrEnum):
    active = "active"
    suspended = "suspended"


class SubmissionStatus(StrEnum):
    accepted = "accepted"
    rejected = "rejected"


class ClaimStatus(StrEnum):
    accepted = "accepted"  # verified, waiting for a batch
    batched = "batched"  # in a batch whose transaction is on its way
    issued = "issued"  # the batch is on chain
    held = "held"  # its batch failed for good; the operator requeues it
    # Its holder is not verified now (revoked, expired): nothing mints to an unverified address.
    # It waits, and goes back to the queue once the holder is verified again.
    unverified = "unverified"
    # The methodology requires a second, independent record before it issues (corroboration):
    # held until one matches (then ``accepted``), or closed as ``uncorroborated`` at its deadline.
    needs_corroboration = "needs_corroboration"
    uncorroborated = "uncorroborated"  # final: never issued; its grams given back to the caps


class Assurance(StrEnum):
    single_source = "single-source"  # one provider's signed record
    corroborated = "corroborated"  # and a matching record from a different provider


class BatchStatus(StrEnum):
    pending = "pending"
    issued = "issued"
    failed = "failed"


class DataProvider(Base):
    """A partner whose signed records are evidence: a merchant or a mobility operator."""

    __tablename__ = "data_providers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[ProviderKind] = mapped_column(String(20))
    # The address of the provider's secp256k1 signing key (EIP-712 recovers to it).
    signer_address: Mapped[str] = mapped_column(String(42), unique=True)
    # Where the partner's activities happen (a merchant's store; a mobility operator's service
    # area), one of ``districts.DISTRICTS``; None when the operator did not record one.
    district: Mapped[str | None] = mapped_column(String(20))
    status: Mapped[ProviderStatus] = mapped_column(String(20), default=ProviderStatus.active)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    suspended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    suspension_reason: Mapped[str | None] = mapped_column(Text)


class MethodologySet(Base):
    """Methodology data exactly as claims used it, recorded with the first claim under it and
    never changed (content-addressed: the key is its hash): a factor set (``kind`` "factors")
    or a station graph ("stations"). An auditor's recomputation reads it here, so a file
    edited, reformatted or removed later cannot change or lose a past claim's basis."""

    __tablename__ = "methodology_sets"
    __table_args__ = (UniqueConstraint("kind", "version"),)

    hash: Mapped[str] = mapped_column(String(66), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), default="factors", server_default="factors")
    version: Mapped[str] = mapped_column(String(20))
    content: Mapped[str] = mapped_column(Text)
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ProviderKey(Base):
    """A signing key of a provider and when it was the provider's key. A record is checked
    against the key valid at its activity's time (``valid_from`` None: from the provider's
    start; ``valid_until`` None: still current), so a leaked key cut off at a moment signs
    nothing that counts after it, and a new key cannot vouch for the time before it."""

    __tablename__ = "provider_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("data_providers.id"), index=True)
    signer_address: Mapped[str] = mapped_column(String(42), unique=True)
    valid_from: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    valid_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Submission(Base):
    """Every activity a citizen submitted, with its outcome; rejected ones keep their reason."""

    __tablename__ = "earning_submissions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[str | None] = mapped_column(String(64), index=True)
    citizen: Mapped[str] = mapped_column(String(42), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    provider_address: Mapped[str | None] = mapped_column(String(42))
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON)
    signature: Mapped[str] = mapped_column(String(200))
    gps_legs_m: Mapped[list[int] | None] = mapped_column(JSON)
    evidence_hash: Mapped[str | None] = mapped_column(String(66))
    nullifier: Mapped[str | None] = mapped_column(String(66), index=True)
    status: Mapped[SubmissionStatus] = mapped_column(String(20), index=True)
    reason: Mapped[str | None] = mapped_column(String(100), index=True)  # the problem slug
    reason_detail: Mapped[str | None] = mapped_column(Text)
    claim_id: Mapped[str | None] = mapped_column(String(66))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class IssuanceBatch(Base):
    """One issuance transaction: its claims, Merkle root and the outbox row that sends it."""

    __tablename__ = "issuance_batches"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    batch_id: Mapped[str] = mapped_column(String(66), unique=True)
    merkle_root: Mapped[str] = mapped_column(String(66))
    claim_count: Mapped[int] = mapped_column(Integer)
    total_amount: Mapped[int] = mapped_column(BigInteger)
    outbox_key: Mapped[str] = mapped_column(String(200), unique=True)
    status: Mapped[BatchStatus] = mapped_column(String(20), default=BatchStatus.pending, index=True)
    tx_hash: Mapped[str | None] = mapped_column(String(66))
    block_number: Mapped[int | None] = mapped_column(BigInteger)
    error_name: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    issued_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Every claim of a batch has this credit class (activity type @ methodology) and vintage
    # (the activity's year): the batcher splits by them. None for batches formed before 0700
    # that mixed classes (the auditor's supply reads those batches' claims instead).
    credit_class: Mapped[str | None] = mapped_column(String(80), index=True)
    vintage: Mapped[int | None] = mapped_column(Integer)


class Claim(Base):
    """One verified activity's right to credits; everything needed to recompute and prove it."""

    __tablename__ = "claims"
    __table_args__ = (
        UniqueConstraint("provider_id", "kind", "record_id"),
        # The overlap check: the citizen's trips ending after a new one starts.
        Index("ix_claims_trips", "beneficiary", "kind", "activity_end"),
        # The batcher: holders with claims set aside (``unverified``), every round.
        Index("ix_claims_status_beneficiary", "status", "beneficiary"),
        # A confirmed batch's claims (``batch_id = ? AND status = 'batched'``).
        Index("ix_claims_batch_id_status", "batch_id", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    claim_id: Mapped[str] = mapped_column(String(66), unique=True)
    # Unique across the platform: the same evidence never counts twice, whoever submits it.
    nullifier: Mapped[str] = mapped_column(String(66), unique=True)
    evidence_hash: Mapped[str] = mapped_column(String(66))
    submission_id: Mapped[int] = mapped_column(ForeignKey("earning_submissions.id"), unique=True)
    account_id: Mapped[str | None] = mapped_column(String(64), index=True)
    beneficiary: Mapped[str] = mapped_column(String(42), index=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("data_providers.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    # The provider's own id of the record (receiptId, tripId): with the provider and the kind,
    # the activity, whichever of the provider's keys signed it (unique: it earns once).
    record_id: Mapped[str | None] = mapped_column(String(128))
    mode: Mapped[str | None] = mapped_column(String(32))
    activity_start: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    activity_end: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    activity_day: Mapped[date] = mapped_column(Date, index=True)  # local (Korea) calendar day
    # Where the activity happened (``districts.DISTRICTS``), fixed when the claim is accepted:
    # the boarding station's district for a tap, else the provider's; None when neither is known.
    district: Mapped[str | None] = mapped_column(String(20), index=True)
    methodology_version: Mapped[str] = mapped_column(String(20))
    methodology_hash: Mapped[str] = mapped_column(String(66))
    inputs: Mapped[dict[str, Any]] = mapped_column(JSON)
    amount: Mapped[int] = mapped_column(BigInteger)  # grams CO2e = credits (base units)
    status: Mapped[ClaimStatus] = mapped_column(
        String(20), default=ClaimStatus.accepted, index=True
    )
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("issuance_batches.id"))
    merkle_proof: Mapped[list[str] | None] = mapped_column(JSON)
    batch_attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    issued_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    assurance: Mapped[Assurance] = mapped_column(
        String(20), default=Assurance.single_source, server_default="single-source"
    )
    # When a claim held for corroboration is closed if none matched (None: not held).
    corroborate_by: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Corroboration(Base):
    """A second provider's signed record of a claim's activity (``api/earning/corroboration``).

    Database-enforced: a claim is corroborated once (``claim_id`` unique) and a record
    corroborates one claim (unique by its provider and record id, whichever key signed it)."""

    __tablename__ = "corroborations"
    __table_args__ = (UniqueConstraint("provider_id", "record_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id"), unique=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("data_providers.id"), index=True)
    record_id: Mapped[str] = mapped_column(String(128))
    source: Mapped[str] = mapped_column(String(20))  # the provider's kind: telematics, dock...
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON)
    signature: Mapped[str] = mapped_column(String(200))
    evidence_hash: Mapped[str] = mapped_column(String(66))
    signer_address: Mapped[str] = mapped_column(String(42))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Journey(Base):
    """Transit taps of one citizen joined by the methodology's transfer window, credited once.

    ``exact_g`` is the exact (unrounded) sum of its taps' components and ``credited_g`` the
    grams its claims hold, which is ``exact_g`` rounded down: each new tap's claim is the
    increment. A tap joins a journey by a conditional UPDATE on ``taps`` (the count it read),
    under the citizen's tally row, so two taps of one citizen at once can never both build on
    the same state of a journey, in any number of processes."""

    __tablename__ = "earning_journeys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    citizen: Mapped[str] = mapped_column(String(42), index=True)
    methodology_version: Mapped[str] = mapped_column(String(20))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    taps: Mapped[int] = mapped_column(Integer)
    exact_g: Mapped[str] = mapped_column(Text)  # a decimal, exact
    credited_g: Mapped[int] = mapped_column(BigInteger)
    claim_ids: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


# The period of a citizen's all-time tally (its row is the first write of every submission).
ALL_TIME = "*"


class EarningTally(Base):
    """Grams credited to a citizen per period: a day (``2026-11-23``), a year (``2026``), and
    all time (``*``); and per kind of activity and period (``transit@2026-11-23``). The caps
    are conditional updates of these rows (``grams + amount <= cap``), so no number of
    concurrent submissions can pass a cap, in any number of processes; the all-time row,
    written first, serialises one citizen's overlap checks."""

    __tablename__ = "earning_tallies"
    __table_args__ = (CheckConstraint("grams >= 0", name="grams_not_negative"),)

    citizen: Mapped[str] = mapped_column(String(42), primary_key=True)
    period: Mapped[str] = mapped_column(String(40), primary_key=True)
    grams: Mapped[int] = mapped_column(BigInteger, default=0)
