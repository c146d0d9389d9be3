"""``crda``: the one console script for the operational work.

crda up / down                  the whole platform on this machine (devnet, contracts, API)
crda devnet start|stop          a local node (Hardhat by default, ``--kind anvil``)
crda compile                    contracts, with the pinned npm compiler
crda deploy                     contracts to the node at CRDA_RPC_URL, roles, deployment file
crda migrate                    the database to the newest schema
crda serve                      the API in the foreground (workers and indexer inside)
crda worker                     outbox, issuance batcher and market ticker as their own process
crda index                      contract events into the database (``--once``: catch up, exit)
crda integrity                  re-derive supply from the index and compare it with the chain
crda reconcile                  the market ledger against the chain, every account
crda demo                       a day in the city, seeded through the HTTP API (after `up`)
crda identity create-staff      an operator or auditor account (nobody signs up as one)
crda identity uniqueness-key    a national ID's uniqueness key (the verifier's desk)
crda export-openapi             the OpenAPI document to mobile_api_docs/openapi.json
crda export-errors              the error catalogue to mobile_api_docs/errors.md
crda fuzz                       every operation under fuzzing (schemathesis; the long run)
crda bench gas|identity|indexer|earning|market|audit   benchmarks (bench/), run on demand
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
identity_app = typer.Typer(help="Identity administration.", no_args_is_help=True)
app.add_typer(identity_app, name="identity")

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
def index(
    once: Annotated[bool, typer.Option("--once", help="Catch up to the head and exit.")] = False,
    reset: Annotated[
        bool, typer.Option("--reset", help="Empty the index first (e.g. after a redeploy).")
    ] = False,
) -> None:
    """Read every contract event into the database from the stored checkpoint, then follow."""
    import threading

    from api.audit.indexer import Indexer, RunStats, reset_index
    from api.db import make_engine, make_session_factory
    from api.errors import ChainUnavailable, Problem

    settings = get_settings()
    engine = make_engine(settings.database_url)
    sessions = make_session_factory(engine)
    if reset:
        with sessions() as session, session.begin():
            reset_index(session)
        console.print("index emptied")
    stop = threading.Event()
    try:
        indexer = Indexer.from_settings(settings, sessions)
        console.print(
            f"indexing chain {indexer.deployment.chain_id} from block {indexer.start_block}"
            f" ({settings.indexer_confirmations} confirmations)"
            + ("" if once else "; following (Ctrl-C stops)")
        )
        last_report = [0.0]

        def report(stats: RunStats) -> None:
            now = time.monotonic()
            if now - last_report[0] >= 2:
                last_report[0] = now
                console.print(
                    f"  block {stats.checkpoint}: {stats.events} events in {stats.seconds:.1f}s"
                )

        while True:
            try:
                stats = indexer.run(
                    stop=stop,
                    follow=not once,
                    poll_interval=settings.indexer_poll_interval,
                    progress=report,
                )
                break
            except ChainUnavailable as exc:
                if once:
                    raise
                # Following: a node that went away is waited for, not given up on.
                console.print(f"[yellow]paused:[/] {exc.detail or exc.title}; retrying in 5s")
                time.sleep(5)
    except KeyboardInterrupt:
        stop.set()
        console.print("stopped")
        return
    except Problem as exc:
        raise _fail(f"{exc.title}: {exc.detail or ''}") from exc
    finally:
        engine.dispose()
    rate = stats.events / stats.seconds if stats.seconds else 0.0
    console.print(
        f"index at block {stats.checkpoint}: {stats.events} events, {stats.reorgs} reorganisations,"
        f" {stats.seconds:.1f}s ({rate:,.0f} events/s)"
    )


@app.command()
def integrity(
    on_chain_balances: Annotated[
        bool, typer.Option(help="Also compare every holder's balanceOf on chain.")
    ] = False,
) -> None:
    """Re-derive supply from the indexed events and compare it with the chain (exit 1 if not)."""
    from api.audit.integrity import check_integrity
    from api.chain.gateway import ChainGateway
    from api.db import make_engine, make_session_factory
    from api.errors import Problem

    settings = get_settings()
    engine = make_engine(settings.database_url)
    try:
        with make_session_factory(engine)() as session:
            report = check_integrity(
                session, ChainGateway.connect(settings), on_chain_balances=on_chain_balances
            )
    except Problem as exc:
        raise _fail(f"{exc.title}: {exc.detail or ''}") from exc
    finally:
        engine.dispose()
    typer.echo(report.model_dump_json(indent=2))
    if not report.ok:
        raise typer.Exit(code=1)


@app.command()
def worker(
    once: Annotated[bool, typer.Option(help="Finish what is open, then exit.")] = False,
) -> None:
    """Run the outbox worker (chain writes) as its own process."""
    import threading

    from api.chain.gateway import ChainGateway
    from api.db import make_engine, make_session_factory
    from api.tasks import make_worker

    settings = get_settings()
    engine = make_engine(settings.database_url)
    sessions = make_session_factory(engine)
    # The outbox, the issuance batcher and the market ticker, in one loop.
    worker = make_worker(settings, sessions, ChainGateway.connect(settings))
    if once:
        worker.drain()
        return
    stop = threading.Event()
    try:
        worker.run_forever(stop, settings.worker_interval)
    except KeyboardInterrupt:
        stop.set()


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


@app.command()
def demo(
    base_url: Annotated[
        str | None, typer.Option(help="The running API (default: CRDA_API_HOST:CRDA_API_PORT).")
    ] = None,
    citizens: Annotated[int, typer.Option(help="Citizens to sign up and verify.")] = 300,
    activities: Annotated[int, typer.Option(help="Trips and receipts, in all.")] = 3000,
    verifiers: Annotated[int, typer.Option(help="Verifier organisations.")] = 2,
    merchants: Annotated[int, typer.Option(help="Merchants (1-4).")] = 3,
    mobility: Annotated[int, typer.Option(help="Mobility operators (1-4).")] = 4,
    businesses: Annotated[int, typer.Option(help="Businesses that buy and retire.")] = 3,
    seed: Annotated[int, typer.Option(help="Seed of the day (same seed, same day).")] = 2026,
    workers: Annotated[int, typer.Option(help="Parallel HTTP clients.")] = 8,
) -> None:
    """Seed a believable day against the running platform, over HTTP only (run `up` first)."""
    from api.demo import DemoError, Sizes, print_report, run_demo

    settings = get_settings()
    base = (base_url or f"http://{settings.api_host}:{settings.api_port}").rstrip("/")
    sizes = Sizes(
        citizens=citizens, activities=activities, verifiers=max(1, verifiers),
        merchants=merchants, mobility=mobility, businesses=businesses,
    )  # fmt: skip
    out = Console()
    try:
        report = run_demo(settings, base, sizes, seed=seed, workers=workers, console=out)
    except DemoError as exc:
        raise _fail(str(exc)) from exc
    print_report(report, out)


@bench_app.command("gas")
def bench_gas(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object on stdout.")] = False,
    kind: Annotated[str, typer.Option(help="Devnet kind for the run.")] = "hardhat",
) -> None:
    """Gas per credited claim for batches of 1, 10, 100 and 1,000 claims vs. plain ERC-20 mints."""
    from bench.gas import main as gas_main

    gas_main(as_json=as_json, kind=kind)


@bench_app.command("identity")
def bench_identity(
    seconds: Annotated[float, typer.Option(help="Seconds per endpoint.")] = 5.0,
    threads: Annotated[int, typer.Option(help="Client threads.")] = 4,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object on stdout.")] = False,
    kind: Annotated[str, typer.Option(help="Devnet kind for the run.")] = "hardhat",
) -> None:
    """Credential verifications/s and sign-ins/s, each beside /healthz in the same run."""
    from bench.identity import main as identity_main

    identity_main(seconds=seconds, threads=threads, kind=kind, as_json=as_json)


@identity_app.command("create-staff")
def identity_create_staff(
    email: Annotated[str, typer.Option(help="The staff member's email.")],
    role: Annotated[str, typer.Option(help="operator or auditor.")] = "operator",
) -> None:
    """Create an operator or auditor account in the database at CRDA_DATABASE_URL."""
    from api.auth.models import Role
    from api.auth.service import create_account
    from api.db import make_engine, make_session_factory
    from api.errors import Problem

    if role not in (Role.operator.value, Role.auditor.value):
        raise _fail("the role must be operator or auditor")
    password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    if len(password) < 10:
        raise _fail("the password needs at least 10 characters")
    settings = get_settings()
    engine = make_engine(settings.database_url)
    try:
        with make_session_factory(engine)() as session:
            account = create_account(
                session, settings, email=email, password=password, role=Role(role)
            )
    except Problem as exc:
        raise _fail(exc.detail or exc.title) from exc
    finally:
        engine.dispose()
    console.print(f"{role} account {account.id} created")


@identity_app.command("uniqueness-key")
def identity_uniqueness_key(
    country: Annotated[str, typer.Option(help="Issuing country of the identifier.")] = "KR",
) -> None:
    """Read a national identifier (hidden) and print its uniqueness key (HMAC, secret pepper)."""
    from identity.uniqueness import uniqueness_key

    national_id = typer.prompt("national identifier", hide_input=True)
    pepper = get_settings().uniqueness_pepper.get_secret_value()
    try:
        print(uniqueness_key(national_id, pepper, country))
    except ValueError as exc:
        raise _fail(str(exc)) from exc


@bench_app.command("indexer")
def bench_indexer(
    events: Annotated[int, typer.Option(help="Transfer events to generate.")] = 100_000,
    per_batch: Annotated[int, typer.Option(help="Recipients per issuance batch.")] = 500,
    kind: Annotated[str, typer.Option(help="Devnet kind for the run.")] = "hardhat",
    database_url: Annotated[
        str | None, typer.Option(help="Database to index into (default: a fresh SQLite file).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object on stdout.")] = False,
) -> None:
    """Events indexed per second from a devnet holding many events (fresh devnet and database)."""
    from bench.indexer import main as indexer_main

    indexer_main(
        events=events, per_batch=per_batch, kind=kind, database_url=database_url, as_json=as_json
    )


@bench_app.command("earning")
def bench_earning(
    activities: Annotated[int, typer.Option(help="Records per run (service, then HTTP).")] = 2000,
    concurrency: Annotated[int, typer.Option(help="HTTP client concurrency.")] = 32,
    citizens: Annotated[int, typer.Option(help="Verified citizens the records spread over.")] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object on stdout.")] = False,
    kind: Annotated[str, typer.Option(help="Devnet kind for the run.")] = "hardhat",
) -> None:
    """Verified activities per second (service and HTTP beside /healthz), issuance lag, gas."""
    from bench.earning import main as earning_main

    earning_main(
        activities=activities, concurrency=concurrency, citizens=citizens, as_json=as_json,
        kind=kind,
    )  # fmt: skip


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


@bench_app.command("audit")
def bench_audit(
    events: Annotated[int, typer.Option(help="Transfer events to generate and index.")] = 100_000,
    rate: Annotated[float, typer.Option(help="Requests per second, open loop.")] = 200.0,
    seconds: Annotated[float, typer.Option(help="How long to keep the rate.")] = 20.0,
    kind: Annotated[str, typer.Option(help="Devnet kind for the run.")] = "hardhat",
    workers: Annotated[int, typer.Option(help="API worker processes (uvicorn).")] = 2,
    also: Annotated[
        str, typer.Option(help="More rates to measure after, comma-separated (e.g. 50,100).")
    ] = "",
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object on stdout.")] = False,
) -> None:
    """p99 latency of the auditor's summary queries at a fixed rate (API in its own process)."""
    from bench.audit import main as audit_main

    audit_main(
        events=events, rate=rate, seconds=seconds, kind=kind, workers=workers,
        also_rates=tuple(float(r) for r in also.split(",") if r.strip()), as_json=as_json,
    )  # fmt: skip


DOCS_DIR = PROJECT_ROOT / "mobile_api_docs"
CLIENT_GENERATED = PROJECT_ROOT / "crda_client" / "_generated.py"


@app.command("export-openapi")
def export_openapi(
    out: Annotated[str, typer.Option(help="Where to write.")] = str(DOCS_DIR / "openapi.json"),
) -> None:
    """Write the app's OpenAPI document (sorted keys, stable) and the Python client's table."""
    from api.app import export_text
    from api.openapi import client_text

    document = export_text()
    path = _write_text(out, document)
    console.print(f"wrote {path}")
    generated = _write_text(str(CLIENT_GENERATED), client_text(document))
    console.print(f"wrote {generated}")


@app.command("export-errors")
def export_errors(
    out: Annotated[str, typer.Option(help="Where to write.")] = str(DOCS_DIR / "errors.md"),
) -> None:
    """Write the error catalogue (every problem type, its status, when, what to show)."""
    from api.app import export_text
    from api.catalogue import missing_hints, render_markdown

    export_text()  # builds the app, so every module's problem types are registered
    path = _write_text(out, render_markdown())
    console.print(f"wrote {path}")
    missing = missing_hints()
    if missing:
        console.print(
            "[yellow]undocumented problem types[/] (add them to api/catalogue.py HINTS): "
            + ", ".join(missing)
        )


def _write_text(out: str, text: str) -> str:
    from pathlib import Path

    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return str(path)


@app.command()
def fuzz(
    examples: Annotated[int, typer.Option(help="Generated requests per operation and role.")] = 200,
    seed: Annotated[int | None, typer.Option(help="Hypothesis seed (default: random).")] = None,
) -> None:
    """Fuzz every operation (schemathesis) as each role, on a throwaway devnet and database."""
    env = {**os.environ, "CRDA_FUZZ_EXAMPLES": str(examples)}
    args = [
        sys.executable,
        "-m",
        "pytest",
        "tests/api/test_fuzz.py",
        "-q",
        "-p",
        "no:cacheprovider",
    ]
    if seed is not None:
        args.append(f"--hypothesis-seed={seed}")
    raise typer.Exit(subprocess.call(args, cwd=PROJECT_ROOT, env=env))  # noqa: S603


if __name__ == "__main__":
    app()
