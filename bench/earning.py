"""Earning throughput, issuance lag and gas per issued claim, on a throwaway devnet.

1. Service: pre-signed e-receipts and trips (partners sign, not the platform) submitted one by
   one through ``api.earning.service`` with every check on (EIP-712 recovery, provider, window,
   plausibility, duplicates, identity on chain with the default 5 s cache, overlaps, caps),
   each committed to its own SQLite (WAL, synchronous=FULL) transaction.
2. HTTP: the same kind of records POSTed to ``/earning/purchases`` and ``/earning/trips`` of a
   real uvicorn process (one process, the embedded worker running), beside ``GET /healthz`` of
   the same app in the same run, at the same client concurrency.
3. Issuance lag: for the HTTP run's claims, accepted -> marked issued (the receipt is in).
4. Gas: the issuance transactions' ``gasUsed`` over the claims they issued.
Citizens are stand-ins (a header names the citizen instead of a signed-in account).
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Annotated, Any

import httpx
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from fastapi import FastAPI, Header
from rich.console import Console
from rich.table import Table
from sqlalchemy import select

from api.auth.schemas import Holder
from api.chain import compiler
from api.chain.artifacts import Artifacts
from api.chain.deploy import VERIFIER_ROLE, ensure_deployed
from api.chain.devnet import free_port, start_devnet
from api.chain.gateway import ChainGateway
from api.db import make_engine, make_session_factory
from api.earning import service
from api.earning.evidence import LineItem, ReceiptEvidence, TripEvidence, sign_evidence
from api.earning.models import Claim, ClaimStatus, IssuanceBatch, ProviderKind
from api.migrate import upgrade
from api.outbox.models import ChainTransaction
from api.settings import PROJECT_ROOT, Environment, Settings
from api.timeutil import aware

CITIZEN_HEADER = "X-Bench-Citizen"


# -- the app the HTTP run serves (uvicorn imports it by name) --------------------------------


def _bench_citizen(x_bench_citizen: Annotated[str, Header()]) -> Holder:
    return Holder(address=x_bench_citizen, account_id=None)


def create_bench_app() -> FastAPI:
    """The API with the signed-in holder replaced by a stand-in citizen header (benchmark only)."""
    from api.app import create_app
    from api.auth.deps import current_holder

    app = create_app()
    app.dependency_overrides[current_holder] = _bench_citizen
    return app


# -- records ---------------------------------------------------------------------------------


def _key(name: str) -> LocalAccount:
    return Account.from_key(keccak(text=f"crda-bench:{name}"))


class Records:
    """Partners, citizens and pre-signed records (partners sign; the platform only verifies)."""

    def __init__(self, gateway: ChainGateway, citizens: int) -> None:
        self.domain = service.evidence_domain(gateway)
        self.merchant = _key("merchant")
        self.transit = _key("transit")
        self.citizens: list[str] = [_key(f"citizen:{i}").address for i in range(citizens)]
        self._n = 0
        self._trip_clock: dict[str, int] = {}

    def make(self, count: int, tag: str) -> list[tuple[str, str, dict[str, Any]]]:
        """(path, citizen, body) for ``count`` records, half receipts and half subway trips."""
        now = int(time.time())
        out: list[tuple[str, str, dict[str, Any]]] = []
        for i in range(count):
            self._n += 1
            citizen = self.citizens[i % len(self.citizens)]
            if i % 2 == 0:
                receipt = ReceiptEvidence(
                    receiptId=f"{tag}-r{self._n}",
                    merchant=self.merchant.address,
                    citizen=citizen,
                    issuedAt=now - 120,
                    items=[
                        LineItem(
                            productCode="8801234567890",
                            category="dairy.milk.1l",
                            quantity=1,
                            labelGrams=1900,
                        )
                    ],
                )
                signature = sign_evidence(self.domain, receipt, self.merchant.key)
                out.append(
                    (
                        "/earning/purchases",
                        citizen,
                        {"evidence": receipt.model_dump(), "signature": signature},
                    )
                )
            else:
                start = self._trip_clock.get(citizen, now - 20 * 86400)
                self._trip_clock[citizen] = start + 1000
                trip = TripEvidence(
                    tripId=f"{tag}-t{self._n}",
                    operator=self.transit.address,
                    citizen=citizen,
                    mode="subway",
                    startedAt=start,
                    endedAt=start + 900,
                    fromStation="I124",
                    toStation="I120",
                    distanceMeters=4_200,
                )
                signature = sign_evidence(self.domain, trip, self.transit.key)
                out.append(
                    (
                        "/earning/trips",
                        citizen,
                        {
                            "evidence": trip.model_dump(),
                            "signature": signature,
                            "gps_legs_m": [300],
                        },
                    )
                )
        return out


def _prepare_database(url: str, records: Records) -> None:
    upgrade(url)
    engine = make_engine(url)
    with make_session_factory(engine)() as session:
        service.register_provider(
            session,
            code="mart",
            name="Mart",
            kind=ProviderKind.merchant,
            signer_address=records.merchant.address,
        )
        service.register_provider(
            session,
            code="transit",
            name="Transit",
            kind=ProviderKind.mobility,
            signer_address=records.transit.address,
        )
    engine.dispose()


def _attest(gateway: ChainGateway, settings: Settings, citizens: list[str]) -> None:
    operator = Account.from_key(settings.operator_key.get_secret_value())
    registry = gateway.contract("IdentityRegistry")
    gateway.transact(registry.functions.grantRole(VERIFIER_ROLE, operator.address), operator)
    expires = int(time.time()) + 365 * 86400
    since = int(time.time()) - 86400  # checked at a desk before the receipts the bench dates
    for citizen in citizens:
        credential = keccak(text=f"bench-credential:{citizen}")
        attest = registry.functions.attestSince(citizen, credential, 2, expires, since)
        gateway.transact(attest, operator)


# -- runs ------------------------------------------------------------------------------------


def service_run(
    settings: Settings, gateway: ChainGateway, batch: list[tuple[str, str, dict[str, Any]]]
) -> dict[str, Any]:
    from api.earning.schemas import PurchaseCreate, TripCreate

    engine = make_engine(settings.database_url)
    sessions = make_session_factory(engine)
    ctx = service.EarningContext.from_gateway(settings, gateway)
    parsed = [
        (path, citizen, (PurchaseCreate if path.endswith("purchases") else TripCreate)(**body))
        for path, citizen, body in batch
    ]
    began = time.perf_counter()
    for _path, citizen, body in parsed:
        with sessions() as session:
            if isinstance(body, PurchaseCreate):
                service.submit_purchase(
                    session,
                    ctx,
                    citizen=citizen,
                    account_id=None,
                    evidence=body.evidence,
                    signature=body.signature,
                )
            else:
                service.submit_trip(
                    session,
                    ctx,
                    citizen=citizen,
                    account_id=None,
                    evidence=body.evidence,
                    signature=body.signature,
                    gps_legs_m=body.gps_legs_m,
                )
    elapsed = time.perf_counter() - began
    engine.dispose()
    return {
        "activities": len(parsed),
        "seconds": round(elapsed, 3),
        "per_second": round(len(parsed) / elapsed, 1),
    }


async def _fire(
    base: str, requests: list[tuple[str, str, dict[str, Any] | None]], concurrency: int
) -> tuple[float, dict[int, int]]:
    statuses: dict[int, int] = {}
    queue = list(reversed(requests))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as client:

        async def worker() -> None:
            while queue:
                path, citizen, body = queue.pop()
                if body is None:
                    response = await client.get(path)
                else:
                    response = await client.post(path, json=body, headers={CITIZEN_HEADER: citizen})
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return time.perf_counter() - began, statuses


def http_run(
    settings: Settings,
    batch: list[tuple[str, str, dict[str, Any]]],
    concurrency: int,
    log_path: Path,
) -> dict[str, Any]:
    port = free_port()
    env = {
        **os.environ,
        "CRDA_ENVIRONMENT": "test",
        "CRDA_DATABASE_URL": settings.database_url,
        "CRDA_RPC_URL": settings.rpc_url,
        "CRDA_DEPLOYMENTS_DIR": str(settings.deployments_dir),
        "CRDA_DAILY_CAP_GRAMS": str(settings.daily_cap_grams),
        "CRDA_YEARLY_CAP_GRAMS": str(settings.yearly_cap_grams),
        "CRDA_ISSUANCE_BATCH_SIZE": str(settings.issuance_batch_size),
        "CRDA_ISSUANCE_BATCH_MAX_WAIT": str(settings.issuance_batch_max_wait),
        "CRDA_RECEIPT_POLL_INTERVAL": "0.01",
        "CRDA_WORKER_INTERVAL": "0.05",
    }
    log = open(log_path, "wb")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "bench.earning:create_bench_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError(f"bench API did not start; see {log_path}")
            time.sleep(0.2)
        trivial_n = len(batch)
        trivial_s, trivial_codes = asyncio.run(
            _fire(base, [("/healthz", "", None)] * trivial_n, concurrency)
        )
        submit_s, submit_codes = asyncio.run(
            _fire(base, [(p, c, b) for p, c, b in batch], concurrency)
        )
        # Wait for the embedded worker to issue everything accepted.
        engine = make_engine(settings.database_url)
        sessions = make_session_factory(engine)
        deadline = time.monotonic() + 120
        while True:
            with sessions() as session:
                open_claims = session.scalar(
                    select(Claim.id).where(Claim.status != ClaimStatus.issued).limit(1)
                )
            if open_claims is None or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        with sessions() as session:
            claims = list(session.scalars(select(Claim)))
            lags = sorted(
                (aware(c.issued_at) - aware(c.created_at)).total_seconds()
                for c in claims
                if c.issued_at is not None
            )
            tx_hashes = list(session.scalars(select(ChainTransaction.tx_hash)))
            batches = list(session.scalars(select(IssuanceBatch)))
        engine.dispose()
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
    trivial_rate = trivial_n / trivial_s
    submit_rate = len(batch) / submit_s
    return {
        "concurrency": concurrency,
        "trivial_per_second": round(trivial_rate, 1),
        "trivial_statuses": trivial_codes,
        "submissions": len(batch),
        "submissions_per_second": round(submit_rate, 1),
        "submission_statuses": submit_codes,
        "ratio_to_trivial": round(submit_rate / trivial_rate, 3),
        "claims_issued": len(lags),
        "batches": len(batches),
        "lag_p50_s": round(statistics.median(lags), 3) if lags else None,
        "lag_p95_s": round(lags[int(0.95 * (len(lags) - 1))], 3) if lags else None,
        "lag_max_s": round(lags[-1], 3) if lags else None,
        "tx_hashes": [h for h in tx_hashes if h],
    }


def main(
    *,
    activities: int = 2000,
    concurrency: int = 32,
    citizens: int = 100,
    as_json: bool = False,
    kind: str = "hardhat",
) -> dict[str, Any]:
    devnet = start_devnet(kind)
    try:
        with tempfile.TemporaryDirectory() as tmp_dir:
            tmp = Path(tmp_dir)
            settings = Settings(
                environment=Environment.test,
                # Benchmarks send many requests from one address.
                rate_limits_enabled=False,
                rpc_url=devnet.rpc_url,
                deployments_dir=tmp,
                database_url=f"sqlite:///{tmp / 'service.db'}",
                receipt_poll_interval=0.01,
                run_workers=False,
                daily_cap_grams=10**9,
                yearly_cap_grams=10**12,
            )
            compiled = compiler.compile_contracts(settings.contracts_dir, settings.artifacts_path)
            ensure_deployed(
                settings,
                Artifacts.from_compiled(compiled),
                digest=compiled["digest"],
                compiler=compiled["compiler"],
            )
            gateway = ChainGateway.connect(settings)
            records = Records(gateway, citizens)
            _attest(gateway, settings, records.citizens)

            _prepare_database(settings.database_url, records)
            in_service = service_run(settings, gateway, records.make(activities, "svc"))

            http_settings = settings.model_copy(
                update={"database_url": f"sqlite:///{tmp / 'http.db'}"}
            )
            _prepare_database(http_settings.database_url, records)
            over_http = http_run(
                http_settings, records.make(activities, "http"), concurrency, tmp / "api.log"
            )
            gas = 0
            for tx_hash in over_http.pop("tx_hashes"):
                gas += int(gateway.w3.eth.get_transaction_receipt(tx_hash)["gasUsed"])
            issued = over_http["claims_issued"]
            result: dict[str, Any] = {
                "service": in_service,
                "http": over_http,
                "gas_total": gas,
                "gas_per_issued_claim": gas // issued if issued else None,
                "issuance_batch_size": settings.issuance_batch_size,
                "issuance_batch_max_wait_s": settings.issuance_batch_max_wait,
                "citizens": citizens,
                "targets": {"per_second": 500, "ratio_to_trivial": 0.3, "lag_s": 10},
            }
    finally:
        devnet.stop()
    if as_json:
        sys.stdout.write(json.dumps(result) + "\n")
    else:
        table = Table(title="Earning: verified activities, issuance lag, gas")
        table.add_column("measure")
        table.add_column("value", justify="right")
        http: dict[str, Any] = result["http"]
        for label, value in (
            ("service: verified activities/s (1 thread)", result["service"]["per_second"]),
            ("HTTP: trivial GET /healthz per s", http["trivial_per_second"]),
            ("HTTP: verified activities/s", http["submissions_per_second"]),
            ("HTTP: ratio to trivial", http["ratio_to_trivial"]),
            ("HTTP: statuses", http["submission_statuses"]),
            (
                "issuance lag p50 / p95 / max (s)",
                f"{http['lag_p50_s']} / {http['lag_p95_s']} / {http['lag_max_s']}",
            ),
            ("batches", http["batches"]),
            ("gas per issued claim", result["gas_per_issued_claim"]),
        ):
            table.add_row(label, str(value))
        Console().print(table)
    return result
