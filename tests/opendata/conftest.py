"""A seeded city for the open data: accepted claims written straight into a fresh database.

The open data reads only the claims table (and fills and certificates), so the world is made
of rows, not of signed evidence through the chain (how a claim gets its district is tested in
``tests/earning``): a week two months back, with crowds in Songdo and Namdong-gu, a few buyers
in Bupyeong-gu, and one citizen alone in Ongjin-gun by car-sharing (the one to re-identify).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import pytest
from eth_utils import keccak
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from api.app import create_app
from api.earning.models import Claim, ClaimStatus, DataProvider, ProviderKind, Submission
from api.settings import Environment, Settings
from tests.audit.conftest import DatabaseFactory, new_database

KST = timedelta(hours=9)
_serial = itertools.count(1)


def citizen(name: str) -> str:
    return "0x" + keccak(text=f"opendata:{name}")[:20].hex()


def week_start(today: date) -> date:
    """The first Monday of the month two months before ``today``: its week and month ended."""
    month = date(today.year, today.month, 1)
    for _ in range(2):
        month = (month - timedelta(days=1)).replace(day=1)
    return month + timedelta(days=(7 - month.weekday()) % 7)


@dataclass
class City:
    sessions: sessionmaker[Session]
    url: str
    monday: date
    target: str  # the citizen alone in Ongjin-gun
    target_grams: int
    provider_id: int

    def add(
        self,
        who: str,
        day: date,
        grams: int,
        *,
        district: str | None,
        mode: str | None = None,
        category: str | None = None,
        at: datetime | None = None,
    ) -> None:
        """One accepted claim on ``day`` (Korea), at 10:00 local unless ``at`` is given."""
        with self.sessions() as session:
            self.write(session, who, day, grams, district, mode, category, at)
            session.commit()

    def write(
        self,
        session: Session,
        who: str,
        day: date,
        grams: int,
        district: str | None,
        mode: str | None = None,
        category: str | None = None,
        at: datetime | None = None,
    ) -> None:
        accepted = at or datetime.combine(day, time(10), UTC) - KST
        n = next(_serial)
        if mode is not None:
            kind = "trip"
            parts = [{"type": "trip", "mode": mode, "distance_m": 1000, "source": "operator"}]
        else:
            kind = "purchase"
            parts = [
                {
                    "type": "product",
                    "product_code": f"880{n:010d}",
                    "category": category,
                    "label_g": 2000 - grams,
                    "baseline_g": 2000,
                    "quantity": 1,
                }
            ]
        submission = Submission(
            citizen=who, kind=kind, evidence={}, signature="0x", status="accepted"
        )
        session.add(submission)
        session.flush()
        session.add(
            Claim(
                claim_id=f"0x{n:064x}",
                nullifier=f"0x{n:064x}",
                evidence_hash=f"0x{n:064x}",
                submission_id=submission.id,
                beneficiary=who,
                provider_id=self.provider_id,
                kind=kind,
                mode=mode,
                activity_start=accepted - timedelta(minutes=30),
                activity_end=accepted - timedelta(minutes=10),
                activity_day=day,
                district=district,
                methodology_version="2026.1",
                methodology_hash="0x" + "00" * 32,
                inputs={"kind": kind, "components": parts},
                amount=grams,
                status=ClaimStatus.issued,
                created_at=accepted,
                issued_at=accepted + timedelta(minutes=5),
            )
        )


def seed_city(sessions: sessionmaker[Session], url: str) -> City:
    """The week: crowds in Songdo and Namdong-gu, 3 buyers in Bupyeong-gu, one in Ongjin-gun."""
    with sessions() as session:
        provider = DataProvider(
            code="partner", name="Partner", kind=ProviderKind.mobility, signer_address="0x0"
        )
        session.add(provider)
        session.commit()
        provider_id = provider.id
    monday = week_start(datetime.now(UTC).date())
    world = City(sessions, url, monday, citizen("target"), 777, provider_id)
    riders = [citizen(f"rider{i}") for i in range(14)]
    bus = [citizen(f"bus{i}") for i in range(12)]
    buyers = [citizen(f"buyer{i}") for i in range(3)]
    shoppers = [citizen(f"shopper{i}") for i in range(11)]
    with sessions() as session:
        # Monday: 14 subway riders in Songdo, 12 bus riders in Namdong-gu, 3 buyers in Bupyeong-gu.
        for who in riders:
            world.write(session, who, monday, 600, "songdo", mode="subway")
        for who in bus:
            world.write(session, who, monday, 400, "namdong-gu", mode="bus")
        for who in buyers:
            world.write(session, who, monday, 1000, "bupyeong-gu", category="dairy.milk.1l")
        # Tuesday to Sunday: 12 riders in Songdo, 11 juice buyers in Namdong-gu, every day.
        for offset in range(1, 7):
            day = monday + timedelta(days=offset)
            for who in riders[:12]:
                world.write(session, who, day, 500, "songdo", mode="subway")
            for who in shoppers:
                world.write(session, who, day, 300, "namdong-gu", category="beverage.juice.1l")
        # Wednesday: the one citizen who shares an EV in Ongjin-gun.
        wednesday = monday + timedelta(days=2)
        world.write(session, world.target, wednesday, 777, "ongjin-gun", mode="ev_carshare")
        session.commit()
    return world


@pytest.fixture
def city(new_database: DatabaseFactory) -> City:
    sessions = new_database()
    return seed_city(sessions, sessions.kw["bind"].url.render_as_string(hide_password=False))


@pytest.fixture
def city_settings(city: City) -> Settings:
    return Settings(
        environment=Environment.test,
        database_url=city.url,
        check_chain_on_start=False,
        run_workers=False,
        indexer_enabled=False,
    )


@pytest.fixture
def city_app(city_settings: Settings) -> FastAPI:
    return create_app(city_settings)


@pytest.fixture
def city_client(city_app: FastAPI) -> Iterator[TestClient]:
    with TestClient(city_app) as client:
        yield client


__all__ = ["new_database"]
