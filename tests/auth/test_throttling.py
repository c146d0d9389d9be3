"""Throttling that protects rather than locks out, over HTTP with the default limits.

Requests come from chosen client addresses (``httpx.ASGITransport(client=...)``) and bursts
are sent together (``asyncio.gather`` over the app's thread pool), so every check-then-act
limit is tried by concurrent requests; the counters live in the test's real database
(SQLite, or PostgreSQL in CI's database pass).
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from api.app import create_app
from api.auth import service as auth_service
from api.auth.models import EVERY_CLIENT, SignInThrottle, SiweNonce
from api.chain.deployments import Deployment
from api.db import make_engine, make_session_factory
from api.ratelimit import RateLimiter, TooManyRequests, client_address
from api.settings import Settings
from api.timeutil import utcnow
from tests.world import PASSWORD, assert_problem

DEFAULTS = Settings(_env_file=None)  # type: ignore[call-arg]


def _address() -> str:
    """A client address of the test's own (documentation range, its own /64)."""
    return f"2001:db8:{secrets.randbelow(2**16):x}:{secrets.randbelow(2**16):x}::7"


@dataclass
class Http:
    app: FastAPI
    sessions: sessionmaker[Session]

    def burst(self, requests: list[tuple[str, str, str, dict[str, Any]]]) -> list[httpx.Response]:
        """(client address, method, path, httpx keywords) each, all sent at once."""

        async def send(address: str, method: str, path: str, kw: dict[str, Any]) -> Any:
            transport = httpx.ASGITransport(app=self.app, client=(address, 40000))
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
                return await http.request(method, path, **kw)

        async def together() -> list[httpx.Response]:
            return list(await asyncio.gather(*(send(*r) for r in requests)))

        return asyncio.run(together())

    def call(self, address: str, method: str, path: str, **kw: Any) -> httpx.Response:
        return self.burst([(address, method, path, kw)])[0]


class Clock:
    """The time the limits and the sign-in throttle read: still unless a test moves it, so
    a burst is judged at one instant however long the machine takes to serve it."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def _served(settings: Settings, deployment: Deployment, migrated: str) -> Iterator[Http]:
    app = create_app(settings.model_copy(update={"rate_limits_enabled": True}))
    with TestClient(app):  # runs the lifespan: the state the requests use
        http = Http(app, app.state.crda.sessions)
        # The first request builds the app's OpenAPI document (every route checks its method
        # against it): once, before any burst.
        assert http.call(_address(), "GET", "/healthz").status_code == 200
        yield http


def _limits(
    http: Http, settings: Settings, monkeypatch: pytest.MonkeyPatch, **limits: Any
) -> tuple[Http, Clock]:
    """The served app's limiter on these limits and a still clock (the sign-in's too)."""
    clock = Clock()
    monkeypatch.setattr(auth_service, "clock", clock)
    state = http.app.state.crda
    monkeypatch.setattr(
        state,
        "limiter",
        RateLimiter(
            settings.model_copy(update={"rate_limits_enabled": True, **limits}),
            state.sessions,
            clock=clock,
        ),
    )
    return http, clock


@pytest.fixture
def throttled(
    _served: Http, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> tuple[Http, Clock]:
    """The app with the limits on, at their defaults (tests elsewhere turn them off)."""
    for name in type(DEFAULTS).model_fields:
        if name.startswith(("rate_limit_", "sign_in_", "siwe_nonce")):
            assert getattr(settings, name) == getattr(DEFAULTS, name), name
    return _limits(_served, settings, monkeypatch)


def _sign_up(http: Http, address: str) -> str:
    email = f"{uuid.uuid4().hex[:10]}@example.org"
    response = http.call(
        address, "POST", "/auth/sign-up", json={"email": email, "password": PASSWORD}
    )
    assert response.status_code == 201, response.text
    return email


def _retry_after(response: httpx.Response, slug: str) -> int:
    body = assert_problem(response, 429, slug)
    assert response.headers["Retry-After"] == str(body["retry_after"])
    return int(body["retry_after"])


def _throttle_rows(http: Http, email: str) -> dict[str, SignInThrottle]:
    subject = hashlib.sha256(f"sign-in:{email}".encode()).hexdigest()
    with http.sessions() as session:
        rows = session.scalars(select(SignInThrottle).where(SignInThrottle.subject_hash == subject))
        return {row.client_hash: row for row in rows}


def test_a_strangers_wrong_passwords_never_lock_the_owner_out(
    throttled: tuple[Http, Clock],
) -> None:
    http, clock = throttled
    settings = DEFAULTS
    owner, stranger, other = _address(), _address(), _address()
    email = _sign_up(http, owner)
    wrong = {"email": email, "password": "not the password"}

    # A burst of wrong passwords from one address: exactly the free attempts are checked.
    burst = http.burst([(stranger, "POST", "/auth/sign-in", {"json": wrong})] * 12)
    statuses = sorted(r.status_code for r in burst)
    assert statuses == [401] * settings.sign_in_max_failures + [429] * 7, statuses
    base = settings.sign_in_backoff_base
    assert {_retry_after(r, "too-many-attempts") for r in burst if r.status_code == 429} == {base}
    # Even the right password waits on that address...
    held = http.call(stranger, "POST", "/auth/sign-in", json={**wrong, "password": PASSWORD})
    assert _retry_after(held, "too-many-attempts") == base
    # ...but the owner's own phone signs in at once.
    signed_in = http.call(owner, "POST", "/auth/sign-in", json={**wrong, "password": PASSWORD})
    assert signed_in.status_code == 200, signed_in.text

    # After each wait one more attempt is checked, and the next wait is twice as long.
    waits = [base]
    for _ in range(3):
        clock.now += waits[-1]
        assert http.call(stranger, "POST", "/auth/sign-in", json=wrong).status_code == 401
        again = http.call(stranger, "POST", "/auth/sign-in", json=wrong)
        waits.append(_retry_after(again, "too-many-attempts"))
    assert waits == [base, base * 2, base * 4, base * 8]

    # Guessing spread over many addresses exhausts the email's budget: an address that already
    # failed gets one free attempt instead of five; the owner, from a new address, still gets in.
    rows = _throttle_rows(http, email)
    assert rows[EVERY_CLIENT].attempts == settings.sign_in_max_failures + 3
    subject = rows[EVERY_CLIENT].subject_hash
    with http.sessions() as session:
        session.execute(
            update(SignInThrottle)
            .where(
                SignInThrottle.subject_hash == subject, SignInThrottle.client_hash == EVERY_CLIENT
            )
            .values(attempts=settings.sign_in_account_budget)
        )
        session.commit()
    assert http.call(other, "POST", "/auth/sign-in", json=wrong).status_code == 401
    assert http.call(other, "POST", "/auth/sign-in", json=wrong).status_code == 401
    _retry_after(http.call(other, "POST", "/auth/sign-in", json=wrong), "too-many-attempts")
    new_phone = http.call(_address(), "POST", "/auth/sign-in", json={**wrong, "password": PASSWORD})
    assert new_phone.status_code == 200, new_phone.text
    # A success forgets that address's count (and only that address's).
    assert len(_throttle_rows(http, email)) == 3  # the stranger, `other` and the budget


def test_public_routes_answer_429_exactly_at_their_limit_per_address(
    throttled: tuple[Http, Clock],
) -> None:
    http, clock = throttled
    scraper, neighbour = _address(), _address()
    # Certificate verification scans the chain's logs: 20 a minute by default. A burst of 26
    # gets exactly 20 through (to a 422: the limit is counted before the query is read, so
    # the test spends no time on the chain).
    verify = ("GET", "/certificates/1/verify", {"params": {"amount": -1}})
    burst = http.burst([(scraper, *verify)] * 26)
    assert sorted(r.status_code for r in burst) == [422] * 20 + [429] * 6
    refused = [r for r in burst if r.status_code == 429]
    assert {_retry_after(r, "too-many-requests") for r in refused} == {60}
    assert {r.json()["limit"] for r in refused} == {"certificate_verify"}
    # The same /64 is the same client; another address is not affected; nor is /healthz.
    same_block = scraper.rsplit("::", 1)[0] + "::99"
    assert http.call(same_block, *verify[:2], **verify[2]).status_code == 429
    assert http.call(neighbour, *verify[:2], **verify[2]).status_code == 422
    assert {http.call(scraper, "GET", "/healthz").status_code for _ in range(3)} == {200}
    clock.now += 59
    assert _retry_after(http.call(scraper, *verify[:2], **verify[2]), "too-many-requests") == 1
    clock.now += 1  # the window is over
    assert http.call(scraper, *verify[:2], **verify[2]).status_code == 422

    # SIWE nonces: 10 a minute per address, and the table keeps no expired nonce.
    with http.sessions() as session:
        session.add_all(
            SiweNonce(nonce=uuid.uuid4().hex, expires_at=utcnow() - timedelta(seconds=1))
            for _ in range(50)
        )
        session.commit()
    nonces = http.burst([(scraper, "POST", "/auth/siwe/nonce", {})] * 13)
    assert sorted(r.status_code for r in nonces) == [200] * 10 + [429] * 3
    with http.sessions() as session:
        expired = session.scalar(
            select(func.count()).select_from(SiweNonce).where(SiweNonce.expires_at <= utcnow())
        )
    assert expired == 0

    # Sign-up and sign-in from one address: 20 a minute.
    signups = http.burst(
        [
            (neighbour, "POST", "/auth/sign-up", {"json": {"email": "x", "password": "short"}})
            for _ in range(23)
        ]
    )
    assert sorted(r.status_code for r in signups) == [422] * 20 + [429] * 3


def test_signed_in_requests_are_limited_per_account_not_per_address(
    _served: Http, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    http, _clock = _limits(
        _served,
        settings,
        monkeypatch,
        rate_limit_public="10/minute",
        rate_limit_account="6/minute",
        rate_limit_siwe_nonce="1000/minute",
        siwe_nonce_max_per_client=7,
    )
    address = _address()
    email = _sign_up(http, address)
    token = http.call(address, "POST", "/auth/sign-in", json={"email": email, "password": PASSWORD})
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    me = http.burst([(address, "GET", "/accounts/me", {"headers": headers})] * 9)
    assert sorted(r.status_code for r in me) == [200] * 6 + [429] * 3
    assert {r.json()["limit"] for r in me if r.status_code == 429} == {"account"}
    # Signed-in requests did not spend the address's public budget (2 of 10 spent).
    public = http.burst([(address, "GET", "/.well-known/jwks.json", {})] * 10)
    assert sorted(r.status_code for r in public) == [200] * 8 + [429] * 2
    assert {r.json()["limit"] for r in public if r.status_code == 429} == {"public"}
    # A signed-in route without a valid token is an anonymous request: the public limit.
    forged = http.call(address, "GET", "/accounts/me", headers={"Authorization": "Bearer x.y.z"})
    assert _retry_after(forged, "too-many-requests") == 60
    assert forged.json()["limit"] == "public"
    # The health checks are never limited (probes; readiness reports the database).
    health = http.burst([(address, "GET", path, {}) for path in ("/healthz", "/readyz") * 6])
    assert {r.status_code for r in health} == {200}
    # The SIWE nonce cap per nonce lifetime, whatever the per-minute limit.
    nonces = http.burst([(_address(), "POST", "/auth/siwe/nonce", {})] * 10)
    assert sorted(r.status_code for r in nonces) == [200] * 7 + [429] * 3
    assert {r.json()["limit"] for r in nonces if r.status_code == 429} == {"siwe_nonce"}


def test_database_counters_hold_across_processes_and_windows(
    settings: Settings, migrated: str
) -> None:
    """Two limiters on engines of their own (as two API processes) share one count; a window
    ends when the clock says so, and `retry_after` counts down to it."""
    now = [1_000_000.0]
    limited = settings.model_copy(
        update={"rate_limits_enabled": True, "rate_limit_public": "25/minute"}
    )
    engines = [make_engine(migrated) for _ in range(2)]
    limiters = [
        RateLimiter(limited, make_session_factory(e), clock=lambda: now[0]) for e in engines
    ]
    who = client_address(_address())
    barrier = threading.Barrier(40)
    outcomes: list[int | str] = []

    def hit(limiter: RateLimiter) -> None:
        barrier.wait()
        try:
            limiter.hit("public", who)
            outcomes.append("ok")
        except TooManyRequests as exc:
            outcomes.append(exc.extensions["retry_after"])

    threads = [threading.Thread(target=hit, args=(limiters[i % 2],)) for i in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("ok") == 25 and sorted(set(outcomes) - {"ok"}) == [60]
    now[0] += 45
    with pytest.raises(TooManyRequests) as refused:
        limiters[1].hit("public", who)
    assert refused.value.extensions["retry_after"] == 15
    now[0] += 15
    limiters[0].hit("public", who)  # a new window
    for engine in engines:
        engine.dispose()
