"""The earning routes over HTTP, as signed-in citizens and operators.

Done when: a verified citizen submits a signed e-receipt and a signed trip through the API and,
within seconds, holds the credits on chain, sees why each amount is what it is, and proves
each claim against the chain.
"""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.audit.indexer import Indexer
from api.auth.models import Role
from api.chain.gateway import ChainGateway, NonceManager
from api.settings import Settings
from tests.conftest import Accounts
from tests.earning.conftest import Partners, balance, partner_key
from tests.pages import assert_refuses_cursor_of, walk_in_pages
from tests.people import People

pytestmark = pytest.mark.chain
DOCS = Path(__file__).resolve().parents[2] / "mobile_api_docs"


@pytest.fixture
def client(earning_settings: Settings, chain: ChainGateway, deployment) -> Iterator[TestClient]:
    chain.nonces = NonceManager(chain.w3)
    settings = earning_settings.model_copy(
        update={"run_workers": True, "worker_interval": 0.05, "issuance_batch_max_wait": 0.2}
    )
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture
def people(client: TestClient, earning_settings: Settings) -> People:
    return People(earning_settings, client.app.state.crda.sessions)  # type: ignore[attr-defined]


def test_a_citizen_earns_through_the_api_and_proves_it_on_chain(
    client: TestClient, people: People, partners: Partners, verified: Accounts, chain: ChainGateway
) -> None:
    alice = verified.alice.address
    me = people.holder(alice)
    domain = client.get("/earning/evidence-domain").json()
    assert domain["domain"]["chainId"] == chain.chain_id
    assert domain["domain"]["verifyingContract"] == partners.domain.verifying_contract

    evidence, signature = partners.receipt(alice)
    bought = client.post(
        "/earning/purchases",
        json={"evidence": evidence.model_dump(), "signature": signature},
        headers=me,
    )
    assert bought.status_code == 201, bought.text
    evidence, signature = partners.tap_trip(alice)
    rode = client.post(
        "/earning/trips",
        json={"evidence": evidence.model_dump(), "signature": signature, "gps_legs_m": [300]},
        headers=me,
    )
    assert rode.status_code == 201, rode.text
    amounts = bought.json()["amount_grams"] + rode.json()["amount_grams"]
    assert "total rounded down" in rode.json()["explanation"][-1]

    deadline = time.monotonic() + 15
    while balance(chain, alice) < amounts:
        assert time.monotonic() < deadline, "credits did not reach the chain in time"
        time.sleep(0.1)
    assert balance(chain, alice) == amounts

    for claim in (bought.json(), rode.json()):
        deadline = time.monotonic() + 5
        while (got := client.get(f"/earning/claims/{claim['claim_id']}", headers=me).json())[
            "status"
        ] != "issued":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert got["tx_hash"] and got["batch_id"]
        proof = client.get(f"/earning/claims/{claim['claim_id']}/proof", headers=me)
        assert proof.status_code == 200 and proof.json()["record"]["beneficiary"] == alice
        checked = client.get(f"/earning/claims/{claim['claim_id']}/verification", headers=me)
        assert checked.json()["issued_on_chain"] is True
        # Another citizen sees nothing of it.
        other = client.get(
            f"/earning/claims/{claim['claim_id']}", headers=people.holder(verified.bob.address)
        )
        assert other.status_code == 404
    page = client.get("/earning/claims", headers=me).json()
    assert len(page["items"]) == 2 and page["next_cursor"] is None
    assert {c["status"] for c in page["items"]} == {"issued"}

    version = rode.json()["methodology_version"]
    factors = client.get(f"/earning/methodologies/{version}").json()
    assert factors["hash"] == rode.json()["methodology_hash"]

    # An auditor follows the credit back to the signed evidence it came from.
    sessions = client.app.state.crda.sessions  # type: ignore[attr-defined]
    Indexer.from_settings(client.app.state.crda.settings, sessions).run()  # type: ignore[attr-defined]
    auditor = people.staff(Role.auditor)
    claim = rode.json()
    provenance = client.get(f"/audit/claims/{claim['claim_id']}/provenance", headers=auditor).json()
    assert provenance["issued"] is True
    record = provenance["record"]
    assert provenance["record_source"] == "EarningClaimRecords"
    assert record["evidence_hash"] == claim["evidence_hash"]
    assert record["provider"]["signer_address"] == partners.transit.address
    assert record["evidence_signature"] and record["inputs"] == claim["inputs"]
    assert record["recomputation"] == {
        "ok": True,
        "expected": claim["amount_grams"],
        "stored": claim["amount_grams"],
        "source": "database",  # the factor set as recorded with the claim, not the file
    }
    proof = client.get(f"/earning/claims/{claim['claim_id']}/proof", headers=me).json()
    assert record["merkle_proof"] == proof["proof"] and record["batch_id"] == proof["batch_id"]
    assert provenance["issuances"][0]["tx_hash"] == record["tx_hash"]
    # Classes and vintages: what each credit rests on, and the supply by class.
    assert (claim["credit_class"], record["credit_class"]) == ("trip:subway@2026.3",) * 2
    assert record["factor_status"] == "estimate" and record["vintage"] == claim["vintage"]
    classes = client.get("/audit/supply/classes", headers=auditor).json()
    purchase = bought.json()
    assert {(c["credit_class"], c["vintage"], int(c["amount"])) for c in classes} == {
        ("purchase@2026.3", purchase["vintage"], purchase["amount_grams"]),
        ("trip:subway@2026.3", claim["vintage"], claim["amount_grams"]),
    }


def test_refusals_are_problem_details_and_recorded_for_auditors(
    client: TestClient, people: People, partners: Partners, verified: Accounts
) -> None:
    alice = verified.alice.address
    evidence, signature = partners.receipt(alice)
    body = {"evidence": evidence.model_dump(), "signature": signature}
    assert (
        client.post("/earning/purchases", json=body, headers=people.holder(alice)).status_code
        == 201
    )
    again = client.post("/earning/purchases", json=body, headers=people.holder(alice))
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"
    assert again.json()["type"] == "/problems/duplicate-evidence"
    malformed = client.post(
        "/earning/trips",
        json={"evidence": {"tripId": 1}, "signature": "0x"},
        headers=people.holder(alice),
    )
    assert malformed.status_code == 422
    assert malformed.json()["type"] == "/problems/validation-error"

    assert client.get("/earning/rejections").status_code == 401
    as_citizen = client.get("/earning/rejections", headers=people.holder(alice))
    assert as_citizen.status_code == 403
    rejected = client.get("/earning/rejections", headers=people.operator()).json()["items"]
    assert [r["reason"] for r in rejected] == ["duplicate-evidence"]


def test_the_operator_registers_and_suspends_providers(
    client: TestClient, people: People, partners: Partners, verified: Accounts
) -> None:
    op = people.operator()
    key = partner_key("new-bus-company")
    created = client.post(
        "/earning/providers",
        json={
            "code": "bus-co",
            "name": "Bus Co",
            "kind": "mobility",
            "signer_address": key.address,
            "district": "cheongna",
        },
        headers=op,
    )
    assert created.status_code == 201, created.text
    assert created.json()["district"] == "cheongna"  # its rides count there in the open data
    elsewhere = {
        "code": "bus-co-2",
        "name": "Bus Co 2",
        "kind": "mobility",
        "signer_address": partner_key("bus-co-2").address,
        "district": "seoul",  # not a district of Incheon
    }
    refused_district = client.post("/earning/providers", json=elsewhere, headers=op)
    assert refused_district.status_code == 422
    assert "district" in refused_district.text
    assert client.post("/earning/providers", json=created.json(), headers=op).status_code in (
        409,
        422,
    )
    suspended = client.post(
        "/earning/providers/green-mart/suspend", json={"reason": "audit"}, headers=op
    )
    assert suspended.json()["status"] == "suspended"
    alice = verified.alice.address
    evidence, signature = partners.receipt(alice)
    refused = client.post(
        "/earning/purchases",
        json={"evidence": evidence.model_dump(), "signature": signature},
        headers=people.holder(alice),
    )
    assert refused.json()["type"] == "/problems/provider-suspended"
    assert (
        client.post("/earning/providers/nope/suspend", json={"reason": "x"}, headers=op).status_code
        == 404
    )
    codes = {p["code"] for p in client.get("/earning/providers", headers=op).json()}
    assert {"bus-co", "green-mart"} <= codes


def test_claims_and_rejections_page_by_cursor(
    client: TestClient, people: People, partners: Partners, verified: Accounts
) -> None:
    me = people.holder(verified.alice.address)
    bodies = []
    for _ in range(3):
        evidence, signature = partners.receipt(verified.alice.address)
        bodies.append({"evidence": evidence.model_dump(), "signature": signature})
        assert client.post("/earning/purchases", json=bodies[-1], headers=me).status_code == 201
    for body in bodies:  # each refusal is a rejected submission
        assert client.post("/earning/purchases", json=body, headers=me).status_code == 409

    claims = walk_in_pages(client, "/earning/claims", me, "claim_id")
    assert len(claims) == 3
    rejected = walk_in_pages(client, "/earning/rejections", people.operator(), "id")
    assert len(rejected) >= 3 and rejected == sorted(rejected)  # oldest first
    assert_refuses_cursor_of(client, "/earning/claims", me, "earning-rejections")
    assert_refuses_cursor_of(client, "/earning/rejections", people.operator(), "earning-claims")


def test_the_partners_guide_signs_records_the_api_accepts(
    client: TestClient, people: People, partners: Partners, verified: Accounts
) -> None:
    """Every Python snippet of partners-evidence.md runs as written: the receipt and the trip
    it signs are accepted (eth-account refused the old one once two primary types were served)."""
    guide = (DOCS / "partners-evidence.md").read_text()
    # The first snippet signs (section 5); the corroborators' one runs in test_corroboration.
    snippet, _ = re.findall(r"^```python\n(.*?)^```", guide, re.MULTILINE | re.DOTALL)
    alice = verified.alice.address
    me = people.holder(alice)
    codes = {s["code"] for s in client.get("/earning/stations").json()["stations"]}
    receipt, _ = partners.receipt(alice)
    trip, _ = partners.tap_trip(alice)
    assert {trip.fromStation, trip.toStation} <= codes
    for primary, record, signer, path in (
        ("Receipt", receipt, partners.merchant, "/earning/purchases"),
        ("Trip", trip, partners.transit, "/earning/trips"),
    ):
        # The API runs in-process: the snippet's httpx.get goes to the test client.
        served = SimpleNamespace(get=lambda url: client.get(url.removeprefix("http://crda")))
        code = snippet.replace("import httpx\n", "").replace(
            'primary = "Receipt"', f"primary = {primary!r}"
        )
        run: dict[str, object] = {
            "CRDA": "http://crda",
            "httpx": served,
            "record": record.model_dump(),
            "key": signer.key,
        }
        exec(code, run)  # noqa: S102
        answer = client.post(
            path, json={"evidence": record.model_dump(), "signature": run["signature"]}, headers=me
        )
        assert answer.status_code == 201, answer.text


def test_the_operator_rotates_a_partners_key_over_http(
    client: TestClient, people: People, partners: Partners
) -> None:
    operator = people.operator()
    new = partner_key("transit-2027")
    rotated = client.post(
        "/earning/providers/incheon-transit/keys",
        json={"signer_address": new.address.lower()},
        headers=operator,
    )
    assert rotated.status_code == 201, rotated.text
    old_key, new_key = rotated.json()
    assert old_key["signer_address"] == partners.transit.address
    assert old_key["valid_until"] == new_key["valid_from"] is not None
    assert new_key["signer_address"] == new.address and new_key["valid_until"] is None
    listed = client.get("/earning/providers/incheon-transit/keys", headers=operator)
    assert listed.json() == rotated.json()
    again = client.post(
        "/earning/providers/songdo-bikes/keys",
        json={"signer_address": new.address},
        headers=operator,
    )
    assert again.status_code == 409, again.text  # one key, one provider
    citizen = people.holder(partners.transit.address)
    denied = client.get("/earning/providers/incheon-transit/keys", headers=citizen)
    assert denied.status_code == 403


def test_the_station_graph_is_served_and_a_rail_claim_names_its_hash(
    client: TestClient, people: People, partners: Partners, verified: Accounts
) -> None:
    """Issue 14, item 3 over HTTP: codes, lines and sections with sources; Bupyeong -> City Hall
    reported as 8,186 m is credited at its 4,800 m of track (586 g, not 1,177 g); a tap longer
    than the mode's limit is refused with its own problem."""
    graph = client.get("/earning/stations").json()
    assert graph["hash"].startswith("0x") and graph["version"]
    codes = {s["code"] for s in graph["stations"]}
    assert {"I110", "I120", "I124", "I138"} <= codes
    assert set(graph["lines"]) >= {"IC1", "IC2", "AREX", "SL1", "SL7"}
    assert graph["aliases"]["IC1-127"] == "I124"
    sections = {(s["from"], s["to"]): s for s in graph["sections"]}
    assert sections[("I123", "I124")]["distance_m"] == 1400
    assert all(s["source"] in graph["sources"] for s in graph["sections"])

    alice = verified.alice.address
    me = people.holder(alice)
    start = int(time.time()) - 3 * 3600
    evidence, signature = partners.tap_trip(
        alice, start=start, stations=("I120", "I124", 8_186), duration=1200
    )
    body = {"evidence": evidence.model_dump(), "signature": signature, "gps_legs_m": []}
    claim = client.post("/earning/trips", json=body, headers=me)
    assert claim.status_code == 201, claim.text
    assert claim.json()["amount_grams"] == 586
    route = claim.json()["inputs"]["components"][0]["route"]
    assert (route["network_m"], route["reported_m"], route["graph"]) == (4800, 8186, graph["hash"])

    evidence, signature = partners.tap_trip(
        alice, start=start - 4 * 3600, distance=90_000, duration=3 * 3600
    )
    body = {"evidence": evidence.model_dump(), "signature": signature, "gps_legs_m": []}
    refused = client.post("/earning/trips", json=body, headers=me)
    assert refused.status_code == 422
    assert refused.json()["type"] == "/problems/distance-over-limit"
    assert (refused.json()["reported_m"], refused.json()["max_distance_m"]) == (90_000, 80_000)


def test_a_tap_across_two_lines_is_credited_along_the_interchange_over_http(
    client: TestClient, people: People, partners: Partners, verified: Accounts
) -> None:
    """Bupyeong (Line 1) -> Seokcheon Sageori (Line 2): the shortest path changes at Incheon
    City Hall, so the tap is credited at Line 1's four sections plus Line 2's one (5,520 m, 674 g),
    not at the 6,000 m reported; a station outside Incheon is refused unknown-station."""
    graph = client.get("/earning/stations").json()
    sections = {frozenset((s["from"], s["to"])): s for s in graph["sections"]}
    path = ("I120", "I121", "I122", "I123", "I124", "I222")
    legs = [sections[frozenset(pair)] for pair in itertools.pairwise(path)]
    assert [leg["line"] for leg in legs] == ["IC1"] * 4 + ["IC2"]
    along = sum(leg["distance_m"] for leg in legs)
    assert along == 4800 + 720

    alice = verified.alice.address
    me = people.holder(alice)
    start = int(time.time()) - 5 * 3600
    evidence, signature = partners.tap_trip(
        alice, start=start, stations=("I120", "I222", 6_000), duration=1200
    )
    body = {"evidence": evidence.model_dump(), "signature": signature, "gps_legs_m": []}
    claim = client.post("/earning/trips", json=body, headers=me)
    assert claim.status_code == 201, claim.text
    route = claim.json()["inputs"]["components"][0]["route"]
    assert (route["network_m"], route["reported_m"], route["graph"]) == (along, 6000, graph["hash"])
    assert claim.json()["amount_grams"] == 674  # 5,520 m by subway under 2026.3

    evidence, signature = partners.tap_trip(
        alice, start=start - 2 * 3600, stations=("I110", "A05", 12_000), duration=1200
    )  # Gyeyang -> Gimpo Airport: AREX leaves Incheon
    body = {"evidence": evidence.model_dump(), "signature": signature, "gps_legs_m": []}
    refused = client.post("/earning/trips", json=body, headers=me)
    assert refused.status_code == 422, refused.text
    assert refused.json()["type"] == "/problems/unknown-station"
