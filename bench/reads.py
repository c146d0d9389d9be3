"""Read paths under load: the auditor's reads open loop, signed-in reads and the public order
book closed loop, each against ``/healthz`` measured by the same generator in the same run.

A fresh devnet gets ``events`` Transfer events (issuance batches, as in ``bench/indexer.py``),
a fresh database (SQLite, or a throwaway PostgreSQL database on ``--database-url``) indexes
them and holds ``orders`` open orders (inserted as rows: the book's read side is measured, not
the engine); the API runs as its own uvicorn process(es) (``--workers``; indexer and workers
off). Two generators, neither in the server's interpreter:

- closed loop: ``wrk`` (Debian package; 1 thread, 16 connections) on ``/healthz``,
  ``/audit/summary`` with an auditor's bearer token (a signed-in read: token check, account,
  role, query, serialisation) and ``/market/book``;
- open loop: ``bench/openloop.py`` in its own process, ``rate`` requests a second spread over
  ``/audit/summary``, ``/audit/supply`` and a claim's provenance, latency from each request's
  due time; the same generator first runs ``/healthz`` at the same rate (its own floor).

    crda bench reads [--workers 1] [--database-url postgresql+psycopg://...] [--json]

Targets (issue 18): auditor p99 <= 50 ms at 200/s; signed-in reads >= 0.3 x /healthz; book
>= 0.5 x /healthz. ``--rate-limits`` runs the server with the limits on (counters in the
database, limits too high to refuse anything): what counting costs.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
from eth_utils import keccak
from rich.console import Console
from sqlalchemy import insert

from api.audit.indexer import ChainReader, Indexer
from api.auth import service as auth_service
from api.auth.models import Role
from api.chain import compiler
from api.chain.artifacts import Artifacts
from api.chain.deploy import ensure_deployed
from api.chain.devnet import free_port, start_devnet
from api.chain.gateway import ChainGateway
from api.db import make_engine, make_session_factory
from api.market.models import MarketOrder, OrderStatus
from api.migrate import upgrade
from api.settings import PROJECT_ROOT, Environment, Settings
from bench.indexer import _generate

console = Console(stderr=True)

PASSWORD = secrets.token_urlsafe(16)
WRK_THREADS = 1
WRK_CONNECTIONS = 16
TARGET_P99_MS = 50
TARGET_AUTH_RATIO = 0.3
TARGET_BOOK_RATIO = 0.5


def seed_orders(settings: Settings, count: int) -> None:
    """``count`` open orders on both sides over 100 price levels (rows: the read side only)."""
    engine = make_engine(settings.database_url)
    far = int(time.time()) + 30 * 86_400
    rows = []
    for i in range(count):
        side = "buy" if i % 2 else "sell"
        price = (9_000 - i % 50 * 10) if side == "buy" else (10_000 + i % 50 * 10)
        rows.append(
            {
                "order_hash": "0x" + keccak(text=f"bench-order-{i}").hex(),
                "account_id": None,
                "maker": f"0x{i + 1:040x}",
                "side": side,
                "price": price,
                "quantity": 1_000 + i,
                "expiry": far,
                "nonce": str(i),
                "signature": "0x" + "00" * 65,
                "status": OrderStatus.open.value,
                "filled": 0,
                "reserved": 0,
                "pending": 0,
                "seq": i + 1,
            }
        )
    with engine.begin() as connection:
        connection.execute(insert(MarketOrder), rows)
    engine.dispose()


def wrk(url: str, seconds: float, headers: dict[str, str] | None = None) -> dict[str, Any]:
    """Requests per second from ``wrk`` (closed loop), with its non-2xx count."""
    duration = f"-d{max(1, round(seconds))}s"
    command = ["wrk", f"-t{WRK_THREADS}", f"-c{WRK_CONNECTIONS}", duration, "--latency"]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    out = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    p99_ms = None
    if p99:
        scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
        p99_ms = round(float(p99.group(1)) * scale, 2)
    return {"rps": round(rps, 1), "non_2xx": int(bad.group(1)) if bad else 0, "p99_ms": p99_ms}


class Profiler:
    """``py-spy record`` on the server process while one phase runs (``--profile DIR``):
    collapsed stacks per phase, for the top of the profile in the note."""

    def __init__(self, directory: Path | None, pid: int) -> None:
        self.directory = directory
        self.pid = pid

    def __call__(self, name: str, seconds: float) -> Any:
        if self.directory is None:
            return _Nothing()
        self.directory.mkdir(parents=True, exist_ok=True)
        spy = Path(sys.executable).with_name("py-spy")
        return _Spy(
            [str(spy), "record", "-p", str(self.pid), "-d", str(max(1, round(seconds))),
             "-r", "200", "-f", "raw", "-o", str(self.directory / f"{name}.txt"), "--nonblocking"]
        )  # fmt: skip


class _Nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


class _Spy:
    def __init__(self, command: list[str]) -> None:
        self.command = command
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> None:
        self.process = subprocess.Popen(
            self.command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        time.sleep(0.5)

    def __exit__(self, *exc: object) -> None:
        assert self.process is not None
        self.process.wait(60)


def open_loop(
    port: int, paths: list[str], rate: float, seconds: float, headers: dict[str, str]
) -> dict[str, Any]:
    spec = {
        "host": "127.0.0.1",
        "port": port,
        "rate": rate,
        "seconds": seconds,
        "paths": paths,
        "headers": headers,
    }
    done = subprocess.run(
        [sys.executable, "-m", "bench.openloop"],
        input=json.dumps(spec),
        capture_output=True,
        text=True,
        check=True,
        cwd=PROJECT_ROOT,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
    )
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def main(
    *,
    events: int = 20_000,
    orders: int = 2_000,
    rate: float = 200.0,
    seconds: float = 15.0,
    wrk_seconds: float = 10.0,
    kind: str = "hardhat",
    workers: int = 1,
    database_url: str | None = None,
    rate_limits: bool = False,
    profile: Path | None = None,
    as_json: bool = False,
) -> dict[str, Any]:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (Debian package `wrk`)")
    workdir = Path(tempfile.mkdtemp(prefix="crda-bench-reads-"))
    with ExitStack() as stack:
        if database_url:
            from bench.chaos import throwaway_databases

            url = stack.enter_context(throwaway_databases(database_url, 1))[0]
        else:
            url = f"sqlite:///{workdir / 'reads.db'}"
        devnet = start_devnet(kind, log_path=workdir / "node.log")
        stack.callback(devnet.stop)
        settings = Settings(
            environment=Environment.test,
            rate_limits_enabled=False,
            rpc_url=devnet.rpc_url,
            database_url=url,
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
        _generate(gateway, settings, events, 500)
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
        seed_orders(settings, orders)
        console.print(f"indexed {stats.events:,} events; {orders:,} open orders")

        port = free_port()
        api_log = (workdir / "api.log").open("wb")
        env = {
            **os.environ,
            "PYTHONPATH": str(PROJECT_ROOT),
            "CRDA_ENVIRONMENT": "test",
            "CRDA_RPC_URL": settings.rpc_url,
            "CRDA_DATABASE_URL": settings.database_url,
            "CRDA_DEPLOYMENTS_DIR": str(settings.deployments_dir),
            "CRDA_INDEXER_ENABLED": "false",
            "CRDA_RUN_WORKERS": "false",
            "CRDA_RATE_LIMITS_ENABLED": "true" if rate_limits else "false",
            # With the limits on, none refuses: the bench measures what counting costs.
            "CRDA_RATE_LIMIT_PUBLIC": "100000000/minute",
            "CRDA_RATE_LIMIT_ACCOUNT": "100000000/minute",
        }
        server = subprocess.Popen(
            [
                sys.executable, "-m", "uvicorn", "api.app:create_app", "--factory",
                "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
                "--log-level", "warning", "--no-access-log",
            ],
            env=env, cwd=PROJECT_ROOT, stdout=api_log, stderr=subprocess.STDOUT,
        )  # fmt: skip

        def stop() -> None:
            server.terminate()
            server.wait(10)

        stack.callback(stop)
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
        auth = {"Authorization": f"Bearer {token}"}
        claim = "0x" + keccak(text="bench-claim-0-0").hex()
        auditor_paths = {
            "summary": "/audit/summary",
            "supply": "/audit/supply",
            "provenance": f"/audit/claims/{claim}/provenance",
        }
        for path in [*auditor_paths.values(), "/market/book"]:
            answer = httpx.get(base + path, headers=auth)
            assert answer.status_code == 200, (path, answer.status_code, answer.text[:300])

        # Warm up every path (connections, caches) at a low rate, then measure.
        open_loop(port, ["/healthz", *auditor_paths.values()], 50, 2, auth)
        wrk(f"{base}/market/book", 2)
        spy = Profiler(profile, server.pid)
        healthz_open = open_loop(port, ["/healthz"], rate, seconds, {})
        with spy("auditor", seconds):
            auditor = open_loop(port, list(auditor_paths.values()), rate, seconds, auth)
        with spy("healthz", wrk_seconds):
            healthz = wrk(f"{base}/healthz", wrk_seconds)
        with spy("auth_read", wrk_seconds):
            auth_read = wrk(f"{base}/audit/summary", wrk_seconds, auth)
        with spy("book", wrk_seconds):
            book = wrk(f"{base}/market/book", wrk_seconds)

        by_path = auditor["p99_ms_by_path"]
        result: dict[str, Any] = {
            "healthz_rps": healthz["rps"],
            "healthz_p99_ms_open_loop": healthz_open["p99_ms"],
            "auditor_rate": rate,
            "auditor_achieved_rate": auditor["achieved_rate"],
            "auditor_p50_ms": auditor["p50_ms"],
            "auditor_p99_ms": auditor["p99_ms"],
            "auditor_p99_ms_summary": by_path[auditor_paths["summary"]],
            "auditor_p99_ms_supply": by_path[auditor_paths["supply"]],
            "auditor_p99_ms_provenance": by_path[auditor_paths["provenance"]],
            "auditor_errors": auditor["errors"],
            "generator_max_lag_ms": max(
                auditor["generator_max_lag_ms"], healthz_open["generator_max_lag_ms"]
            ),
            "auth_read_path": "/audit/summary",
            "auth_read_rps": auth_read["rps"],
            "auth_read_ratio": round(auth_read["rps"] / healthz["rps"], 3),
            "book_rps": book["rps"],
            "book_ratio": round(book["rps"] / healthz["rps"], 3),
            "non_2xx": healthz["non_2xx"] + auth_read["non_2xx"] + book["non_2xx"],
            "processes": workers,
            "database": "postgresql" if database_url else "sqlite",
            "rate_limits": rate_limits,
            "events_indexed": stats.events,
            "open_orders": orders,
            "generator": f"wrk -t{WRK_THREADS} -c{WRK_CONNECTIONS}; bench/openloop.py",
        }
        result["met"] = {
            "auditor_p99": (result["auditor_p99_ms"] or 1e9) <= TARGET_P99_MS
            and auditor["errors"] == 0,
            "auth_read_ratio": result["auth_read_ratio"] >= TARGET_AUTH_RATIO,
            "book_ratio": result["book_ratio"] >= TARGET_BOOK_RATIO,
        }
        if as_json:
            sys.stdout.write(json.dumps(result) + "\n")
        else:
            console.print(
                f"{workers} process(es), {result['database']}, limits "
                f"{'on' if rate_limits else 'off'}\n"
                f"/healthz (wrk)            {healthz['rps']:>8.1f} req/s\n"
                f"/audit/summary + token    {auth_read['rps']:>8.1f} req/s = "
                f"{result['auth_read_ratio']:.2f} x /healthz (target {TARGET_AUTH_RATIO})\n"
                f"/market/book              {book['rps']:>8.1f} req/s = "
                f"{result['book_ratio']:.2f} x /healthz (target {TARGET_BOOK_RATIO})\n"
                f"auditor open loop {rate:.0f}/s: p99 {result['auditor_p99_ms']} ms (target "
                f"{TARGET_P99_MS}); summary {result['auditor_p99_ms_summary']}, supply "
                f"{result['auditor_p99_ms_supply']}, provenance "
                f"{result['auditor_p99_ms_provenance']}; /healthz same generator p99 "
                f"{healthz_open['p99_ms']} ms; errors {auditor['errors']}"
            )
        return result
    raise AssertionError("unreachable")
