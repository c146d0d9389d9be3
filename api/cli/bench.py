"""``crda bench``: the benchmarks in ``bench/``, run on demand.

Each command imports its benchmark when it runs: most pull in the app, a devnet and test
helpers, seconds of start-up that every other command would pay.
"""

from __future__ import annotations

from typing import Annotated

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
    activities: Annotated[int, typer.Option(help="Records per run (service, then HTTP).")] = 2000,
    concurrency: Annotated[int, typer.Option(help="HTTP client concurrency.")] = 32,
    citizens: Annotated[int, typer.Option(help="Verified citizens the records spread over.")] = 100,
    as_json: JsonOption = False,
    kind: KindOption = "hardhat",
) -> None:
    """Verified activities per second (service and HTTP beside /healthz), issuance lag, gas."""
    from bench.earning import main  # lazy: see the module docstring

    main(
        activities=activities,
        concurrency=concurrency,
        citizens=citizens,
        as_json=as_json,
        kind=kind,
    )


@app.command("market")
def bench_market(
    as_json: JsonOption = False,
    kind: KindOption = "hardhat",
    trades: Annotated[int, typer.Option(help="Trades to settle end to end.")] = 1000,
    transfers: Annotated[int, typer.Option(help="Single ERC-20 transfers for the baseline.")] = 300,
) -> None:
    """Orders matched/s, trades settled/s on the devnet vs one-by-one transfers, gas per trade."""
    from bench.market import main  # lazy: see the module docstring

    main(as_json=as_json, kind=kind, trades=trades, transfers=transfers)


@app.command("audit")
def bench_audit(
    events: Annotated[int, typer.Option(help="Transfer events to generate and index.")] = 100_000,
    rate: Annotated[float, typer.Option(help="Requests per second, open loop.")] = 200.0,
    seconds: Annotated[float, typer.Option(help="How long to keep the rate.")] = 20.0,
    kind: KindOption = "hardhat",
    workers: Annotated[int, typer.Option(help="API worker processes (uvicorn).")] = 2,
    also: Annotated[
        str, typer.Option(help="More rates to measure after, comma-separated (e.g. 50,100).")
    ] = "",
    as_json: JsonOption = False,
) -> None:
    """p99 latency of the auditor's summary queries at a fixed rate (API in its own process)."""
    from bench.audit import main  # lazy: see the module docstring

    main(
        events=events,
        rate=rate,
        seconds=seconds,
        kind=kind,
        workers=workers,
        also_rates=tuple(float(r) for r in also.split(",") if r.strip()),
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
