"""Corroboration: a second, independent signed record of a claim's activity raises its assurance.

A corroborator is a data provider registered with the kind of source it is (``clearing_house``
for transit taps, ``dock`` for bikes and scooters, ``telematics`` and ``charging`` for EV
car-sharing: ``ProviderKind``). It signs a ``Corroboration`` (EIP-712, the evidence domain,
``api/chain/eip712.py``) with its provider key and submits it; the platform finds the claim it
matches by the methodology's stated rule (the factor set's ``corroboration`` section):

- same citizen address and same mode; the corroborator is not the claim's provider (another
  organisation: its keys are its own, ``provider_keys``), of a kind the methodology lists for
  the mode; its key was valid at the record's start;
- ``aligned`` sources: start and end each within ``time_tolerance_s`` of the claim's, and when
  the source measures distance, the distance within max(``distance_tolerance_m``,
  ``distance_tolerance_pct`` % of the claim's); ``within`` sources: the record lies inside the
  claim's window widened by ``time_tolerance_s``;
- of several matching claims, the one whose start is nearest (then the oldest).

The database enforces what makes it unforgeable and single-use: a claim is corroborated once
(``corroborations.claim_id`` unique) and a record corroborates once (unique by its provider and
record id, whichever of the provider's keys signed it). Two corroborations sent at once for one
claim: one commits, the other is refused (409 ``claim-already-corroborated``).

The methodology may require corroboration (``required``: a mode, above a distance, by which
sources). Such a claim is accepted into ``needs_corroboration`` with a deadline
(``window_days`` after it was accepted): the batcher never takes it; a matching record moves it to
``accepted`` (then it issues as any claim); at the deadline :func:`close_expired` closes it as
``uncorroborated`` and gives its grams back to the citizen's caps. It never issues.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import structlog
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from api.chain.eip712 import recover_digest, sign_digest
from api.earning import fraud
from api.earning.evidence import UINT32, Domain, EvidenceSignatureInvalid
from api.earning.methodology import FactorSet, factor_set
from api.earning.models import (
    ALL_TIME,
    Assurance,
    Claim,
    ClaimStatus,
    Corroboration,
    DataProvider,
    EarningTally,
    ProviderKey,
    ProviderKind,
    ProviderStatus,
)
from api.errors import problem
from api.fields import JSON_SAFE_INT, Address
from api.i18n import msg
from api.timeutil import aware

log = structlog.get_logger(__name__)

CORROBORATION_TYPES: dict[str, list[dict[str, str]]] = {
    "Corroboration": [
        {"name": "recordId", "type": "string"},
        {"name": "corroborator", "type": "address"},
        {"name": "citizen", "type": "address"},
        {"name": "mode", "type": "string"},
        {"name": "startedAt", "type": "uint64"},
        {"name": "endedAt", "type": "uint64"},
        {"name": "distanceMeters", "type": "uint32"},
    ],
}

CORROBORATORS = {
    ProviderKind.clearing_house,
    ProviderKind.dock,
    ProviderKind.telematics,
    ProviderKind.charging,
}

CorroborationUnmatched = problem(
    409,
    "corroboration-unmatched",
    "No claim matches this corroborating record",
    when=(
        "No claim of the record's citizen and mode matches it by the methodology's rule (times,"
        " distance), or every one that does is corroborated already, or is the record's own"
        " provider's, or is held for a source of another kind."
    ),
    show="Nothing to the citizen; the partner may send the record again once the claim exists.",
)
ClaimAlreadyCorroborated = problem(
    409,
    "claim-already-corroborated",
    "The matching claim was corroborated by another record",
    when="Another record corroborated the claim this one matches (a claim is corroborated once).",
    show="Nothing to the citizen: the claim is corroborated.",
)
DuplicateCorroboration = problem(
    409,
    "duplicate-corroboration",
    "This corroborating record was used already",
    when="The provider's record (its recordId) already corroborated a claim; a record counts once.",
    show="Nothing to the citizen.",
)
ProviderNotCorroborator = problem(
    403,
    "provider-not-corroborator",
    "The signer is not a corroborating provider",
    when=(
        "The record is signed by a provider that is not registered as a corroborator"
        " (clearing_house, dock, telematics, charging), or whose kind does not corroborate the"
        " record's mode under the methodology."
    ),
    show="Nothing to the citizen; the partner should ask the operator about its registration.",
)


class CorroborationEvidence(BaseModel):
    """A corroborator's record as it signs it (the EIP-712 ``Corroboration`` message).
    ``distanceMeters`` is 0 for a source that measures no distance (a charger)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    recordId: str = Field(min_length=1, max_length=128)
    corroborator: Address
    citizen: Address
    mode: str = Field(min_length=1, max_length=32)
    startedAt: int = Field(ge=0, le=JSON_SAFE_INT)
    endedAt: int = Field(ge=0, le=JSON_SAFE_INT)
    distanceMeters: int = Field(ge=0, le=UINT32)


def digest(domain: Domain, record: CorroborationEvidence) -> bytes:
    return domain.typed.digest("Corroboration", CORROBORATION_TYPES, record.model_dump())


def sign(domain: Domain, record: CorroborationEvidence, key: Any) -> str:
    """Sign a record as a corroborator would (tests, the demo, partners' SDKs)."""
    return "0x" + sign_digest(digest(domain, record), key).hex()


# -- the methodology's rules -----------------------------------------------------------------


@dataclass(frozen=True)
class Source:
    kind: str  # a ProviderKind of corroborators
    modes: frozenset[str]
    match: str  # aligned | within
    time_tolerance_s: int
    measures_distance: bool
    distance_tolerance_pct: int = 0
    distance_tolerance_m: int = 0

    def matches(self, claim: Claim, record: CorroborationEvidence) -> bool:
        start, end = aware(claim.activity_start), aware(claim.activity_end)
        r_start = datetime.fromtimestamp(record.startedAt, UTC)
        r_end = datetime.fromtimestamp(record.endedAt, UTC)
        tolerance = timedelta(seconds=self.time_tolerance_s)
        if self.match == "within":
            return start - tolerance <= r_start and r_end <= end + tolerance
        if abs(r_start - start) > tolerance or abs(r_end - end) > tolerance:
            return False
        if not self.measures_distance:
            return True
        claimed = int(claim.inputs["components"][0]["distance_m"])
        allowed = max(
            Decimal(self.distance_tolerance_m),
            Decimal(claimed) * self.distance_tolerance_pct / 100,
        )
        return abs(record.distanceMeters - claimed) <= allowed


@dataclass(frozen=True)
class Required:
    mode: str
    above_m: int
    sources: frozenset[str]


@dataclass(frozen=True)
class Rules:
    sources: dict[str, Source]
    required: list[Required]
    window: timedelta

    def requirement(self, inputs: dict[str, Any]) -> Required | None:
        """The rule that holds a claim with these inputs until corroborated, if any."""
        if inputs["kind"] != "trip":
            return None
        part = inputs["components"][0]
        for rule in self.required:
            if part["mode"] == rule.mode and int(part["distance_m"]) > rule.above_m:
                return rule
        return None


NO_RULES = Rules({}, [], timedelta(0))


_RULES: dict[bytes, Rules] = {}  # by factor-set hash: sets never change, parsed once each


def rules(factors: FactorSet) -> Rules:
    """The factor set's corroboration section (sets before 2026.3 have none: no source counts,
    nothing is required). Read on every submission: parsed once per set."""
    found = _RULES.get(factors.hash)
    if found is None:
        found = _RULES[factors.hash] = _parse_rules(factors)
    return found


def _parse_rules(factors: FactorSet) -> Rules:
    data = factors.raw.get("corroboration")
    if not data:
        return NO_RULES
    return Rules(
        sources={
            kind: Source(
                kind,
                frozenset(s["modes"]),
                s["match"],
                int(s["time_tolerance_s"]),
                bool(s["measures_distance"]),
                int(s.get("distance_tolerance_pct", 0)),
                int(s.get("distance_tolerance_m", 0)),
            )
            for kind, s in data["sources"].items()
        },
        required=[
            Required(r["mode"], int(r["above_m"]), frozenset(r["sources"]))
            for r in data.get("required", [])
        ],
        window=timedelta(days=int(data["window_days"])),
    )


# -- submitting ------------------------------------------------------------------------------


def submit(
    session: Session,
    domain: Domain,
    factors: FactorSet,
    record: CorroborationEvidence,
    signature: str,
    *,
    now: datetime | None = None,
) -> tuple[Claim, Corroboration, str]:
    """Verify a corroborator's record, match it to one claim and record the corroboration (the
    claim becomes ``corroborated``; a claim held for it goes back to the issuance queue).
    ``factors``: the methodology in force, whose rules apply to every record."""
    now = now or datetime.now(UTC)
    record_digest = digest(domain, record)
    try:
        signer = recover_digest(record_digest, signature)
    except ValueError as exc:
        raise EvidenceSignatureInvalid(msg("the signature cannot be read: {exc}", exc=exc)) from exc
    if signer != record.corroborator:
        raise EvidenceSignatureInvalid(
            "the record was changed after signing, or was not signed by the provider it names",
            signer=signer,
        )
    key = session.scalar(select(ProviderKey).where(ProviderKey.signer_address == signer))
    provider = session.get(DataProvider, key.provider_id) if key is not None else None
    if key is None or provider is None:
        raise fraud.UnknownProvider(
            msg("{signer} is not a registered data provider", signer=signer)
        )
    if provider.status != ProviderStatus.active:
        raise fraud.ProviderSuspended(msg("provider {code} is suspended", code=provider.code))
    started = datetime.fromtimestamp(record.startedAt, UTC)
    if record.endedAt < record.startedAt:
        raise fraud.InvalidTripTimes("the record ends before it starts")
    fraud.require_key_valid_at(key.valid_from, key.valid_until, started, provider.code)

    found = rules(factors)
    source = found.sources.get(str(provider.kind))
    if source is None or record.mode not in source.modes:
        raise ProviderNotCorroborator(
            msg(
                "provider {code} is a {kind}, which does not corroborate {mode} trips",
                code=provider.code,
                kind=provider.kind,
                mode=record.mode,
            )
        )
    if session.scalar(
        select(Corroboration.id).where(
            Corroboration.provider_id == provider.id, Corroboration.record_id == record.recordId
        )
    ):
        raise DuplicateCorroboration(
            msg("record {record} of {code} was used", record=record.recordId, code=provider.code)
        )

    claim = _match(session, found, source, provider, record, now)
    corroboration = Corroboration(
        claim_id=claim.id,
        provider_id=provider.id,
        record_id=record.recordId,
        source=str(provider.kind),
        evidence=record.model_dump(),
        signature=signature,
        evidence_hash="0x" + record_digest.hex(),
        signer_address=signer,
        created_at=now,
    )
    try:
        session.add(corroboration)
        session.flush()
        _raise_assurance(session, claim, now)
        session.commit()
    except IntegrityError as exc:
        # A concurrent submission won: of this very record, or of another record for the claim.
        session.rollback()
        if session.scalar(
            select(Corroboration.id).where(
                Corroboration.provider_id == provider.id,
                Corroboration.record_id == record.recordId,
            )
        ):
            raise DuplicateCorroboration(
                msg(
                    "record {record} of {code} was used", record=record.recordId, code=provider.code
                )
            ) from exc
        raise ClaimAlreadyCorroborated(
            msg("claim {claim_id} was corroborated by another record", claim_id=claim.claim_id),
            claim_id=claim.claim_id,
        ) from exc
    session.refresh(claim)
    log.info("claim_corroborated", claim_id=claim.claim_id, source=corroboration.source)
    return claim, corroboration, provider.code


def _raise_assurance(session: Session, claim: Claim, now: datetime) -> None:
    """The claim is corroborated; a held one goes back to the issuance queue unless it was
    closed at its deadline meanwhile (conditional updates: the guard against ``close_expired``)."""
    released = session.execute(
        update(Claim)
        .where(
            Claim.id == claim.id,
            Claim.status == ClaimStatus.needs_corroboration,
            Claim.corroborate_by > now,
        )
        .values(status=ClaimStatus.accepted, assurance=Assurance.corroborated)
        .execution_options(synchronize_session=False)
    )
    if released.rowcount == 1:  # type: ignore[attr-defined]
        return
    still_open = session.execute(
        update(Claim)
        .where(
            Claim.id == claim.id,
            Claim.status.not_in([ClaimStatus.needs_corroboration, ClaimStatus.uncorroborated]),
        )
        .values(assurance=Assurance.corroborated)
        .execution_options(synchronize_session=False)
    )
    if still_open.rowcount != 1:  # type: ignore[attr-defined]
        session.rollback()
        raise CorroborationUnmatched("the matching claim was closed at its deadline")


def _match(
    session: Session,
    found: Rules,
    source: Source,
    provider: DataProvider,
    record: CorroborationEvidence,
    now: datetime,
) -> Claim:
    slack = timedelta(seconds=source.time_tolerance_s)
    r_start = datetime.fromtimestamp(record.startedAt, UTC)
    r_end = datetime.fromtimestamp(record.endedAt, UTC)
    candidates = session.scalars(
        select(Claim)
        .outerjoin(Corroboration, Corroboration.claim_id == Claim.id)
        .where(
            Claim.beneficiary == record.citizen,
            Claim.kind == "trip",
            Claim.mode == record.mode,
            Claim.provider_id != provider.id,
            Claim.status != ClaimStatus.uncorroborated,
            Claim.activity_start <= r_end + slack,
            Claim.activity_end >= r_start - slack,
            Corroboration.id.is_(None),
        )
        .order_by(Claim.id)
    ).all()
    usable = []
    for claim in candidates:
        if not source.matches(claim, record):
            continue
        if claim.status == ClaimStatus.needs_corroboration:
            held_for = found.requirement(claim.inputs)
            if held_for is not None and source.kind not in held_for.sources:
                continue
            if claim.corroborate_by is not None and aware(claim.corroborate_by) <= now:
                continue
        usable.append(claim)
    if not usable:
        raise CorroborationUnmatched(
            msg(
                "no open claim of {citizen} by {mode} matches record {record}",
                citizen=record.citizen,
                mode=record.mode,
                record=record.recordId,
            )
        )
    return min(usable, key=lambda c: (abs(aware(c.activity_start) - r_start), c.id))


# -- holding and closing ---------------------------------------------------------------------


def hold(claim: Claim, factors: FactorSet) -> bool:
    """Set a new claim's status and deadline when its methodology requires corroboration."""
    found = rules(factors)
    if found.requirement(claim.inputs) is None:
        return False
    claim.status = ClaimStatus.needs_corroboration
    claim.corroborate_by = aware(claim.created_at) + found.window
    return True


def close_expired(session: Session, factors_of: Callable[[str], FactorSet], now: datetime) -> int:
    """Close held claims past their deadline as ``uncorroborated`` and give their grams back to
    the citizen's tallies (all time, day, year, and the kind's), in one transaction each."""
    due = session.scalars(
        select(Claim).where(
            Claim.status == ClaimStatus.needs_corroboration, Claim.corroborate_by <= now
        )
    ).all()
    closed = 0
    for claim in due:
        moved = session.execute(
            update(Claim)
            .where(Claim.id == claim.id, Claim.status == ClaimStatus.needs_corroboration)
            .values(status=ClaimStatus.uncorroborated)
            .execution_options(synchronize_session=False)
        )
        if moved.rowcount != 1:  # type: ignore[attr-defined]
            session.rollback()  # corroborated meanwhile
            continue
        day = claim.activity_day
        periods = [ALL_TIME, day.isoformat(), str(day.year)]
        kind = factors_of(claim.methodology_version).cap_kind(claim.inputs)
        if kind:
            periods += [f"{kind}@{day.isoformat()}", f"{kind}@{day.year}"]
        session.execute(
            update(EarningTally)
            .where(EarningTally.citizen == claim.beneficiary, EarningTally.period.in_(periods))
            .values(grams=EarningTally.grams - int(claim.amount))
            .execution_options(synchronize_session=False)
        )
        session.commit()
        closed += 1
        log.info("claim_uncorroborated", claim_id=claim.claim_id, grams=int(claim.amount))
    return closed


class Closer:
    """The periodic task: closes held claims whose deadline passed."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def run_once(self) -> int:
        with self.sessions() as session:
            return close_expired(session, factor_set, datetime.now(UTC))


def corroborations_of(
    session: Session, claims: Sequence[Claim]
) -> dict[int, tuple[Corroboration, str]]:
    """The corroborations of ``claims`` (by claim row id) with their providers' codes."""
    ids = [c.id for c in claims]
    if not ids:
        return {}
    rows = session.execute(
        select(Corroboration, DataProvider.code)
        .join(DataProvider, DataProvider.id == Corroboration.provider_id)
        .where(Corroboration.claim_id.in_(ids))
    ).all()
    return {c.claim_id: (c, code) for c, code in rows}
