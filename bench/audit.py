"""Auditor summary queries under load: p99 latency at a fixed request rate (target <= 50 ms).

A fresh devnet gets ``events`` Transfer events (issuance batches, as in ``bench/indexer.py``);
a fresh SQLite database indexes them; the API runs in its own process (uvicorn, loopback only,
indexer and workers off); this process is the load generator: an open loop that sends
``rate`` requests a second for ``seconds`` seconds, spread over the auditor's summary queries,
and measures each latency from the moment the request was due (so a slow server cannot hide
its queueing by slowing the generator down).

    crda bench audit [--events 100000] [--rate 200] [--seconds 20] [--json]
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console

from api.audit.indexer import ChainReader, Indexer
from api.auth import service as auth_service
from api.auth.models import Role
from api.chain import compiler
from api.chain.artifacts import Artifacts
from api.chain.deploy import ensure_deployed
from api.chain.devnet import start_devnet
from api.chain.gateway import ChainGateway
from api.db import make_engine, make_session_factory
from api.migrate import upgrade
from api.settings import PROJECT_ROOT, Environment, Settings
from bench.indexer import _generate

console = Console(stderr=True)

# A throwaway auditor of the throwaway database.
PASSWORD = secrets.token_urlsafe(16)


def _queries(head: int) -> list[str]:
    """The auditor's summary queries (what the dashboard's headline and a quick look ask)."""
    return [
        "/audit/summary",
        "/audit/supply",
        f"/audit/supply?block={max(head // 2, 1)}",
        "/audit/holders?limit=20",
        "/audit/status",
        "/audit/retirements?limit=20",
        "/audit/batches?limit=20",
    ]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def load(base: str, token: str, paths: list[str], rate: float, seconds: float) -> dict[str, Any]:
    """Open-loop load: request i is due at start + i/rate; latency counts from that moment."""
    total = int(rate * seconds)
    latencies: list[float] = []
    per_path: dict[str, list[float]] = {p: [] for p in paths}
    errors: list[str] = []
    lock = threading.Lock()
    local = threading.local()

    def client() -> httpx.Client:
        if not hasattr(local, "client"):
            local.client = httpx.Client(
                base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=10
            )
        return local.client

    def one(i: int, due: float) -> None:
        path = paths[i % len(paths)]
        try:
            response = client().get(path)
            ok = response.status_code == 200
        except httpx.HTTPError as exc:
            ok, response = False, None
            with lock:
                errors.append(type(exc).__name__)
        elapsed = (time.perf_counter() - due) * 1000
        with lock:
            latencies.append(elapsed)
            per_path[path].append(elapsed)
            if not ok and response is not None:
                errors.append(str(response.status_code))

    with ThreadPoolExecutor(max_workers=64) as pool:
        start = time.perf_counter() + 0.2
        for i in range(total):
            due = start + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            pool.submit(one, i, due)
        finished_sending = time.perf_counter()
    wall = time.perf_counter() - start
    return {
        "requests": total,
        "errors": len(errors),
        "offered_rate": rate,
        "achieved_rate": round(total / max(finished_sending - start, 1e-9), 1),
        "wall_seconds": round(wall, 2),
        "p50_ms": round(_percentile(latencies, 0.50), 2),
        "p90_ms": round(_percentile(latencies, 0.90), 2),
        "p99_ms": round(_percentile(latencies, 0.99), 2),
        "max_ms": round(max(latencies), 2) if latencies else None,
        "p99_ms_by_query": {p: round(_percentile(v, 0.99), 2) for p, v in per_path.items()},
    }


def main(
    *,
    events: int = 100_000,
    per_batch: int = 500,
    rate: float = 200.0,
    seconds: float = 20.0,
    kind: str = "hardhat",
    workers: int = 2,
    also_rates: tuple[float, ...] = (),
    as_json: bool = False,
) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="crda-bench-audit-"))
    devnet = start_devnet(kind, log_path=workdir / "node.log")
    server: subprocess.Popen[bytes] | None = None
    try:
        settings = Settings(
            environment=Environment.test,
            # Benchmarks send many requests from one address.
            rate_limits_enabled=False,
            rpc_url=devnet.rpc_url,
            database_url=f"sqlite:///{workdir / 'audit.db'}",
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
        _generate(gateway, settings, events, per_batch)
        upgrade(settings.database_url)
        engine = make_engine(settings.database_url)
        sessions = make_session_factory(engine)
        stats = Indexer(sessions, ChainReader(settings.rpc_url), deployment, artifacts).run()
        with sessions() as session:
            auth_service.create_account(
                session,
                settings,
                email="auditor@bench.example",
                password=PASSWORD,
                role=Role.auditor,
            )
        engine.dispose()
        console.print(f"indexed {stats.events:,} events up to block {stats.checkpoint}")

        port = _free_port()
        # The API's own output goes to a file, so ``--json`` stays one clean line on stdout.
        api_log = (workdir / "api.log").open("wb")
        env = {
            **os.environ,
            "CRDA_ENVIRONMENT": "test",
            "CRDA_RPC_URL": settings.rpc_url,
            "CRDA_DATABASE_URL": settings.database_url,
            "CRDA_DEPLOYMENTS_DIR": str(settings.deployments_dir),
            "CRDA_INDEXER_ENABLED": "false",
            "CRDA_RUN_WORKERS": "false",
        }
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "api.app:create_app",
                "--factory",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                str(workers),
                "--log-level",
                "warning",
                "--no-access-log",
            ],
            env=env,
            cwd=PROJECT_ROOT,
            stdout=api_log,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        token = httpx.post(
            f"{base}/auth/sign-in", json={"email": "auditor@bench.example", "password": PASSWORD}
        ).json()["access_token"]
        paths = _queries(stats.checkpoint)
        # Warm up (connections, caches), then measure.
        load(base, token, paths, rate=min(rate, 50), seconds=2)
        result = load(base, token, paths, rate=rate, seconds=seconds)
        result.update(
            {
                "events_indexed": stats.events,
                "database": "sqlite",
                "devnet": kind,
                "api_workers": workers,
                "target_p99_ms": 50,
                "met": result["p99_ms"] <= 50 and result["errors"] == 0,
            }
        )
        # The same load at other rates (where the knee is, on this machine today).
        result["other_rates"] = {}
        for other in also_rates:
            time.sleep(2)
            extra = load(base, token, paths, rate=other, seconds=seconds)
            extra.pop("p99_ms_by_query")
            result["other_rates"][str(other)] = extra
        if as_json:
            sys.stdout.write(json.dumps(result) + "\n")
        else:
            console.print(
                f"{result['requests']} requests at {result['achieved_rate']}/s over "
                f"{stats.events:,} indexed events: p50 {result['p50_ms']} ms, p99 "
                f"[bold]{result['p99_ms']} ms[/] (target 50), max {result['max_ms']} ms, "
                f"{result['errors']} errors"
            )
            for path, p99 in result["p99_ms_by_query"].items():
                console.print(f"  p99 {p99:>8} ms  {path}")
            for other, extra in result["other_rates"].items():
                console.print(
                    f"at {other}/s: p50 {extra['p50_ms']} ms, p99 {extra['p99_ms']} ms, "
                    f"{extra['errors']} errors"
                )
        return result
    finally:
        if server is not None:
            server.terminate()
            server.wait(10)
        devnet.stop()
