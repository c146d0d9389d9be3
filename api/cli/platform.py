"""The platform on this machine: devnet, contracts, database, API and worker processes."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from typing import Annotated
from urllib.parse import urlparse

import httpx
import typer
import uvicorn

from api.chain import compiler
from api.chain.artifacts import Artifacts
from api.chain.deploy import ensure_deployed
from api.chain.devnet import KINDS, DevnetError, port_is_open, start_devnet
from api.chain.gateway import ChainGateway
from api.cli.common import RUN_DIR, console, database, fail, read_pid, stop_recorded, write_pid
from api.settings import LOOPBACK_HOSTS, PROJECT_ROOT, get_settings

devnet_app = typer.Typer(help="A local devnet node.", no_args_is_help=True)


def _rpc_port(rpc_url: str) -> int:
    parsed = urlparse(rpc_url)
    if parsed.hostname not in ("127.0.0.1", "localhost"):
        raise fail(f"CRDA_RPC_URL {rpc_url} is not local: start that node yourself")
    return parsed.port or 8545


def compile_cmd(
    force: Annotated[bool, typer.Option(help="Rebuild even if current.")] = False,
) -> None:
    """Compile the contracts (cached by a digest of the sources and the compiler)."""
    settings = get_settings()
    try:
        out = compiler.compile_contracts(
            settings.contracts_dir, settings.artifacts_path, force=force
        )
    except compiler.CompilationError as exc:
        raise fail(str(exc)) from exc
    console.print(f"compiled {len(out['contracts'])} contracts with solc {out['compiler']}")


@devnet_app.command("start")
def devnet_start(
    kind: Annotated[str, typer.Option(help=f"One of {', '.join(KINDS)}.")] = "hardhat",
    port: Annotated[int | None, typer.Option(help="Defaults to CRDA_RPC_URL's port.")] = None,
) -> None:
    """Start a devnet in the background (reused if ours is already running)."""
    port = port or _rpc_port(get_settings().rpc_url)
    running = read_pid("devnet")
    if running and running.get("port") == port and port_is_open(port):
        console.print(f"devnet ({running['kind']}) already running on port {port}")
        return
    RUN_DIR.mkdir(parents=True, exist_ok=True)
    try:
        devnet = start_devnet(kind, port, log_path=RUN_DIR / "devnet.log")
    except DevnetError as exc:
        raise fail(str(exc)) from exc
    write_pid("devnet", pid=devnet.process.pid, kind=kind, port=port)
    console.print(f"devnet ({kind}) running at {devnet.rpc_url}")


@devnet_app.command("stop")
def devnet_stop() -> None:
    """Stop the devnet this CLI started."""
    console.print("devnet stopped" if stop_recorded("devnet") else "no devnet was running")


def deploy(force: Annotated[bool, typer.Option(help="Deploy even if current.")] = False) -> None:
    """Compile if needed, deploy to CRDA_RPC_URL, grant roles, write deployments/<chainId>.json."""
    settings = get_settings()
    compiled = compiler.compile_contracts(settings.contracts_dir, settings.artifacts_path)
    try:
        deployment, new = ensure_deployed(
            settings,
            Artifacts.from_compiled(compiled),
            digest=compiled["digest"],
            compiler=compiled["compiler"],
            force=force,
            progress=lambda step: console.print(f"  {step}"),
        )
    except Exception as exc:
        raise fail(f"deployment to {settings.rpc_url} failed: {exc}") from exc
    verb = "deployed" if new else "reusing deployment"
    console.print(f"{verb} on chain {deployment.chain_id}:")
    for name, contract in deployment.contracts.items():
        console.print(f"  {name:<18} {contract.address}")


def migrate() -> None:
    """Migrate the database at CRDA_DATABASE_URL to the newest schema."""
    # Lazy: Alembic adds about 0.3 s to the start of every other command.
    from api.migrate import upgrade

    settings = get_settings()
    upgrade(settings.database_url)
    console.print("database at the newest schema")


def serve(
    host: Annotated[str | None, typer.Option()] = None,
    port: Annotated[int | None, typer.Option()] = None,
    workers: Annotated[
        int, typer.Option(min=1, help="API processes on the one port (uvicorn workers).")
    ] = 1,
    access_log: Annotated[
        bool,
        typer.Option(
            help="uvicorn's line per request on stderr: it halved the requests a second of a "
            "cheap read (issue 18); /metrics counts and times every request by route and "
            "status either way, and errors are logged with their X-Request-ID."
        ),
    ] = False,
) -> None:
    """Serve the API in the foreground (it refuses to start on the wrong chain).

    Several processes (``--workers``, or several ``crda serve`` behind a load balancer) share
    the database, nonces included; the background work then runs in processes of its own,
    ``crda worker`` and ``crda index`` (``CRDA_RUN_WORKERS=false`` and
    ``CRDA_INDEXER_ENABLED=false`` for the API processes).
    """
    settings = get_settings()
    if host and settings.local_development and host not in LOOPBACK_HOSTS:
        # Local development's public secrets stay on loopback (fail closed).
        raise fail(f"--host {host} is not loopback: set CRDA_API_HOST={host} and real secrets")
    uvicorn.run(
        "api.app:create_app",
        factory=True,
        host=host or settings.api_host,
        port=port or settings.api_port,
        workers=workers,
        log_level="info",
        access_log=access_log,
    )


def worker(
    once: Annotated[bool, typer.Option(help="Finish what is open, then exit.")] = False,
) -> None:
    """Run the outbox worker (chain writes) as its own process."""
    # Lazy: the domains' tasks reach the auth service, whose siwe import takes ~1 s.
    from api.tasks import make_worker

    settings = get_settings()
    with database(settings) as sessions:
        # The outbox, the issuance batcher and the market ticker, in one loop.
        # Nonces from the database: the API processes sign with the same keys.
        gateway = ChainGateway.connect(settings, sessions=sessions)
        platform_worker = make_worker(settings, sessions, gateway)
        if once:
            platform_worker.drain()
            return
        stop = threading.Event()
        try:
            platform_worker.run_forever(stop, settings.worker_interval)
        except KeyboardInterrupt:
            stop.set()
            platform_worker.release()  # a standby process takes over at once


def up(
    kind: Annotated[str, typer.Option(help=f"Devnet kind: {', '.join(KINDS)}.")] = "hardhat",
) -> None:
    """Devnet, contracts, database and API, all in the background; reuses what runs."""
    settings = get_settings()
    devnet_start(kind=kind, port=_rpc_port(settings.rpc_url))
    deploy(force=False)
    migrate()
    base = f"http://{settings.api_host}:{settings.api_port}"
    running = read_pid("api")
    if running is None:
        if port_is_open(settings.api_port):
            raise fail(f"port {settings.api_port} is taken by another program: set CRDA_API_PORT")
        log = open(RUN_DIR / "api.log", "ab")
        # The local platform is where `crda demo` plays a whole city from one address: its
        # rate limits are off unless the environment says otherwise (they are on by default
        # everywhere else, `crda serve` included).
        env = {**os.environ}
        env.setdefault("CRDA_RATE_LIMITS_ENABLED", "false")
        process = subprocess.Popen(
            [sys.executable, "-m", "api.cli", "serve"],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        write_pid("api", pid=process.pid, port=settings.api_port)
    ready = _wait_ready(f"{base}/readyz", timeout=60)
    if not ready:
        raise fail(f"the API did not become ready; see {RUN_DIR / 'api.log'}")
    console.print(
        "\n[bold green]CRDA is up.[/]\n"
        f"  API        {base}\n"
        f"  API docs   {base}/docs\n"
        f"  readiness  {base}/readyz\n"
        f"  devnet     {settings.rpc_url}\n"
        f"  logs       {RUN_DIR}\n"
        "  stop       make down\n"
    )


def down() -> None:
    """Stop the API and the devnet that `crda up` started."""
    console.print("API stopped" if stop_recorded("api") else "no API was running")
    devnet_stop()


def _wait_ready(url: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    return False
