"""``crda demo``: a day in the city against a running platform (the work is in ``api.demo``)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from api.cli.common import fail
from api.settings import get_settings


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
    # Lazy: the demo makes staff accounts with the auth service, whose siwe import takes ~1 s.
    from api.demo import DemoError, Sizes, print_report, run_demo

    settings = get_settings()
    base = (base_url or f"http://{settings.api_host}:{settings.api_port}").rstrip("/")
    sizes = Sizes(
        citizens=citizens,
        activities=activities,
        verifiers=max(1, verifiers),
        merchants=merchants,
        mobility=mobility,
        businesses=businesses,
    )
    out = Console()
    try:
        report = run_demo(settings, base, sizes, seed=seed, workers=workers, console=out)
    except DemoError as exc:
        raise fail(str(exc)) from exc
    print_report(report, out)
