"""Identity throughput: credential verifications/s and sign-ins/s beside a trivial endpoint.

One run: a throwaway devnet, the contracts deployed, a fresh SQLite database, the API served
by uvicorn (one process, as `crda serve`), and a client with a few threads. Each endpoint is
driven for the same time; the trivial endpoint (``/healthz``) measured in the same run gives
the ratio, which says more than the absolute numbers on a shared, noisy machine.

    crda bench identity [--seconds 5] [--threads 4] [--json]
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from api.auth import service as auth_service
from api.auth.models import Role
from api.chain import compiler
from api.chain.artifacts import Artifacts
from api.chain.deploy import ensure_deployed
from api.chain.devnet import free_port, start_devnet, stop_process_group
from api.db import make_engine, make_session_factory
from api.migrate import upgrade
from api.settings import PROJECT_ROOT, Environment, Settings
from identity.uniqueness import uniqueness_key

PASSWORD = "bench password 123"  # noqa: S105 (a throwaway bench account)


@dataclass
class Rate:
    name: str
    requests: int
    seconds: float
    errors: int

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def _drive(
    name: str,
    base: str,
    call: Callable[[httpx.Client], httpx.Response],
    seconds: float,
    threads: int,
) -> Rate:
    counts = [0] * threads
    errors = [0] * threads
    stop = time.monotonic() + seconds

    def worker(n: int) -> None:
        with httpx.Client(base_url=base, timeout=30) as client:
            while time.monotonic() < stop:
                response = call(client)
                counts[n] += 1
                if response.status_code >= 400:
                    errors[n] += 1

    started = time.monotonic()
    pool = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return Rate(name, sum(counts), time.monotonic() - started, sum(errors))


def _wait(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer")


def run(seconds: float = 5.0, threads: int = 4, kind: str = "hardhat") -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="crda-bench-identity-"))
    devnet = start_devnet(kind, log_path=work / "node.log")
    api_port = free_port()
    server: subprocess.Popen[bytes] | None = None
    try:
        settings = Settings(
            environment=Environment.test,
            # Benchmarks send many requests from one address.
            rate_limits_enabled=False,
            rpc_url=devnet.rpc_url,
            database_url=f"sqlite:///{work / 'crda.db'}",
            deployments_dir=work / "deployments",
            receipt_poll_interval=0.01,
            public_url=f"http://127.0.0.1:{api_port}",
        )
        compiled = compiler.compile_contracts(
            PROJECT_ROOT / "contracts", PROJECT_ROOT / "build" / "contracts.json"
        )
        ensure_deployed(
            settings,
            Artifacts.from_compiled(compiled),
            digest=compiled["digest"],
            compiler=compiled["compiler"],
        )
        upgrade(settings.database_url)
        engine = make_engine(settings.database_url)
        with make_session_factory(engine)() as session:
            auth_service.create_account(
                session, settings, email="operator@bench", password=PASSWORD, role=Role.operator
            )
        engine.dispose()

        env = {
            **os.environ,
            "CRDA_ENVIRONMENT": "test",
            "CRDA_RPC_URL": settings.rpc_url,
            "CRDA_DATABASE_URL": settings.database_url,
            "CRDA_DEPLOYMENTS_DIR": str(settings.deployments_dir),
            "CRDA_PUBLIC_URL": settings.public_url,
            "CRDA_SIGN_IN_MAX_FAILURES": "1000000",
        }
        log = open(work / "api.log", "ab")  # handed to the child
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
                str(api_port),
                "--log-level",
                "warning",
            ],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        base = settings.public_url
        _wait(f"{base}/healthz")

        with httpx.Client(base_url=base, timeout=60) as client:

            def sign_in(email: str) -> dict[str, str]:
                body = client.post("/auth/sign-in", json={"email": email, "password": PASSWORD})
                body.raise_for_status()
                return {"Authorization": f"Bearer {body.json()['access_token']}"}

            operator = sign_in("operator@bench")
            org = client.post("/verifiers", json={"name": "Bench desk"}, headers=operator)
            org.raise_for_status()
            for email in ("desk@bench.example", "citizen@bench.example"):
                client.post(
                    "/auth/sign-up", json={"email": email, "password": PASSWORD}
                ).raise_for_status()
            desk_id = client.get("/accounts/me", headers=sign_in("desk@bench.example")).json()["id"]
            client.post(
                f"/verifiers/{org.json()['id']}/members",
                json={"account_id": desk_id},
                headers=operator,
            ).raise_for_status()
            citizen = client.get("/accounts/me", headers=sign_in("citizen@bench.example")).json()
            issued = client.post(
                "/credentials/issue",
                json={
                    "account_id": citizen["id"],
                    "assurance_level": 2,
                    "uniqueness_key": uniqueness_key(
                        "900101-1234567", "dev-only-uniqueness-pepper"
                    ),
                },
                headers=sign_in("desk@bench.example"),
            )
            issued.raise_for_status()
            token = issued.json()["verifiable_credential"]
            check = client.post("/credentials/verify", json={"verifiableCredential": token}).json()
            if not check["verified"]:
                raise RuntimeError(f"the bench credential does not verify: {check['errors']}")

        rates = [
            _drive("GET /healthz (trivial)", base, lambda c: c.get("/healthz"), seconds, threads),
            _drive(
                "POST /credentials/verify",
                base,
                lambda c: c.post("/credentials/verify", json={"verifiableCredential": token}),
                seconds,
                threads,
            ),
            _drive(
                "POST /auth/sign-in",
                base,
                lambda c: c.post(
                    "/auth/sign-in", json={"email": "citizen@bench.example", "password": PASSWORD}
                ),
                seconds,
                threads,
            ),
        ]
        trivial = rates[0].per_second or 1.0
        return {
            "threads": threads,
            "seconds_each": seconds,
            "cpus": os.cpu_count(),
            "results": [
                {
                    "endpoint": r.name,
                    "requests": r.requests,
                    "errors": r.errors,
                    "per_second": round(r.per_second, 1),
                    "ratio_to_trivial": round(r.per_second / trivial, 4),
                }
                for r in rates
            ],
        }
    finally:
        if server is not None:
            stop_process_group(server.pid)
            server.wait(timeout=10)
        devnet.stop()


def main(
    *, seconds: float = 5.0, threads: int = 4, kind: str = "hardhat", as_json: bool = False
) -> None:
    report = run(seconds, threads, kind)
    if as_json:
        print(json.dumps(report))
        return
    print(
        f"{report['threads']} client threads, {report['seconds_each']} s per endpoint, "
        f"{report['cpus']} CPUs"
    )
    for r in report["results"]:
        print(
            f"  {r['endpoint']:<28} {r['per_second']:>9.1f}/s  "
            f"({r['ratio_to_trivial']:.3f} x trivial, {r['errors']} errors)"
        )
