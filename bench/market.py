"""Market throughput and gas, on a throwaway devnet and a throwaway SQLite database.

- engine: signed orders placed and matched per second (signature recovery, checks, the
  maker's identity as the market reads it (the registry once per head block), escrow postings,
  matching, one commit per order), every second order crossing one resting order, so each pair
  is one trade;
- end to end: the same on the devnet with live identity checks, then every fill settled on
  chain through the outbox in ``settleBatch`` transactions of 100 fills, receipts awaited and
  the ledger posted; trades per second from the first order to the last posting;
- baseline in the same run: plain ERC-20 transfers sent one by one, each awaited (fixed gas,
  local nonce: the devnet's ceiling for single transactions);
- gas per settled trade: the settlement transactions' gasUsed over the trades they settled.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from rich.console import Console
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from web3.types import Wei

from api.chain import compiler
from api.chain.artifacts import Artifacts
from api.chain.deploy import VERIFIER_ROLE, ensure_deployed
from api.chain.devnet import start_devnet
from api.chain.gateway import ChainGateway
from api.db import make_engine, make_session_factory
from api.market import ledger, service
from api.market.context import MarketContext
from api.market.eip712 import Order, Side
from api.market.ledger import PLATFORM, Move
from api.market.models import AccountKind, Asset, MarketSettlement
from api.market.settlement import enqueue_settlements
from api.migrate import upgrade
from api.outbox.models import ChainTransaction
from api.outbox.runner import platform_signers
from api.outbox.worker import OutboxWorker
from api.settings import Environment, Settings
from api.tasks import outbox_handlers

KG = 1000
PRICE = 1000
BATCH = 100


def _traders(prefix: str, n: int) -> list[LocalAccount]:
    return [Account.from_key(keccak(text=f"{prefix}:{i}")) for i in range(n)]


def _signed_pairs(
    ctx: MarketContext, sellers: list[LocalAccount], buyers: list[LocalAccount], n: int, tag: int
) -> list[tuple[Order, bytes]]:
    """n sell orders each followed by the buy that takes it (a trade per pair)."""
    expiry = ctx.now() + 3600
    orders: list[tuple[Order, bytes]] = []
    for i in range(n):
        seller, buyer = sellers[i % len(sellers)], buyers[i % len(buyers)]
        sell = Order(seller.address, Side.sell, PRICE, KG, expiry, tag * 10**9 + 2 * i)
        buy = Order(buyer.address, Side.buy, PRICE, KG, expiry, tag * 10**9 + 2 * i + 1)
        orders.append((sell, ctx.domain.sign_order(sell, seller)))
        orders.append((buy, ctx.domain.sign_order(buy, buyer)))
    return orders


def _place_all(sessions: sessionmaker[Session], ctx: MarketContext, orders: list) -> float:
    started = time.perf_counter()
    for order, signature in orders:
        with sessions() as session, session.begin():
            service.place_order(session, ctx, order, signature)
    return time.perf_counter() - started


def engine_bench(
    sessions: sessionmaker[Session], ctx: MarketContext, sellers: list, buyers: list, n: int
) -> dict[str, Any]:
    with sessions() as session, session.begin():
        for s in sellers:
            ledger.record_credits_issued(session, s.address, 10**9, "bench-credits")
        for b in buyers:
            ledger.post(
                session,
                "bench",
                "won",
                [
                    Move(
                        Asset.won,
                        (PLATFORM, AccountKind.external),
                        (b.address, AccountKind.available),
                        10**12,
                    )
                ],
            )
    orders = _signed_pairs(ctx, sellers, buyers, n, tag=1)
    elapsed = _place_all(sessions, ctx, orders)
    return {
        "orders": len(orders),
        "trades": n,
        "seconds": round(elapsed, 3),
        "orders_per_s": round(len(orders) / elapsed, 1),
        "trades_matched_per_s": round(n / elapsed, 1),
    }


def single_transfers(gateway: ChainGateway, operator: LocalAccount, n: int) -> dict[str, Any]:
    address, _ = gateway.deploy("PlainERC20", operator)
    plain = gateway.contract("PlainERC20", address)
    gateway.transact(plain.functions.mint(operator.address, 10**12), operator)
    recipients = [a.address for a in _traders("transfer", 10)]
    for r in recipients:  # warm: recipients already hold tokens
        gateway.transact(plain.functions.transfer(r, 1), operator, gas=80_000)
    started = time.perf_counter()
    gas = 0
    for i in range(n):
        receipt = gateway.transact(
            plain.functions.transfer(recipients[i % len(recipients)], 1), operator, gas=80_000
        )
        gas += int(receipt["gasUsed"])
    elapsed = time.perf_counter() - started
    return {
        "transfers": n,
        "seconds": round(elapsed, 3),
        "tx_per_s": round(n / elapsed, 1),
        "gas_per_transfer": gas // n,
    }


def end_to_end(
    settings: Settings, sessions: sessionmaker[Session], gateway: ChainGateway, n: int
) -> dict[str, Any]:
    signers = platform_signers(settings)
    operator = signers["operator"]
    verifier = Account.from_key(keccak(text="bench-verifier"))
    registry = gateway.contract("IdentityRegistry")
    gateway.transact(registry.functions.grantRole(VERIFIER_ROLE, verifier.address), operator)
    gateway.w3.eth.send_transaction(
        {"from": list(gateway.w3.eth.accounts)[9], "to": verifier.address, "value": Wei(10**20)}
    )
    sellers, buyers = _traders("e2e-seller", 20), _traders("e2e-buyer", 20)
    expires = int(gateway.w3.eth.get_block("latest")["timestamp"]) + 86_400
    for t in sellers + buyers:
        gateway.transact(
            registry.functions.attest(t.address, keccak(text=t.address), 2, expires), verifier
        )
    ctx = MarketContext(settings, gateway)
    worker = OutboxWorker(sessions, gateway, signers, outbox_handlers(gateway), batch_size=100)
    per_seller = n * KG // len(sellers) + KG
    issuance = gateway.contract("Issuance")
    gateway.transact(
        issuance.functions.issueBatch(
            keccak(text="bench-batch"),
            keccak(text="root"),
            [keccak(text="claim")],
            [s.address for s in sellers],
            [per_seller] * len(sellers),
        ),
        signers["issuer"],
    )
    with sessions() as session, session.begin():
        for s in sellers:
            ledger.record_credits_issued(session, s.address, per_seller, "bench-batch")
        for i, b in enumerate(buyers):
            service.deposit(session, ctx, b.address, n * PRICE, f"bench-deposit-{i}")
    worker.drain()

    orders = _signed_pairs(ctx, sellers, buyers, n, tag=2)
    started = time.perf_counter()
    placing = _place_all(sessions, ctx, orders)
    settle_started = time.perf_counter()
    with sessions() as session, session.begin():
        enqueued = enqueue_settlements(session, BATCH, max_batches=10**6)
    worker.drain()
    finished = time.perf_counter()
    assert enqueued == n, (enqueued, n)
    with sessions() as session:
        hashes = session.scalars(
            select(ChainTransaction.tx_hash).where(ChainTransaction.kind == "market.settlement")
        ).all()
        confirmed = session.scalars(select(MarketSettlement.status)).all()
    gas = 0
    for tx_hash in hashes:
        receipt = gateway.receipt(tx_hash) if tx_hash else None
        assert receipt is not None
        gas += int(receipt["gasUsed"])
    assert set(confirmed) == {"confirmed"}, confirmed
    return {
        "trades": n,
        "settlement_transactions": len(hashes),
        "fills_per_transaction": BATCH,
        "placing_seconds": round(placing, 3),
        "settling_seconds": round(finished - settle_started, 3),
        "seconds": round(finished - started, 3),
        "trades_per_s": round(n / (finished - started), 1),
        "settled_trades_per_s_settlement_only": round(n / (finished - settle_started), 1),
        "gas_per_trade": gas // n,
    }


def run(
    settings: Settings,
    gateway: ChainGateway,
    trades: int,
    transfers: int,
    *,
    engine_only: bool = False,
) -> dict[str, Any]:
    sessions = make_session_factory(make_engine(settings.database_url))
    engine_ctx = MarketContext(settings, gateway)
    with tempfile.TemporaryDirectory() as tmp:
        engine_url = f"sqlite:///{tmp}/engine.db"
        upgrade(engine_url)
        engine_sessions = make_session_factory(make_engine(engine_url))
        fake = _traders("engine", 40)
        # The engine bench checks identities against the real registry: attest.
        operator = platform_signers(settings)["operator"]
        registry = gateway.contract("IdentityRegistry")
        gateway.transact(registry.functions.grantRole(VERIFIER_ROLE, operator.address), operator)
        expires = int(gateway.w3.eth.get_block("latest")["timestamp"]) + 86_400
        for t in fake:
            gateway.transact(
                registry.functions.attest(t.address, keccak(text=t.address), 2, expires), operator
            )
        engine = engine_bench(engine_sessions, engine_ctx, fake[:20], fake[20:], trades)
    if engine_only:
        return {"orders_per_s": engine["orders_per_s"], "engine": engine, "database": "sqlite"}
    baseline = single_transfers(gateway, operator, transfers)
    e2e = end_to_end(settings, sessions, gateway, trades)
    return {
        # The figures `crda bench all` reads (bench/table.py).
        "orders_per_s": engine["orders_per_s"],
        "trades_per_s": e2e["trades_per_s"],
        "transfers_per_s": baseline["tx_per_s"],
        "settle_ratio": round(e2e["trades_per_s"] / baseline["tx_per_s"], 2),
        "processes": 1,
        "database": "sqlite",
        "engine": engine,
        "single_transfers": baseline,
        "end_to_end": e2e,
        "speedup_vs_single_transfers": round(e2e["trades_per_s"] / baseline["tx_per_s"], 2),
        "settlement_only_speedup": round(
            e2e["settled_trades_per_s_settlement_only"] / baseline["tx_per_s"], 2
        ),
        "target_speedup": 5,
        "chain_id": gateway.chain_id,
    }


def _table(result: dict[str, Any]) -> Table:
    table = Table(title="Market: matching, settlement, gas")
    table.add_column("measure")
    table.add_column("value", justify="right")
    e = result["engine"]
    rows = [
        ("engine: orders placed+matched /s", f"{e['orders_per_s']:,}"),
        ("engine: trades matched /s", f"{e['trades_matched_per_s']:,}"),
    ]
    if "end_to_end" not in result:  # --engine-only
        for name, value in rows:
            table.add_row(name, value)
        return table
    b, x = result["single_transfers"], result["end_to_end"]
    rows += [
        ("devnet: single ERC-20 transfers /s (awaited)", f"{b['tx_per_s']:,}"),
        ("end to end: trades settled /s (orders -> chain -> ledger)", f"{x['trades_per_s']:,}"),
        ("settlement only: trades settled /s", f"{x['settled_trades_per_s_settlement_only']:,}"),
        ("speed-up vs single transfers (end to end)", f"{result['speedup_vs_single_transfers']}x"),
        ("speed-up vs single transfers (settlement)", f"{result['settlement_only_speedup']}x"),
        ("gas per settled trade (batches of 100)", f"{x['gas_per_trade']:,}"),
        ("gas per plain ERC-20 transfer", f"{b['gas_per_transfer']:,}"),
    ]
    for name, value in rows:
        table.add_row(name, value)
    return table


def main(
    *,
    as_json: bool,
    kind: str = "hardhat",
    trades: int = 1000,
    transfers: int = 300,
    engine_only: bool = False,
) -> dict[str, Any]:
    """Run on a throwaway devnet and database of its own; print a table (or one JSON object).
    ``engine_only``: the orders/s phase alone (same setup), a quick before/after."""
    devnet = start_devnet(kind)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            database_url = f"sqlite:///{tmp}/market.db"
            settings = Settings(
                environment=Environment.test,
                # Benchmarks send many requests from one address.
                rate_limits_enabled=False,
                rpc_url=devnet.rpc_url,
                database_url=database_url,
                deployments_dir=Path(tmp),
                receipt_poll_interval=0.005,
                run_workers=False,
                market_max_open_orders=10**6,
            )
            compiled = compiler.compile_contracts(settings.contracts_dir, settings.artifacts_path)
            ensure_deployed(
                settings,
                Artifacts.from_compiled(compiled),
                digest=compiled["digest"],
                compiler=compiled["compiler"],
            )
            upgrade(database_url)
            result = run(
                settings,
                ChainGateway.connect(settings),
                trades,
                transfers,
                engine_only=engine_only,
            )
    finally:
        devnet.stop()
    if as_json:
        sys.stdout.write(json.dumps(result) + "\n")
    else:
        Console().print(_table(result))
    return result
