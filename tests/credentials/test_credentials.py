"""Issuing, verifying and revoking credentials, and the forgeries verification must catch."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import jwt
from cryptography.hazmat.primitives.asymmetric import ec

from api.auth.models import DataKey, PersonalData
from api.chain.deploy import VERIFIER_ROLE
from api.credentials.models import Credential, Identity, Verifier
from api.credentials.service import verifier_signer
from identity import status_list
from identity.issue import StatusEntry, issue_identity_credential, signing_key
from identity.uniqueness import uniqueness_key
from tests.conftest import increase_time
from tests.pages import assert_refuses_cursor_of, walk_in_pages
from tests.world import World, assert_problem, new_uniqueness_key


def _errors(result: dict) -> set[str]:  # type: ignore[type-arg]
    return {e["type"].removeprefix("/problems/") for e in result["errors"]}


def _b64(data: dict) -> str:  # type: ignore[type-arg]
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_a_second_identity_with_the_same_uniqueness_key_is_refused(world: World) -> None:
    _org, desk = world.verifier()
    first, second = world.sign_up(), world.sign_up()
    pepper = world.settings.uniqueness_pepper.get_secret_value()
    key = uniqueness_key("900101-1234567", pepper)
    assert world.issue(desk, first, key=key).status_code == 201
    # The same person at another desk, the identifier typed without the hyphen.
    _org2, desk2 = world.verifier("Another branch")
    response = world.issue(desk2, second, key=uniqueness_key("9001011234567", pepper))
    body = assert_problem(response, 409, "duplicate-identity")
    assert key not in json.dumps(body)
    assert world.count(Identity, Identity.account_id == second.id) == 0
    assert world.count(Credential, Credential.account_id == second.id) == 0
    # The first person is re-verified by the same verifier without trouble (a renewal).
    renewed = world.issue(desk, first, key=key)
    assert renewed.status_code == 201, renewed.text


def test_an_account_cannot_become_another_person(world: World) -> None:
    _org, desk = world.verifier()
    citizen = world.sign_up()
    assert world.issue(desk, citizen).status_code == 201
    assert_problem(world.issue(desk, citizen), 409, "identity-mismatch")


def test_a_renewal_supersedes_the_previous_credential(world: World) -> None:
    _org, desk = world.verifier()
    citizen = world.sign_up()
    key = new_uniqueness_key(world.settings)
    old = world.issue(desk, citizen, key=key).json()
    new = world.issue(desk, citizen, key=key, level=3).json()
    assert world.verify(new["verifiable_credential"])["verified"] is True
    stale = world.verify(old["verifiable_credential"])
    assert stale["verified"] is False
    assert _errors(stale) == {"credential-revoked", "credential-not-attested"}


def test_an_accounts_credentials_page_by_cursor(world: World) -> None:
    _org, desk = world.verifier()
    citizen = world.sign_up()
    key = new_uniqueness_key(world.settings)
    for level in (2, 3, 2):  # renewals: three credentials, the first two revoked
        assert world.issue(desk, citizen, key=key, level=level).status_code == 201
    path = f"/accounts/{citizen.id}/credentials"
    ids = walk_in_pages(world.client, path, citizen.headers, "id")
    assert len(ids) == 3
    assert_refuses_cursor_of(world.client, path, citizen.headers, "my-retirements")


def test_a_tampered_claim_fails_the_signature(world: World) -> None:
    _org, desk = world.verifier()
    token = world.issue(desk, world.sign_up(), level=1).json()["verifiable_credential"]
    header, _payload, signature = token.split(".")
    claims = jwt.decode(token, options={"verify_signature": False})
    claims["credentialSubject"]["assuranceLevel"] = 3
    tampered = f"{header}.{_b64(claims)}.{signature}"
    result = world.verify(tampered)
    assert result["verified"] is False
    assert _errors(result) == {"credential-signature-invalid"}
    assert result["credential"] is None


def test_a_forged_signature_is_refused(world: World) -> None:
    org, desk = world.verifier()
    citizen = world.sign_up()
    genuine = world.issue(desk, citizen).json()
    claims = jwt.decode(genuine["verifiable_credential"], options={"verify_signature": False})
    forger = ec.generate_private_key(ec.SECP256K1())
    forged = jwt.encode(
        claims, forger, algorithm="ES256K", headers={"kid": f"{org['did']}#key-1", "typ": "vc+jwt"}
    )
    assert _errors(world.verify(forged)) == {"credential-signature-invalid"}
    # Switching the header to a symmetric algorithm does not help either.
    hs = jwt.encode(
        claims, "s" * 32, algorithm="HS256", headers={"kid": f"{org['did']}#key-1", "typ": "vc+jwt"}
    )
    assert _errors(world.verify(hs)) == {"credential-malformed"}
    assert _errors(world.verify("not.a.jwt")) == {"credential-malformed"}


def test_an_unknown_issuer_is_refused(world: World) -> None:
    stranger = ec.generate_private_key(ec.SECP256K1())
    now = datetime.now(UTC)
    token = issue_identity_credential(
        key=stranger,
        issuer_did="did:web:evil.example:verifiers:x",
        credential_id="urn:uuid:x",
        subject_did=f"did:pkh:eip155:31337:{world.accounts.carol.address}",
        level=3,
        valid_from=now,
        valid_until=now + timedelta(days=1),
        status=StatusEntry("https://evil.example/status/1", 1),
    )
    assert _errors(world.verify(token)) == {"credential-issuer-unknown"}


def test_a_credential_signed_by_a_verifier_but_never_attested_is_refused(world: World) -> None:
    org, desk = world.verifier()
    world.issue(desk, world.sign_up())  # a genuine one exists; this one is made aside
    with world.db() as session:
        verifier = session.get(Verifier, org["id"])
        assert verifier is not None
        key = signing_key(bytes(verifier_signer(world.settings, verifier).key))
    now = datetime.now(UTC)
    token = issue_identity_credential(
        key=key,
        issuer_did=org["did"],
        credential_id="urn:uuid:aside",
        subject_did=f"did:pkh:eip155:31337:{world.accounts.mallory.address}",
        level=3,
        valid_from=now,
        valid_until=now + timedelta(days=1),
        status=StatusEntry(f"{world.settings.public_url}/status-lists/{org['id']}", 7),
    )
    assert _errors(world.verify(token)) == {"credential-not-attested"}


def test_a_revoked_credential_is_in_the_public_status_list(world: World) -> None:
    org, desk = world.verifier()
    citizen = world.sign_up()
    credential = world.issue(desk, citizen).json()
    index = int(
        jwt.decode(credential["verifiable_credential"], options={"verify_signature": False})[
            "credentialStatus"
        ]["statusListIndex"]
    )

    def bit() -> bool:
        response = world.client.get(f"/status-lists/{org['id']}")
        assert response.headers["content-type"].startswith("application/vc+jwt")
        claims = jwt.decode(response.text, options={"verify_signature": False})
        assert claims["type"] == ["VerifiableCredential", "BitstringStatusListCredential"]
        return status_list.is_set(
            status_list.decode(claims["credentialSubject"]["encodedList"]), index
        )

    assert bit() is False
    revoked = world.client.post(
        f"/credentials/{credential['id']}/revoke", json={}, headers=desk.headers
    )
    assert revoked.status_code == 200
    assert revoked.json()["revoke_tx_hash"].startswith("0x")
    assert bit() is True
    result = world.verify(credential["verifiable_credential"])
    assert _errors(result) == {"credential-revoked"}
    assert "status" not in result["checks"] and "attestation" not in result["checks"]


def test_an_expired_attestation_and_a_deroled_verifier_fail_verification(world: World) -> None:
    org, desk = world.verifier()
    token = world.issue(desk, world.sign_up()).json()["verifiable_credential"]
    registry = world.chain.contract("IdentityRegistry")
    from eth_account import Account as EthAccount

    operator = EthAccount.from_key(world.settings.operator_key.get_secret_value())
    world.chain.transact(registry.functions.revokeRole(VERIFIER_ROLE, org["address"]), operator)
    result = world.verify(token)
    # The attestation stops being live with the role, too.
    assert _errors(result) == {"credential-issuer-not-accredited", "credential-not-attested"}


def test_the_chain_expiry_is_checked(world: World) -> None:
    _org, desk = world.verifier()
    token = world.issue(desk, world.sign_up()).json()["verifiable_credential"]
    increase_time(world.chain, 400 * 24 * 3600)
    # The chain's clock moved past the attestation's expiry (the credential's own clock did not).
    assert _errors(world.verify(token)) == {"credential-not-attested"}


def test_issuing_refuses_bad_input_without_writing(world: World) -> None:
    _org, desk = world.verifier()
    citizen = world.sign_up()
    before = world.count(Credential)
    bad_key = world.client.post(
        "/credentials/issue",
        json={"account_id": citizen.id, "assurance_level": 2, "uniqueness_key": "900101-1234567"},
        headers=desk.headers,
    )
    body = assert_problem(bad_key, 422, "validation-error")
    assert "900101-1234567" not in json.dumps(body.get("detail", ""))
    assert_problem(world.issue(desk, citizen, level=4), 422, "validation-error")
    unknown = world.client.post(
        "/credentials/issue",
        json={"account_id": "nope", "assurance_level": 2, "uniqueness_key": "a" * 64},
        headers=desk.headers,
    )
    assert_problem(unknown, 404, "not-found")
    assert world.count(Credential) == before


def test_qr_codes_of_a_credential_and_a_receiving_address(world: World) -> None:
    _org, desk = world.verifier()
    citizen = world.sign_up()
    credential = world.issue(desk, citizen).json()
    png = world.client.get(f"/credentials/{credential['id']}/qr", headers=citizen.headers)
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    assert png.content.startswith(b"\x89PNG")
    svg = world.client.get(f"/accounts/{citizen.id}/wallet/qr?format=svg", headers=citizen.headers)
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
    assert b"<svg" in svg.content


def test_erasure_shreds_personal_data_but_keeps_the_attestation(world: World) -> None:
    _org, desk = world.verifier()
    citizen = world.sign_up(name="Choi Yuna", phone="+82 10 9999 0000", birth_date="2001-02-03")
    credential = world.issue(desk, citizen).json()
    with world.db() as session:
        row = session.get(PersonalData, citizen.id)
        assert row is not None and row.name is not None and b"Choi" not in row.name
        data_key_id = row.data_key_id
    erased = world.client.delete(f"/accounts/{citizen.id}/personal-data", headers=citizen.headers)
    assert erased.status_code == 200
    assert world.count(DataKey, DataKey.id == data_key_id) == 0
    # The account cannot sign in any more, the credential and the chain record stay valid.
    assert_problem(world.client.get("/accounts/me", headers=citizen.headers), 401, "invalid-token")
    assert world.verify(credential["verifiable_credential"])["verified"] is True


def test_another_verifier_cannot_overwrite_a_live_attestation(world: World) -> None:
    _org1, desk1 = world.verifier("Bank branch")
    _org2, desk2 = world.verifier("Mobile carrier")
    citizen = world.sign_up()
    key = new_uniqueness_key(world.settings)
    first = world.issue(desk1, citizen, key=key).json()
    response = world.issue(desk2, citizen, key=key)
    body = assert_problem(response, 403, "not-attesting-verifier")
    assert body["error_name"] == "IdentityRegistryNotAttestingVerifier"
    assert world.count(Credential, Credential.account_id == citizen.id) == 1
    assert world.verify(first["verifiable_credential"])["verified"] is True


def test_a_deactivated_verifier_can_no_longer_verify_and_its_credentials_stop_counting(
    world: World,
) -> None:
    org, desk = world.verifier()
    credential = world.issue(desk, world.sign_up()).json()
    operator = world.operator()
    assert_problem(
        world.client.post(f"/verifiers/{org['id']}/deactivate", headers=desk.headers),
        403,
        "forbidden",
    )
    response = world.client.post(f"/verifiers/{org['id']}/deactivate", headers=operator.headers)
    assert response.status_code == 200 and response.json()["active"] is False
    assert_problem(world.issue(desk, world.sign_up()), 403, "verifier-inactive")
    assert "credential-issuer-not-accredited" in _errors(
        world.verify(credential["verifiable_credential"])
    )
