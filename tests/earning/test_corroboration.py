"""Corroboration over HTTP: a second provider's signed record of the same activity raises a
claim's assurance; an EV rental beyond 30 km is held until one comes (2026.3), then issues; a
record cannot come from the claim's own provider, cannot serve two claims, and two sent at
once for one claim corroborate it once (the database decides)."""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from eth_account.signers.local import LocalAccount
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.app import create_app
from api.audit.indexer import Indexer
from api.auth.models import Role
from api.chain.gateway import ChainGateway, NonceManager
from api.earning import corroboration
from api.earning.corroboration import CorroborationEvidence
from api.earning.evidence import TripEvidence, sign_evidence
from api.earning.methodology import factor_set
from api.earning.models import Claim, ClaimStatus, EarningTally, ProviderKind
from api.earning.service import register_provider
from api.settings import Settings
from api.timeutil import aware
from tests.conftest import Accounts
from tests.earning.conftest import Partners, balance, partner_key, unique
from tests.earning.test_races import together
from tests.people import People

pytestmark = pytest.mark.chain

DOCS = Path(__file__).resolve().parents[2] / "mobile_api_docs"
RENTAL_M = 99_500  # the issue's EV rental: 9,995 g, a whole 10 kg day on an odometer alone


@pytest.fixture
def client(earning_settings: Settings, chain: ChainGateway, deployment) -> Iterator[TestClient]:
    chain.nonces = NonceManager(chain.w3)
    settings = earning_settings.model_copy(
        update={"run_workers": True, "worker_interval": 0.05, "issuance_batch_max_wait": 0.1}
    )
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture
def people(client: TestClient, earning_settings: Settings) -> People:
    return People(earning_settings, client.app.state.crda.sessions)  # type: ignore[attr-defined]


CARS = partner_key("green-car")
TELEMATICS = partner_key("connected-car")
CHARGER = partner_key("chargers")
CLEARING = partner_key("card-clearing")
CLEARING_2 = partner_key("card-clearing-2")


@pytest.fixture
def corroborators(partners: Partners, sessions) -> Partners:
    with sessions() as session:
        for code, kind, key in (
            ("green-car", ProviderKind.mobility, CARS),
            ("connected-car", ProviderKind.telematics, TELEMATICS),
            ("chargers", ProviderKind.charging, CHARGER),
            ("card-clearing", ProviderKind.clearing_house, CLEARING),
            ("card-clearing-2", ProviderKind.clearing_house, CLEARING_2),
        ):
            register_provider(session, code=code, name=code, kind=kind, signer_address=key.address)
    return partners


def rental(partners: Partners, citizen: str, start: int, distance: int = RENTAL_M) -> dict:
    trip = TripEvidence(
        tripId=unique("ev"),
        operator=CARS.address,
        citizen=citizen,
        mode="ev_carshare",
        startedAt=start,
        endedAt=start + 7200,
        distanceMeters=distance,
    )
    return {
        "evidence": trip.model_dump(),
        "signature": sign_evidence(partners.domain, trip, CARS.key),
    }


def second(
    partners: Partners,
    signer: LocalAccount,
    trip: dict,
    *,
    distance: int | None = None,
    shift: int = 30,
    record_id: str | None = None,
) -> dict:
    """A corroborator's record of the trip: times ``shift`` s later, its own distance."""
    record = CorroborationEvidence(
        recordId=record_id or unique("second"),
        corroborator=signer.address,
        citizen=trip["evidence"]["citizen"],
        mode=trip["evidence"]["mode"],
        startedAt=trip["evidence"]["startedAt"] + shift,
        endedAt=trip["evidence"]["endedAt"] + shift,
        distanceMeters=trip["evidence"]["distanceMeters"] if distance is None else distance,
    )
    return {
        "evidence": record.model_dump(),
        "signature": corroboration.sign(partners.domain, record, signer.key),
    }


def wait_for(client: TestClient, claim_id: str, headers: dict, status: str) -> dict:
    deadline = time.monotonic() + 15
    while (got := client.get(f"/earning/claims/{claim_id}", headers=headers).json())[
        "status"
    ] != status:
        assert time.monotonic() < deadline, got["status"]
        time.sleep(0.05)
    return got


def test_a_long_ev_rental_is_held_until_telematics_corroborates_it_then_issues(
    client: TestClient,
    people: People,
    corroborators: Partners,
    verified: Accounts,
    chain: ChainGateway,
) -> None:
    alice = verified.alice.address
    me = people.holder(alice)
    trip = rental(corroborators, alice, int(time.time()) - 3 * 3600)
    held = client.post("/earning/trips", json=trip, headers=me)
    assert held.status_code == 201, held.text
    claim = held.json()
    assert claim["status"] == "needs_corroboration" and claim["amount_grams"] == 9_995
    assert claim["assurance"] == "single-source" and claim["corroboration"] is None
    assert claim["corroborate_by"] is not None
    time.sleep(0.5)  # the batcher ran several rounds: it never takes a held claim
    assert client.get(f"/earning/claims/{claim['claim_id']}", headers=me).json()["status"] == (
        "needs_corroboration"
    )
    assert balance(chain, alice) == 0

    # Not from the claim's own provider (a mobility operator is no corroborator), nor from a
    # source the hold does not name (a charger measures no distance), nor off by 10 km.
    own = client.post("/earning/corroborations", json=second(corroborators, CARS, trip))
    assert own.json()["type"] == "/problems/provider-not-corroborator", own.text
    charger = client.post("/earning/corroborations", json=second(corroborators, CHARGER, trip))
    assert charger.json()["type"] == "/problems/corroboration-unmatched", charger.text
    off = second(corroborators, TELEMATICS, trip, distance=RENTAL_M - 10_000)
    assert client.post("/earning/corroborations", json=off).status_code == 409
    tampered = second(corroborators, TELEMATICS, trip)
    tampered["evidence"]["distanceMeters"] += 1
    answer = client.post("/earning/corroborations", json=tampered)
    assert answer.json()["type"] == "/problems/evidence-signature-invalid", answer.text

    record = second(corroborators, TELEMATICS, trip, distance=RENTAL_M - 800)
    made = client.post("/earning/corroborations", json=record)
    assert made.status_code == 201, made.text
    assert made.json()["claim_id"] == claim["claim_id"]
    assert (made.json()["claim_status"], made.json()["assurance"]) == ("accepted", "corroborated")
    # The same record again, or for another rental: it counts once.
    again = client.post("/earning/corroborations", json=record)
    assert again.json()["type"] == "/problems/duplicate-corroboration", again.text

    issued = wait_for(client, claim["claim_id"], me, "issued")
    assert balance(chain, alice) == 9_995
    assert issued["assurance"] == "corroborated"
    assert issued["corroboration"]["provider"] == "connected-car"
    assert issued["corroboration"]["source"] == "telematics"

    # The auditor reaches the second provider's signed record, as signed.
    sessions = client.app.state.crda.sessions  # type: ignore[attr-defined]
    Indexer.from_settings(client.app.state.crda.settings, sessions).run()  # type: ignore[attr-defined]
    auditor = people.staff(Role.auditor)
    found = client.get(f"/audit/claims/{claim['claim_id']}/provenance", headers=auditor).json()
    assert found["record"]["assurance"] == "corroborated"
    second_record = found["record"]["corroboration"]
    assert second_record["evidence"] == record["evidence"]
    assert second_record["evidence_signature"] == record["signature"]
    assert second_record["provider"]["signer_address"] == TELEMATICS.address
    # Its batch holds one class and vintage, and the supply by class reads the batch.
    classes = client.get("/audit/supply/classes", headers=auditor).json()
    assert classes == [
        {
            "credit_class": "trip:ev_carshare@2026.3",
            "vintage": issued["vintage"],
            "amount": "9995",
            "assurance": None,
        }
    ]


def test_two_corroborations_sent_at_once_corroborate_a_claim_once(
    client: TestClient, people: People, corroborators: Partners, verified: Accounts
) -> None:
    alice = verified.alice.address
    me = people.holder(alice)
    evidence, signature = corroborators.tap_trip(alice)
    tap = client.post(
        "/earning/trips",
        json={"evidence": evidence.model_dump(), "signature": signature},
        headers=me,
    ).json()
    assert tap["status"] == "accepted" and tap["assurance"] == "single-source"
    trip = {"evidence": evidence.model_dump()}
    # The same record four times, and two clearing houses' records: all at once.
    same = second(corroborators, CLEARING, trip, distance=4_300)
    bodies = [same] * 4 + [second(corroborators, CLEARING_2, trip, distance=4_100)]
    answers = together(client, "/earning/corroborations", bodies, {})
    won = [a.json() for a in answers if a.status_code == 201]
    lost = Counter(a.json()["type"] for a in answers if a.status_code != 201)
    assert len(won) == 1, answers
    assert won[0]["claim_id"] == tap["claim_id"]
    assert sum(lost.values()) == 4 and set(lost) <= {
        "/problems/duplicate-corroboration",
        "/problems/claim-already-corroborated",
        "/problems/corroboration-unmatched",
    }, lost
    got = client.get(f"/earning/claims/{tap['claim_id']}", headers=me).json()
    assert got["assurance"] == "corroborated"
    assert got["corroboration"]["record_id"] == won[0]["corroboration"]["record_id"]


def test_a_held_rental_never_corroborated_is_closed_and_its_grams_given_back(
    sessions, ctx, corroborators: Partners, verified: Accounts
) -> None:
    """At its deadline (7 days after its acceptance under 2026.3) a held claim is closed as
    uncorroborated: it never issues, and the citizen's caps get its grams back."""
    from api.earning.service import submit_trip

    alice = verified.alice.address
    body = rental(corroborators, alice, int(time.time()) - 3 * 3600)
    with sessions() as session:
        claim = submit_trip(
            session,
            ctx,
            citizen=alice,
            account_id=None,
            evidence=TripEvidence(**body["evidence"]),
            signature=body["signature"],
        )
        assert claim.status == ClaimStatus.needs_corroboration
        deadline = aware(claim.corroborate_by)
        assert deadline == aware(claim.created_at) + timedelta(days=7)
        day = claim.activity_day.isoformat()
        tallies = dict(
            session.execute(
                select(EarningTally.period, EarningTally.grams).where(EarningTally.citizen == alice)
            ).all()
        )
        assert tallies[day] == tallies[f"ev_carshare@{day}"] == 9_995
        assert (
            corroboration.close_expired(session, factor_set, deadline - timedelta(seconds=1)) == 0
        )
        # A record that comes at the deadline is too late, even before the closer ran.
        late = second(corroborators, TELEMATICS, body)
        with pytest.raises(corroboration.CorroborationUnmatched):
            corroboration.submit(
                session,
                corroborators.domain,
                factor_set(ctx.settings.methodology_version),
                CorroborationEvidence(**late["evidence"]),
                late["signature"],
                now=deadline,
            )
        assert corroboration.close_expired(session, factor_set, deadline) == 1
    with sessions() as session:
        closed = session.get(Claim, claim.id)
        assert closed is not None and closed.status == ClaimStatus.uncorroborated
        tallies = dict(
            session.execute(
                select(EarningTally.period, EarningTally.grams).where(EarningTally.citizen == alice)
            ).all()
        )
        assert set(tallies.values()) == {0}, tallies


def test_before_corroboration_the_rental_filled_the_day_or_was_refused(
    sessions, ctx, corroborators: Partners, verified: Accounts
) -> None:
    """The closing figure's "before": 2026.1 credited the 99.5 km rental's 9,995 g on its own
    (a whole 10 kg day); 2026.2 refused it (kind cap, 3 kg); 2026.3 holds it (above)."""
    from api.earning.fraud import KindCapReached
    from api.earning.service import submit_trip

    alice, bob = verified.alice.address, verified.bob.address
    start = int(time.time()) - 3 * 3600
    refusals = {}
    for version, citizen in (("2026.1", alice), ("2026.2", bob)):
        ctx.settings = ctx.settings.model_copy(update={"methodology_version": version})
        body = rental(corroborators, citizen, start)
        with sessions() as session:
            try:
                claim = submit_trip(
                    session,
                    ctx,
                    citizen=citizen,
                    account_id=None,
                    evidence=TripEvidence(**body["evidence"]),
                    signature=body["signature"],
                )
            except KindCapReached as refused:
                refusals[version] = refused.extensions
                continue
            assert (version, claim.amount, claim.status) == ("2026.1", 9_995, ClaimStatus.accepted)
    assert refusals == {"2026.2": {"kind": "ev_carshare", "cap_grams": 3000, "credited_grams": 0}}


def test_the_partners_guide_corroborates_a_tap_as_written(
    client: TestClient, people: People, corroborators: Partners, verified: Accounts
) -> None:
    """Section 7's snippet of partners-evidence.md runs as written: the clearing house's record
    it signs and posts corroborates the citizen's subway claim."""
    guide = (DOCS / "partners-evidence.md").read_text()
    _, snippet = re.findall(r"^```python\n(.*?)^```", guide, re.MULTILINE | re.DOTALL)
    alice = verified.alice.address
    evidence, signature = corroborators.tap_trip(alice)
    tap = client.post(
        "/earning/trips",
        json={"evidence": evidence.model_dump(), "signature": signature},
        headers=people.holder(alice),
    ).json()
    record = second(corroborators, CLEARING, {"evidence": evidence.model_dump()})["evidence"]
    # The API runs in-process: the snippet's httpx goes to the test client.
    served = SimpleNamespace(
        get=lambda url: client.get(url.removeprefix("http://crda")),
        post=lambda url, json: client.post(url.removeprefix("http://crda"), json=json),
    )
    run: dict[str, object] = {
        "CRDA": "http://crda",
        "httpx": served,
        "record": record,
        "key": CLEARING.key,
    }
    exec(snippet.replace("import httpx\n", ""), run)  # noqa: S102
    answer = run["answer"].json()  # type: ignore[attr-defined]
    assert (answer["claim_id"], answer["assurance"]) == (tap["claim_id"], "corroborated")
