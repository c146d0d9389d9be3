"""Indexer throughput: events indexed per second, from an empty database, off a busy devnet.

A fresh devnet gets the contracts and then ``events`` Transfer events, generated fast: issuance
batches of ``per_batch`` fresh recipients each (one transaction mints to all of them, so a batch
is ``per_batch`` Transfer events plus one BatchIssued). Then a fresh database is migrated and
the indexer catches up from the deployment's first block, timed; then the integrity check
(which re-reads every indexed transfer and compares with the chain) is timed too.

    crda bench indexer [--events 100000] [--per-batch 500] [--kind hardhat|anvil] [--json]
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, cast

from eth_account import Account
from eth_utils import keccak
from rich.console import Console
from rich.progress import Progress

from api.audit.indexer import ChainReader, Indexer
from api.audit.integrity import check_integrity
from api.chain import compiler
from api.chain.artifacts import Artifacts
from api.chain.deploy import ensure_deployed
from api.chain.devnet import start_devnet
from api.chain.gateway import ChainGateway
from api.db import make_engine, make_session_factory
from api.migrate import upgrade
from api.settings import PROJECT_ROOT, Environment, Settings

console = Console(stderr=True)


def _generate(gateway: ChainGateway, settings: Settings, events: int, per_batch: int) -> int:
    """Issue batches until ``events`` Transfer events exist; returns the transactions sent."""
    issuer = Account.from_key(settings.issuer_key.get_secret_value())
    issuance = gateway.contract("Issuance")
    batches = -(-events // per_batch)
    sent = []
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("issuing batches", total=batches)
        for b in range(batches):
            size = min(per_batch, events - b * per_batch)
            recipients = [
                gateway.w3.to_checksum_address(f"0x{(b * per_batch + i + 1):040x}")
                for i in range(size)
            ]
            claim_ids = [keccak(text=f"bench-claim-{b}-{i}") for i in range(size)]
            amounts = [1_000 + i for i in range(size)]
            fn = issuance.functions.issueBatch(
                keccak(text=f"bench-batch-{b}"),
                keccak(text=f"root-{b}"),
                claim_ids,
                recipients,
                amounts,
            )
            # Fixed gas and a local nonce: one signature and one send per batch (no simulation).
            fields = {
                **gateway._tx_fields(issuer.address, 29_000_000),
                "nonce": gateway.nonces.reserve(issuer.address),
            }
            tx = fn.build_transaction(cast(Any, fields))
            signed = issuer.sign_transaction(tx)
            sent.append(gateway.w3.eth.send_raw_transaction(signed.raw_transaction))
            progress.advance(task)
    for tx_hash in sent[-1:]:
        receipt = gateway.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=600)
        assert receipt["status"] == 1, "a bench batch reverted"
    return len(sent)


def main(
    *,
    events: int = 100_000,
    per_batch: int = 500,
    kind: str = "hardhat",
    database_url: str | None = None,
    as_json: bool = False,
) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="crda-bench-indexer-"))
    devnet = start_devnet(kind, log_path=workdir / "node.log")
    try:
        settings = Settings(
            environment=Environment.test,
            # Benchmarks send many requests from one address.
            rate_limits_enabled=False,
            rpc_url=devnet.rpc_url,
            database_url=database_url or f"sqlite:///{workdir / 'index.db'}",
            deployments_dir=workdir / "deployments",
            receipt_poll_interval=0.01,
        )
        compiled = compiler.compile_contracts(
            PROJECT_ROOT / "contracts", PROJECT_ROOT / "build" / "contracts.json"
        )
        artifacts = Artifacts.from_compiled(compiled)
        deployment, _new = ensure_deployed(
            settings, artifacts, digest=compiled["digest"], compiler=compiled["compiler"]
        )
        gateway = ChainGateway.connect(settings)

        started = time.monotonic()
        transactions = _generate(gateway, settings, events, per_batch)
        generate_seconds = time.monotonic() - started
        head = gateway.w3.eth.block_number
        console.print(
            f"devnet ({kind}) holds {events:,} transfers in {transactions} batches "
            f"({generate_seconds:.1f}s); head at block {head}"
        )

        upgrade(settings.database_url)
        engine = make_engine(settings.database_url)
        sessions = make_session_factory(engine)
        indexer = Indexer(
            sessions,
            ChainReader(settings.rpc_url),
            deployment,
            artifacts,
            block_range=settings.indexer_block_range,
            max_logs=settings.indexer_max_logs,
        )
        stats = indexer.run()
        started = time.monotonic()
        with sessions() as session:
            report = check_integrity(session, gateway)
        integrity_seconds = time.monotonic() - started
        engine.dispose()

        result = {
            "devnet": kind,
            "database": engine.dialect.name,
            "transfers": events,
            "events_indexed": stats.events,
            "blocks": stats.blocks,
            "steps": stats.steps,
            "index_seconds": round(stats.seconds, 2),
            "events_per_second": round(stats.events / stats.seconds, 1),
            "events_per_s": round(stats.events / stats.seconds, 1),  # the name bench/table.py reads
            "processes": 1,
            "integrity_ok": report.ok,
            "integrity_seconds": round(integrity_seconds, 2),
            "generate_seconds": round(generate_seconds, 1),
        }
        if as_json:
            sys.stdout.write(json.dumps(result) + "\n")
        else:
            console.print(
                f"indexed {stats.events:,} events ({stats.blocks} blocks, {stats.steps} steps) "
                f"in {stats.seconds:.1f}s: [bold]{result['events_per_second']:,} events/s[/] "
                f"into {engine.dialect.name}; integrity check "
                f"{'ok' if report.ok else 'FAILED'} in {integrity_seconds:.1f}s"
            )
        return result
    finally:
        devnet.stop()
