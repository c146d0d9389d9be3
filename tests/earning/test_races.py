"""Caps and overlaps hold when one citizen's submissions arrive together: sent over HTTP at the
same moment (the sync handlers run on the server's worker threads, against the real database),
the database decides, and nothing is credited past a rule."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterator
from decimal import ROUND_FLOOR

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from api.app import create_app
from api.chain.gateway import ChainGateway, NonceManager
from api.earning.methodology import EXACT, factor_set
from api.earning.models import Claim, Journey
from api.settings import Settings
from tests.conftest import Accounts
from tests.earning.conftest import Partners
from tests.earning.test_journeys import FIVE_TAPS
from tests.people import People

pytestmark = pytest.mark.chain

DAILY_CAP = 2_500


@pytest.fixture
def client(earning_settings: Settings, chain: ChainGateway, deployment) -> Iterator[TestClient]:
    chain.nonces = NonceManager(chain.w3)
    settings = earning_settings.model_copy(update={"daily_cap_grams": DAILY_CAP})
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture
def people(client: TestClient, earning_settings: Settings) -> People:
    return People(earning_settings, client.app.state.crda.sessions)  # type: ignore[attr-defined]


def together(
    client: TestClient, path: str, bodies: list[dict], headers: dict
) -> list[httpx.Response]:
    """Send every body at once to the running app (one task each, released together)."""

    async def burst() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=client.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            return await asyncio.gather(*(http.post(path, json=b, headers=headers) for b in bodies))

    return asyncio.run(burst())


def credited(client: TestClient, citizen: str) -> tuple[int, int]:
    """(claims, grams) the database holds for the citizen."""
    with client.app.state.crda.sessions() as session:  # type: ignore[attr-defined]
        count, grams = session.execute(
            select(func.count(Claim.id), func.coalesce(func.sum(Claim.amount), 0)).where(
                Claim.beneficiary == citizen
            )
        ).one()
    return int(count), int(grams)


def test_twelve_receipts_at_once_never_pass_the_daily_cap(
    client: TestClient, people: People, partners: Partners, verified: Accounts
) -> None:
    alice = verified.alice.address
    signed = [partners.receipt(alice) for _ in range(12)]
    bodies = [{"evidence": e.model_dump(), "signature": s} for e, s in signed]
    responses = together(client, "/earning/purchases", bodies, people.holder(alice))

    statuses = Counter(r.status_code for r in responses)
    accepted = [r.json() for r in responses if r.status_code == 201]
    refused = [r.json()["type"] for r in responses if r.status_code != 201]
    per_receipt = accepted[0]["amount_grams"]
    assert len(accepted) == DAILY_CAP // per_receipt, statuses
    assert set(refused) == {"/problems/daily-cap-reached"}, refused
    claims, grams = credited(client, alice)
    assert claims == len(accepted) and grams <= DAILY_CAP


def test_eight_overlapping_trips_from_two_operators_at_once_credit_one(
    client: TestClient, people: People, partners: Partners, verified: Accounts
) -> None:
    bob = verified.bob.address
    start = int(time.time()) - 3 * 3600
    trips = [partners.tap_trip(bob, start=start + 60 * i) for i in range(4)]
    trips += [partners.ride(bob, start=start + 30 + 60 * i) for i in range(4)]
    bodies = [{"evidence": e.model_dump(), "signature": s, "gps_legs_m": []} for e, s in trips]
    responses = together(client, "/earning/trips", bodies, people.holder(bob))

    accepted = [r for r in responses if r.status_code == 201]
    refused = {r.json()["type"] for r in responses if r.status_code != 201}
    assert len(accepted) == 1, [r.text for r in responses]
    assert refused == {"/problems/overlapping-trip"}
    assert credited(client, bob) == (1, accepted[0].json()["amount_grams"])


def test_five_taps_of_one_journey_sent_at_once_are_credited_once_for_the_whole(
    client: TestClient, people: People, partners: Partners, verified: Accounts
) -> None:
    """Issue 14, item 2: the taps of one journey, sent together, each build on the journey as
    the one before left it (a conditional UPDATE of its row, under the citizen's tally row):
    together they earn the journey's whole distance rounded once, whatever order they land in."""
    alice = verified.alice.address
    start = int(time.time()) - 4 * 3600
    # Five 2 km taps, each within 30 minutes of every other: one journey in any order.
    taps = [
        partners.tap_trip(alice, start=start + 360 * n, duration=300, stations=(a, b, 2_000))
        for n, (a, b) in enumerate(FIVE_TAPS)
    ]
    bodies = [{"evidence": e.model_dump(), "signature": s, "gps_legs_m": []} for e, s in taps]
    responses = together(client, "/earning/trips", bodies, people.holder(alice))

    assert [r.status_code for r in responses] == [201] * 5, [r.text for r in responses]
    whole = int(
        EXACT.multiply(5, factor_set("2026.3").trip_component("subway", 2_000)).to_integral_value(
            rounding=ROUND_FLOOR
        )
    )
    assert credited(client, alice) == (5, whole)
    with client.app.state.crda.sessions() as session:  # type: ignore[attr-defined]
        (journey,) = session.scalars(select(Journey).where(Journey.citizen == alice)).all()
        claims = session.scalars(select(Claim).where(Claim.beneficiary == alice)).all()
    assert (journey.taps, journey.credited_g) == (5, whole)
    assert sorted(journey.claim_ids) == sorted(c.claim_id for c in claims)
    assert sorted(c.inputs["journey"]["tap"] for c in claims) == [1, 2, 3, 4, 5]
