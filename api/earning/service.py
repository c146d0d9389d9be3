"""Earning: data providers, activity submission (evidence -> checks -> claim), claim views.

Every function takes the database session and commits its own change. A citizen is identified
by chain address and account id (the signed-in ``Holder``); endpoints pass the signed-in
citizen's address in, and never take it from the request body.

A refused submission is stored (``earning_submissions``, status ``rejected``) with its problem
slug and detail in a transaction of its own, then the problem is raised for the client.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_FLOOR, ROUND_HALF_EVEN, Decimal
from typing import Any

from eth_abi import encode as abi_encode
from eth_utils import is_checksum_address, keccak
from sqlalchemy import BigInteger, bindparam, case, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import BindParameter

from api.chain.gateway import ChainGateway
from api.chain.identity import IdentityReader
from api.db import dialect_insert, insert_if_absent
from api.earning import corroboration, fraud
from api.earning.districts import DISTRICTS
from api.earning.evidence import (
    Domain,
    ReceiptEvidence,
    TripEvidence,
    VerifiedEvidence,
    provider_of,
    record_id_of,
    verify_evidence,
)
from api.earning.methodology import (
    EXACT,
    FactorSet,
    MethodologyTampered,
    StationGraph,
    factor_set,
    parse_factor_set,
    parse_station_graph,
    recompute,
    station_graph,
)
from api.earning.models import (
    ALL_TIME,
    Claim,
    ClaimStatus,
    DataProvider,
    EarningTally,
    IssuanceBatch,
    Journey,
    MethodologySet,
    ProviderKey,
    ProviderKind,
    ProviderStatus,
    Submission,
    SubmissionStatus,
)
from api.errors import NotFound, Problem, ValidationFailed, problem
from api.i18n import msg
from api.pagination import PageParams, Rows, keyset_rows
from api.settings import Environment, Settings
from api.timeutil import aware, utcnow


def _hex(value: bytes) -> str:
    return "0x" + value.hex()


@dataclass
class EarningContext:
    """What a submission needs besides the session: settings, the evidence domain, identity."""

    settings: Settings
    domain: Domain
    identity: IdentityReader
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    @classmethod
    def from_gateway(cls, settings: Settings, gateway: ChainGateway) -> EarningContext:
        return cls(
            settings=settings,
            domain=evidence_domain(gateway),
            identity=IdentityReader(gateway, settings.attestation_cache_seconds),
        )


def evidence_domain(gateway: ChainGateway) -> Domain:
    """The EIP-712 domain partners sign under: this chain and this deployment's Issuance."""
    return Domain(gateway.chain_id, gateway.contract("Issuance").address)


# -- data providers (operator) ---------------------------------------------------------------

ProviderExists = problem(
    409,
    "provider-exists",
    "A provider with that code or key exists",
    when="A data provider with that code or key is already registered (operator).",
    show="Show the existing provider.",
)


def register_provider(
    session: Session,
    *,
    code: str,
    name: str,
    kind: ProviderKind,
    signer_address: str,
    district: str | None = None,
) -> DataProvider:
    """The operator registers a partner, the address of its signing key and, for the city's
    open data, the district where its activities happen (a merchant's store)."""
    if not is_checksum_address(signer_address):
        raise ValidationFailed("signer_address must be a checksummed 0x address")
    if district is not None and district not in DISTRICTS:
        raise ValidationFailed(
            msg("district must be one of {districts}", districts=", ".join(DISTRICTS))
        )
    existing = session.scalar(select(DataProvider.id).where(DataProvider.code == code))
    if existing is not None or _key_taken(session, signer_address):
        raise ProviderExists(
            msg("a provider with code {code!r} or that signing key is registered", code=code)
        )
    provider = DataProvider(
        code=code,
        name=name,
        kind=ProviderKind(kind),
        signer_address=signer_address,
        district=district,
        status=ProviderStatus.active,
    )
    session.add(provider)
    session.flush()
    session.add(ProviderKey(provider_id=provider.id, signer_address=signer_address))
    _commit_keys(session)
    return provider


def _key_taken(session: Session, signer_address: str) -> bool:
    taken = select(ProviderKey.id).where(ProviderKey.signer_address == signer_address)
    return session.scalar(taken) is not None


def _commit_keys(session: Session) -> None:
    """Commit; a key registered concurrently elsewhere is the unique index's to refuse."""
    try:
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        raise ProviderExists("that signing key or provider code is registered") from exc


def rotate_key(
    session: Session, code: str, signer_address: str, valid_from: datetime | None = None
) -> DataProvider:
    """The provider's new signing key, valid from ``valid_from`` (default now); its current key
    stops at that moment. Dating it back cuts a leaked key off from when it leaked; records are
    still deduplicated by the provider's record id, so a record re-signed with the new key
    never counts twice."""
    if not is_checksum_address(signer_address):
        raise ValidationFailed("signer_address must be a checksummed 0x address")
    provider = get_provider(session, code)
    start = valid_from or datetime.now(UTC)
    if start > datetime.now(UTC):
        raise ValidationFailed("valid_from may not be in the future")
    if _key_taken(session, signer_address):
        raise ProviderExists("that signing key is registered")
    current = session.scalars(
        select(ProviderKey).where(
            ProviderKey.provider_id == provider.id, ProviderKey.valid_until.is_(None)
        )
    ).all()
    for key in current:
        if key.valid_from is not None and aware(key.valid_from) >= start:
            raise ValidationFailed(
                msg(
                    "valid_from must be after the current key's start, {start}",
                    start=key.valid_from.isoformat(),
                )
            )
        key.valid_until = start
    session.add(
        ProviderKey(provider_id=provider.id, signer_address=signer_address, valid_from=start)
    )
    provider.signer_address = signer_address
    _commit_keys(session)
    return provider


def provider_keys(session: Session, provider: DataProvider) -> list[ProviderKey]:
    """A provider's keys, oldest first."""
    return list(
        session.scalars(
            select(ProviderKey)
            .where(ProviderKey.provider_id == provider.id)
            .order_by(ProviderKey.id)
        )
    )


def get_provider(session: Session, code: str) -> DataProvider:
    provider = session.scalar(select(DataProvider).where(DataProvider.code == code))
    if provider is None:
        raise NotFound(msg("no data provider {code!r}", code=code))
    return provider


def list_providers(session: Session) -> list[DataProvider]:
    return list(session.scalars(select(DataProvider).order_by(DataProvider.id)))


def suspend_provider(session: Session, code: str, reason: str) -> DataProvider:
    """Records signed by a suspended provider are refused from now on."""
    provider = get_provider(session, code)
    provider.status = ProviderStatus.suspended
    provider.suspended_at = datetime.now(UTC)
    provider.suspension_reason = reason
    session.commit()
    return provider


def reactivate_provider(session: Session, code: str) -> DataProvider:
    provider = get_provider(session, code)
    provider.status = ProviderStatus.active
    provider.suspended_at = None
    provider.suspension_reason = None
    session.commit()
    return provider


# -- submissions -----------------------------------------------------------------------------


def submit_purchase(
    session: Session,
    ctx: EarningContext,
    *,
    citizen: str,
    account_id: str | None,
    evidence: ReceiptEvidence,
    signature: str,
) -> Claim:
    """A signed e-receipt becomes a claim, or is refused (and stored) with its reason."""
    return _submit(session, ctx, citizen, account_id, evidence, signature, [])


def submit_trip(
    session: Session,
    ctx: EarningContext,
    *,
    citizen: str,
    account_id: str | None,
    evidence: TripEvidence,
    signature: str,
    gps_legs_m: list[int] | None = None,
) -> Claim:
    """A signed trip (with optional GPS walking legs) becomes a claim, or is refused."""
    return _submit(session, ctx, citizen, account_id, evidence, signature, list(gps_legs_m or []))


def _submit(
    session: Session,
    ctx: EarningContext,
    citizen: str,
    account_id: str | None,
    evidence: ReceiptEvidence | TripEvidence,
    signature: str,
    gps_legs_m: list[int],
) -> Claim:
    kind = "purchase" if isinstance(evidence, ReceiptEvidence) else "trip"
    verified: VerifiedEvidence | None = None
    try:
        verified = verify_evidence(ctx.domain, evidence, signature)
        claim = _accept(
            session, ctx, citizen, account_id, evidence, signature, gps_legs_m, verified
        )
    except Problem as refused:
        session.rollback()
        session.add(
            Submission(
                account_id=account_id,
                citizen=citizen,
                kind=kind,
                provider_address=provider_of(evidence),
                evidence=evidence.model_dump(),
                signature=signature[:200],
                gps_legs_m=gps_legs_m or None,
                evidence_hash=_hex(verified.evidence_hash) if verified else None,
                nullifier=_hex(verified.nullifier) if verified else None,
                status=SubmissionStatus.rejected,
                reason=refused.slug,
                reason_detail=refused.detail,
            )
        )
        session.commit()
        raise
    return claim


def _accept(
    session: Session,
    ctx: EarningContext,
    citizen: str,
    account_id: str | None,
    evidence: ReceiptEvidence | TripEvidence,
    signature: str,
    gps_legs_m: list[int],
    verified: VerifiedEvidence,
) -> Claim:
    settings = ctx.settings
    now = ctx.clock()
    is_trip = isinstance(evidence, TripEvidence)

    # Provider: known by one of its keys, active, of the right type.
    found = session.execute(
        select(ProviderKey, DataProvider)
        .join(DataProvider, DataProvider.id == ProviderKey.provider_id)
        .where(ProviderKey.signer_address == verified.signer)
    ).first()
    if found is None:
        raise fraud.UnknownProvider(
            msg("{signer} is not a registered data provider", signer=verified.signer)
        )
    key, provider = found
    if provider.status != ProviderStatus.active:
        raise fraud.ProviderSuspended(msg("provider {code} is suspended", code=provider.code))
    wanted = ProviderKind.mobility if is_trip else ProviderKind.merchant
    if provider.kind != wanted:
        raise fraud.ProviderWrongType(
            msg(
                "provider {code} is a {kind}; this evidence needs a {wanted}",
                code=provider.code,
                kind=provider.kind,
                wanted=wanted,
            )
        )
    if evidence.citizen != citizen:
        raise fraud.EvidenceNotYours("the record names another citizen's address")

    # Time window.
    if isinstance(evidence, TripEvidence):
        start, end = evidence.startedAt, evidence.endedAt
    else:
        start = end = evidence.issuedAt
    started = datetime.fromtimestamp(start, UTC)
    ended = datetime.fromtimestamp(end, UTC)
    if ended > now + timedelta(seconds=settings.evidence_future_skew_seconds):
        raise fraud.EvidenceFromFuture(msg("the activity ends at {ended}", ended=ended.isoformat()))
    if now - ended > timedelta(days=settings.claim_window_days):
        raise fraud.EvidenceExpired(
            msg(
                "the activity ended {days} days ago; the claim window is {claim_window_days} days",
                days=(now - ended).days,
                claim_window_days=settings.claim_window_days,
            )
        )
    fraud.require_key_valid_at(key.valid_from, key.valid_until, started, provider.code)

    # Quantification inputs (refuses unknown modes, stations and implausible trips first).
    factors = factor_set(settings.methodology_version)
    route: fraud.Route | None = None
    if isinstance(evidence, TripEvidence):
        route = fraud.check_trip(factors, station_graph(), evidence, gps_legs_m)
        inputs = trip_inputs(
            evidence, gps_legs_m, credit_legs=factors.credits_gps_legs, route=route
        )
    else:
        inputs = purchase_inputs(factors, evidence)
    amount = factors.quantify(inputs)
    if amount <= 0:
        raise fraud.NoReduction(
            msg(
                "the activity avoids {amount} g under {version}",
                amount=amount,
                version=factors.version,
            )
        )
    if (
        factors.status_of(inputs) == "placeholder"
        and settings.environment == Environment.production
        and settings.accept_placeholder_factors != factors.version
    ):
        raise fraud.PlaceholderFactorsRefused(
            msg(
                "{version} marks a factor of this claim as a placeholder; set"
                " CRDA_ACCEPT_PLACEHOLDER_FACTORS={version} to issue on it anyway",
                version=factors.version,
            )
        )

    record_published(session, factors)
    if route is not None and route.detail:
        record_published(session, station_graph())

    # Same evidence twice, by any of the provider's keys (cheap check first; the unique
    # constraints are the last guard).
    nullifier_hex = _hex(verified.nullifier)
    kind = "trip" if is_trip else "purchase"
    _, record_id = record_id_of(evidence)
    same_record = (
        (Claim.provider_id == provider.id) & (Claim.kind == kind) & (Claim.record_id == record_id)
    )
    if session.scalar(select(Claim.id).where((Claim.nullifier == nullifier_hex) | same_record)):
        raise fraud.DuplicateEvidence("this record was already claimed")

    # The citizen's identity on chain at the activity's time.
    fraud.require_verified_at(ctx.identity.attestation(citizen), citizen, started, ended, now)

    _lock_citizen(session, citizen, amount)
    if is_trip:
        overlapping = session.scalar(
            select(Claim.claim_id).where(
                Claim.beneficiary == citizen,
                Claim.kind == "trip",
                Claim.activity_start < ended,
                Claim.activity_end > started,
            )
        )
        if overlapping is not None:
            raise fraud.OverlappingTrip(
                msg("the trip overlaps claim {overlapping}", overlapping=overlapping),
                other_claim=overlapping,
            )

    claim_id = keccak(abi_encode(["string", "bytes32"], ["CRDA.claim.v1", verified.nullifier]))
    if isinstance(evidence, TripEvidence) and evidence.mode in factors.journey_modes:
        joined = _join_journey(session, factors, citizen, started, ended, inputs, _hex(claim_id))
        if joined != amount:  # the journey's increment: the all-time tally took the tap's own
            _add(session, citizen, ALL_TIME, joined - amount)
            amount = joined
        if amount <= 0:
            raise fraud.NoReduction(
                msg(
                    "the tap adds {amount} g to its journey under {version}",
                    amount=amount,
                    version=factors.version,
                )
            )

    day = local_day(started, settings)
    # Held until corroborated (the methodology's rule): it counts against the corroborated caps.
    awaiting = corroboration.rules(factors).requirement(inputs) is not None
    _check_caps(
        session, settings, factors, factors.cap_kind(inputs), citizen, day, amount, awaiting
    )

    submission = Submission(
        account_id=account_id,
        citizen=citizen,
        kind="trip" if is_trip else "purchase",
        provider_address=provider.signer_address,
        evidence=evidence.model_dump(),
        signature=signature,
        gps_legs_m=gps_legs_m or None,
        evidence_hash=_hex(verified.evidence_hash),
        nullifier=nullifier_hex,
        status=SubmissionStatus.accepted,
        claim_id=_hex(claim_id),
    )
    session.add(submission)
    session.flush()
    claim = Claim(
        claim_id=_hex(claim_id),
        nullifier=nullifier_hex,
        evidence_hash=_hex(verified.evidence_hash),
        submission_id=submission.id,
        account_id=account_id,
        beneficiary=citizen,
        provider_id=provider.id,
        kind=submission.kind,
        record_id=record_id,
        mode=evidence.mode if isinstance(evidence, TripEvidence) else None,
        activity_start=started,
        activity_end=ended,
        activity_day=day,
        district=activity_district(evidence, provider),
        methodology_version=factors.version,
        methodology_hash=factors.hash_hex,
        inputs=inputs,
        amount=amount,
        status=ClaimStatus.accepted,
        batch_attempts=0,
        created_at=now,
    )
    corroboration.hold(claim, factors)
    session.add(claim)
    try:
        session.commit()
    except IntegrityError as exc:
        # A concurrent submission of the same record won the race.
        session.rollback()
        raise fraud.DuplicateEvidence("this record was already claimed") from exc
    return claim


def activity_district(
    evidence: ReceiptEvidence | TripEvidence, provider: DataProvider
) -> str | None:
    """Where the activity happened: the boarding station's district for a tap (the station
    registry's), else the district the provider was registered with (a merchant's store, an
    operator's service area). Never the citizen's address."""
    if isinstance(evidence, TripEvidence) and evidence.fromStation:
        station = station_graph().station(evidence.fromStation)
        if station is not None:
            return station.district
    return provider.district


# (database, hash) of the methodology data this process saw recorded and committed: each is
# checked against its record once, not on every submission (records never change).
_RECORDED: set[tuple[str, str]] = set()


def record_published(session: Session, published: FactorSet | StationGraph) -> None:
    """Record methodology data a claim is about to rest on (a factor set or a station graph:
    with the claim's transaction, the first time) and refuse data whose kind and version the
    database holds with other content."""
    bind = session.get_bind()
    key = (str(bind.engine.url), published.hash_hex)
    if key in _RECORDED:
        return
    same = (MethodologySet.kind == published.kind) & (MethodologySet.version == published.version)
    recorded = session.scalar(select(MethodologySet.hash).where(same))
    if recorded is None:
        insert_if_absent(
            session,
            MethodologySet,
            hash=published.hash_hex,
            kind=published.kind,
            version=published.version,
            content=published.content.decode(),
            recorded_at=utcnow(),
        )
        recorded = session.scalar(select(MethodologySet.hash).where(same))
    elif recorded == published.hash_hex:
        _RECORDED.add(key)
    if recorded != published.hash_hex:
        raise MethodologyTampered(
            msg(
                "methodology {version} hashes to {found}; the database recorded {recorded}",
                version=f"{published.kind} {published.version}",
                found=published.hash_hex,
                recorded=recorded,
            )
        )


def _join_journey(
    session: Session,
    factors: FactorSet,
    citizen: str,
    started: datetime,
    ended: datetime,
    inputs: dict[str, Any],
    claim_id: str,
) -> int:
    """Join the transit tap to the citizen's journey within the transfer window (or start
    one), write the journey into the tap's inputs and return the tap's grams: the journey's
    increment. Runs under the citizen's tally row (``_lock_citizen``); the journey row is
    moved on by a conditional UPDATE on the tap count it read, so a tap never builds on a
    journey that another tap changed meanwhile."""
    window = timedelta(seconds=factors.transfer_window_s or 0)
    own = factors.exact_grams(inputs)
    journey = session.scalar(
        select(Journey)
        .where(
            Journey.citizen == citizen,
            Journey.methodology_version == factors.version,
            Journey.ended_at >= started - window,
            Journey.started_at <= ended + window,
        )
        .order_by(Journey.started_at, Journey.id)
        .limit(1)
    )
    if journey is None:
        journey = Journey(
            citizen=citizen,
            methodology_version=factors.version,
            started_at=started,
            ended_at=ended,
            taps=1,
            exact_g=str(own),
            credited_g=int(own.to_integral_value(rounding=ROUND_FLOOR)),
            claim_ids=[claim_id],
        )
        session.add(journey)
        session.flush()
        inputs["journey"] = {"id": journey.id, "tap": 1, "prior_exact_g": "0", "prior_claims": []}
        return factors.quantify(inputs)
    seen = journey.taps
    inputs["journey"] = {
        "id": journey.id,
        "tap": seen + 1,
        "prior_exact_g": journey.exact_g,
        "prior_claims": list(journey.claim_ids),
    }
    amount = factors.quantify(inputs)
    moved = session.execute(
        update(Journey)
        .where(Journey.id == journey.id, Journey.taps == seen)
        .values(
            taps=seen + 1,
            exact_g=str(EXACT.add(Decimal(journey.exact_g), own)),
            credited_g=journey.credited_g + amount,
            started_at=min(aware(journey.started_at), started),
            ended_at=max(aware(journey.ended_at), ended),
            claim_ids=[*journey.claim_ids, claim_id],
        )
        .execution_options(synchronize_session=False)
    )
    if moved.rowcount != 1:  # type: ignore[attr-defined]
        raise fraud.JourneyChanged(
            msg("journey {journey} took another tap meanwhile; send again", journey=journey.id)
        )
    return amount


def recompute_claim(session: Session, claim: Claim) -> tuple[int, str]:
    """What an auditor runs: the claim's amount from its stored inputs, under the factor set
    the database recorded for its hash (``database``), else the package's file (``file``:
    claims made before sets were recorded)."""
    row = session.get(MethodologySet, claim.methodology_hash)
    if row is None:
        found = recompute(claim.methodology_version, claim.methodology_hash, claim.inputs)
        return found, "file"
    factors = parse_factor_set(row.content.encode())
    if factors.hash_hex != row.hash or factors.version != claim.methodology_version:
        raise MethodologyTampered(
            msg(
                "the recorded methodology {version} no longer hashes to {recorded}",
                version=claim.methodology_version,
                recorded=row.hash,
            )
        )
    for part in claim.inputs["components"]:
        if "route" in part:
            _check_route(session, part)
    if claim.inputs.get("journey"):
        _check_journey(session, factors, claim.inputs["journey"])
    return factors.quantify(claim.inputs), "database"


def _check_journey(session: Session, factors: FactorSet, journey: dict[str, Any]) -> None:
    """A journey tap's starting point, recomputed: the exact grams of the taps before it in
    its journey (their claims' own components) are what it recorded as ``prior_exact_g``."""
    prior_ids = list(journey["prior_claims"])
    found = session.scalars(select(Claim).where(Claim.claim_id.in_(prior_ids))).all()
    total = Decimal(0)
    for earlier in found:
        total = EXACT.add(total, factors.exact_grams(earlier.inputs))
    if len(found) != len(prior_ids) or total != Decimal(journey["prior_exact_g"]):
        raise MethodologyTampered(
            msg(
                "journey {journey}: its earlier taps give {total} g, the claim recorded {prior} g",
                journey=journey["id"],
                total=str(total),
                prior=journey["prior_exact_g"],
            )
        )


def _check_route(session: Session, part: dict[str, Any]) -> None:
    """A rail tap's credited distance, recomputed from the station graph the database recorded
    for it: the shortest path between its stations, or the reported distance when shorter."""
    route = part["route"]
    row = session.get(MethodologySet, route["graph"])
    graph = parse_station_graph(row.content.encode()) if row is not None else None
    if graph is None or graph.hash_hex != route["graph"]:
        raise MethodologyTampered(
            msg("the station graph {graph} is not recorded as it was", graph=route["graph"])
        )
    network = graph.network_m(route["from"], route["to"])
    if (
        network is None
        or network != route["network_m"]
        or int(part["distance_m"]) != min(network, int(route["reported_m"]))
    ):
        raise MethodologyTampered(
            msg(
                "the station graph {graph} gives {network} m from {start} to {end}; the claim"
                " recorded {recorded} m",
                graph=route["graph"],
                network=network,
                start=route["from"],
                end=route["to"],
                recorded=route["network_m"],
            )
        )


def local_day(moment: datetime, settings: Settings) -> date:
    return (moment + timedelta(hours=settings.earning_utc_offset_hours)).date()


# dialect -> the tally upsert, built once: building SQLAlchemy statements per call cost more
# than running them.
_UPSERTS: dict[str, Any] = {}


def _tally_upsert(session: Session) -> Any:
    key = session.get_bind().dialect.name
    statement = _UPSERTS.get(key)
    if statement is None:
        table = EarningTally.__table__
        insert = dialect_insert(session)(table).values(
            citizen=bindparam("citizen"), period=bindparam("period"), grams=bindparam("amount")
        )
        statement = insert.on_conflict_do_update(
            index_elements=[table.c.citizen, table.c.period],
            set_={"grams": table.c.grams + insert.excluded.grams},
        )
        _UPSERTS[key] = statement
    return statement


def _add(session: Session, citizen: str, period: str, amount: int) -> None:
    """Add ``amount`` to a tally with no cap (the row made on the citizen's first activity)."""
    values = {"citizen": citizen, "period": period, "amount": amount}
    session.execute(_tally_upsert(session), values)


def _lock_citizen(session: Session, citizen: str, amount: int) -> None:
    """The submission's first write: the citizen's all-time tally. It holds the citizen's row
    (PostgreSQL) or the database's write lock (SQLite) until the claim commits, so one
    citizen's overlap checks run one at a time, in any number of processes."""
    _add(session, citizen, ALL_TIME, amount)


def _check_caps(
    session: Session,
    settings: Settings,
    factors: FactorSet,
    kind: str,
    citizen: str,
    day: date,
    amount: int,
    awaiting: bool = False,
) -> None:
    """The citizen's daily and yearly caps, and the methodology's caps per kind of activity
    (tallies ``<kind>@<day>``, ``<kind>@<year>``; a claim ``awaiting`` corroboration counts
    against the kind's corroborated limits): all added in one statement (:func:`_add_capped`),
    the first refusal in that order raised."""
    caps: list[tuple[str, int]] = [
        (day.isoformat(), settings.daily_cap_grams),
        (str(day.year), settings.yearly_cap_grams),
    ]
    cap = factors.caps.get(kind)
    if cap is not None:
        daily, yearly = cap.limits(awaiting)
        for period, limit in ((day.isoformat(), daily), (str(day.year), yearly)):
            if limit is not None:
                caps.append((f"{kind}@{period}", limit))
    refused = _add_capped(session, citizen, amount, caps)
    if not refused:
        return
    period, limit = next((p, c) for p, c in caps if p in refused)
    held = refused[period]
    if period == day.isoformat():
        raise fraud.DailyCapReached(
            msg(
                "{daily} g credited on {day}; {amount} g more would pass "
                "the daily cap of {daily_cap_grams} g",
                daily=held,
                day=day.isoformat(),
                amount=amount,
                daily_cap_grams=limit,
            ),
            cap_grams=limit,
            credited_grams=held,
        )
    if period == str(day.year):
        raise fraud.YearlyCapReached(
            msg(
                "{yearly} g credited in {year}; {amount} g more would pass "
                "the yearly cap of {yearly_cap_grams} g",
                yearly=held,
                year=day.year,
                amount=amount,
                yearly_cap_grams=limit,
            ),
            cap_grams=limit,
            credited_grams=held,
        )
    raise fraud.KindCapReached(
        msg(
            "{held} g credited for {kind} in {period}; {amount} g more would pass its"
            " cap of {limit} g under {version}",
            held=held,
            kind=kind,
            period=period.partition("@")[2],
            amount=amount,
            limit=limit,
            version=factors.version,
        ),
        kind=kind,
        cap_grams=limit,
        credited_grams=held,
    )


# (dialect, tallies) -> the capped upsert of that many tallies, built once (see _UPSERTS).
_CAPPED_UPSERTS: dict[tuple[str, int], Any] = {}


def _capped_upsert(session: Session, rows: int) -> Any:
    key = (session.get_bind().dialect.name, rows)
    statement = _CAPPED_UPSERTS.get(key)
    if statement is None:
        table = EarningTally.__table__
        periods: list[BindParameter[Any]] = [bindparam(f"period{i}") for i in range(rows)]
        insert = dialect_insert(session)(table).values(
            [
                {"citizen": bindparam("citizen"), "period": period, "grams": bindparam("amount")}
                for period in periods
            ]
        )
        total = table.c.grams + insert.excluded.grams
        limit = case(
            *[
                (insert.excluded.period == period, bindparam(f"cap{i}", type_=BigInteger))
                for i, period in enumerate(periods)
            ]
        )
        statement = insert.on_conflict_do_update(
            index_elements=[table.c.citizen, table.c.period],
            set_={"grams": total},
            where=total <= limit,
        ).returning(table.c.period)
        _CAPPED_UPSERTS[key] = statement
    return statement


def _add_capped(
    session: Session, citizen: str, amount: int, caps: list[tuple[str, int]]
) -> dict[str, int]:
    """Add ``amount`` to each of the citizen's tallies ``(period, cap)`` that it keeps within
    its cap, in one statement: ``INSERT .. VALUES (..), (..) ON CONFLICT DO UPDATE .. WHERE
    grams + amount <= cap RETURNING period`` (each row's update and its condition are atomic on
    that row, so concurrent adds can never pass a cap, in any number of processes; a row the
    cap refuses is not returned); returns the refused periods with the grams their
    tallies hold (empty: all added). A refusal is the caller's to roll back."""
    refused = {period for period, cap in caps if amount > cap}
    rows = [(period, cap) for period, cap in caps if amount <= cap]
    if rows:
        values: dict[str, Any] = {"citizen": citizen, "amount": amount}
        for i, (period, cap) in enumerate(rows):
            values |= {f"period{i}": period, f"cap{i}": cap}
        added = set(session.scalars(_capped_upsert(session, len(rows)), values))
        refused |= {period for period, _ in rows if period not in added}
    if not refused:
        return {}
    held = {
        period: grams
        for period, grams in session.execute(
            select(EarningTally.period, EarningTally.grams).where(
                EarningTally.citizen == citizen, EarningTally.period.in_(refused)
            )
        )
    }
    return {period: int(held.get(period) or 0) for period in refused}


def trip_inputs(
    trip: TripEvidence,
    gps_legs_m: list[int],
    *,
    credit_legs: bool,
    route: fraud.Route | None = None,
) -> dict[str, Any]:
    """The operator's signed trip, and the app's walking legs: credited under 2026.1 only,
    kept beside the components (``uncredited``) from 2026.2 so the claim still shows them. A
    rail tap is credited at its route's distance (``route``: the station graph's shortest path
    between its stations, its hash and the reported distance), from 2026.3."""
    trip_part: dict[str, Any] = {
        "type": "trip",
        "mode": trip.mode,
        "distance_m": route.credited_m if route is not None else trip.distanceMeters,
        "source": "operator",
    }
    if route is not None and route.detail:
        trip_part["route"] = route.detail
    components: list[dict[str, Any]] = [trip_part]
    legs = [
        {"type": "trip", "mode": "walk", "distance_m": leg, "source": "gps"} for leg in gps_legs_m
    ]
    if credit_legs:
        return {"kind": "trip", "components": components + legs}
    if not legs:
        return {"kind": "trip", "components": components}
    why = "the app measured it and no operator signed it"
    return {
        "kind": "trip",
        "components": components,
        "uncredited": [{**leg, "why": why} for leg in legs],
    }


def purchase_inputs(factors: FactorSet, receipt: ReceiptEvidence) -> dict[str, Any]:
    components: list[dict[str, Any]] = []
    for item in receipt.items:
        if item.category not in factors.categories:
            raise fraud.UnknownProductCategory(
                msg(
                    "category {category!r} of product {productCode} has no baseline in {version}",
                    category=item.category,
                    productCode=item.productCode,
                    version=factors.version,
                ),
                product_code=item.productCode,
            )
        components.append(
            {
                "type": "product",
                "product_code": item.productCode,
                "category": item.category,
                "label_g": item.labelGrams,
                "baseline_g": factors.categories[item.category],
                "quantity": item.quantity,
            }
        )
    return {"kind": "purchase", "components": components}


# -- reading claims --------------------------------------------------------------------------


def get_claim(session: Session, claim_id: str, citizen: str | None = None) -> Claim:
    """A claim by id; with ``citizen``, only that citizen's own (others' are not found)."""
    claim = session.scalar(select(Claim).where(Claim.claim_id == claim_id.lower()))
    if claim is None or (citizen is not None and claim.beneficiary != citizen):
        raise NotFound(msg("no claim {claim_id}", claim_id=claim_id))
    return claim


def list_claims(session: Session, citizen: str, page: PageParams) -> Rows[Claim]:
    """The citizen's claims, newest first."""
    stmt = select(Claim).where(Claim.beneficiary == citizen)
    return keyset_rows(session, "earning-claims", stmt, [Claim.id], page, desc=True)


def batches_of(session: Session, claims: Sequence[Claim]) -> dict[int, IssuanceBatch]:
    """The issuance batches of ``claims`` by row id (one query)."""
    ids = {c.batch_id for c in claims if c.batch_id}
    if not ids:
        return {}
    return {
        b.id: b for b in session.scalars(select(IssuanceBatch).where(IssuanceBatch.id.in_(ids)))
    }


def rejected_submissions(
    session: Session, page: PageParams, *, reason: str | None = None
) -> Rows[Submission]:
    """For auditors: refused submissions with their reasons, oldest first."""
    query = select(Submission).where(Submission.status == SubmissionStatus.rejected)
    if reason:
        query = query.where(Submission.reason == reason)
    return keyset_rows(session, "earning-rejections", query, [Submission.id], page)


def _shown(value: Decimal) -> str:
    """A decimal for people: exact when it has at most 8 places, else ``≈`` and 8 places
    (the amount itself is computed exactly; see ``methodology``)."""
    short = value.quantize(Decimal("0.00000001"), rounding=ROUND_HALF_EVEN)
    return str(value) if short == value else f"≈{short.normalize()}"


def credit_class_of(kind: str, mode: str | None, methodology_version: str) -> str:
    """A credit's class: its activity type and the methodology that quantified it
    (``trip:subway@2026.2``, ``purchase@2026.2``). One fungible token carries every class; the
    class and the vintage (the activity's year) are read from the claims behind the credits."""
    activity = f"trip:{mode}" if kind == "trip" else kind
    return f"{activity}@{methodology_version}"


def credit_class(claim: Claim) -> str:
    return credit_class_of(claim.kind, claim.mode, claim.methodology_version)


def factor_status(claim: Claim) -> str:
    """The weakest status among the factors a claim's amount rests on."""
    return factor_set(claim.methodology_version, claim.methodology_hash).status_of(claim.inputs)


def explain(claim: Claim) -> list[str]:
    """Why the amount is what it is, line by line, from the stored inputs and factor set."""
    factors = factor_set(claim.methodology_version, claim.methodology_hash)
    lines: list[str] = []
    for part in claim.inputs["components"]:
        if part["type"] == "trip":
            mode = factors.modes[part["mode"]]
            grams = factors.trip_component(part["mode"], int(part["distance_m"]))
            lines.append(
                f"{part['distance_m']} m by {part['mode']} x ({factors.baseline} car - "
                f"{_shown(mode.factor)} {part['mode']}) g/m = {_shown(grams)} g"
            )
        else:
            grams = factors.product_component(
                part["category"], int(part["label_g"]), int(part["quantity"])
            )
            lines.append(
                f"{part['quantity']} x {part['product_code']} ({part['category']}): "
                f"({factors.categories[part['category']]} baseline - {part['label_g']} label) g"
                f" = {grams} g"
            )
        if "route" in part:
            route = part["route"]
            lines.append(
                f"  {route['from']} -> {route['to']}: {route['network_m']} m by the station graph"
                f" {route['graph_version']}, {route['reported_m']} m reported; the shorter counts"
            )
    journey = claim.inputs.get("journey")
    if journey is not None and journey["tap"] > 1:
        prior = Decimal(journey["prior_exact_g"])
        lines.append(
            f"tap {journey['tap']} of journey {journey['id']}: the journey held {_shown(prior)} g"
            f" ({int(prior.to_integral_value(rounding=ROUND_FLOOR))} g credited); this tap earns"
            " the journey's whole grams after it less before it"
        )
    for part in claim.inputs.get("uncredited", []):
        lines.append(
            f"{part['distance_m']} m by {part['mode']} ({part['source']}): not credited, "
            f"{part['why']}"
        )
    lines.append(f"factor status: {factors.status_of(claim.inputs)}")
    lines.append(f"total rounded down to whole grams = {claim.amount} g ({factors.version})")
    return lines
