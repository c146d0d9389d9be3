"""Request and response shapes of the earning routes (``XCreate`` / ``XPublic``)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from api import examples as ex
from api.earning.corroboration import CorroborationEvidence
from api.earning.districts import District
from api.earning.evidence import ReceiptEvidence, TripEvidence
from api.earning.issuance import ClaimProof
from api.earning.methodology import StationGraph
from api.earning.models import (
    Assurance,
    Claim,
    ClaimStatus,
    Corroboration,
    DataProvider,
    IssuanceBatch,
    ProviderKey,
    ProviderKind,
    ProviderStatus,
    Submission,
)
from api.earning.service import credit_class, explain, factor_status
from api.fields import Address, address_field
from api.timeutil import UtcDateTime


class ProviderCreate(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "code": "gs-mart-songdo",
                    "name": "GS Mart Songdo",
                    "kind": "merchant",
                    "signer_address": ex.MERCHANT,
                    "district": "songdo",
                }
            ]
        }
    )

    code: str = Field(min_length=2, max_length=64, pattern=r"^[a-z0-9][a-z0-9-]*$")
    name: str = Field(min_length=1, max_length=200)
    kind: ProviderKind
    signer_address: Annotated[
        Address, address_field("Address of the provider's EIP-712 signing key.")
    ]
    district: District | None = Field(
        default=None,
        description=(
            "Where the partner's activities happen (a merchant's store, an operator's service "
            "area): a gu or gun of Incheon or an IFEZ zone. The city's open data counts a "
            "purchase or ride in this district; a tap counts at its boarding station's."
        ),
    )


class ProviderKeyCreate(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"signer_address": ex.MERCHANT, "valid_from": "2026-11-23T14:00:00Z"}]
        }
    )

    signer_address: Annotated[
        Address, address_field("Address of the provider's new EIP-712 signing key.")
    ]
    valid_from: UtcDateTime | None = Field(
        default=None,
        description=(
            "From when the new key signs for the provider (default now; may be in the past, to"
            " cut a leaked key off from when it leaked). The current key stops at this moment."
        ),
    )


class ProviderKeyPublic(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "signer_address": ex.MERCHANT,
                    "valid_from": None,
                    "valid_until": None,
                    "created_at": "2026-11-23T14:20:00Z",
                }
            ]
        }
    )

    signer_address: str
    valid_from: UtcDateTime | None = Field(description="None: from the provider's start")
    valid_until: UtcDateTime | None = Field(description="None: the current key")
    created_at: UtcDateTime

    @classmethod
    def of(cls, key: ProviderKey) -> ProviderKeyPublic:
        return cls(
            signer_address=key.signer_address,
            valid_from=key.valid_from,
            valid_until=key.valid_until,
            created_at=key.created_at,
        )


class ProviderSuspend(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"reason": "signing key reported lost by the partner"}]}
    )

    reason: str = Field(min_length=1, max_length=500)


class ProviderPublic(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "code": "gs-mart-songdo",
                    "name": "GS Mart Songdo",
                    "kind": "merchant",
                    "signer_address": ex.MERCHANT,
                    "district": "songdo",
                    "status": "active",
                    "created_at": "2026-11-23T14:20:00Z",
                    "suspended_at": None,
                    "suspension_reason": None,
                }
            ]
        }
    )

    code: str
    name: str
    kind: ProviderKind
    signer_address: str
    district: str | None
    status: ProviderStatus
    created_at: UtcDateTime
    suspended_at: UtcDateTime | None
    suspension_reason: str | None

    @classmethod
    def of(cls, p: DataProvider) -> ProviderPublic:
        return cls(
            code=p.code,
            name=p.name,
            kind=p.kind,
            signer_address=p.signer_address,
            district=p.district,
            status=p.status,
            created_at=p.created_at,
            suspended_at=p.suspended_at,
            suspension_reason=p.suspension_reason,
        )


Signature = Annotated[str, Field(pattern=r"^0x[0-9a-fA-F]{130}$")]


class PurchaseCreate(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "evidence": {
                        "receiptId": "GM-20260512-000417",
                        "merchant": ex.MERCHANT,
                        "citizen": ex.CITIZEN,
                        "issuedAt": 1795443807,
                        "items": [
                            {
                                "productCode": "8801234567893",
                                "category": "dairy.milk.1l",
                                "quantity": 6,
                                "labelGrams": 1900,
                            },
                            {
                                "productCode": "8809876543210",
                                "category": "beverage.juice.1l",
                                "quantity": 2,
                                "labelGrams": 700,
                            },
                        ],
                    },
                    "signature": ex.RECEIPT_SIGNATURE,
                }
            ]
        }
    )

    evidence: ReceiptEvidence
    signature: Signature


class TripCreate(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "evidence": {
                        "tripId": "ICT-7731-20260512-0815",
                        "operator": ex.OPERATOR,
                        "citizen": ex.CITIZEN,
                        "mode": "subway",
                        "startedAt": 1795442337,
                        "endedAt": 1795443237,
                        "fromStation": "IC1-127",
                        "toStation": "IC1-120",
                        "startLat": 0,
                        "startLon": 0,
                        "endLat": 0,
                        "endLon": 0,
                        "distanceMeters": 4200,
                    },
                    "signature": ex.TRIP_SIGNATURE,
                    "gps_legs_m": [350, 500],
                }
            ]
        }
    )

    evidence: TripEvidence
    signature: Signature
    gps_legs_m: list[Annotated[int, Field(ge=1, le=100_000)]] = Field(
        default_factory=list,
        max_length=10,
        description="Walking legs to and from the stop measured by the app, metres each",
    )


class ClaimPublic(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [ex.PURCHASE_CLAIM_ISSUED, ex.TRIP_CLAIM_ACCEPTED]}
    )

    claim_id: str
    status: ClaimStatus
    kind: str
    mode: str | None
    amount_grams: int
    beneficiary: str
    activity_start: UtcDateTime
    activity_end: UtcDateTime
    methodology_version: str
    methodology_hash: str
    evidence_hash: str
    inputs: dict[str, Any]
    explanation: list[str]
    credit_class: str = Field(
        description="Activity type and methodology, e.g. trip:subway@2026.2 or purchase@2026.2"
    )
    vintage: int = Field(description="The year of the activity (local day in Asia/Seoul)")
    factor_status: str = Field(
        description="The weakest status of the factors the amount rests on: sourced, "
        "estimate or placeholder (the methodology says what each means)"
    )
    batch_id: str | None = None
    tx_hash: str | None = None
    created_at: UtcDateTime
    issued_at: UtcDateTime | None
    assurance: Assurance = Field(
        default=Assurance.single_source,
        description="single-source: one provider's signed record; corroborated: a second "
        "record from a different provider matched it (the methodology states the rule)",
    )
    corroboration: CorroborationSummary | None = None
    corroborate_by: UtcDateTime | None = Field(
        default=None,
        description="A claim held for corroboration (status needs_corroboration) is closed as "
        "uncorroborated at this moment if no matching record came",
    )

    @classmethod
    def of(
        cls,
        claim: Claim,
        batch: IssuanceBatch | None = None,
        corroborated_by: tuple[Corroboration, str] | None = None,
    ) -> ClaimPublic:
        return cls(
            claim_id=claim.claim_id,
            status=claim.status,
            kind=claim.kind,
            mode=claim.mode,
            amount_grams=int(claim.amount),
            beneficiary=claim.beneficiary,
            activity_start=claim.activity_start,
            activity_end=claim.activity_end,
            methodology_version=claim.methodology_version,
            methodology_hash=claim.methodology_hash,
            evidence_hash=claim.evidence_hash,
            inputs=claim.inputs,
            explanation=explain(claim),
            credit_class=credit_class(claim),
            vintage=claim.activity_day.year,
            factor_status=factor_status(claim),
            batch_id=batch.batch_id if batch else None,
            tx_hash=batch.tx_hash if batch else None,
            created_at=claim.created_at,
            issued_at=claim.issued_at,
            assurance=claim.assurance,
            corroboration=CorroborationSummary.of(*corroborated_by) if corroborated_by else None,
            corroborate_by=claim.corroborate_by,
        )


class CorroborationSummary(BaseModel):
    """The second record that corroborated a claim."""

    provider: str = Field(description="The corroborating provider's code")
    source: str = Field(description="Its kind: clearing_house, dock, telematics or charging")
    record_id: str
    evidence_hash: str = Field(description="EIP-712 digest of the signed Corroboration record")
    created_at: UtcDateTime

    @classmethod
    def of(cls, c: Corroboration, provider_code: str) -> CorroborationSummary:
        return cls(
            provider=provider_code,
            source=c.source,
            record_id=c.record_id,
            evidence_hash=c.evidence_hash,
            created_at=c.created_at,
        )


class CorroborationCreate(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "evidence": {
                        "recordId": "TLM-88-20260512-0815",
                        "corroborator": ex.OPERATOR,
                        "citizen": ex.CITIZEN,
                        "mode": "ev_carshare",
                        "startedAt": 1795442337,
                        "endedAt": 1795449537,
                        "distanceMeters": 99_200,
                    },
                    "signature": ex.TRIP_SIGNATURE,
                }
            ]
        }
    )

    evidence: CorroborationEvidence
    signature: Signature


class CorroborationPublic(BaseModel):
    """What a corroborating record did: the claim it matched, now corroborated."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "claim_id": ex.TRIP_CLAIM,
                    "claim_status": "accepted",
                    "assurance": "corroborated",
                    "corroboration": {
                        "provider": "connected-car",
                        "source": "telematics",
                        "record_id": "TLM-88-20260512-0815",
                        "evidence_hash": ex.TRIP_HASH,
                        "created_at": "2026-05-12T10:21:07Z",
                    },
                }
            ]
        }
    )

    claim_id: str
    claim_status: ClaimStatus = Field(
        description="accepted when the claim was held for this corroboration (it now issues)"
    )
    assurance: Assurance
    corroboration: CorroborationSummary


class ProofPublic(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [ex.PROOF]})

    claim_id: str
    batch_id: str
    merkle_root: str
    tx_hash: str | None
    block_number: int | None
    record: dict[str, Any] = Field(description="Issuance.ClaimRecord, in its field order")
    proof: list[str]

    @classmethod
    def of(cls, p: ClaimProof) -> ProofPublic:
        return cls(**p.__dict__)


class VerificationPublic(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"issued_on_chain": True, "proof": ex.PROOF}]}
    )

    issued_on_chain: bool
    proof: ProofPublic


class SubmissionPublic(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 7,
                    "citizen": ex.CITIZEN,
                    "kind": "purchase",
                    "provider_address": ex.MERCHANT,
                    "status": "rejected",
                    "reason": "duplicate-evidence",
                    "reason_detail": "this record was already claimed",
                    "nullifier": ex.RECEIPT_HASH,
                    "created_at": "2026-11-23T14:25:12Z",
                }
            ]
        }
    )

    id: int
    citizen: str
    kind: str
    provider_address: str | None
    status: str
    reason: str | None
    reason_detail: str | None
    nullifier: str | None
    created_at: UtcDateTime

    @classmethod
    def of(cls, s: Submission) -> SubmissionPublic:
        return cls(
            id=s.id,
            citizen=s.citizen,
            kind=s.kind,
            provider_address=s.provider_address,
            status=s.status,
            reason=s.reason,
            reason_detail=s.reason_detail,
            nullifier=s.nullifier,
            created_at=s.created_at,
        )


class EvidenceDomainPublic(BaseModel):
    """What a partner needs to sign records: the EIP-712 domain and the types."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "domain": {
                        "name": "CRDA Evidence",
                        "version": "1",
                        "chainId": ex.CHAIN_ID,
                        "verifyingContract": ex.ISSUANCE_CONTRACT,
                    },
                    "types": {
                        "Receipt": [
                            {"name": "receiptId", "type": "string"},
                            {"name": "merchant", "type": "address"},
                            {"name": "citizen", "type": "address"},
                            {"name": "issuedAt", "type": "uint64"},
                            {"name": "items", "type": "LineItem[]"},
                        ],
                        "LineItem": [
                            {"name": "productCode", "type": "string"},
                            {"name": "category", "type": "string"},
                            {"name": "quantity", "type": "uint32"},
                            {"name": "labelGrams", "type": "uint32"},
                        ],
                    },
                }
            ]
        }
    )

    domain: dict[str, Any]
    types: dict[str, list[dict[str, str]]]


class StationPublic(BaseModel):
    code: str = Field(description="The code a transit record names (fromStation, toStation)")
    name: str
    name_ko: str = Field(description="The station's Korean name")
    lat: str = Field(description="WGS84 latitude, decimal degrees (as text: exact)")
    lon: str = Field(description="WGS84 longitude, decimal degrees (as text: exact)")
    district: str = Field(description="Where a tap here happened (a gu, gun or IFEZ zone)")
    lines: list[str] = Field(description="The lines that stop here (keys of ``lines``)")


class SectionPublic(BaseModel):
    from_code: str = Field(alias="from", description="A station code")
    to_code: str = Field(alias="to", description="The adjacent station's code")
    line: str
    distance_m: int = Field(description="Track distance between the two stations, metres")
    status: str = Field(description="sourced or estimate (see ``statuses``)")
    source: str = Field(description="A key of ``sources``")
    derivation: str | None = None

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)


class StationsPublic(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "version": "2026.3",
                    "hash": ex.STATION_GRAPH_HASH,
                    "title": "Incheon rail station graph: stations, lines and inter-station"
                    " track distances",
                    "lines": {
                        "IC1": {
                            "name": "Incheon Line 1",
                            "operator": "Incheon Transit Corporation",
                            "in_graph": "Gyeyang (I110) - Int'l Business District (I138)",
                        }
                    },
                    "stations": [
                        {
                            "code": "I124",
                            "name": "Incheon City Hall",
                            "name_ko": "인천시청",
                            "lat": "37.457405",
                            "lon": "126.702221",
                            "district": "namdong-gu",
                            "lines": ["IC1", "IC2"],
                        }
                    ],
                    "aliases": {"IC1-127": "I124", "I221": "I124"},
                    "sections": [
                        {
                            "from": "I123",
                            "to": "I124",
                            "line": "IC1",
                            "distance_m": 1400,
                            "status": "estimate",
                            "source": "bixby-edges",
                            "derivation": "as transcribed in bixby-edges",
                        },
                        {
                            "from": "I124",
                            "to": "I222",
                            "line": "IC2",
                            "distance_m": 720,
                            "status": "estimate",
                            "source": "xogus-stations",
                            "derivation": "no cited track distance on file: the 689 m"
                            " straight line between the two stations' coordinates x 1.04,"
                            " rounded up to 10 m",
                        },
                    ],
                    "sources": {"bixby-edges": {"what": "Incheon Line 1 inter-station distances"}},
                    "statuses": {"estimate": "a value from a secondary source, or derived"},
                }
            ]
        }
    )

    version: str
    hash: str = Field(
        description="keccak256 of the graph's canonical JSON: a rail claim's route names it"
    )
    title: str
    lines: dict[str, dict[str, str]]
    stations: list[StationPublic]
    aliases: dict[str, str] = Field(description="Former codes and the station each names")
    sections: list[SectionPublic] = Field(
        description="Adjacent stations and the track distance between them: the graph"
    )
    sources: dict[str, dict[str, str]]
    statuses: dict[str, str]

    @classmethod
    def of(cls, graph: StationGraph) -> StationsPublic:
        data = graph.raw
        return cls(
            version=graph.version,
            hash=graph.hash_hex,
            title=data["title"],
            lines=data["lines"],
            stations=[
                StationPublic(
                    code=code,
                    name=s["name"],
                    name_ko=s["name_ko"],
                    lat=s["lat"],
                    lon=s["lon"],
                    district=s["district"],
                    lines=s["lines"],
                )
                for code, s in sorted(data["stations"].items())
            ],
            aliases=data.get("aliases", {}),
            sections=[SectionPublic.model_validate(e) for e in data["edges"]],
            sources=data["sources"],
            statuses=data["statuses"],
        )


class MethodologyPublic(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "version": "2026.2",
                    "hash": ex.METHODOLOGY_HASH,
                    "factors": {
                        "version": "2026.2",
                        "hash_rule": "canonical-json",
                        "baseline": {"mode": "car", "factor": "0.1714", "status": "estimate"},
                        "grids": {"kr-2023": {"kg_per_kwh": "0.4173", "source": "kr-grid-2023"}},
                        "modes": {
                            "subway": {
                                "energy_kwh_per_pkm": "0.0275/0.23314",
                                "grid": "kr-2023",
                                "status": "estimate",
                                "max_speed_kmh": 110,
                                "evidence": "tap",
                                "cap_kind": "transit",
                            },
                        },
                        "gps_legs": {"credited": False, "leg_cap_m": 800},
                        "caps_per_kind": {"transit": {"daily_g": 8000, "yearly_g": 400000}},
                        "product_categories_status": "placeholder",
                    },
                }
            ]
        }
    )

    version: str
    hash: str
    factors: dict[str, Any]
