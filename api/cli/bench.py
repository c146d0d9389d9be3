"""``crda bench``: the benchmarks in ``bench/``, run on demand.

Each command imports its benchmark when it runs: most pull in the app, a devnet and test
helpers, seconds of start-up that every other command would pay.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

app = typer.Typer(help="Benchmarks (run on demand, never in the tests).", no_args_is_help=True)

JsonOption = Annotated[bool, typer.Option("--json", help="One JSON object on stdout.")]
KindOption = Annotated[str, typer.Option(help="Devnet kind for the run.")]


@app.command("gas")
def bench_gas(
    as_json: JsonOption = False,
    kind: KindOption = "hardhat",
    update_snapshot: Annotated[
        bool,
        typer.Option(
            "--update-snapshot",
            help="Write the measured figures to bench/gas-snapshot.json (the test compares them).",
        ),
    ] = False,
) -> None:
    """Gas per credited claim (batches of 1 to 1,000 vs. plain ERC-20 mints) and per settled
    trade (batches of 100 and 1), checked against the committed gas snapshot."""
    from bench.gas import main  # lazy: see the module docstring

    main(as_json=as_json, kind=kind, update_snapshot=update_snapshot)


@app.command("identity")
def bench_identity(
    seconds: Annotated[float, typer.Option(help="Seconds per endpoint.")] = 5.0,
    threads: Annotated[int, typer.Option(help="Client threads.")] = 4,
    as_json: JsonOption = False,
    kind: KindOption = "hardhat",
) -> None:
    """Credential verifications/s and sign-ins/s, each beside /healthz in the same run."""
    from bench.identity import main  # lazy: see the module docstring

    main(seconds=seconds, threads=threads, kind=kind, as_json=as_json)


@app.command("indexer")
def bench_indexer(
    events: Annotated[int, typer.Option(help="Transfer events to generate.")] = 100_000,
    per_batch: Annotated[int, typer.Option(help="Recipients per issuance batch.")] = 500,
    kind: KindOption = "hardhat",
    database_url: Annotated[
        str | None, typer.Option(help="Database to index into (default: a fresh SQLite file).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Events indexed per second from a devnet holding many events (fresh devnet and database)."""
    from bench.indexer import main  # lazy: see the module docstring

    main(events=events, per_batch=per_batch, kind=kind, database_url=database_url, as_json=as_json)


@app.command("earning")
def bench_earning(
    seconds: Annotated[int, typer.Option(help="Seconds of each wrk run.")] = 10,
    records: Annotated[int, typer.Option(help="Pre-signed records per run.")] = 8000,
    connections: Annotated[int, typer.Option(help="wrk connections.")] = 32,
    threads: Annotated[int, typer.Option(help="wrk threads.")] = 1,
    citizens: Annotated[int, typer.Option(help="Verified citizens with tokens.")] = 500,
    workers: Annotated[
        int, typer.Option(help="API processes (>1: a separate `crda worker` runs the outbox).")
    ] = 1,
    preload: Annotated[
        int, typer.Option(help="Claims bulk-inserted before a second run (e.g. 1000000).")
    ] = 0,
    database_url: Annotated[
        str | None, typer.Option(help="A PostgreSQL URL (default: a temporary SQLite file).")
    ] = None,
    as_json: JsonOption = False,
    kind: KindOption = "hardhat",
) -> None:
    """Accepted activities/s over HTTP with wrk beside /healthz, empty and preloaded; lag."""
    from bench.earning import main  # lazy: see the module docstring

    main(
        seconds=seconds,
        records_per_run=records,
        connections=connections,
        threads=threads,
        citizens=citizens,
        workers=workers,
        preload_claims=preload,
        database_url=database_url,
        as_json=as_json,
        kind=kind,
    )


@app.command("market")
def bench_market(
    as_json: JsonOption = False,
    kind: KindOption = "hardhat",
    trades: Annotated[int, typer.Option(help="Trades to settle end to end.")] = 1000,
    transfers: Annotated[int, typer.Option(help="Single ERC-20 transfers for the baseline.")] = 300,
    engine_only: Annotated[
        bool, typer.Option(help="Only orders placed+matched/s (no settlement, no transfers).")
    ] = False,
) -> None:
    """Orders matched/s, trades settled/s on the devnet vs one-by-one transfers, gas per trade."""
    from bench.market import main  # lazy: see the module docstring

    main(as_json=as_json, kind=kind, trades=trades, transfers=transfers, engine_only=engine_only)


@app.command("reads")
def bench_reads(
    events: Annotated[int, typer.Option(help="Transfer events to generate and index.")] = 20_000,
    orders: Annotated[int, typer.Option(help="Open orders in the book.")] = 2_000,
    rate: Annotated[float, typer.Option(help="Auditor requests per second, open loop.")] = 200.0,
    seconds: Annotated[float, typer.Option(help="How long the open loop runs.")] = 15.0,
    wrk_seconds: Annotated[float, typer.Option(help="How long each wrk run lasts.")] = 10.0,
    kind: KindOption = "hardhat",
    workers: Annotated[int, typer.Option(help="API worker processes (uvicorn).")] = 1,
    database_url: Annotated[
        str | None,
        typer.Option(help="A PostgreSQL server URL (a throwaway database); SQLite otherwise."),
    ] = None,
    rate_limits: Annotated[
        bool, typer.Option(help="Count the rate limits (set too high to refuse).")
    ] = False,
    profile: Annotated[
        Path | None, typer.Option(help="py-spy each phase on the server (one worker) into DIR.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Read paths: auditor p99 open loop, signed-in reads and the public book against /healthz."""
    from bench.reads import main  # lazy: see the module docstring

    main(
        events=events,
        orders=orders,
        rate=rate,
        seconds=seconds,
        wrk_seconds=wrk_seconds,
        kind=kind,
        workers=workers,
        database_url=database_url,
        rate_limits=rate_limits,
        profile=profile,
        as_json=as_json,
    )


def chaos(
    operations: Annotated[
        int, typer.Option(help="Operations over HTTP (a burst counts each).")
    ] = 10_000,
    kills: Annotated[
        int, typer.Option(help="Processes SIGKILLed (and restarted) on the way.")
    ] = 50,
    seed: Annotated[
        int, typer.Option(help="Seed of the world, the operations and the kills.")
    ] = 13,
    database_url: Annotated[
        str,
        typer.Option(help="A PostgreSQL server URL: the run makes and drops its own databases."),
    ] = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
    citizens: Annotated[int, typer.Option(help="Verified citizens.")] = 40,
    concurrency: Annotated[int, typer.Option(help="Operations in flight at once.")] = 8,
    max_seconds: Annotated[
        float | None, typer.Option(help="Bound on the operations' phase (the rest left out).")
    ] = None,
    kind: KindOption = "hardhat",
    as_json: JsonOption = False,
) -> None:
    """Two APIs, a worker and the indexer as processes, driven over HTTP while random ones are
    SIGKILLed and restarted; then every invariant is checked (exit 1 if one fails)."""
    from bench.chaos import ChaosOptions, main  # lazy: see the module docstring

    options = ChaosOptions(
        operations=operations,
        kills=kills,
        seed=seed,
        database_url=database_url,
        citizens=citizens,
        concurrency=concurrency,
        kind=kind,
        max_seconds=max_seconds,
    )
    if not main(options, as_json=as_json):
        raise typer.Exit(1)


def _run_one(name: str, kind: str, timeout: float) -> dict[str, Any] | None:
    """``crda bench <name> --json`` as a subprocess of its own: its JSON object, or None when it
    failed, timed out or printed no JSON (its stderr passes through, for the reason)."""
    command = [sys.executable, "-m", "api.cli", "bench", name, "--json"]
    if name != "reads":  # the others take the devnet kind
        command += ["--kind", kind]
    # Its own process group: on a timeout the benchmark's devnet and servers go with it.
    child = subprocess.Popen(  # noqa: S603  (our own CLI, fixed arguments)
        command, stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        stdout, _ = child.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGTERM)
        try:
            child.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
            child.communicate()
        typer.echo(f"bench {name}: no answer within {timeout:.0f} s", err=True)
        return None
    if child.returncode != 0:
        typer.echo(f"bench {name}: exit {child.returncode}", err=True)
        return None
    for text in (stdout, *reversed(stdout.splitlines())):
        try:
            found = json.loads(text)
        except ValueError:
            continue
        if isinstance(found, dict):
            return found
    typer.echo(f"bench {name}: no JSON object on stdout", err=True)
    return None


@app.command("all")
def bench_all(
    as_json: JsonOption = False,
    kind: KindOption = "anvil",
    timeout: Annotated[float, typer.Option(help="Seconds each benchmark may take.")] = 1800.0,
    only: Annotated[
        str, typer.Option(help="Benchmarks to run, comma-separated (default: all the table's).")
    ] = "",
) -> None:
    """Each benchmark once, as its own process, then issue 18's table: what | target | today
    (the issue's figures) | new (this run), with the processes and database of each row."""
    from bench.table import benches, markdown, rows  # lazy: see the module docstring

    wanted = [b.strip() for b in only.split(",") if b.strip()] or benches()
    results: dict[str, dict[str, Any] | None] = {}
    for name in wanted:
        typer.echo(f"bench {name} ...", err=True)
        results[name] = _run_one(name, kind, timeout)
    table = rows(results)
    if as_json:
        sys.stdout.write(json.dumps({"rows": table, "results": results}) + "\n")
    else:
        typer.echo(markdown(table))
