"""The summary ``crda demo`` prints: the day's numbers and where to look next."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from api.demo.day import AUDITOR_EMAIL, KG, PASSWORD
from api.demo.report import Report
from api.settings import PROJECT_ROOT


def _kg(grams: int) -> str:
    return f"{grams // KG:,}.{grams % KG:03d} kg"


def print_report(report: Report, console: Console) -> None:
    """The summary table and where to look next."""
    table = Table(title=f"A day in the city (run {report.tag}, seed {report.seed})")
    table.add_column("", style="bold")
    table.add_column("", justify="right")
    accepted = sum(report.accepted.values())
    refused = sum(report.refused.values())
    rows = [
        ("verifiers / data providers", f"{report.verifiers} / {report.providers}"),
        ("citizens verified", f"{report.citizens_verified:,}"),
        ("businesses verified", f"{report.businesses_verified:,}"),
        ("second identities refused", f"{report.duplicate_identities_refused:,}"),
        ("activities submitted", f"{report.submitted:,}"),
        ("  accepted", f"{accepted:,}"),
        *((f"    {label}", f"{n:,}") for label, n in sorted(report.accepted.items())),
        ("  refused", f"{refused:,}"),
        *((f"    {slug}", f"{n:,}") for slug, n in sorted(report.refused.items())),
        ("fraud attempts refused", f"{report.fraud_refused} of {report.fraud_attempts}"),
        (
            "claims issued on chain",
            f"{report.claims_issued:,}"
            + (f" ({report.claims_pending} pending)" if report.claims_pending else ""),
        ),
        ("credits issued", _kg(report.credits_issued_g)),
        ("orders (sell / buy)", f"{report.sell_orders} / {report.buy_orders}"),
        *(
            (f"  order refused: {slug}", f"{n:,}")
            for slug, n in sorted(report.market_refused.items())
        ),
        ("trades settled", f"{report.trades:,}"),
        ("volume", f"{_kg(report.traded_g)} for {report.traded_won:,} won"),
        ("retirements (businesses)", f"{report.retirements} ({report.business_retirements})"),
        ("credits retired", _kg(report.retired_g)),
    ]
    if report.supply:
        supply = report.supply
        rows.append(
            (
                "supply on chain (issued / retired)",
                f"{_kg(int(supply['issued']))} / {_kg(int(supply['retired']))}",
            )
        )
    rows.append(("time", f"{report.seconds:.1f} s"))
    for label, value in rows:
        table.add_row(label, value)
    console.print(table)
    for note in report.notes:
        console.print(f"[yellow]note:[/] {note}")
    base = report.base_url
    console.print("\n[bold]Where to look[/]")
    console.print(f"  API documentation   {PROJECT_ROOT / 'mobile_api_docs' / 'README.md'}")
    console.print(f"  interactive API     {base}/docs")
    console.print(
        f"  auditor dashboard   {base}/dashboard  (sign in: {AUDITOR_EMAIL} / {PASSWORD})"
    )
    best = report.featured()
    if best is not None:
        mark = "verified on chain" if best.verified else "[red]NOT verified[/]"
        console.print(
            f"  certificate #{best.serial}     {_kg(best.amount)} retired for "
            f"{best.holder_name}, {mark}"
        )
        console.print(f"    page              {best.page_url}")
        console.print(f"    verification      {best.verification_url}")
        console.print(f"    QR code           {best.qr_url}")
