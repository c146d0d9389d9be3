"""``crda``: the one console script for the operational work.

crda up / down          the whole platform on this machine (devnet, contracts, API)
crda devnet start|stop  a local node (Hardhat by default, ``--kind anvil``)
crda compile            contracts, with the pinned npm compiler
crda deploy             contracts to the node at CRDA_RPC_URL, roles, deployment file
crda migrate            the database to the newest schema
crda serve              the API in the foreground
crda reconcile          the market ledger against the chain, every account
crda bench gas          gas per credited claim (bench/)
crda bench market       orders matched/s, trades settled/s vs single transfers, gas per trade
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from typing import Annotated
from urllib.parse import urlparse

import httpx
import typer
from rich.console import Console

from api.chain import compiler
from api.chain.artifacts import Artifacts
from api.chain.deploy import ensure_deployed
from api.chain.devnet import KINDS, DevnetError, port_is_open, start_devnet, stop_process_group
from api.settings import PROJECT_ROOT, get_settings

app = typer.Typer(help="CRDA operations.", no_args_is_help=True, add_completion=False)
devnet_app = typer.Typer(help="A local devnet node.", no_args_is_help=True)
bench_app = typer.Typer(
    help="Benchmarks (run on demand, never in the tests).", no_args_is_help=True
)
app.add_typer(devnet_app, name="devnet")
app.add_typer(bench_app, name="bench")

console = Console(stderr=True)
RUN_DIR = PROJECT_ROOT / "var" / "run"


def _fail(message: str) -> typer.Exit:
    console.print(f"[bold red]error:[/] {message}")
    return typer.Exit(code=1)


def _rpc_port(rpc_url: str) -> int:
    parsed = urlparse(rpc_url)
    if parsed.hostname not in ("127.0.0.1", "localhost"):
        raise _fail(f"CRDA_RPC_URL {rpc_url} is not local: start that node yourself")
    return parsed.port or 8545


def _read_pid(name: str) -> dict[str, object] | None:
    path = RUN_DIR / f"{name}.json"
    if not path.exists():
        return None
    record: dict[str, object] = json.loads(path.read_text())
    pid = int(str(record["pid"]))
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        path.unlink(missing_ok=True)
        return None
    return record


def _write_pid(name: str, **record: object) -> None:
    RUN_DIR.mkdir(parents=True, exist_ok=True)
    (RUN_DIR / f"{name}.json").write_text(json.dumps(record))


def _stop(name: str) -> bool:
    record = _read_pid(name)
    (RUN_DIR / f"{name}.json").unlink(missing_ok=True)
    if record is None:
        return False
    return stop_process_group(int(str(record["pid"])))


@app.command("compile")
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
        raise _fail(str(exc)) from exc
    console.print(f"compiled {len(out['contracts'])} contracts with solc {out['compiler']}")


@devnet_app.command("start")
def devnet_start(
    kind: Annotated[str, typer.Option(help=f"One of {', '.join(KINDS)}.")] = "hardhat",
    port: Annotated[int | None, typer.Option(help="Defaults to CRDA_RPC_URL's port.")] = None,
) -> None:
    """Start a devnet in the background (reused if ours is already running)."""
    port = port or _rpc_port(get_settings().rpc_url)
    running = _read_pid("devnet")
    if running and running.get("port") == port and port_is_open(port):
        console.print(f"devnet ({running['kind']}) already running on port {port}")
        return
    RUN_DIR.mkdir(parents=True, exist_ok=True)
    try:
        devnet = start_devnet(kind, port, log_path=RUN_DIR / "devnet.log")
    except DevnetError as exc:
        raise _fail(str(exc)) from exc
    _write_pid("devnet", pid=devnet.process.pid, kind=kind, port=port)
    console.print(f"devnet ({kind}) running at {devnet.rpc_url}")


@devnet_app.command("stop")
def devnet_stop() -> None:
    """Stop the devnet this CLI started."""
    console.print("devnet stopped" if _stop("devnet") else "no devnet was running")


@app.command()
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
        raise _fail(f"deployment to {settings.rpc_url} failed: {exc}") from exc
    verb = "deployed" if new else "reusing deployment"
    console.print(f"{verb} on chain {deployment.chain_id}:")
    for name, contract in deployment.contracts.items():
        console.print(f"  {name:<18} {contract.address}")


@app.command()
def migrate() -> None:
    """Migrate the database at CRDA_DATABASE_URL to the newest schema."""
    from api.migrate import upgrade

    settings = get_settings()
    upgrade(settings.database_url)
    console.print("database at the newest schema")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option()] = None,
    port: Annotated[int | None, typer.Option()] = None,
) -> None:
    """Serve the API in the foreground (it refuses to start on the wrong chain)."""
    import uvicorn

    settings = get_settings()
    uvicorn.run(
        "api.app:create_app",
        factory=True,
        host=host or settings.api_host,
        port=port or settings.api_port,
        log_level="info",
    )


@app.command()
def worker(
    once: Annotated[bool, typer.Option(help="Finish what is open, then exit.")] = False,
) -> None:
    """Run the outbox worker (chain writes) as its own process."""
    import threading

    from api.chain.gateway import ChainGateway
    from api.db import make_engine, make_session_factory
    from api.market.runner import BackgroundTicker, MarketTicker
    from api.outbox.runner import make_worker

    settings = get_settings()
    engine = make_engine(settings.database_url)
    sessions = make_session_factory(engine)
    outbox = make_worker(settings, sessions, ChainGateway.connect(settings))
    ticker = MarketTicker(settings, sessions)
    if once:
        ticker.run_once()
        outbox.drain()
        return
    market = BackgroundTicker(ticker, settings.worker_interval)
    market.start()
    stop = threading.Event()
    try:
        outbox.run_forever(stop, settings.worker_interval)
    except KeyboardInterrupt:
        stop.set()
    finally:
        market.stop()


@app.command()
def reconcile(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object on stdout.")] = False,
) -> None:
    """Compare every market ledger account with its on-chain balance; exit 1 on a difference."""
    from api.chain.gateway import ChainGateway
    from api.db import make_engine, make_session_factory
    from api.market.reconcile import reconcile as run_reconcile

    settings = get_settings()
    engine = make_engine(settings.database_url)
    with make_session_factory(engine)() as session:
        report = run_reconcile(session, ChainGateway.connect(settings))
    if as_json:
        print(json.dumps(report.to_json()))
    else:
        console.print(
            f"checked {report.accounts_checked} balances; ledger totals {report.ledger_totals}"
        )
        for diff in report.differences:
            console.print(
                f"  [red]{diff.owner} {diff.asset}: ledger {diff.ledger:,} "
                f"chain {diff.chain:,} (delta {diff.delta:,})[/]"
            )
        console.print("[green]ledger and chain agree[/]" if report.ok else "[red]differences[/]")
    if not report.ok:
        raise typer.Exit(code=1)


@app.command()
def up(
    kind: Annotated[str, typer.Option(help=f"Devnet kind: {', '.join(KINDS)}.")] = "hardhat",
) -> None:
    """Devnet, contracts, database and API, all in the background; reuses what runs."""
    settings = get_settings()
    devnet_start(kind=kind, port=_rpc_port(settings.rpc_url))
    deploy(force=False)
    migrate()
    base = f"http://{settings.api_host}:{settings.api_port}"
    running = _read_pid("api")
    if running is None:
        if port_is_open(settings.api_port):
            raise _fail(f"port {settings.api_port} is taken by another program: set CRDA_API_PORT")
        log = open(RUN_DIR / "api.log", "ab")
        process = subprocess.Popen(
            [sys.executable, "-m", "api.cli", "serve"],
            cwd=PROJECT_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        _write_pid("api", pid=process.pid, port=settings.api_port)
    ready = _wait_ready(f"{base}/readyz", timeout=60)
    if not ready:
        raise _fail(f"the API did not become ready; see {RUN_DIR / 'api.log'}")
    console.print(
        "\n[bold green]CRDA is up.[/]\n"
        f"  API        {base}\n"
        f"  API docs   {base}/docs\n"
        f"  readiness  {base}/readyz\n"
        f"  devnet     {settings.rpc_url}\n"
        f"  logs       {RUN_DIR}\n"
        "  stop       make down\n"
    )


@app.command()
def down() -> None:
    """Stop the API and the devnet that `crda up` started."""
    console.print("API stopped" if _stop("api") else "no API was running")
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


@bench_app.command("gas")
def bench_gas(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object on stdout.")] = False,
    kind: Annotated[str, typer.Option(help="Devnet kind for the run.")] = "hardhat",
) -> None:
    """Gas per credited claim for batches of 1, 10, 100 and 1,000 claims vs. plain ERC-20 mints."""
    from bench.gas import main as gas_main

    gas_main(as_json=as_json, kind=kind)


@bench_app.command("market")
def bench_market(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object on stdout.")] = False,
    kind: Annotated[str, typer.Option(help="Devnet kind for the run.")] = "hardhat",
    trades: Annotated[int, typer.Option(help="Trades to settle end to end.")] = 1000,
    transfers: Annotated[int, typer.Option(help="Single ERC-20 transfers for the baseline.")] = 300,
) -> None:
    """Orders matched/s, trades settled/s on the devnet vs one-by-one transfers, gas per trade."""
    from bench.market import main as market_main

    market_main(as_json=as_json, kind=kind, trades=trades, transfers=transfers)


if __name__ == "__main__":
    app()
