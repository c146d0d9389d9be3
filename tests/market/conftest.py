"""Market fixtures: a real devnet (snapshot per test), a real database emptied after each test."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from sqlalchemy import delete, text, update
from sqlalchemy.orm import Session, sessionmaker

from api.chain.gateway import ChainGateway, NonceManager
from api.db import make_engine, make_session_factory
from api.idempotency import IdempotencyKey
from api.market import ledger, service
from api.market.context import MarketContext
from api.market.eip712 import Order, Side
from api.market.models import (
    LedgerAccount,
    LedgerEntry,
    LedgerTransaction,
    MarketFill,
    MarketOrder,
    MarketSettlement,
    MarketState,
    WonTransfer,
)
from api.market.reconcile import Reconciliation, reconcile
from api.market.settlement import enqueue_settlements
from api.outbox.models import ChainTransaction
from api.outbox.worker import OutboxWorker
from api.settings import Settings
from api.tasks import outbox_handlers
from tests.conftest import Accounts, block_time
from tests.contracts.conftest import Platform, platform  # noqa: F401  (fixture)

KG = 1000
_nonces = itertools.count(1)

MARKET_TABLES = (
    LedgerEntry,
    LedgerTransaction,
    LedgerAccount,
    MarketFill,
    MarketSettlement,
    MarketOrder,
    WonTransfer,
    IdempotencyKey,
)


@pytest.fixture
def sessions(migrated: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(migrated)
    factory = make_session_factory(engine)
    yield factory
    with factory() as session, session.begin():
        for table in MARKET_TABLES:
            session.execute(delete(table))
        session.execute(delete(ChainTransaction).where(ChainTransaction.kind.like("market.%")))
        session.execute(update(MarketState).values(last_price=None))
    engine.dispose()


@dataclass
class Harness:
    """The market on the devnet and the database, with the actions tests repeat."""

    chain: ChainGateway
    accounts: Accounts
    platform: Platform
    sessions: sessionmaker[Session]
    ctx: MarketContext

    def worker(self) -> OutboxWorker:
        """An outbox worker as a freshly started process has it."""
        self.chain.nonces = NonceManager(self.chain.w3)
        return OutboxWorker(
            self.sessions,
            self.chain,
            {"operator": self.accounts.operator, "relayer": self.accounts.relayer},
            outbox_handlers(self.chain),
        )

    def attest(self, *who: str) -> None:
        for address in who:
            self.platform.attest(address)

    def deposit(self, address: str, amount: int, *, drain: bool = True) -> None:
        with self.sessions() as session, session.begin():
            service.deposit(session, self.ctx, address, amount, f"bank-{next(_nonces)}")
        if drain:
            self.worker().drain()

    def withdraw(self, address: str, amount: int, *, drain: bool = True) -> None:
        with self.sessions() as session, session.begin():
            service.withdraw(session, self.ctx, address, amount, f"payout-{next(_nonces)}")
        if drain:
            self.worker().drain()

    def give_credits(self, amounts: dict[str, int]) -> None:
        """Issue credits on chain and post them to the ledger (what issuance will do)."""
        batch, _tree, _records = self.platform.issue(
            amounts, batch=keccak(text=f"b{next(_nonces)}")
        )
        with self.sessions() as session, session.begin():
            for address, grams in amounts.items():
                ledger.record_credits_issued(session, address, grams, "0x" + batch.hex())

    def order(
        self, maker: LocalAccount, side: Side, price: int, kg: int, *, ttl: int = 3600
    ) -> tuple[Order, bytes]:
        order = Order(maker.address, side, price, kg * KG, self.ctx.now() + ttl, next(_nonces))
        return order, self.ctx.domain.sign_order(order, maker)

    def place(
        self, maker: LocalAccount, side: Side, price: int, kg: int, *, ttl: int = 3600
    ) -> MarketOrder:
        order, signature = self.order(maker, side, price, kg, ttl=ttl)
        return self.place_signed(order, signature)

    def place_signed(self, order: Order, signature: bytes) -> MarketOrder:
        with self.sessions() as session, session.begin():
            row = service.place_order(session, self.ctx, order, signature)
        return row

    def settle(self) -> int:
        with self.sessions() as session, session.begin():
            count = enqueue_settlements(session, self.ctx.settings.market_settlement_batch_size)
        self.worker().drain()
        return count

    def reconcile(self) -> Reconciliation:
        with self.sessions() as session:
            return reconcile(session, self.chain)

    def get(self, model: type, ident: int):
        with self.sessions() as session:
            found = session.get(model, ident)
            session.expunge(found)
            return found

    def won(self, address: str) -> int:
        return int(self.chain.contract("SettlementToken").functions.balanceOf(address).call())

    def credits(self, address: str) -> int:
        return self.platform.balance(address)


@pytest.fixture
def market_settings(settings: Settings) -> Settings:
    return settings


@pytest.fixture
def harness(
    chain: ChainGateway,
    accounts: Accounts,
    platform: Platform,  # noqa: F811
    sessions: sessionmaker[Session],
    market_settings: Settings,
) -> Harness:
    ctx = MarketContext(market_settings, chain, clock=lambda: block_time(chain))
    return Harness(chain, accounts, platform, sessions, ctx)


def sql_count(sessions: sessionmaker[Session], table: str) -> int:
    with sessions() as session:
        return int(session.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())  # noqa: S608
