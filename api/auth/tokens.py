"""Session access tokens: JWT, ES256, short-lived, with ``kid`` for key rotation.

Signing uses the active key; verification looks the ``kid`` up among the configured keys and
pins the algorithm, so ``alg: none``, an HS256 token "signed" with our public key, or a token
of an unknown key all fail. ``iss``, ``aud``, ``exp``, ``iat`` and ``sub`` are required.

A token that verified is remembered by the process (:class:`VerifiedTokens`, bounded, keyed by
the token's exact text under the keys, issuer and audience that verified it), so its ES256
signature is checked once, not on every request; its expiry is checked on every use. What can
end a token early (the account erased, its role changed) is read from the database by
``api.auth.deps.current_user`` on every request, cached or not.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from api.settings import Settings
from api.timeutil import utcnow

ALGORITHM = "ES256"
# Seconds of clock skew allowed on ``exp`` (and ``iat``/``nbf``), cached or not.
LEEWAY = 5
# Verified tokens a process remembers (a few per signed-in client of the last token lifetime).
VERIFIED_TOKENS = 50_000
# The clock a remembered token's expiry is checked against (tests move it instead of waiting).
clock: Callable[[], float] = time.time
ACCESS_TYPE = "at+jwt"  # RFC 9068
DEV_KID = "dev-1"


class InvalidAccessToken(Exception):
    """The token is not one we issued, or no longer valid; ``reason`` says which check failed."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class AccessClaims:
    subject: str
    role: str
    expires_at: int
    token_id: str


def _dev_key() -> ec.EllipticCurvePrivateKey:
    # A fixed development key (public by construction: refused in production by Settings).
    secret = int.from_bytes(hashlib.sha256(b"crda development session key").digest(), "big")
    return ec.derive_private_key(secret % (2**255), ec.SECP256R1())


class SessionKeys:
    """The configured signing keys by ``kid``; one of them signs."""

    def __init__(self, keys: dict[str, ec.EllipticCurvePrivateKey], active_kid: str) -> None:
        if active_kid not in keys:
            raise ValueError(f"active session key {active_kid!r} is not among the keys")
        for kid, key in keys.items():
            if not isinstance(key.curve, ec.SECP256R1):
                raise ValueError(f"session key {kid!r} is not a P-256 key")
        self.keys = keys
        self.active_kid = active_kid
        self.verified = VerifiedTokens(VERIFIED_TOKENS)

    @classmethod
    def from_settings(cls, settings: Settings) -> SessionKeys:
        return _keys_from(settings.session_keys.get_secret_value(), settings.session_active_kid)

    def jwks(self) -> dict[str, Any]:
        """Public keys as a JWK set (``/.well-known/jwks.json``)."""
        keys = []
        for kid, key in self.keys.items():
            jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
            keys.append({**jwk, "kid": kid, "alg": ALGORITHM, "use": "sig"})
        return {"keys": keys}


@lru_cache(maxsize=8)
def _keys_from(config: str, active_kid: str) -> SessionKeys:
    if not config:
        return SessionKeys({DEV_KID: _dev_key()}, active_kid or DEV_KID)
    pems: dict[str, str] = json.loads(config)
    keys: dict[str, ec.EllipticCurvePrivateKey] = {}
    for kid, pem in pems.items():
        key = serialization.load_pem_private_key(pem.encode(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError(f"session key {kid!r} is not an EC key")
        keys[kid] = key
    return SessionKeys(keys, active_kid or next(iter(keys)))


def issue_access_token(settings: Settings, subject: str, role: str) -> tuple[str, int]:
    """(token, lifetime in seconds)."""
    keys = SessionKeys.from_settings(settings)
    now = int(utcnow().timestamp())
    ttl = settings.access_token_ttl
    claims = {
        "iss": settings.session_issuer,
        "aud": settings.session_audience,
        "sub": subject,
        "role": role,
        "iat": now,
        "nbf": now,
        "exp": now + ttl,
        "jti": str(uuid.uuid4()),
    }
    token = jwt.encode(
        claims,
        keys.keys[keys.active_kid],
        algorithm=ALGORITHM,
        headers={"kid": keys.active_kid, "typ": ACCESS_TYPE},
    )
    return token, ttl


class VerifiedTokens:
    """Tokens whose signature and claims verified, with their claims: a bounded LRU map.

    Only a token that passed every check is stored, under its exact text (and the issuer and
    audience it was checked for: a map belongs to one set of keys); a lookup still refuses it
    once ``exp`` (plus the leeway) has passed, like a full check would.
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._claims: OrderedDict[tuple[str, str, str], AccessClaims] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str, str]) -> AccessClaims | None:
        with self._lock:
            claims = self._claims.get(key)
            if claims is not None:
                self._claims.move_to_end(key)
        return claims

    def put(self, key: tuple[str, str, str], claims: AccessClaims) -> None:
        with self._lock:
            self._claims[key] = claims
            self._claims.move_to_end(key)
            while len(self._claims) > self.capacity:
                self._claims.popitem(last=False)

    def forget(self, key: tuple[str, str, str]) -> None:
        with self._lock:
            self._claims.pop(key, None)


def decode_access_token(settings: Settings, token: str) -> AccessClaims:
    keys = SessionKeys.from_settings(settings)
    key = (settings.session_issuer, settings.session_audience, token)
    known = keys.verified.get(key)
    if known is not None:
        if known.expires_at + LEEWAY <= clock():
            keys.verified.forget(key)
            raise InvalidAccessToken("expired")
        return known
    claims = _verify(settings, keys, token)
    keys.verified.put(key, claims)
    return claims


def _verify(settings: Settings, keys: SessionKeys, token: str) -> AccessClaims:
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise InvalidAccessToken("malformed") from exc
    kid = header.get("kid")
    if not isinstance(kid, str) or kid not in keys.keys:
        raise InvalidAccessToken("unknown-key")
    if header.get("typ") != ACCESS_TYPE:
        raise InvalidAccessToken("wrong-type")
    try:
        claims = jwt.decode(
            token,
            keys.keys[kid].public_key(),
            algorithms=[ALGORITHM],  # pinned: the header's alg is never trusted
            audience=settings.session_audience,
            issuer=settings.session_issuer,
            options={"require": ["iss", "aud", "sub", "exp", "iat", "jti"]},
            leeway=LEEWAY,
        )
    except jwt.ExpiredSignatureError as exc:
        raise InvalidAccessToken("expired") from exc
    except jwt.InvalidAudienceError as exc:
        raise InvalidAccessToken("wrong-audience") from exc
    except jwt.InvalidIssuerError as exc:
        raise InvalidAccessToken("wrong-issuer") from exc
    except jwt.InvalidAlgorithmError as exc:
        raise InvalidAccessToken("wrong-algorithm") from exc
    except jwt.PyJWTError as exc:
        raise InvalidAccessToken("invalid") from exc
    return AccessClaims(
        subject=str(claims["sub"]),
        role=str(claims.get("role", "")),
        expires_at=int(claims["exp"]),
        token_id=str(claims["jti"]),
    )
