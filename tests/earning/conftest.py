"""Earning fixtures: a fresh migrated database per test, partners' keys, signed records.

The chain is reverted after each test (``chain`` fixture), so each test also gets a database
of its own: claims recorded as issued must match the chain the test sees.
"""

from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from sqlalchemy.orm import Session, sessionmaker

from api.chain.gateway import ChainGateway
from api.db import make_engine, make_session_factory
from api.earning.evidence import Domain, LineItem, ReceiptEvidence, TripEvidence, sign_evidence
from api.earning.models import ProviderKind
from api.earning.service import EarningContext, evidence_domain, register_provider
from api.settings import Settings
from tests.conftest import Accounts
from tests.contracts.conftest import Platform

_ids = itertools.count(1)

# Station pairs of the development registry and their plausible track distances.
CITY_HALL_TO_BUPYEONG = ("I124", "I120", 4_200)  # straight line ~4.1 km, 4.8 km of track


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}-{next(_ids)}"


@pytest.fixture
def database(fresh_database: Callable[[], str]) -> str:
    """A freshly migrated database for this test only (SQLite, or PostgreSQL when set)."""
    return fresh_database()


@pytest.fixture
def sessions(database: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(database)
    yield make_session_factory(engine)
    engine.dispose()


@pytest.fixture
def earning_settings(settings: Settings, database: str) -> Settings:
    return settings.model_copy(
        update={
            "database_url": database,
            "attestation_cache_seconds": 0.0,
            "issuance_batch_max_wait": 0.0,
        }
    )


@pytest.fixture
def platform(chain: ChainGateway, accounts: Accounts) -> Platform:
    return Platform(
        chain=chain,
        accounts=accounts,
        registry=chain.contract("IdentityRegistry"),
        token=chain.contract("CRDAToken"),
        issuance=chain.contract("Issuance"),
    )


@pytest.fixture
def ctx(earning_settings: Settings, chain: ChainGateway) -> EarningContext:
    return EarningContext.from_gateway(earning_settings, chain)


@dataclass
class Partners:
    """Registered partners and helpers that sign records as they would."""

    domain: Domain
    merchant: LocalAccount
    transit: LocalAccount
    bikes: LocalAccount
    codes: dict[str, str] = field(default_factory=dict)

    def receipt(
        self,
        citizen: str,
        *,
        items: list[tuple[str, int, int]] | None = None,
        issued_at: int | None = None,
        merchant: LocalAccount | None = None,
        receipt_id: str | None = None,
    ) -> tuple[ReceiptEvidence, str]:
        signer = merchant or self.merchant
        evidence = ReceiptEvidence(
            receiptId=receipt_id or unique("rcpt"),
            merchant=signer.address,
            citizen=citizen,
            issuedAt=issued_at if issued_at is not None else int(time.time()) - 60,
            items=[
                LineItem(productCode=f"880{n:010d}", category=c, quantity=q, labelGrams=label)
                for n, (c, q, label) in enumerate(items or [("dairy.milk.1l", 2, 1900)])
            ],
        )
        return evidence, sign_evidence(self.domain, evidence, signer.key)

    def tap_trip(
        self,
        citizen: str,
        *,
        start: int | None = None,
        duration: int = 900,
        stations: tuple[str, str, int] = CITY_HALL_TO_BUPYEONG,
        distance: int | None = None,
        mode: str = "subway",
        operator: LocalAccount | None = None,
        trip_id: str | None = None,
    ) -> tuple[TripEvidence, str]:
        signer = operator or self.transit
        begin = start if start is not None else int(time.time()) - 3600
        evidence = TripEvidence(
            tripId=trip_id or unique("tap"),
            operator=signer.address,
            citizen=citizen,
            mode=mode,
            startedAt=begin,
            endedAt=begin + duration,
            fromStation=stations[0],
            toStation=stations[1],
            distanceMeters=distance if distance is not None else stations[2],
        )
        return evidence, sign_evidence(self.domain, evidence, signer.key)

    def ride(
        self,
        citizen: str,
        *,
        start: int | None = None,
        duration: int = 600,
        distance: int = 1_500,
        mode: str = "bike",
    ) -> tuple[TripEvidence, str]:
        begin = start if start is not None else int(time.time()) - 7200
        # Songdo: ~1.2 km due north.
        evidence = TripEvidence(
            tripId=unique("ride"),
            operator=self.bikes.address,
            citizen=citizen,
            mode=mode,
            startedAt=begin,
            endedAt=begin + duration,
            startLat=37_390_000,
            startLon=126_640_000,
            endLat=37_400_800,
            endLon=126_640_000,
            distanceMeters=distance,
        )
        return evidence, sign_evidence(self.domain, evidence, self.bikes.key)


def partner_key(name: str) -> LocalAccount:
    return Account.from_key(keccak(text=f"crda-test-partner:{name}"))


@pytest.fixture
def partners(sessions: sessionmaker[Session], chain: ChainGateway) -> Partners:
    found = Partners(
        domain=evidence_domain(chain),
        merchant=partner_key("merchant"),
        transit=partner_key("transit"),
        bikes=partner_key("bikes"),
    )
    with sessions() as session:
        # The merchant's store is in Songdo; the operators' districts are not recorded.
        for code, kind, key, district in (
            ("green-mart", ProviderKind.merchant, found.merchant, "songdo"),
            ("incheon-transit", ProviderKind.mobility, found.transit, None),
            ("songdo-bikes", ProviderKind.mobility, found.bikes, None),
        ):
            register_provider(
                session,
                code=code,
                name=code,
                kind=kind,
                signer_address=key.address,
                district=district,
            )
            found.codes[code] = key.address
    return found


@pytest.fixture
def verified(platform: Platform, accounts: Accounts) -> Accounts:
    """Alice and Bob verified on chain; Carol and Mallory not."""
    platform.attest(accounts.alice.address)
    platform.attest(accounts.bob.address)
    return accounts


def total_supply(chain: ChainGateway) -> int:
    return int(chain.contract("CRDAToken").functions.totalSupply().call())


def balance(chain: ChainGateway, who: str) -> int:
    return int(chain.contract("CRDAToken").functions.balanceOf(who).call())


__all__: list[Any] = ["balance", "total_supply", "unique"]
