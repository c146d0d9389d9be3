"""An identity world over the real app, devnet and database: people, verifiers, helpers."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.auth import service as auth_service
from api.auth.models import Role
from api.chain.gateway import ChainGateway
from api.settings import Settings
from identity.uniqueness import uniqueness_key
from tests.api.conftest import app, client
from tests.conftest import Accounts
from tests.contracts.conftest import platform


def checked_at_the_desk() -> str:
    """Six days ago (the furthest back a verifier may date a check is seven)."""
    return (datetime.now(UTC) - timedelta(days=6)).isoformat()


PROBLEM = "application/problem+json"
PASSWORD = "correct horse battery staple"


@dataclass
class User:
    id: str
    email: str | None
    access: str
    refresh: str
    role: str = "citizen"

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access}"}


@dataclass
class World:
    client: TestClient
    settings: Settings
    chain: ChainGateway
    accounts: Accounts
    _verifiers: dict[str, Any] = field(default_factory=dict)

    # -- database ------------------------------------------------------------------------
    def db(self) -> Session:
        return self.client.app.state.crda.sessions()  # type: ignore[attr-defined,no-any-return]

    def count(self, model: Any, *where: Any) -> int:
        with self.db() as session:
            return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)

    # -- people --------------------------------------------------------------------------
    def sign_up(self, role: str = "citizen", **personal: Any) -> User:
        email = f"{uuid.uuid4().hex[:10]}@example.org"
        response = self.client.post(
            "/auth/sign-up", json={"email": email, "password": PASSWORD, "role": role, **personal}
        )
        assert response.status_code == 201, response.text
        return self.sign_in(email)

    def sign_in(self, email: str, password: str = PASSWORD) -> User:
        response = self.client.post("/auth/sign-in", json={"email": email, "password": password})
        assert response.status_code == 200, response.text
        body = response.json()
        me = self.client.get(
            "/accounts/me", headers={"Authorization": f"Bearer {body['access_token']}"}
        )
        return User(
            body["account_id"],
            email,
            body["access_token"],
            body["refresh_token"],
            me.json()["role"],
        )

    def staff(self, role: Role) -> User:
        """An operator or auditor (made directly: nobody signs up as one)."""
        email = f"{role.value}-{uuid.uuid4().hex[:8]}@city.example"
        with self.db() as session:
            auth_service.create_account(
                session, self.settings, email=email, password=PASSWORD, role=role
            )
        return self.sign_in(email)

    def operator(self) -> User:
        return self.staff(Role.operator)

    def verifier(self, name: str = "Incheon Community Centre") -> tuple[dict[str, Any], User]:
        """A registered verifier organisation and an account acting for it."""
        operator = self.operator()
        response = self.client.post("/verifiers", json={"name": name}, headers=operator.headers)
        assert response.status_code == 201, response.text
        org = response.json()
        member = self.sign_up()
        added = self.client.post(
            f"/verifiers/{org['id']}/members",
            json={"account_id": member.id},
            headers=operator.headers,
        )
        assert added.status_code == 200, added.text
        return org, self.sign_in(member.email or "")

    def issue(
        self, verifier: User, subject: User, *, key: str | None = None, level: int = 2
    ) -> httpx.Response:
        return self.client.post(
            "/credentials/issue",
            json={
                "account_id": subject.id,
                "assurance_level": level,
                "uniqueness_key": key or new_uniqueness_key(self.settings),
                # Checked at the desk days ago: the tests date activities up to days back.
                "verified_at": checked_at_the_desk(),
            },
            headers=verifier.headers,
        )

    def verify(self, token: str) -> dict[str, Any]:
        response = self.client.post("/credentials/verify", json={"verifiableCredential": token})
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    # -- SIWE ----------------------------------------------------------------------------
    def siwe_message(
        self,
        account: LocalAccount,
        *,
        nonce: str | None = None,
        domain: str | None = None,
        expires_in: int = 300,
        chain_id: int | None = None,
    ) -> str:
        if nonce is None:
            nonce = self.client.post("/auth/siwe/nonce").json()["nonce"]
        now = datetime.now(UTC)
        domain = domain or self.settings.siwe_domain
        return (
            f"{domain} wants you to sign in with your Ethereum account:\n"
            f"{account.address}\n\n"
            "Sign in to CRDA.\n\n"
            f"URI: http://{domain}\n"
            "Version: 1\n"
            f"Chain ID: {chain_id or self.chain.chain_id}\n"
            f"Nonce: {nonce}\n"
            f"Issued At: {iso(now)}\n"
            f"Expiration Time: {iso(now + timedelta(seconds=expires_in))}"
        )


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def sign(account: LocalAccount, message: str) -> str:
    return "0x" + account.sign_message(encode_defunct(text=message)).signature.hex().removeprefix(
        "0x"
    )


def new_uniqueness_key(settings: Settings) -> str:
    national_id = f"{secrets.randbelow(10**6):06d}-{secrets.randbelow(10**7):07d}"
    return uniqueness_key(national_id, settings.uniqueness_pepper.get_secret_value())


def assert_problem(response: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    assert body["type"] == f"/problems/{slug}", body
    assert body["status"] == status
    return body


@pytest.fixture
def world(
    client: TestClient, settings: Settings, chain: ChainGateway, accounts: Accounts
) -> Iterator[World]:
    yield World(client, settings, chain, accounts)


__all__ = ["app", "client", "platform"]
