"""`crda bench all`'s table (bench/table.py) from fixed benchmark output: pure logic."""

from __future__ import annotations

from bench.table import FAILED, MISSING, ROWS, benches, markdown, rows

RESULTS = {
    "earning": {
        "healthz_rps": 1500.0,
        "accepted_rps": 520.5,
        "ratio": 0.347,
        "accepted_rps_preloaded": 500.0,
        "preloaded_claims": 1_000_000,
        "issuance_lag_p95_s": 6.25,
        "processes": 4,
        "database": "postgresql",
    },
    "reads": None,  # failed
    "gas": {"gas_per_trade_batch100": 58_123, "gas_per_claim": 31_000},
    "market": {
        "orders_per_s": 312.4,
        "trades_per_s": 500.0,
        "transfers_per_s": 90.0,
        "settle_ratio": 5.56,
        "processes": 1,
        "database": "sqlite",
    },
    "indexer": {"processes": 1, "database": "sqlite"},  # its figure missing
}


def by_what() -> dict[str, dict[str, str]]:
    return {r["what"]: r for r in rows(RESULTS)}


def test_each_row_shows_the_issues_figure_beside_this_runs() -> None:
    table = by_what()
    assert len(table) == len(ROWS) == 10
    activities = table["activities/s over HTTP (signed evidence → claim stored)"]
    assert (activities["today"], activities["new"]) == ("39.9/s = 0.03x", "520.5/s = 0.35x")
    assert activities["setup"] == "4 processes, postgresql"
    preloaded = table["the same rate with 1 million claims stored"]
    assert preloaded["new"] == "500.0/s with 1,000,000 claims (-4 % of empty)"
    assert table["issuance lag (accepted → confirmed) at that rate"]["new"] == "6.2 s"
    assert table["orders placed/s, engine included"]["new"] == "312.4/s"
    assert table["orders placed/s, engine included"]["setup"] == "1 process, sqlite"
    settle = table["settled trades/s vs single transfers/s, same devnet"]
    assert settle["new"] == "5.56x (500.0/s vs 90.0/s)"
    assert table["gas per settled trade, batch of 100"]["new"] == "58,123"


def test_a_failed_benchmark_shows_failed_and_a_missing_key_shows_na() -> None:
    table = by_what()
    for what in (
        "auditor reads at 200 req/s, open loop (p99)",
        "authenticated reads, closed loop",
        "public order book",
    ):
        assert table[what]["new"] == FAILED
        assert table[what]["setup"] == ""
    assert table["indexer"]["new"] == MISSING


def test_a_benchmark_not_run_says_so_and_odd_values_do_not_crash() -> None:
    odd = {"market": {"orders_per_s": "fast", "settle_ratio": 2, "trades_per_s": None}}
    table = {r["what"]: r for r in rows(odd)}
    assert table["indexer"]["new"] == "not run"
    assert table["orders placed/s, engine included"]["new"] == "fast"
    assert table["settled trades/s vs single transfers/s, same devnet"]["new"] == (
        f"2x ({MISSING} vs {MISSING})"
    )


def test_the_markdown_table_has_a_line_per_row_and_names_its_source() -> None:
    text = markdown(rows(RESULTS))
    lines = text.splitlines()
    assert lines[0] == "| what | target | today | new | processes / database |"
    assert sum(line.startswith("| ") for line in lines) == 2 + len(ROWS)
    assert "issue 18" in lines[-1]
    assert benches() == ["earning", "reads", "market", "gas", "indexer"]
