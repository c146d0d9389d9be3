"""The speed table of issue 18 ("Speed"): what | target | today | new, from one run of each
benchmark (``crda bench all``).

Pure logic: each benchmark's JSON object (or ``None`` when it failed) in, rows out. The "today"
figures are the issue's, kept here as constants with their source; "new" is this run's. Keys
are read with ``.get``: a benchmark that does not (yet) print one shows "n/a", one that failed
shows "failed", and neither stops the table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# Where the "today" column comes from.
SOURCE = "issue 18 (Speed), table 'Targets', measured 2026-12-01 (quiet 2-core machine)"

FAILED = "failed"
MISSING = "n/a"

Results = dict[str, dict[str, Any] | None]


@dataclass(frozen=True)
class Row:
    what: str
    target: str
    today: str  # the figure (SOURCE)
    bench: str  # which benchmark's JSON the new figure comes from
    new: Callable[[dict[str, Any]], str]
    # Where the bench does not print processes/database, what it ran on (None: ask its JSON).
    setup: str | None = None


def _num(value: Any, unit: str = "", digits: int = 1) -> str:
    if value is None:
        return MISSING
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    text = f"{value:,.{digits}f}" if isinstance(value, float) else f"{value:,}"
    return text + unit


def _rate_and_ratio(r: dict[str, Any], rate: str, ratio: str) -> str:
    if r.get(rate) is None and r.get(ratio) is None:
        return MISSING
    return f"{_num(r.get(rate), '/s')} = {_num(r.get(ratio), 'x', 2)}"


def _preloaded(r: dict[str, Any]) -> str:
    loaded, empty = r.get("accepted_rps_preloaded"), r.get("accepted_rps")
    if loaded is None:
        return MISSING
    text = f"{_num(loaded, '/s')} with {_num(r.get('preloaded_claims'))} claims"
    if isinstance(empty, int | float) and empty:
        text += f" ({(loaded - empty) * 100 / empty:+.0f} % of empty)"
    return text


def _p99s(r: dict[str, Any]) -> str:
    parts = [
        (name, r.get(f"auditor_p99_ms_{name}")) for name in ("summary", "supply", "provenance")
    ]
    if all(v is None for _, v in parts):
        return MISSING
    return ", ".join(f"{name} {_num(v, ' ms')}" for name, v in parts)


ROWS: tuple[Row, ...] = (
    Row(
        "activities/s over HTTP (signed evidence → claim stored)",
        "≥ 500/s and ≥ 0.3 x /healthz",
        "39.9/s = 0.03x",
        "earning",
        lambda r: _rate_and_ratio(r, "accepted_rps", "ratio"),
    ),
    Row(
        "the same rate with 1 million claims stored",
        "within 10 % of the empty database's",
        "falls by 40 % within 4,000",
        "earning",
        _preloaded,
    ),
    Row(
        "issuance lag (accepted → confirmed) at that rate",
        "p95 ≤ 10 s",
        "7.8 s at 31/s",
        "earning",
        lambda r: _num(r.get("issuance_lag_p95_s"), " s"),
    ),
    Row(
        "auditor reads at 200 req/s, open loop (p99)",
        "≤ 50 ms",
        "1,228 ms",
        "reads",
        _p99s,
    ),
    Row(
        "authenticated reads, closed loop",
        "≥ 0.3 x /healthz",
        "0.12x",
        "reads",
        lambda r: _rate_and_ratio(r, "auth_read_rps", "auth_read_ratio"),
    ),
    Row(
        "public order book",
        "≥ 0.5 x /healthz",
        "0.10x",
        "reads",
        lambda r: _rate_and_ratio(r, "book_rps", "book_ratio"),
    ),
    Row(
        "orders placed/s, engine included",
        "≥ 300/s",
        "139/s (anvil)",
        "market",
        lambda r: _num(r.get("orders_per_s"), "/s"),
    ),
    Row(
        "gas per settled trade, batch of 100",
        "≤ 60,000",
        "126,000",
        "gas",
        lambda r: _num(r.get("gas_per_trade_batch100")),
        setup="devnet (gas is deterministic)",
    ),
    Row(
        "settled trades/s vs single transfers/s, same devnet",
        "≥ 5x",
        "2.3x (anvil); 0.27x end to end re-run",
        "market",
        lambda r: (
            MISSING
            if r.get("settle_ratio") is None
            else f"{_num(r.get('settle_ratio'), 'x', 2)} "
            f"({_num(r.get('trades_per_s'), '/s')} vs {_num(r.get('transfers_per_s'), '/s')})"
        ),
    ),
    Row(
        "indexer",
        "≥ 10,000 events/s",
        "2,700 events/s",
        "indexer",
        lambda r: _num(r.get("events_per_s"), " events/s"),
    ),
)


def _setup(row: Row, result: dict[str, Any] | None) -> str:
    if row.setup is not None:
        return row.setup
    if not result:
        return ""
    processes, database = result.get("processes"), result.get("database")
    parts = []
    if processes is not None:
        parts.append(f"{processes} process{'es' if processes != 1 else ''}")
    if database is not None:
        parts.append(str(database))
    return ", ".join(parts)


def rows(results: Results) -> list[dict[str, str]]:
    """The table's rows from each benchmark's JSON (``None``: it failed; absent: not run)."""
    out = []
    for row in ROWS:
        if row.bench not in results:
            new = "not run"
        elif (result := results[row.bench]) is None:
            new = FAILED
        else:
            try:
                new = row.new(result)
            except (TypeError, ValueError, ArithmeticError):
                new = MISSING  # a key of an unexpected type: show the row, not a crash
        out.append(
            {
                "what": row.what,
                "target": row.target,
                "today": row.today,
                "new": new,
                "bench": row.bench,
                "setup": _setup(row, results.get(row.bench)),
            }
        )
    return out


def benches() -> list[str]:
    """The benchmarks the table needs, in order."""
    return list(dict.fromkeys(row.bench for row in ROWS))


def markdown(table: list[dict[str, str]]) -> str:
    """The table as the issue shows it (plus where each figure ran)."""
    lines = [
        "| what | target | today | new | processes / database |",
        "| --- | --- | --- | --- | --- |",
    ]
    for r in table:
        lines.append(f"| {r['what']} | {r['target']} | {r['today']} | {r['new']} | {r['setup']} |")
    lines.append(f"\ntoday: {SOURCE}")
    return "\n".join(lines)
