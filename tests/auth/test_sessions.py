"""Password sign-in, access tokens and refresh tokens under attack."""

from __future__ import annotations

import base64
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from api.auth.models import RefreshToken, SignInThrottle
from api.auth.tokens import SessionKeys
from tests.world import PASSWORD, World, assert_problem


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _claims(world: World, subject: str, **over: object) -> dict[str, object]:
    now = int(time.time())
    claims: dict[str, object] = {
        "iss": world.settings.session_issuer,
        "aud": world.settings.session_audience,
        "sub": subject,
        "role": "operator",
        "iat": now,
        "exp": now + 300,
        "jti": "x",
    }
    claims.update(over)
    return claims


def _active_key(world: World) -> tuple[str, ec.EllipticCurvePrivateKey]:
    keys = SessionKeys.from_settings(world.settings)
    return keys.active_kid, keys.keys[keys.active_kid]


def _me(world: World, token: str):
    return world.client.get("/accounts/me", headers={"Authorization": f"Bearer {token}"})


def test_sign_up_sign_in_and_me(world: World) -> None:
    user = world.sign_up(role="business")
    me = _me(world, user.access)
    assert me.status_code == 200
    assert me.json()["role"] == "business"
    header = jwt.get_unverified_header(user.access)
    assert header["alg"] == "ES256" and header["typ"] == "at+jwt" and header["kid"]
    jwks = world.client.get("/.well-known/jwks.json").json()
    assert header["kid"] in {k["kid"] for k in jwks["keys"]}
    assert all("d" not in k for k in jwks["keys"])  # public halves only


def test_sign_up_refuses_a_taken_email_and_a_staff_role(world: World) -> None:
    user = world.sign_up()
    again = world.client.post("/auth/sign-up", json={"email": user.email, "password": PASSWORD})
    assert_problem(again, 409, "email-taken")
    operator = world.client.post(
        "/auth/sign-up", json={"email": "x@example.org", "password": PASSWORD, "role": "operator"}
    )
    assert_problem(operator, 422, "validation-error")


def test_wrong_password_is_refused_then_rate_limited(world: World) -> None:
    user = world.sign_up()
    before = world.count(RefreshToken, RefreshToken.account_id == user.id)
    for _ in range(world.settings.sign_in_max_failures):
        wrong = world.client.post(
            "/auth/sign-in", json={"email": user.email, "password": "nope-nope-nope"}
        )
        body = assert_problem(wrong, 401, "invalid-credentials")
        assert user.email not in json.dumps(body)
    # Even the right password is refused while the limit holds.
    limited = world.client.post("/auth/sign-in", json={"email": user.email, "password": PASSWORD})
    assert assert_problem(limited, 429, "too-many-attempts")["retry_after"] > 0
    assert world.count(RefreshToken, RefreshToken.account_id == user.id) == before


def test_unknown_email_is_the_same_problem_as_a_wrong_password(world: World) -> None:
    response = world.client.post(
        "/auth/sign-in", json={"email": "nobody@example.org", "password": PASSWORD}
    )
    assert_problem(response, 401, "invalid-credentials")
    assert world.count(SignInThrottle) >= 1


def test_alg_none_is_refused(world: World) -> None:
    user = world.sign_up()
    kid, _key = _active_key(world)
    token = f"{_b64({'alg': 'none', 'typ': 'at+jwt', 'kid': kid})}.{_b64(_claims(world, user.id))}."
    body = assert_problem(_me(world, token), 401, "invalid-token")
    assert body["reason"] in {"wrong-algorithm", "invalid"}


def test_hs256_signed_with_our_public_key_is_refused(world: World) -> None:
    user = world.sign_up()
    kid, key = _active_key(world)
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    import hashlib
    import hmac

    signing_input = (
        f"{_b64({'alg': 'HS256', 'typ': 'at+jwt', 'kid': kid})}.{_b64(_claims(world, user.id))}"
    )
    mac = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    token = f"{signing_input}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"
    assert assert_problem(_me(world, token), 401, "invalid-token")["reason"] == "wrong-algorithm"


@pytest.mark.parametrize(
    ("override", "reason"),
    [
        ({"aud": "another-app"}, "wrong-audience"),
        ({"iss": "someone-else"}, "wrong-issuer"),
        ({"exp": int(time.time()) - 60, "iat": int(time.time()) - 400}, "expired"),
    ],
)
def test_wrong_audience_issuer_or_expired_token_is_refused(
    world: World, override: dict[str, object], reason: str
) -> None:
    user = world.sign_up()
    kid, key = _active_key(world)
    token = jwt.encode(
        _claims(world, user.id, **override),
        key,
        algorithm="ES256",
        headers={"kid": kid, "typ": "at+jwt"},
    )
    assert assert_problem(_me(world, token), 401, "invalid-token")["reason"] == reason


def test_unknown_kid_is_refused(world: World) -> None:
    user = world.sign_up()
    stranger = ec.generate_private_key(ec.SECP256R1())
    token = jwt.encode(
        _claims(world, user.id),
        stranger,
        algorithm="ES256",
        headers={"kid": "rotated-out", "typ": "at+jwt"},
    )
    assert assert_problem(_me(world, token), 401, "invalid-token")["reason"] == "unknown-key"
    # A known kid does not help a key we do not hold.
    kid, _key = _active_key(world)
    forged = jwt.encode(
        _claims(world, user.id), stranger, algorithm="ES256", headers={"kid": kid, "typ": "at+jwt"}
    )
    assert assert_problem(_me(world, forged), 401, "invalid-token")["reason"] == "invalid"


def test_missing_token_is_a_401_problem(world: World) -> None:
    response = world.client.get("/accounts/me")
    assert_problem(response, 401, "invalid-token")
    assert response.headers["www-authenticate"] == "Bearer"


def test_refresh_rotates_and_a_reused_refresh_token_ends_the_session(world: World) -> None:
    user = world.sign_up()
    first = world.client.post("/auth/refresh", json={"refresh_token": user.refresh})
    assert first.status_code == 200, first.text
    rotated = first.json()["refresh_token"]
    assert rotated != user.refresh

    tokens_before = world.count(RefreshToken, RefreshToken.account_id == user.id)
    reused = world.client.post("/auth/refresh", json={"refresh_token": user.refresh})
    assert_problem(reused, 401, "refresh-token-reused")
    assert world.count(RefreshToken, RefreshToken.account_id == user.id) == tokens_before
    # The thief's (or the victim's) newer token died with the family.
    assert_problem(
        world.client.post("/auth/refresh", json={"refresh_token": rotated}),
        401,
        "invalid-refresh-token",
    )


def test_sign_out_revokes_the_refresh_token(world: World) -> None:
    user = world.sign_up()
    out = world.client.post(
        "/auth/sign-out", json={"refresh_token": user.refresh}, headers=user.headers
    )
    assert out.status_code == 204
    assert_problem(
        world.client.post("/auth/refresh", json={"refresh_token": user.refresh}),
        401,
        "invalid-refresh-token",
    )
    other = world.sign_up()
    stolen = world.client.post(
        "/auth/sign-out", json={"refresh_token": other.refresh}, headers=user.headers
    )
    assert_problem(stolen, 401, "invalid-refresh-token")


def test_a_remembered_token_still_expires(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """A verified token is remembered by the process (no second ES256 check), but its expiry
    is checked on every use."""
    from api.auth import tokens

    user = world.sign_up()
    assert _me(world, user.access).status_code == 200
    assert _me(world, user.access).status_code == 200  # remembered
    expires = int(jwt.decode(user.access, options={"verify_signature": False})["exp"])
    monkeypatch.setattr(tokens, "clock", lambda: expires + tokens.LEEWAY)
    assert assert_problem(_me(world, user.access), 401, "invalid-token")["reason"] == "expired"


def test_a_remembered_token_of_an_erased_account_is_refused(world: World) -> None:
    """What ends a token early is read from the database on every request, remembered or not:
    another process erasing the account (here: straight in the database) ends it at once."""
    from api.auth import service
    from api.auth.models import Account

    user = world.sign_up()
    assert _me(world, user.access).status_code == 200
    with world.db() as session:
        account = session.get(Account, user.id)
        assert account is not None
        service.erase_personal_data(session, account)
    problem = assert_problem(_me(world, user.access), 401, "invalid-token")
    assert problem["reason"] == "unknown-account"
