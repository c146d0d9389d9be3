"""Earning endpoints: data providers (operator), activity submission and claims (citizen),
the evidence domain and methodology files (public). Thin handlers over ``api.earning.service``
and ``api.earning.issuance``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, status

from api.auth.deps import CurrentHolder, require_roles
from api.auth.models import Role
from api.deps import SessionDep, StateDep
from api.earning import corroboration, issuance, service
from api.earning.corroboration import CORROBORATION_TYPES
from api.earning.evidence import RECEIPT_TYPES, TRIP_TYPES
from api.earning.methodology import factor_set, station_graph
from api.earning.schemas import (
    ClaimPublic,
    CorroborationCreate,
    CorroborationPublic,
    CorroborationSummary,
    EvidenceDomainPublic,
    MethodologyPublic,
    ProofPublic,
    ProviderCreate,
    ProviderKeyCreate,
    ProviderKeyPublic,
    ProviderPublic,
    ProviderSuspend,
    PurchaseCreate,
    StationsPublic,
    SubmissionPublic,
    TripCreate,
    VerificationPublic,
)
from api.earning.service import EarningContext
from api.pagination import Page, PageParams, page_params

PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}


def get_earning_context(state: StateDep) -> EarningContext:
    return state.context(EarningContext.from_gateway)


EarningDep = Annotated[EarningContext, Depends(get_earning_context)]
ClaimsPage = Annotated[PageParams, Depends(page_params(maximum=200))]
RejectionsPage = Annotated[PageParams, Depends(page_params(maximum=500, default=100))]

public_router = APIRouter(prefix="/earning", tags=["evidence"])


@public_router.get("/evidence-domain")
def evidence_domain(ctx: EarningDep) -> EvidenceDomainPublic:
    """The EIP-712 domain and types partners sign e-receipts, trips and corroborations with."""
    return EvidenceDomainPublic(
        domain=ctx.domain.as_dict(),
        types={**RECEIPT_TYPES, **TRIP_TYPES, **CORROBORATION_TYPES},
    )


@public_router.post(
    "/corroborations",
    status_code=status.HTTP_201_CREATED,
    responses={403: PROBLEM, 409: PROBLEM, 422: PROBLEM},
)
def corroborate(
    body: CorroborationCreate, session: SessionDep, ctx: EarningDep
) -> CorroborationPublic:
    """A corroborator's signed second record of an activity: it corroborates the one claim it
    matches by the methodology's rule (a claim held for it then issues). The signature, by a
    registered corroborating provider's key, is the authentication."""
    claim, made, provider = corroboration.submit(
        session,
        ctx.domain,
        factor_set(ctx.settings.methodology_version),
        body.evidence,
        body.signature,
    )
    return CorroborationPublic(
        claim_id=claim.claim_id,
        claim_status=claim.status,
        assurance=claim.assurance,
        corroboration=CorroborationSummary.of(made, provider),
    )


@public_router.get("/methodologies/{version}", responses={404: PROBLEM})
def methodology(version: str) -> MethodologyPublic:
    """A factor set exactly as claims used it (its hash is in every claim record)."""
    found = factor_set(version)
    return MethodologyPublic(version=found.version, hash=found.hash_hex, factors=found.raw)


@public_router.get("/stations")
def station_registry() -> StationsPublic:
    """The station graph transit records name (``fromStation``, ``toStation``): codes, lines,
    coordinates, and the track distance of each section with its source and status, under the
    version and hash a rail claim's route records. A rail tap is credited at most the shortest
    path between its stations."""
    return StationsPublic.of(station_graph())


CitizenDep = CurrentHolder
operator = [Depends(require_roles(Role.operator))]
reader = [Depends(require_roles(Role.operator, Role.auditor))]
router = APIRouter(prefix="/earning")

# -- operator: data providers --------------------------------------------------------


@router.post(
    "/providers",
    tags=["providers"],
    status_code=status.HTTP_201_CREATED,
    dependencies=operator,
    responses={409: PROBLEM, 422: PROBLEM},
)
def register(body: ProviderCreate, session: SessionDep) -> ProviderPublic:
    """Register a merchant or mobility operator and the address of its signing key."""
    return ProviderPublic.of(
        service.register_provider(
            session,
            code=body.code,
            name=body.name,
            kind=body.kind,
            signer_address=body.signer_address,
            district=body.district,
        )
    )


@router.get("/providers", tags=["providers"], dependencies=operator)
def providers(session: SessionDep) -> list[ProviderPublic]:
    return [ProviderPublic.of(p) for p in service.list_providers(session)]


@router.post(
    "/providers/{code}/keys",
    tags=["providers"],
    status_code=status.HTTP_201_CREATED,
    dependencies=operator,
    responses={404: PROBLEM, 409: PROBLEM, 422: PROBLEM},
)
def rotate_key(code: str, body: ProviderKeyCreate, session: SessionDep) -> list[ProviderKeyPublic]:
    """Give the provider a new signing key; its current key stops where the new one starts.
    Records count once per provider, whichever of its keys signed them."""
    provider = service.rotate_key(session, code, body.signer_address, body.valid_from)
    return [ProviderKeyPublic.of(k) for k in service.provider_keys(session, provider)]


@router.get(
    "/providers/{code}/keys", tags=["providers"], dependencies=operator, responses={404: PROBLEM}
)
def keys(code: str, session: SessionDep) -> list[ProviderKeyPublic]:
    """The provider's signing keys and when each was valid, oldest first."""
    provider = service.get_provider(session, code)
    return [ProviderKeyPublic.of(k) for k in service.provider_keys(session, provider)]


@router.post(
    "/providers/{code}/suspend",
    tags=["providers"],
    dependencies=operator,
    responses={404: PROBLEM},
)
def suspend(code: str, body: ProviderSuspend, session: SessionDep) -> ProviderPublic:
    """Refuse the provider's records from now on."""
    return ProviderPublic.of(service.suspend_provider(session, code, body.reason))


@router.post(
    "/providers/{code}/reactivate",
    tags=["providers"],
    dependencies=operator,
    responses={404: PROBLEM},
)
def reactivate(code: str, session: SessionDep) -> ProviderPublic:
    return ProviderPublic.of(service.reactivate_provider(session, code))


@router.get("/rejections", tags=["providers"], dependencies=reader)
def rejections(
    session: SessionDep, page: RejectionsPage, reason: str | None = None
) -> Page[SubmissionPublic]:
    """Refused submissions with their reasons (for auditors), oldest first."""
    return service.rejected_submissions(session, page, reason=reason).page(SubmissionPublic.of)


# -- citizen: activities and claims ---------------------------------------------------

refusals: dict[int | str, dict[str, Any]] = {
    403: PROBLEM,
    409: PROBLEM,
    422: PROBLEM,
    503: PROBLEM,
}


@router.post("/purchases", tags=["claims"], status_code=status.HTTP_201_CREATED, responses=refusals)
def submit_purchase(
    body: PurchaseCreate, citizen: CitizenDep, session: SessionDep, ctx: EarningDep
) -> ClaimPublic:
    """Submit a merchant-signed e-receipt; returns the claim or the reason it was refused."""
    claim = service.submit_purchase(
        session,
        ctx,
        citizen=citizen.address,
        account_id=citizen.account_id,
        evidence=body.evidence,
        signature=body.signature,
    )
    return ClaimPublic.of(claim)


@router.post("/trips", tags=["claims"], status_code=status.HTTP_201_CREATED, responses=refusals)
def submit_trip(
    body: TripCreate, citizen: CitizenDep, session: SessionDep, ctx: EarningDep
) -> ClaimPublic:
    """Submit an operator-signed trip (and the app's GPS walking legs, if any)."""
    claim = service.submit_trip(
        session,
        ctx,
        citizen=citizen.address,
        account_id=citizen.account_id,
        evidence=body.evidence,
        signature=body.signature,
        gps_legs_m=body.gps_legs_m,
    )
    return ClaimPublic.of(claim)


@router.get("/claims", tags=["claims"])
def claims(citizen: CitizenDep, session: SessionDep, page: ClaimsPage) -> Page[ClaimPublic]:
    """The citizen's claims, newest first."""
    found = service.list_claims(session, citizen.address, page)
    batches = service.batches_of(session, found.rows)
    seconds = corroboration.corroborations_of(session, found.rows)
    return found.page(lambda c: ClaimPublic.of(c, batches.get(c.batch_id or 0), seconds.get(c.id)))


@router.get("/claims/{claim_id}", tags=["claims"], responses={404: PROBLEM})
def claim(claim_id: str, citizen: CitizenDep, session: SessionDep) -> ClaimPublic:
    """One claim: its state, amount, inputs and why the amount is what it is."""
    found = service.get_claim(session, claim_id, citizen.address)
    return ClaimPublic.of(
        found,
        service.batches_of(session, [found]).get(found.batch_id or 0),
        corroboration.corroborations_of(session, [found]).get(found.id),
    )


@router.get("/claims/{claim_id}/proof", tags=["claims"], responses={404: PROBLEM, 409: PROBLEM})
def proof(claim_id: str, citizen: CitizenDep, session: SessionDep) -> ProofPublic:
    """The claim record and its Merkle proof in its batch."""
    return ProofPublic.of(issuance.claim_proof(session, claim_id, citizen.address))


@router.get(
    "/claims/{claim_id}/verification",
    tags=["claims"],
    responses={404: PROBLEM, 409: PROBLEM, 503: PROBLEM},
)
def verification(
    claim_id: str, citizen: CitizenDep, session: SessionDep, state: StateDep
) -> VerificationPublic:
    """Check the claim on chain: ``Issuance.isClaimIssued(batchId, record, proof)``."""
    found, ok = issuance.check_claim_on_chain(
        session, state.chain_gateway(), claim_id, citizen.address
    )
    return VerificationPublic(issued_on_chain=ok, proof=ProofPublic.of(found))
