"""Signed-in people for HTTP tests: real accounts, wallets and access tokens, no stand-ins."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from api.auth.models import Role, Wallet
from api.auth.service import create_account
from api.auth.tokens import issue_access_token
from api.settings import Settings


@dataclass
class People:
    """Accounts for the devnet's holders (self-custody wallets at their addresses) and staff."""

    settings: Settings
    sessions: sessionmaker[Session]
    _by_address: dict[str, str] = field(default_factory=dict)

    def holder(self, address: str, role: Role = Role.citizen) -> dict[str, str]:
        """Headers of a holder whose (self-custody) wallet is ``address``."""
        if address not in self._by_address:
            with self.sessions() as session:
                existing = session.scalar(select(Wallet).where(Wallet.address == address))
                if existing is not None:  # the database outlives a test; the chain does not
                    self._by_address[address] = existing.account_id
                    return self._headers(existing.account_id, role)
                account = create_account(
                    session,
                    self.settings,
                    email=f"{address[-8:].lower()}-{uuid.uuid4().hex[:6]}@example.org",
                    password=None,
                    role=role,
                )
                session.add(Wallet(account_id=account.id, address=address, custody="self"))
                session.commit()
                self._by_address[address] = account.id
        return self._headers(self._by_address[address], role)

    def account_id(self, address: str) -> str:
        return self._by_address[address]

    def staff(self, role: Role) -> dict[str, str]:
        with self.sessions() as session:
            account = create_account(
                session,
                self.settings,
                email=f"{role.value}-{uuid.uuid4().hex[:6]}@city.example",
                password=None,
                role=role,
            )
        return self._headers(account.id, role)

    def operator(self) -> dict[str, str]:
        return self.staff(Role.operator)

    def _headers(self, account_id: str, role: Role) -> dict[str, str]:
        token, _ttl = issue_access_token(self.settings, account_id, role.value)
        return {"Authorization": f"Bearer {token}"}
