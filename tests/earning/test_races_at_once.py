"""Check-then-act rules of earning that the first requests of a kind meet, sent at the same
moment: threads held at a barrier, then released together, each posting through one of two
apps (two engines, as two API processes) on the same database. The database decides."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from api.app import create_app
from api.chain.gateway import ChainGateway, NonceManager
from api.earning.methodology import factor_set
from api.earning.models import Claim, EarningTally, MethodologySet
from api.settings import Settings
from tests.conftest import Accounts
from tests.contracts.conftest import Platform
from tests.earning.conftest import Partners
from tests.people import People

pytestmark = pytest.mark.chain

KST = 9 * 3600


@pytest.fixture
def apps(earning_settings: Settings, chain: ChainGateway, deployment) -> Iterator[list[TestClient]]:
    """Two apps on the test's database, each with its own engine (as two API processes)."""
    chain.nonces = NonceManager(chain.w3)
    with (
        TestClient(create_app(earning_settings)) as first,
        TestClient(create_app(earning_settings)) as second,
    ):
        yield [first, second]


@pytest.fixture
def people(apps: list[TestClient], earning_settings: Settings) -> People:
    return People(earning_settings, apps[0].app.state.crda.sessions)  # type: ignore[attr-defined]


def at_once(
    apps: list[TestClient], path: str, requests: list[tuple[dict, dict]]
) -> list[httpx.Response]:
    """POST every (body, headers) from a thread of its own, all released by one barrier, the
    threads spread over the apps; the responses in the order given."""
    barrier = threading.Barrier(len(requests))
    responses: list[httpx.Response | None] = [None] * len(requests)
    errors: list[Exception] = []

    def send(n: int, body: dict, headers: dict) -> None:
        barrier.wait()
        try:
            responses[n] = apps[n % len(apps)].post(path, json=body, headers=headers)
        except Exception as exc:  # noqa: BLE001 (a server error: the test client raises it here)
            errors.append(exc)

    threads = [
        threading.Thread(target=send, args=(n, body, headers))
        for n, (body, headers) in enumerate(requests)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors, errors
    assert all(r is not None for r in responses), "a request did not finish"
    return responses  # type: ignore[return-value]


def _local_day_start() -> int:
    """A moment of the current local (KST) day with room for the day's rides, in UTC seconds:
    today's midnight when enough of the day has passed, else yesterday's."""
    now = int(time.time())
    midnight = (now + KST) // 86400 * 86400 - KST
    return midnight + 60 if now - midnight > 10_000 else midnight - 86_400 + 60


def test_a_burst_of_rides_never_passes_the_kind_cap(
    apps: list[TestClient], people: People, partners: Partners, verified: Accounts
) -> None:
    """2026.2 and later cap bikes and scooters at 3 kg a citizen a day: of twelve 299 g rides
    (1,750 m, within 1.5x the straight line) of one day sent together, ten are credited
    (2,990 g), two refused, whatever the order."""
    alice = verified.alice.address
    base = _local_day_start()
    rides = [partners.ride(alice, start=base + n * 700, distance=1_750) for n in range(12)]
    headers = people.holder(alice)
    body = [{"evidence": e.model_dump(), "signature": s, "gps_legs_m": []} for e, s in rides]
    responses = at_once(apps, "/earning/trips", [(b, headers) for b in body])

    accepted = [r.json()["amount_grams"] for r in responses if r.status_code == 201]
    refused = [r.json() for r in responses if r.status_code != 201]
    assert accepted == [299] * 10, [r.text for r in responses]
    assert {(p["type"], p["kind"], p["cap_grams"]) for p in refused} == {
        ("/problems/kind-cap-reached", "micromobility", 3000)
    }
    with apps[0].app.state.crda.sessions() as session:  # type: ignore[attr-defined]
        grams = session.scalar(
            select(func.sum(Claim.amount)).where(Claim.beneficiary == alice, Claim.mode == "bike")
        )
        day = time.strftime("%Y-%m-%d", time.gmtime(base + KST))
        tally = session.scalar(
            select(EarningTally.grams).where(
                EarningTally.citizen == alice, EarningTally.period == f"micromobility@{day}"
            )
        )
    assert grams == tally == 10 * 299


def test_the_first_claims_of_a_new_key_and_factor_set_arrive_together(
    apps: list[TestClient],
    people: People,
    partners: Partners,
    verified: Accounts,
    platform: Platform,
    earning_settings: Settings,
) -> None:
    """The database starts with no factor set recorded and a merchant whose key has signed
    nothing: three citizens' first receipts, one of them sent three times, all at once. The set
    is recorded once, with the right content, every claim rests on it, the repeated receipt
    earns once, and nothing fails with a 500."""
    carol = verified.carol.address
    platform.attest(carol)
    citizens = [verified.alice.address, verified.bob.address, carol]
    with apps[0].app.state.crda.sessions() as session:  # type: ignore[attr-defined]
        assert session.scalar(select(func.count()).select_from(MethodologySet)) == 0
    requests = []
    for who in citizens:
        headers = people.holder(who)
        for _ in range(2):
            evidence, signature = partners.receipt(who)
            requests.append(({"evidence": evidence.model_dump(), "signature": signature}, headers))
    requests += [requests[0]] * 2  # the same signed receipt, twice more
    responses = at_once(apps, "/earning/purchases", requests)

    statuses = Counter(r.status_code for r in responses)
    assert statuses == {201: 6, 409: 2}, [r.text for r in responses]
    assert {r.json()["type"] for r in responses if r.status_code == 409} == {
        "/problems/duplicate-evidence"
    }
    factors = factor_set(earning_settings.methodology_version)
    with apps[0].app.state.crda.sessions() as session:  # type: ignore[attr-defined]
        recorded = session.execute(
            select(MethodologySet.hash, MethodologySet.version, MethodologySet.content)
        ).all()
        hashes = set(session.scalars(select(Claim.methodology_hash)))
        claims = session.scalar(select(func.count()).select_from(Claim))
    assert recorded == [(factors.hash_hex, factors.version, factors.content.decode())]
    assert hashes == {factors.hash_hex} and claims == 6
