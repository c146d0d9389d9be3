"""Roles and object-level checks: nobody touches what is not theirs."""

from __future__ import annotations

import pytest

from api.auth.models import Account, Role, Wallet
from api.credentials.models import Credential, Verifier
from tests.world import World, assert_problem


@pytest.fixture
def two_citizens(world: World):
    alice = world.sign_up(name="Alice Park", phone="+82 10 0000 0001")
    bob = world.sign_up(name="Bob Lee")
    return alice, bob


def test_a_citizen_cannot_read_or_change_another_citizens_account(
    world: World, two_citizens
) -> None:
    alice, bob = two_citizens
    h = bob.headers
    for path in ("", "/personal-data", "/wallet", "/credentials", "/wallet/qr"):
        response = world.client.get(f"/accounts/{alice.id}{path}", headers=h)
        body = assert_problem(response, 403, "forbidden")
        assert "Alice" not in response.text and alice.email not in str(body)
    assert_problem(
        world.client.put(
            f"/accounts/{alice.id}/personal-data", json={"name": "Mallory"}, headers=h
        ),
        403,
        "forbidden",
    )
    assert_problem(
        world.client.delete(f"/accounts/{alice.id}/personal-data", headers=h), 403, "forbidden"
    )
    assert_problem(
        world.client.post(f"/accounts/{alice.id}/wallet", json={"custody": "platform"}, headers=h),
        403,
        "forbidden",
    )
    assert world.count(Wallet, Wallet.account_id == alice.id) == 0
    mine = world.client.get(f"/accounts/{alice.id}/personal-data", headers=alice.headers).json()
    assert mine["name"] == "Alice Park"
    # Ids that do not exist get the same answer: existence is not revealed.
    assert_problem(
        world.client.get("/accounts/00000000-0000-0000-0000-000000000000", headers=h),
        403,
        "forbidden",
    )


def test_a_citizen_cannot_read_revoke_or_present_another_citizens_credential(world: World) -> None:
    _org, desk = world.verifier()
    alice, bob = world.sign_up(), world.sign_up()
    credential = world.issue(desk, alice).json()
    for method, path, body in (
        ("GET", f"/credentials/{credential['id']}", None),
        ("GET", f"/credentials/{credential['id']}/qr", None),
        ("POST", f"/credentials/{credential['id']}/revoke", {}),
    ):
        response = world.client.request(method, path, json=body, headers=bob.headers)
        assert response.status_code == 403, (path, response.text)
        assert response.json()["type"] in {"/problems/forbidden"}
    assert (
        world.count(Credential, Credential.id == credential["id"], Credential.revoked_at.is_(None))
        == 1
    )
    assert (
        world.client.get(f"/credentials/{credential['id']}", headers=alice.headers).status_code
        == 200
    )


def test_a_citizen_cannot_call_verifier_or_operator_routes(world: World) -> None:
    citizen, other = world.sign_up(), world.sign_up()
    verifiers_before = world.count(Verifier)
    assert_problem(
        world.client.post("/verifiers", json={"name": "Fake Verifier"}, headers=citizen.headers),
        403,
        "forbidden",
    )
    assert world.count(Verifier) == verifiers_before
    org, _desk = world.verifier()
    assert_problem(
        world.client.post(
            f"/verifiers/{org['id']}/members",
            json={"account_id": citizen.id},
            headers=citizen.headers,
        ),
        403,
        "forbidden",
    )
    assert_problem(world.issue(citizen, other), 403, "forbidden")  # type: ignore[arg-type]
    with world.db() as session:
        assert session.get(Account, citizen.id).role == Role.citizen.value  # type: ignore[union-attr]
    assert world.count(Credential, Credential.account_id == other.id) == 0


def test_a_verifier_cannot_revoke_another_verifiers_credential(world: World) -> None:
    _org1, desk1 = world.verifier("Bank branch")
    _org2, desk2 = world.verifier("Mobile carrier")
    citizen = world.sign_up()
    credential = world.issue(desk1, citizen).json()
    response = world.client.post(
        f"/credentials/{credential['id']}/revoke", json={}, headers=desk2.headers
    )
    assert_problem(response, 403, "forbidden")
    assert world.verify(credential["verifiable_credential"])["verified"] is True


def test_the_auditor_reads_but_changes_nothing(world: World) -> None:
    _org, desk = world.verifier()
    citizen = world.sign_up()
    credential = world.issue(desk, citizen).json()
    auditor = world.staff(Role.auditor)
    assert world.client.get(f"/accounts/{citizen.id}", headers=auditor.headers).status_code == 200
    assert (
        world.client.get(f"/credentials/{credential['id']}", headers=auditor.headers).status_code
        == 200
    )
    assert_problem(
        world.client.post(
            f"/credentials/{credential['id']}/revoke", json={}, headers=auditor.headers
        ),
        403,
        "forbidden",
    )
    # Personal data stays the person's own, even for the auditor.
    assert_problem(
        world.client.get(f"/accounts/{citizen.id}/personal-data", headers=auditor.headers),
        403,
        "forbidden",
    )
