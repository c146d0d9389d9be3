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
crda admin propose|execute|status  a role change through the timelock (the admin key)
crda identity create-staff      an operator or auditor account (nobody signs up as one)
crda identity uniqueness-key    a national ID's uniqueness key (the verifier's desk)
crda export-openapi             the OpenAPI document to mobile_api_docs/openapi.json
crda export-errors              the error catalogue to mobile_api_docs/errors.md
crda export-messages            the texts to translate, merged into api/locale/*/messages.po
crda fuzz                       every operation under fuzzing (schemathesis; the long run)
crda bench gas|identity|indexer|earning|market|audit   benchmarks (bench/), run on demand
crda chaos                      two APIs, a worker and the indexer SIGKILLed at random under load

The commands live by topic (``platform``, ``audit``, ``identity``, ``admin``, ``docs``, ``bench``,
``demo``; shared pieces in ``common``); the top-level ones are registered here, in the order
``crda --help`` lists them.
"""

from __future__ import annotations

import typer

from api.cli import admin, audit, bench, demo, docs, identity, messages, platform
from api.logging import configure_logging

app = typer.Typer(help="CRDA operations.", no_args_is_help=True, add_completion=False)


@app.callback()
def _logs_to_stderr() -> None:
    """Logs on stderr, secrets redacted: stdout carries only a command's output (``--json``)."""
    configure_logging()


app.add_typer(platform.devnet_app, name="devnet")
app.add_typer(bench.app, name="bench")
app.add_typer(identity.app, name="identity")
app.add_typer(admin.app, name="admin")

app.command("compile")(platform.compile_cmd)
app.command()(platform.deploy)
app.command()(platform.migrate)
app.command()(platform.serve)
app.command()(audit.index)
app.command()(audit.integrity)
app.command()(platform.worker)
app.command()(audit.reconcile)
app.command()(platform.up)
app.command()(platform.down)
app.command()(demo.demo)
app.command("export-openapi")(docs.export_openapi)
app.command("export-errors")(docs.export_errors)
app.command("export-messages")(messages.export_messages)
app.command()(docs.fuzz)
app.command()(bench.chaos)

__all__ = ["app"]
