"""From sign-up to an on-chain attestation and a credential anyone can verify."""

from __future__ import annotations

import json

from joserfc import jwt
from joserfc.jwk import ECKey

from api.credentials.models import Credential
from tests.contracts.conftest import Platform
from tests.world import World, assert_problem, sign


def test_a_verifier_takes_a_citizen_from_sign_up_to_an_attestation(world: World) -> None:
    org, desk = world.verifier()
    citizen = world.sign_up(name="Kim Minji", phone="+82 10 1234 5678", birth_date="1990-01-01")

    response = world.issue(desk, citizen, level=2)
    assert response.status_code == 201, response.text
    credential = response.json()
    assert credential["status"] == "active"
    assert credential["attest_tx_hash"].startswith("0x")

    # The citizen got a platform-held wallet; the chain attests it with this credential's hash.
    wallet = world.client.get(f"/accounts/{citizen.id}/wallet", headers=citizen.headers).json()
    assert wallet["custody"] == "platform"
    assert set(wallet) == {"address", "custody", "created_at"}  # never the key
    registry = world.chain.contract("IdentityRegistry")
    verifier, level, _expires, revoked, digest, _since = registry.functions.attestationOf(
        wallet["address"]
    ).call()
    assert (verifier, level, revoked) == (org["address"], 2, False)
    assert "0x" + digest.hex() == credential["credential_hash"]
    assert registry.functions.isVerified(wallet["address"]).call()

    # Anyone verifies it, with every check on.
    result = world.verify(credential["verifiable_credential"])
    assert result["verified"] is True, result["errors"]
    assert set(result["checks"]) == {
        "format",
        "signature",
        "issuer",
        "expiry",
        "status",
        "attestation",
    }

    # Nothing personal in the credential.
    token = credential["verifiable_credential"]
    assert "Kim" not in token and "1990" not in json.dumps(result["credential"])


def test_an_independent_jose_library_verifies_with_the_key_of_our_did_document(
    world: World,
) -> None:
    org, desk = world.verifier()
    citizen = world.sign_up()
    token = world.issue(desk, citizen).json()["verifiable_credential"]

    document = world.client.get(f"/verifiers/{org['id']}/did.json").json()
    assert document["id"] == org["did"]
    # (did:web resolution by /identifiers/{did} is not asserted here: Starlette's TestClient
    # decodes the path twice, turning the DID's "%3A" into ":"; uvicorn decodes once.)
    (method,) = [m for m in document["verificationMethod"] if "publicKeyJwk" in m]
    assert method["id"] in document["assertionMethod"]
    key = ECKey.import_key(method["publicKeyJwk"])
    decoded = jwt.decode(token, key, algorithms=["ES256K"])
    assert decoded.header["kid"] == method["id"]
    assert decoded.header["typ"] == "vc+jwt"
    claims = decoded.claims
    assert claims["issuer"] == org["did"]
    assert claims["credentialSubject"]["id"].startswith("did:pkh:eip155:31337:")
    jwt.JWTClaimsRegistry(exp={"essential": True}).validate(claims)

    holder = world.client.get(f"/identifiers/{claims['credentialSubject']['id']}")
    assert holder.status_code == 200
    assert holder.json()["id"] == claims["credentialSubject"]["id"]


def test_the_token_refuses_transfers_before_verification_and_after_revocation(
    world: World, platform: Platform
) -> None:
    _org, desk = world.verifier()
    operator = world.operator()
    carol = world.accounts.carol  # brings her own wallet (SIWE), needs no ETH for that
    signed_in = world.client.post(
        "/auth/siwe",
        json={"message": (m := world.siwe_message(carol)), "signature": sign(carol, m)},
    )
    assert signed_in.status_code == 200, signed_in.text
    body = signed_in.json()
    citizen_id, headers = body["account_id"], {"Authorization": f"Bearer {body['access_token']}"}

    alice = world.accounts.alice
    platform.attest(alice.address)
    platform.issue({alice.address: 5_000})
    transfer = platform.token.functions.transfer(carol.address, 1_000)

    from tests.contracts.conftest import reverts

    with reverts("CRDATokenUnverifiedAccount"):
        platform.send(transfer, alice)

    citizen = type("U", (), {"id": citizen_id})()
    credential = world.issue(desk, citizen).json()  # type: ignore[arg-type]
    assert credential["subject_did"].endswith(carol.address)
    platform.send(transfer, alice)
    assert platform.balance(carol.address) == 1_000

    revoked = world.client.post(
        f"/credentials/{credential['id']}/revoke", json={"reason": "fraud"}, headers=desk.headers
    )
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["status"] == "revoked"
    with reverts("CRDATokenUnverifiedAccount"):
        platform.send(transfer, alice)

    result = world.verify(credential["verifiable_credential"])
    assert result["verified"] is False
    assert {e["type"] for e in result["errors"]} == {"/problems/credential-revoked"}
    # The operator cannot revoke twice either.
    again = world.client.post(
        f"/credentials/{credential['id']}/revoke", json={}, headers=operator.headers
    )
    assert_problem(again, 409, "already-revoked")
    assert world.count(Credential, Credential.account_id == citizen_id) == 1
    del headers
