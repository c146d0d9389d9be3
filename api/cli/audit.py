"""Checking the record: the chain indexer, the integrity check, the ledger reconciliation."""

from __future__ import annotations

import json
import threading
import time
from typing import Annotated

import typer
from sqlalchemy.orm import Session, sessionmaker

from api.audit.indexer import Indexer, RunStats, reset_index
from api.audit.integrity import check_integrity
from api.chain.gateway import ChainGateway
from api.cli.common import console, database, fail
from api.errors import ChainUnavailable, Problem
from api.market.reconcile import reconcile as run_reconcile
from api.settings import Settings, get_settings


def index(
    once: Annotated[bool, typer.Option("--once", help="Catch up to the head and exit.")] = False,
    reset: Annotated[
        bool, typer.Option("--reset", help="Empty the index first (e.g. after a redeploy).")
    ] = False,
) -> None:
    """Read every contract event into the database from the stored checkpoint, then follow."""
    settings = get_settings()
    with database(settings) as sessions:
        if reset:
            with sessions() as session, session.begin():
                reset_index(session)
            console.print("index emptied")
        stop = threading.Event()
        try:
            stats = _run_indexer(settings, sessions, once=once, stop=stop)
        except KeyboardInterrupt:
            stop.set()
            console.print("stopped")
            return
        except Problem as exc:
            raise fail(f"{exc.title}: {exc.detail or ''}") from exc
    rate = stats.events / stats.seconds if stats.seconds else 0.0
    console.print(
        f"index at block {stats.checkpoint}: {stats.events} events, {stats.reorgs} reorganisations,"
        f" {stats.seconds:.1f}s ({rate:,.0f} events/s)"
    )


def _run_indexer(
    settings: Settings, sessions: sessionmaker[Session], *, once: bool, stop: threading.Event
) -> RunStats:
    """Catch up (``once``) or follow the chain, printing progress at most every 2 seconds."""
    indexer = Indexer.from_settings(settings, sessions, leased=not once)
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
            return indexer.run(
                stop=stop,
                follow=not once,
                poll_interval=settings.indexer_poll_interval,
                progress=report,
            )
        except ChainUnavailable as exc:
            if once:
                raise
            # Following: a node that went away is waited for, not given up on.
            console.print(f"[yellow]paused:[/] {exc.detail or exc.title}; retrying in 5s")
            time.sleep(5)


def integrity(
    on_chain_balances: Annotated[
        bool, typer.Option(help="Also compare every holder's balanceOf on chain.")
    ] = False,
) -> None:
    """Re-derive supply from the indexed events and compare it with the chain (exit 1 if not)."""
    settings = get_settings()
    try:
        with database(settings) as sessions, sessions() as session:
            report = check_integrity(
                session, ChainGateway.connect(settings), on_chain_balances=on_chain_balances
            )
    except Problem as exc:
        raise fail(f"{exc.title}: {exc.detail or ''}") from exc
    typer.echo(report.model_dump_json(indent=2))
    if not report.ok:
        raise typer.Exit(code=1)


def reconcile(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object on stdout.")] = False,
) -> None:
    """Compare every market ledger account with its on-chain balance; exit 1 on a difference."""
    settings = get_settings()
    with database(settings) as sessions, sessions() as session:
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
